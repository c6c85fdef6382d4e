"""Arithmetic an answer states, checked: "16 - 3 = 13" is right, "9 * 2 = 16" is not.

A worked answer that gets its own arithmetic wrong is usually wrong (on RouteLLM's
GSM8K replay, Mixtral's answers with a wrong equation were right 26 % of the time,
the others 67 %), and checking costs no model call. Only `number op number … =
number` is read: + − * / × and "x" between plain numbers (thousands commas and
decimals allowed), the value a number or a fraction. Anything else (units,
percentages, words between) is not an equation here.

The work is bounded whatever the text: each "=" looks at most `_WINDOW` characters
back and a few forward, and at most `_MAX_EQUATIONS` are read. Nothing is
evaluated but numbers and the four operators (no `eval`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_WINDOW = 80
_MAX_EQUATIONS = 50
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_OP = r"[-+*/×x]"
# The expression that ends right before an "=": number (op number)+, spaces and $ allowed.
_LEFT = re.compile(rf"(\$?{_NUMBER}(?:[ \t]*{_OP}[ \t]*\$?{_NUMBER})+)[ \t]*$")
# The value right after it: "$18", "18", "-4", "1/2".
_RIGHT = re.compile(rf"^[ \t]*\$?[ \t]*(-?{_NUMBER}(?:/{_NUMBER})?)")
_TOKEN = re.compile(rf"{_NUMBER}|{_OP}")
_OPS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "×": operator.mul,
    "x": operator.mul, "/": operator.truediv,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Equations:
    checked: int  # equations read
    wrong: int  # of those, how many state a wrong result

    @classmethod
    def of(cls, found: Sequence[Equation]) -> Equations:
        return cls(len(found), sum(e.wrong for e in found))


@dataclass(frozen=True, slots=True)
class Equation:
    """One equation an answer states: where its "=" is, its operands, what it says."""

    at: int  # the index of its "=" in the text
    operands: tuple[float, ...]
    stated: float
    wrong: bool


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _value(expression: str) -> float:
    """`number (op number)*` with * and / before + and −; ZeroDivisionError passes up."""
    tokens = _TOKEN.findall(expression)
    terms: list[float] = [_number(tokens[0])]
    signs: list[str] = []
    for op, operand in zip(tokens[1::2], tokens[2::2], strict=True):
        value = _number(operand)
        if op in "+-":
            signs.append(op)
            terms.append(value)
        else:
            terms[-1] = _OPS[op](terms[-1], value)
    total = terms[0]
    for sign, term in zip(signs, terms[1:], strict=True):
        total = _OPS[sign](total, term)
    return total


def _stated(text: str) -> float:
    whole, _, under = text.partition("/")
    value = _number(whole.lstrip("-"))
    if under:
        value /= _number(under)
    return -value if whole.startswith("-") else value


def check(text: str) -> Equations:
    """Count the equations `text` states and those whose result is wrong."""
    return Equations.of(equations(text))


def equations(text: str) -> list[Equation]:
    """The equations `text` states, in order (at most `_MAX_EQUATIONS`)."""
    found: list[Equation] = []
    start = 0
    while len(found) < _MAX_EQUATIONS:
        at = text.find("=", start)
        if at < 0:
            break
        start = at + 1
        left = _LEFT.search(text, max(0, at - _WINDOW), at)
        right = _RIGHT.match(text[at + 1 : at + 1 + _WINDOW // 2])
        if left is None or right is None:
            continue
        try:
            computed, stated = _value(left.group(1)), _stated(right.group(1))
        except (ZeroDivisionError, ValueError):
            continue
        operands = tuple(_number(t) for t in _TOKEN.findall(left.group(1))[::2])
        wrong = abs(computed - stated) > _rounding(right.group(1))
        found.append(Equation(at, operands, stated, wrong))
    return found


def _rounding(stated: str) -> float:
    """How far a result written like `stated` may be from the exact one: half its last
    digit ("10 / 3 = 3.33", "7 / 2 = 3.5", "10 / 3 = 3"); a fraction must be exact."""
    if "/" in stated:
        return 1e-9
    _, dot, decimals = stated.partition(".")
    return 0.5 * 10.0 ** -len(decimals) + 1e-9 if dot else 0.5 + 1e-9
