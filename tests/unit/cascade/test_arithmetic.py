"""The arithmetic check reads `a op b = c` in an answer and nothing else."""

from __future__ import annotations

import pytest

from sluice.cascade.arithmetic import Equations, check, equations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # GSM8K's worked style, with its calculator annotations.
        # "9 * $2 = $<<…" states no value after its "=": the annotation inside is checked.
        ("She has 16 - 3 = 13 eggs. 9 * $2 = $<<9*2=18>>18.", Equations(2, 0)),
        ("9 * $2 = $18", Equations(1, 0)),
        ("So 9 * 2 = 16 dollars.", Equations(1, 1)),
        ("1,200 + 300 = 1,500 and 4 x 5 = 20 and 3×3 = 9", Equations(3, 0)),
        ("2 + 3 * 4 = 14", Equations(1, 0)),  # * before +
        ("2 + 3 * 4 = 20", Equations(1, 1)),
        ("10 / 3 = 3.33, 7 / 2 = 3.5, 10 / 3 = 3", Equations(3, 0)),  # rounded at its digits
        ("10 / 3 = 3.4", Equations(1, 1)),
        ("2/2 * 1/2 = 1/2", Equations(1, 0)),  # a fraction as the result
        ("5 - 8 = -3", Equations(1, 0)),
        ("x = 5, a=b, speed = distance / time, 100% = 1", Equations(0, 0)),  # not equations
        ("1 / 0 = 3", Equations(0, 0)),  # undefined: not counted
        ("", Equations(0, 0)),
    ],
)
def test_equations(text: str, expected: Equations) -> None:
    assert check(text) == expected


def test_hostile_text_costs_bounded_work() -> None:
    """Long runs without '=' and '=' floods: each '=' reads a window, at most 50 are read
    (a scan quadratic in the text would not finish here)."""
    assert check("1+" * 50_000 + "1") == Equations(0, 0)
    assert check("1 + 1 = 2 " * 10_000).checked == 50
    assert check("=" * 100_000 + "9" * 100_000) == Equations(0, 0)


def test_equations_give_their_operands_results_and_places() -> None:
    text = "16 - 3 = 13 eggs, then 13 - 4 = 9 and 9 * $2 = $18."
    found = equations(text)
    assert [(e.operands, e.stated, e.wrong) for e in found] == [
        ((16.0, 3.0), 13.0, False), ((13.0, 4.0), 9.0, False), ((9.0, 2.0), 18.0, False),
    ]  # fmt: skip
    assert [text[e.at] for e in found] == ["="] * 3
    assert found[0].at < found[1].at < found[2].at
