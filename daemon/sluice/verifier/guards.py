"""Cheap guard features of a (query, cached question) pair.

They are inputs of the verifier's classification head, not vetoes: the
learned model decides. The training script imports this module, so the
daemon and the model see the same features (models/verifier-*/README.md).

    numbers_differ   the two texts carry different numbers
    negation_differs one text is negated where the other is not
    reordered        the same words (as a multiset) in another order
    same_words       the same words in the same order: the texts differ only in case,
                     spacing or punctuation (the model refused some of those without it)

Pure standard library: the training venv imports it without the daemon's
dependencies.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass

from sluice.types import Guard
from sluice.verifier.order import exchanged
from sluice.verifier.substitution import substituted

FEATURES = ("numbers_differ", "negation_differs", "reordered", "same_words")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_NEGATIONS = frozenset(
    {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "without",
     "cannot"}
)  # fmt: skip


def _spelled() -> dict[str, str]:
    """English number words, cardinal and ordinal, to their value ("second" -> "2")."""
    ones = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen"]  # fmt: skip
    firsts = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
              "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth",
              "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"]  # fmt: skip
    tens = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    out = {w: str(i) for i, w in enumerate(ones)} | {w: str(i) for i, w in enumerate(firsts)}
    for i, w in enumerate(tens, 2):
        out[w] = out[w.removesuffix("y") + "ieth"] = str(10 * i)
    for w, value in (("hundred", 100), ("thousand", 1000), ("million", 10**6), ("billion", 10**9),
                     ("trillion", 10**12)):  # fmt: skip
        out[w] = out[w + "th"] = str(value)
    # "one" is mostly the pronoun ("one can…"), "first" and "once" adverbs ("when was it
    # first announced", "once registered", "at once"): read as numbers, "one" and "first"
    # refused 6 of the calibration part's 99 GPTCache paraphrases, and "once" is in one text
    # only of 11 paraphrases of the train part. Without them "the first law" / "the second
    # law" still differ (no number against a 2).
    del out["one"], out["first"]
    return out | {"twice": "2", "thrice": "3", "dozen": "12", "half": "1/2"}


# What the number guard reads as a number besides digits: English number words, and the
# names of weekdays and months ("may" is left out: it is mostly the verb).
SPELLED_NUMBERS = _spelled()
CALENDAR_NAMES = frozenset(
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
     "february", "march", "april", "june", "july", "august", "september", "october",
     "november", "december"]
)  # fmt: skip


# Spans of time, read by the number guard as one quantity each however they are written
# ("monthly" = "per month" = "months"; "annual" = "yearly" = "year"), by presence, and only
# when both texts name one: "per month" / "per year" differ, "daily" / "every day" do not,
# nor "when was it founded" / "founding year". "second" is the ordinal here.
PERIODS = {
    w: unit
    for unit, forms in (
        ("minute", "minute minutes"), ("hour", "hour hours hourly"), ("day", "day days daily"),
        ("week", "week weeks weekly"), ("fortnight", "fortnight fortnights fortnightly"),
        ("month", "month months monthly"), ("quarter", "quarter quarters quarterly"),
        ("year", "year years yearly annual annually"), ("decade", "decade decades"),
        ("century", "century centuries"), ("today", "today"), ("tomorrow", "tomorrow"),
        ("yesterday", "yesterday"), ("tonight", "tonight"),
    )
    for w in forms.split()
}  # fmt: skip


# Quantifiers, by class, read by the number guard when both texts name one and the two have
# no class in common: "all" / "some" differ, "all" / "every" do not, nor "is there any way
# to export all…" / "can I export all…". Negative ones (none, never) are negation, which the
# model reads.
QUANTIFIERS = {
    w: cls
    for cls, forms in (
        ("all", "all every each everyone everybody everything"),
        ("some", "some any several someone somebody something anyone anybody anything"),
        ("most", "most"), ("always", "always"), ("sometimes", "sometimes occasionally"),
        ("usually", "usually often"),
    )
    for w in forms.split()
}  # fmt: skip


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")


def words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def _numbers(text: str) -> Counter[str]:
    return Counter(n.replace(",", "") for n in _NUMBER.findall(_fold(text)))


def numbers_differ(query: str, cached: str) -> bool:
    """The number guard's rule (cache.verifier.number_guard, a veto, not a feature): the two
    texts carry different numbers, compared as digit strings without thousands separators
    or leading zeros ("1,000" = "1000", "04" = "4"); English number words by their value
    ("second" = "two", "fourth" = "four"); weekday and month names as themselves; spans of
    time (PERIODS) when both texts name one; quantifiers (QUANTIFIERS) when both name one
    and they share no class. A number in digits and the same in words
    differ ("2nd" / "second", "15th" / "fifteenth", "21" / "twenty-one"): a miss, never a
    wrong answer.

    Not `features`' numbers_differ, which the trained model reads and must not change.
    """
    q, c = _Quantities.of(query), _Quantities.of(cached)
    if q.numbers != c.numbers:
        return True
    if q.periods and c.periods and q.periods != c.periods:
        return True
    return bool(q.quantifiers and c.quantifiers and not q.quantifiers & c.quantifiers)


def _order_rule(query: str, cached: str) -> str | None:
    found = exchanged(query, cached)
    return None if found is None else found.describe()


def _number_rule(query: str, cached: str) -> str | None:
    # The reason names no word of a number: it reaches responses.
    if numbers_differ(query, cached):
        return "the two questions carry different numbers or quantities"
    return None


def _substitution_rule(query: str, cached: str) -> str | None:
    found = substituted(query, cached)
    return None if found is None else found.describe()


# The rule guards, in the order they speak: order_guard, shared content words trade places
# (order.py); number_guard, the numbers differ (numbers_differ); substitution_guard, one
# short run of content words replaced by another (substitution.py). A new guard is a rule
# here, a name in sluice.types.Guard and a switch in config.VerifierSettings.
RULES: dict[Guard, Callable[[str, str], str | None]] = {
    "order_guard": _order_rule,
    "number_guard": _number_rule,
    "substitution_guard": _substitution_rule,
}


def refusal(query: str, cached: str, guards: Collection[Guard]) -> tuple[Guard, str] | None:
    """The first of `guards` (in RULES' order) that vetoes the pair whatever the model says,
    and why; or None."""
    for guard, rule in RULES.items():
        if guard in guards and (why := rule(query, cached)) is not None:
            return guard, why
    return None


@dataclass(frozen=True, slots=True)
class _Quantities:
    """What the number guard compares in one text, read in one pass over its words."""

    numbers: Counter[str]
    periods: frozenset[str]
    quantifiers: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Quantities:
        numbers = Counter(n.lstrip("0") or "0" for n in _numbers(text).elements())
        periods, quantifiers = set(), set()
        for w in words(text):
            # Kept apart from digits ("w2", not "2"): the guard only adds refusals to the
            # digit rule, never lifts one ("mid-15th" / "mid-fifteenth" stays a miss).
            if w in SPELLED_NUMBERS:
                numbers["w" + SPELLED_NUMBERS[w]] += 1
            elif w in CALENDAR_NAMES:
                numbers[w] += 1
            elif w in PERIODS:
                periods.add(PERIODS[w])
            elif w in QUANTIFIERS:
                quantifiers.add(QUANTIFIERS[w])
        return cls(numbers, frozenset(periods), frozenset(quantifiers))


def _negations(tokens: list[str]) -> int:
    return sum(1 for t in tokens if t in _NEGATIONS or t.endswith("n't"))


def features(query: str, cached: str) -> tuple[float, float, float, float]:
    """The guard features, each 0.0 or 1.0, in the order of FEATURES."""
    wq, wc = words(query), words(cached)
    numbers_differ = _numbers(query) != _numbers(cached)
    negation_differs = (_negations(wq) % 2) != (_negations(wc) % 2)
    reordered = len(wq) > 1 and Counter(wq) == Counter(wc) and wq != wc
    same_words = wq == wc and not numbers_differ
    return (float(numbers_differ), float(negation_differs), float(reordered), float(same_words))
