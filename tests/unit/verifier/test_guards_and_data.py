"""Guard features, the fixed split, and the rule-generated pairs (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sluice.evaluation import datasets, verifier_data
from sluice.evaluation import generated_pairs as g
from sluice.evaluation.splits import part_of_text, split
from sluice.verifier.guards import FEATURES, features, numbers_differ, refusal, words


@pytest.mark.parametrize(
    ("query", "cached", "expected"),
    [
        ("Convert 100 Fahrenheit to Celsius", "Convert 100 Fahrenheit to Celsius", (0, 0, 0, 1)),
        ("Convert 100 F to C", "Convert 212 F to C", (1, 0, 0, 0)),
        ("Does it cause drowsiness?", "Does it not cause drowsiness?", (0, 1, 0, 0)),
        ("Does it cause drowsiness?", "Doesn't it cause drowsiness?", (0, 1, 0, 0)),
        ("It is never not on", "It is on", (0, 0, 0, 0)),  # two negations cancel
        ("Flight from London to Paris", "Flight from Paris to London", (0, 0, 1, 0)),
        ("Flight from London to Paris", "flight FROM london to paris", (0, 0, 0, 1)),  # case only
        ("Price 1,000 dollars", "Price 1000 dollars", (0, 0, 0, 0)),  # same number, other words
        ("Ticket 42: error 500", "ticket 42 : error 500 ?", (0, 0, 0, 1)),  # form only
        ("Python 3.12", "Python 3 12", (1, 0, 0, 0)),  # the same words, not the same number
    ],
)
def test_guard_features(query: str, cached: str, expected: tuple[int, int, int]) -> None:
    assert features(query, cached) == tuple(float(x) for x in expected)
    assert len(FEATURES) == 4


@dataclass(frozen=True)
class P:
    a: str
    b: str


def test_split_keeps_pairs_that_share_a_sentence_together_and_is_stable() -> None:
    pairs = [P(f"s{i}", f"t{i}") for i in range(400)] + [P("s1", "u1"), P("u1", "v1")]
    parts = split("set", pairs)
    assert parts == split("set", pairs)  # no seed, no state
    assert parts[1] == parts[400] == parts[401]  # s1–t1, s1–u1, u1–v1: one component
    counts = {p: parts.count(p) for p in ("train", "calibration", "test")}
    assert 0.6 < counts["train"] / len(parts) < 0.8
    assert counts["calibration"] > 0
    assert counts["test"] > 0
    assert part_of_text("set", "S1 ") == part_of_text("set", "s1")  # normalised


@pytest.mark.parametrize(
    ("rule", "source", "variant"),
    [
        # "not" goes right after the first auxiliary: awkward in questions, still a negation.
        (g.negate, "Does this medication cause drowsiness?",
         "Does not this medication cause drowsiness?"),
        (g.negate, "The file is deleted", "The file is not deleted"),
        (g.negate, "Why isn't it working?", "Why is it working?"),
        (g.negate, "It can not fly", "It can fly"),
        (g.swap_entities, "Flight from London to Paris", "Flight from Paris to London"),
        (g.swap_entities, "Convert 100 Fahrenheit to Celsius", "Convert 100 Celsius to Fahrenheit"),
        (g.swap_entities, "Is gold heavier than silver?", "Is silver heavier than gold?"),
        (g.change_number, "Convert 100 Fahrenheit to Celsius", "Convert 101 Fahrenheit to Celsius"),
        (g.change_number, "Give me 3 examples", "Give me 4 examples"),
        (g.change_number, "Give me 5 tips for better sleep", "Give me 15 tips for better sleep"),
        (g.antonym, "How do I delete a file in Linux?", "How do I delete a directory in Linux?"),
        (g.antonym, "Increase the limit", "Decrease the limit"),
        (g.rephrase, "How do I delete a file?", "How can I delete a file?"),
        (g.symmetric_swap, "What is the difference between TCP and UDP?",
         "What is the difference between UDP and TCP?"),
        (g.surface, "How do I delete a file in Linux?", "how do i delete a file in linux"),
        (g.surface, "What is the population of Canada?", "What is the population of Canada??"),
        (g.substitute_entity, "What is the population of Canada?",
         "What is the population of France?"),
        (g.substitute_entity, "Who painted the Mona Lisa?", None),
        # PAWS's negatives: two names exchanged; never across a plain coordination.
        (g.exchange_names, "He learned binding in Paris and in Caen typography .",
         "He learned binding in Caen and in Paris typography ."),
        (g.exchange_names, "Atoka is east of McGee Creek Lake , west of Antlers",
         "Atoka is east of Antlers , west of McGee Creek Lake"),
        (g.exchange_names, "Flights between Paris and London", None),
        (g.exchange_names, "Compare Paris, London & Rome", None),
        (g.exchange_names, "How do I delete a file in Linux?", None),  # one name
        (g.exchange_names, "Paris is bigger than Paris", None),  # one name twice
        (g.spacing, "How do I delete a file in Linux?", "How do I delete a file in Linux ?"),
        (g.spacing, "Ticket 42: error 500", "Ticket 42 : error 500"),
        (g.spacing, "It costs 3.5 dollars", None),  # not inside a number
        (g.spacing, "Why ?", None),
        (g.synonym, "How do I delete a file in Linux?", "How do I remove a file in Linux?"),
        (g.recase, "Question 17: explain item 1234?", "question 17: explain item 1234?"),
        (g.recase, "order 42 is late", "ORDER 42 IS LATE"),
        (g.recase, "How do I delete a file in Linux?", None),  # no number: not needed
    ],
)  # fmt: skip
def test_rules(rule, source: str, variant: str) -> None:  # type: ignore[no-untyped-def]
    assert rule(source) == variant


def test_rules_that_do_not_apply_return_none_and_labels_are_the_rules() -> None:
    assert g.change_number("no digits here") is None
    assert g.swap_entities("nothing to swap") is None
    pairs = g.generate(["How do I delete a file in Linux?", "How do I delete a file in Linux?"])
    assert len({(p.a, p.b) for p in pairs}) == len(pairs)  # duplicates dropped
    labels = {p.rule: p.label for p in pairs}
    assert labels == {"negate": 0, "antonym": 0, "substitute_entity": 0, "rephrase": 1,
                      "surface": 1, "spacing": 1, "synonym": 1}  # fmt: skip
    chosen = g.generate(["How do I delete a file in Linux?"], g.FORM_AND_NAME_RULES)
    assert {p.rule for p in chosen} == {"surface", "spacing", "substitute_entity"}


@pytest.mark.parametrize(
    "text",
    ["How do I delete a file in Linux?", "Ticket 4521: the page returns error 500",
     "Give me 5 tips", "What is 2 + 2?", "already plain", "Stop!", "Why?"],
)  # fmt: skip
def test_surface_changes_form_only(text: str) -> None:
    variant = g.surface(text)
    assert variant is not None
    assert variant != text
    assert words(variant) == words(text)  # same words, case-folded: only form changed
    assert features(text, variant) == (0.0, 0.0, 0.0, 1.0)
    spaced = g.spacing(text)
    assert spaced is None or words(spaced) == words(text)


def test_substitute_entity_keeps_the_kind_and_the_rest() -> None:
    variant = g.substitute_entity("Flights to Tokyo in March")
    assert variant is not None
    changed = [(a, b) for a, b in zip(words("Flights to Tokyo in March"), words(variant),
                                      strict=True) if a != b]  # fmt: skip
    assert len(changed) == 1
    assert changed[0][0] == "tokyo"
    assert changed[0][1].capitalize() in g.ENTITIES["Tokyo"]
    assert g.substitute_entity("Flights to Tokyo in March") == variant  # stable


def test_templated_pairs_are_deterministic_and_labelled_by_what_changed() -> None:
    pairs = g.templated()
    assert pairs == g.templated()
    kinds = {p.rule for p in pairs}
    assert kinds == {"template:route", "template:convert", "template:translate", "template:object",
                     "template:fact", "template:audience"}  # fmt: skip
    audiences = " ".join(p.a + " " + p.b for p in pairs if p.rule == "template:audience")
    for unseen in ("children", "adults", "kids", "aspirin"):  # probe set D's words
        assert unseen not in audiences
    for kind in kinds:
        assert {p.label for p in pairs if p.rule == kind} == {0, 1}
    for p in pairs:
        if p.label == 0 and "{" not in p.a:
            a, b = words(p.a), words(p.b)
            swapped = sorted(a) == sorted(b)
            one_slot_changed = len(a) == len(b) and sum(map(str.__ne__, a, b)) == 1
            assert swapped or one_slot_changed, (p.a, p.b)


@pytest.mark.parametrize(
    ("a", "b", "differ"),
    [
        ("Order #88213 has not arrived", "Order #88214 has not arrived", True),
        ("Ticket 4521: error 500", "Ticket 4521: error 500 again", False),
        ("Is Python 3.12 faster than 3.11?", "Is Python 3.11 faster than 3.12?", False),  # order
        ("Transfer 1,000 dollars", "Transfer 1000 dollars", False),
        ("Am 04. April 1892", "Am 4. April 1892", False),
        ("Book 2 tickets", "Book 3 tickets", True),
        ("Book 2 tickets", "Book 2 2 tickets", True),
        ("the 15th century", "the fifteenth century", True),  # a miss, never a wrong answer
        ("How do I reset my password?", "How can I reset my password?", False),
        # Numbers in words (hand probes: the verifier served each of these at P >= 0.99).
        (
            "Explain the first law of thermodynamics",
            "Explain the second law of thermodynamics",
            True,
        ),
        ("Summarize chapter one of the book", "Summarize chapter two of the book", True),
        (
            "What was the revenue in the first quarter?",
            "What was the revenue in the second quarter?",
            True,
        ),
        ("Book a table for two people", "Book a table for three people", True),
        ("the twenty-first century", "the twenty-second century", True),
        ("Order a dozen eggs", "Order a half dozen eggs", True),
        ("Sales report for 1 January 2012", "Sales report for 1 February 2012", True),
        ("Is the store open on Monday?", "Is the store open on Tuesday?", True),
        ("Book two tickets", "Please book two tickets", False),
        ("What is the second largest city?", "Which city is the second largest?", False),
        # Pronoun and adverbs, not numbers: "one can", "first announced", "at once".
        ("How can one reset a password?", "How do I reset a password?", False),
        ("When was it first announced?", "When was it announced?", False),
        ("Can I tokenize many texts at once?", "Can I tokenize many texts together?", False),
        ("May I reset my password?", "Can I reset my password?", False),  # the verb
        # Spans of time, when both texts name one.
        ("What is the price of the Pro plan per month?", "What is the price per year?", True),
        ("Refund policy for annual plans", "Refund policy for monthly plans", True),
        ("What is the monthly price?", "What does it cost per month?", False),
        ("When was it founded?", "What is its founding year?", False),
        ("Run a backup daily", "Run a backup every day", False),
        # Quantifiers, when both name one and they share no class.
        ("Do all employees get health insurance?", "Do some employees get health insurance?", True),
        ("Is it always safe to reboot?", "Is it sometimes safe to reboot?", True),
        ("Do all employees get insurance?", "Does every employee get insurance?", False),
        ("Is there any way to export all my data?", "Can I export all my data?", False),
        ("Do employees get insurance?", "Do all employees get insurance?", False),
    ],
)
def test_the_number_guard_compares_digits_and_number_words(a: str, b: str, differ: bool) -> None:
    assert numbers_differ(a, b) is differ
    assert (refusal(a, b, {"number_guard"}) is not None) is differ
    assert refusal(a, b, set()) is None


def test_the_order_guard_speaks_first() -> None:
    assert refusal("Convert 5 euros to dollars", "Convert 5 dollars to euros",
                   {"order_guard", "number_guard"})[0] == "order_guard"  # fmt: skip


def test_trial_kinds_stay_out_of_the_shipped_models_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make train-verifier` reproduces the shipped model: the kinds two trial retrains used
    (TRIAL_RULES) are opt-in for training and a set of their own in the evaluation."""
    monkeypatch.setattr(
        verifier_data,
        "_generation_sources",
        lambda root: [("How do I delete a file in Linux?", "train")],
    )
    monkeypatch.setattr(verifier_data, "_edited_sentences",
                        lambda sets: [("He learned binding in Paris and in Caen typography .",
                                       "test")])  # fmt: skip

    def made(trial: bool, only: bool = False) -> set[tuple[str, str, int, str]]:
        pairs = verifier_data.generated(Path("unused"), {}, trial)
        return {(p.a, p.b, p.label, p.source.removeprefix("generated:"))
                for p in pairs if verifier_data.is_trial(p) or not only}  # fmt: skip

    default, only, both = made(False), made(True, only=True), made(True)
    assert {kind for *_, kind in only} == verifier_data.TRIAL_RULES
    assert not {kind for *_, kind in default} & verifier_data.TRIAL_RULES
    assert both == default | only
    exchanged = (
        "He learned binding in Paris and in Caen typography .",
        "He learned binding in Caen and in Paris typography .",
        0,
        "exchange_names",
    )
    assert exchanged in only


def test_multilingual_training_pairs_are_opt_in_and_keep_their_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--multilingual` (a multilingual verifier candidate) adds ParaPhraser and PAWS-X, each
    pair in the part `sluice eval cache` reports it in; `make train-verifier` does not."""
    english = datasets.Pair("How do I delete a file?", "How can I remove a file?", 1)
    training = {n: [english] for n in verifier_data.TRAINING_SETS}
    monkeypatch.setattr(datasets, "load_all", lambda root: training)
    monkeypatch.setattr(verifier_data, "generated", lambda root, sets, trial: [])
    monkeypatch.setattr(verifier_data, "swaps", lambda: [])
    russian = datasets.Pair("Какая столица Германии?", "Столица Германии?", 1)
    monkeypatch.setattr(datasets, "ru_paraphraser", lambda root: [russian])
    monkeypatch.setattr(datasets, "paws_ids", lambda root: ["1"])
    monkeypatch.setattr(datasets, "pawsx", lambda root, language: [])
    assert {p.source for p in verifier_data.load(Path("unused"))} == set(
        verifier_data.TRAINING_SETS
    )
    added = [p for p in verifier_data.load(Path("unused"), multilingual=True)
             if p.source == "paraphraser_ru"]  # fmt: skip
    (part,) = split("ru_paraphraser", [russian])
    assert [(p.a, p.part) for p in added] == [("Какая столица Германии?", part)]
    assert verifier_data.eval_sets(Path("unused"), part, ["paraphraser_ru"]) == {
        "paraphraser_ru": [russian]
    }
