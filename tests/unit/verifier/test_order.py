"""The order guard (sluice/verifier/order.py): exchanges refused, paraphrases kept."""

from __future__ import annotations

import timeit

import pytest

from sluice.verifier.order import exchanged

SWAPS = [
    ("Convert 100 dollars to euros", "Convert 100 euros to dollars", "dollars", "euros"),
    ("Flight from London to Paris", "Flights from Paris to London", "london", "paris"),
    ("Flight from New York to Los Angeles", "Flight from Los Angeles to New York",
     "new york", "los angeles"),
    ("Is gold heavier than silver?", "Is silver heavier than gold?", "gold", "silver"),
    ("Why is the iPhone more expensive than the Pixel?",
     "Why is the Pixel more expensive than the iPhone?", "iphone", "pixel"),
    ("Does Alice owe Bob money?", "Does Bob owe Alice money?", "alice", "bob"),
    ("How many kilometers is 5 miles?", "How many miles is 5 kilometers?", "kilometers", "miles"),
    ("Should I install Python before Docker?", "Should I install Docker before Python?",
     "python", "docker"),
    ("What time is it in Toronto when it's 9 am in Paris?",
     "What time is it in Paris when it's 9 am in Toronto?", "toronto", "paris"),
    # Russian: the case endings change with the role, the stems stay.
    ("Как доехать из Москвы в Берлин?", "Как доехать из Берлина в Москву?", "москвы", "берлин"),
    ("Сколько будет 100 долларов в рублях?", "Сколько будет 100 рублей в долларах?",
     "долларов", "рублях"),
    ("Сколько Иван должен Петру?", "Сколько Пётр должен Ивану?", "иван", "петру"),
    ("Сколько времени в Лондоне, когда в Самаре 9 утра?",
     "Сколько времени в Самаре, когда в Лондоне 9 утра?", "лондоне", "самаре"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "cached", "first", "second"), SWAPS)
def test_an_exchange_of_roles_is_refused(query: str, cached: str, first: str, second: str) -> None:
    found = exchanged(query, cached)
    assert found is not None
    assert (" ".join(found.first), " ".join(found.second)) == (first, second)
    assert exchanged(cached, query) is not None


@pytest.mark.parametrize(
    ("query", "cached"),
    [
        ("Convert 5 miles to kilometers", "How many kilometers are in 5 miles?"),  # another frame
        ("What is the difference between TCP and UDP?",
         "What is the difference between UDP and TCP?"),  # symmetric: "and"
        ("Which is better, Python or Java?", "Which is better, Java or Python?"),
        ("Python vs Java for web servers", "Java vs Python for web servers"),
        ("How do I delete a file in Linux?", "How can I remove a file on Linux?"),  # same order
        ("The team was founded in 1998 by John", "In 1998, the team was founded by John"),  # moved
        ("Lobethal is a German brewery with regional style influences",
         "Lobethal is a German brewery with regional influences of style"),
        ("Translate this from English to French", "Please translate this from English into French"),
        ("Когда лучше всего ехать в Бразилию в отпуск?",
         "В какое время года лучше поехать в отпуск в Бразилию?"),  # "в _ в _": no roles
        ("ЦБ запретил Связному банку принимать вклады",
         "ЦБ запретил банку «Связной» принимать вклады"),  # noun and modifier, nothing between
        ("Convert 100 dollars to euros", "Convert 100 dollars to euros"),
        ("How?", "Why?"),
        ("", ""),
    ],
)  # fmt: skip
def test_paraphrases_and_symmetric_pairs_are_left_to_the_model(query: str, cached: str) -> None:
    assert exchanged(query, cached) is None


def test_a_long_text_is_not_judged() -> None:
    words = " ".join(f"w{i}" for i in range(70))
    assert exchanged(f"from London to Paris {words}", f"from Paris to London {words}") is None


def test_the_guard_costs_microseconds() -> None:
    # Printed, not asserted: a figure for docs/cache-eval.md (the test's job is correctness).
    pair = ("What time is it in Toronto when it's 9 am in Paris?",
            "What time is it in Paris when it's 9 am in Toronto?")  # fmt: skip
    seconds = min(timeit.repeat(lambda: exchanged(*pair), number=1000, repeat=3)) / 1000
    print(f"order guard: {seconds * 1e6:.1f} µs per pair")
    assert exchanged(*pair) is not None
