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
from collections.abc import Collection

from sluice.types import Guard
from sluice.verifier.order import exchanged

FEATURES = ("numbers_differ", "negation_differs", "reordered", "same_words")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_NEGATIONS = frozenset(
    {"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "without",
     "cannot"}
)  # fmt: skip


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")


def words(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def _numbers(text: str) -> Counter[str]:
    return Counter(n.replace(",", "") for n in _NUMBER.findall(_fold(text)))


def numbers_differ(query: str, cached: str) -> bool:
    """The number guard's rule (cache.verifier.number_guard, a veto, not a feature): the two
    texts carry different numbers, compared as digit strings without thousands separators
    or leading zeros ("1,000" = "1000", "04" = "4"). "15th" / "fifteenth" differ: a miss.

    Not `features`' numbers_differ, which the trained model reads and must not change.
    """
    return _plain_numbers(query) != _plain_numbers(cached)


def refusal(query: str, cached: str, guards: Collection[Guard]) -> tuple[Guard, str] | None:
    """The first of `guards` that vetoes the pair whatever the model says, and why; or None.

    order_guard: shared content words trade places (order.py); number_guard: the numbers
    differ (numbers_differ). The reason names no word of a number: it reaches responses.
    """
    if "order_guard" in guards:
        found = exchanged(query, cached)
        if found is not None:
            return "order_guard", found.describe()
    if "number_guard" in guards and numbers_differ(query, cached):
        return "number_guard", "the two questions carry different numbers"
    return None


def _plain_numbers(text: str) -> Counter[str]:
    return Counter(n.lstrip("0") or "0" for n in _numbers(text).elements())


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
