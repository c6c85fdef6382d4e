"""Whether a worked answer computes from the quantities its question gives (issue #21).

A wrong worked answer to a word problem often leaves one of the question's
quantities unused, brings in a number from nowhere, or ends on a number its
own last step did not compute ("2 + 1/2 = 2.5 … #### 3"). Three signals, read
from the text alone, beside `arithmetic` (which checks each step's result):

  unused      the share of the question's quantities the answer never mentions
              (digits, fractions, percentages as p or p/100, number words)
  ungrounded  the share of equation operands that are neither one of the
              question's quantities, nor a result an earlier equation stated, nor
              a common unit constant (60 minutes, 100 %, 12 months, …)
  final_off   the final answer ("#### n", "the answer is n") differs from the
              result the last equation stated

The work is linear in the text and bounded: at most `_MAX_NUMBERS` numbers are
read from either side and `arithmetic` reads at most 50 equations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sluice.cascade import arithmetic

_MAX_NUMBERS = 200
_NUMBER = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?:\s*/\s*(\d+))?(\s*%| percent)?")
_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "half": 0.5, "twice": 2,
    "double": 2, "triple": 3, "dozen": 12, "quarter": 0.25, "third": 1 / 3,
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z]+")
# Numbers a correct step may bring in without the question stating them (as `_keys`).
_CONSTANTS = frozenset(
    {0.5, 1.0, 2.0, 7.0, 10.0, 12.0, 24.0, 30.0, 52.0, 60.0, 100.0, 365.0, 1000.0}
)
_FINAL = re.compile(r"(?:####|answer is:?)\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Grounding:
    quantities: int  # distinct quantities the question states
    unused: float  # share of them the answer never mentions (0 when there are none)
    ungrounded: float  # share of equation operands with no source (0 without equations)
    final_off: bool  # the final answer is not the last equation's result


def _quantities(text: str) -> list[frozenset[float]]:
    """Each quantity `text` states, as the values it may be written as."""
    out: list[frozenset[float]] = []
    for m in _NUMBER.finditer(text):
        if len(out) >= _MAX_NUMBERS:
            break
        whole = float(m.group(1).replace(",", ""))
        forms = {whole}
        if m.group(2) and float(m.group(2)) != 0:
            forms |= {float(m.group(2)), whole / float(m.group(2))}
        if m.group(3):
            forms.add(whole / 100.0)
        out.append(frozenset(forms))
    words = (_WORDS.get(w.lower()) for w in _WORD.findall(text, 0, 50 * _MAX_NUMBERS))
    for value in words:
        if value is not None:
            if len(out) >= 2 * _MAX_NUMBERS:
                break
            out.append(frozenset({float(value)}))
    return out


def _keys(values: Iterable[float]) -> set[float]:
    """Values as set keys: equal to 6 decimals (0.2 written, 20 % read as 20 / 100)."""
    return {round(v, 6) for v in values}


def ground(
    answer: str, question: str, steps: Sequence[arithmetic.Equation] | None = None
) -> Grounding:
    """How `answer`'s numbers relate to `question`'s (see the module doc); `steps` are the
    answer's `arithmetic.equations` when the caller has them. An empty answer has nothing
    to read (all zero), whatever its question."""
    if not answer.strip():
        return Grounding(0, 0.0, 0.0, False)
    asked = [_keys(q) for q in dict.fromkeys(_quantities(question))]
    steps = arithmetic.equations(answer) if steps is None else steps
    said = _keys(v for q in _quantities(answer) for v in q) | _keys(e.stated for e in steps)
    unused = sum(not (q & said) for q in asked)
    pool = set(_CONSTANTS).union(*asked)
    operands = without_source = 0
    for e in steps:
        operands += len(e.operands)
        without_source += sum(round(v, 6) not in pool for v in e.operands)
        pool.add(round(e.stated, 6))
    final = _FINAL.search(answer)
    final_off = bool(
        final and steps
        and round(float(final.group(1).replace(",", "")), 6) != round(steps[-1].stated, 6)
    )  # fmt: skip
    return Grounding(
        len(asked), unused / len(asked) if asked else 0.0,
        without_source / operands if operands else 0.0, final_off,
    )  # fmt: skip
