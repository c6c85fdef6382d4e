"""Grounding reads whether a worked answer computes from its question's quantities."""

from __future__ import annotations

import pytest

from sluice.cascade.grounding import Grounding, ground

QUESTION = (
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast and bakes with four. "
    "She sells the rest for $2 each. How much does she make?"
)


def test_an_answer_that_uses_every_quantity_is_grounded() -> None:
    answer = "16 - 3 = 13 eggs. 13 - 4 = 9 eggs. 9 * 2 = 18 dollars.\n#### 18"
    assert ground(answer, QUESTION) == Grounding(4, 0.0, 0.0, False)


def test_an_unused_quantity_and_an_operand_from_nowhere_are_counted() -> None:
    # Forgets the four for baking and brings in a 5 nobody stated.
    answer = "16 - 3 = 13 eggs. 13 * 5 = 65 dollars.\n#### 65"
    g = ground(answer, QUESTION)
    assert g.quantities == 4
    assert g.unused == pytest.approx(2 / 4)  # "four" and "$2" are never mentioned
    assert g.ungrounded == pytest.approx(1 / 4)  # 16, 3, 13 have sources; 5 has none
    assert not g.final_off


def test_a_final_answer_the_last_step_did_not_compute() -> None:
    answer = "2 / 2 = 1 bolt. So 2 + 1/2 = 2.5 bolts, round up.\n#### 3"
    g = ground(answer, "A robe takes 2 bolts of blue fiber and half that much white fiber.")
    assert g.final_off
    assert not ground("2 + 1 = 3 bolts.\n#### 3", "2 bolts and half that.").final_off


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("A 20% discount on $50.", "50 * 0.2 = 10, so 50 - 10 = 40.\n#### 40"),  # p as p/100
        ("A 20% discount on $50.", "50 * 20 / 100 = 10, so 50 - 10 = 40.\n#### 40"),
        ("She ran 3/4 of 8 miles.", "8 * 0.75 = 6\n#### 6"),  # a fraction as its value
        ("It took 2 hours at 1,200 feet each.", "2 * 60 = 120 minutes, 1200 * 2 = 2400"),
    ],
)
def test_quantities_match_in_the_forms_answers_write_them(question: str, answer: str) -> None:
    g = ground(answer, question)
    assert g.unused == 0.0
    assert g.ungrounded == 0.0  # 60 and 100 are unit constants; 0.75 is 3/4


def test_nothing_to_read_is_all_zero() -> None:
    assert ground("", QUESTION) == Grounding(0, 0.0, 0.0, False)
    assert ground("B", "What is 2 + 2? A) 3 B) 4") == Grounding(3, 1.0, 0.0, False)
    assert ground("I don't know.", "no numbers here") == Grounding(0, 0.0, 0.0, False)


def test_hostile_text_costs_bounded_work() -> None:
    """Floods of numbers and equations on either side read a bounded amount."""
    g = ground("1 + 1 = 2 " * 20_000, "7 " * 100_000)
    assert g.quantities == 1
    assert ground("9" * 200_000, "one " * 100_000).quantities == 1
