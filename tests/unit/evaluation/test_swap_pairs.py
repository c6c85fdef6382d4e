"""The order-swap and look-alike generators (sluice/evaluation/swap_pairs.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from sluice.cli import default_data_dir
from sluice.evaluation import swap_pairs
from sluice.evaluation.generated_pairs import templated
from sluice.evaluation.guard_eval import report
from sluice.verifier.order import exchanged


def test_generators_are_deterministic_and_hold_out_a_test_part() -> None:
    for make in (swap_pairs.english, swap_pairs.russian, swap_pairs.russian_lookalikes):
        pairs = make()
        assert pairs == make()
        counts = Counter((p.label, p.part) for p in pairs)
        assert counts[(0, "test")] >= 200, make.__name__
        assert counts[(1, "test")] >= 50, make.__name__
        assert all(p.a != p.b for p in pairs)


def test_no_sentence_is_in_two_parts() -> None:
    for make in (swap_pairs.english, swap_pairs.russian, swap_pairs.russian_lookalikes):
        part_of: dict[str, str] = {}
        for p in make():
            for text in (p.a, p.b):
                assert part_of.setdefault(text, p.part) == p.part, text


def test_a_negative_is_its_template_with_the_slots_exchanged() -> None:
    pairs = swap_pairs.english()
    negative = next(p for p in pairs if p.label == 0 and p.a.startswith("Convert 25"))
    a, b = negative.a.removeprefix("Convert 25 ").split(" to ")
    assert negative.b == f"Convert 25 {b} to {a}"
    kinds = {p.kind for p in pairs}
    assert kinds == {"from_to", "convert", "compare", "subject_object", "before_after",
                     "entities"}  # fmt: skip


def test_russian_slots_take_the_case_their_template_needs() -> None:
    pairs = swap_pairs.russian()
    assert any(p.a == "Как доехать из Москвы в Берлин на поезде?" and
               p.b == "Как доехать из Берлина в Москву на поезде?" for p in pairs)  # fmt: skip
    lookalikes = swap_pairs.russian_lookalikes()
    assert any(p.label == 0 and p.a == "Какая столица Германии?" for p in lookalikes)


def test_the_order_guard_refuses_swap_negatives_and_no_rewording() -> None:
    # The figures on every part are in docs/cache-eval.md; here: none of the positives.
    for make in (swap_pairs.english, swap_pairs.russian):
        pairs = make()
        assert not [p for p in pairs if p.label == 1 and exchanged(p.b, p.a)]
        refused = sum(1 for p in pairs if p.label == 0 and exchanged(p.b, p.a))
        assert refused >= 0.9 * sum(p.label == 0 for p in pairs)


def test_no_swap_sentence_is_one_the_verifier_trained_on() -> None:
    # generated_pairs' templates (routes, conversions) were in the shipped model's training.
    trained = {text for p in templated() for text in (p.a, p.b)}
    made = swap_pairs.english() + swap_pairs.russian() + swap_pairs.russian_lookalikes()
    assert not {text for p in made for text in (p.a, p.b)} & trained


@pytest.mark.skipif(
    not (default_data_dir() / "cache").is_dir(), reason="no cache data: docs/data.md"
)
def test_the_guard_report_counts_refusals_per_set() -> None:
    lines = report(default_data_dir() / "cache", "calibration")
    swaps = next(line for line in lines if line.startswith("swaps_en "))
    assert "positives refused     0 /" in swaps
    assert len(lines) == 26  # every evaluation set: 15, and STS-B in its 11 languages
    # The number guard's report: it never refuses an order swap, and refuses some of the
    # rule-made look-alikes (another number) before the model runs.
    numbers = report(default_data_dir() / "cache", "calibration", guard="number_guard")
    assert "negatives refused     0 /" in next(x for x in numbers if x.startswith("swaps_en "))
    generated = next(x for x in numbers if x.startswith("generated "))
    assert "positives refused     0 /" in generated
    assert "negatives refused     0 /" not in generated
