"""The substitution guard (sluice/verifier/substitution.py): one slot of a question changed."""

from __future__ import annotations

import pytest

from sluice.config import VerifierSettings
from sluice.verifier.guards import refusal
from sluice.verifier.substitution import substituted

# (cached, asked, the asked run): the hand probes the shipped model served (issue #18,
# bench/verifier_probes.tsv sets D and E) and the substitutions `--errors` lists.
SUBSTITUTIONS = [
    ("What is the best laptop for kids?", "What is the best laptop for adults?", "adults"),
    ("Which credit card is best for travelers?", "Which credit card is best for homeowners?",
     "homeowners"),
    ("What vaccines do babies need?", "What vaccines do adults need?", "adults"),
    ("Tax deductions for landlords", "Tax deductions for tenants", "tenants"),
    ("What are the side effects of aspirin for children?",
     "What are the side effects of aspirin for adults?", "adults"),
    ("Is magnesium safe for nurses?", "Is magnesium safe for experts?", "experts"),
    ("What happens before signing up?", "What happens after signing up?", "after"),
    ("Summer camps for kids in Boston", "Summer camps for young adults in Boston", "young adults"),
    ("Какая столица Франции?", "Какая столица Германии?", "германии"),
]  # fmt: skip


@pytest.mark.parametrize(("cached", "asked", "run"), SUBSTITUTIONS)
def test_one_slot_changed_is_refused(cached: str, asked: str, run: str) -> None:
    found = substituted(asked, cached)
    assert found is not None
    assert " ".join(found.query) == run
    assert substituted(cached, asked) is not None


KEPT = [
    # Inflections are one word (the stem): "kid" / "kids".
    ("What is the best laptop for kids?", "what's the best laptop for a kid"),
    ("What is the best laptop for kids?", "Best laptop for kids?"),  # words dropped only
    ("Summer camps for kids in Boston", "Summer camps for young kids in Boston"),  # one added
    ("What is the best laptop for kids?", "Which laptop should I buy for my kids?"),  # a rewrite
    ("hi", "hello"),  # no content word around the run: not one question with a slot changed
    ("Is it safe for dogs?", "Is it safe for cats and dogs?"),  # words added
    ("Order #88213 has not arrived", "Order #88214 has not arrived"),  # the number guard's
    ("Convert 100 dollars to euros", "Convert 100 euros to dollars"),  # the order guard's
    ("Tax deductions for landlords", "Tax deductions for landlords"),  # the same text
    ("Tax deductions for landlords", "Tax deductions for the landlords"),  # a function word
    # Three words replaced: more than a slot, the model's to judge.
    ("What is the best laptop for kids?", "What is the best laptop for people over sixty?"),
]  # fmt: skip


@pytest.mark.parametrize(("cached", "asked"), KEPT)
def test_what_is_not_one_slot_changed_goes_to_the_model(cached: str, asked: str) -> None:
    assert substituted(asked, cached) is None


def test_synonyms_are_refused_too_a_miss_by_design() -> None:
    # Why the guard is off by default (docs/cache-eval.md): it cannot tell a synonym.
    assert substituted("Compose a haiku about autumn", "Write a haiku about autumn") is not None


def test_long_texts_are_left_to_the_model() -> None:
    filler = " ".join(f"word{i}" for i in range(70))
    assert substituted(f"{filler} for kids", f"{filler} for adults") is None


def test_the_reason_names_only_the_askers_own_words() -> None:
    # The cached question may be another user's: its words never reach the caller.
    found = refusal("Best laptop for adults?", "Best laptop for kids?", {"substitution_guard"})
    assert found == (
        "substitution_guard",
        "'adults' stands where the cached question has another word",
    )
    assert "kids" not in found[1]


def test_the_guard_speaks_only_when_switched_on_and_after_the_others() -> None:
    asked, cached = "Best laptop for adults?", "Best laptop for kids?"
    assert refusal(asked, cached, {"order_guard", "number_guard"}) is None
    # A pair two guards refuse gets the first one's reason (guards.RULES' order).
    asked, cached = "Summarize chapter three of the book", "Summarize chapter two of the book"
    assert substituted(asked, cached) is not None
    both = refusal(asked, cached, {"number_guard", "substitution_guard"})
    assert both is not None
    assert both[0] == "number_guard"


def test_it_is_off_by_default_and_a_switch_turns_it_on() -> None:
    assert "substitution_guard" not in VerifierSettings().guards
    assert "substitution_guard" in VerifierSettings(substitution_guard=True).guards
