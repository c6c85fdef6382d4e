"""The routing evaluation's splits: test apart, calibrate parts that cover the rest once."""

from __future__ import annotations

import pytest

from sluice.evaluation.replay_data import ReplayRow
from sluice.evaluation.routing_eval import cross_fit, split

ROWS = [ReplayRow(f"prompt {i}", {"a": 1.0}) for i in range(103)]


def names(rows: tuple[ReplayRow, ...]) -> set[str]:
    return {r.prompt for r in rows}


def test_the_test_split_is_half_and_never_in_fit_or_calibrate() -> None:
    s = split(ROWS, seed=3)
    assert len(s.test) == 51
    assert names(s.test).isdisjoint(names(s.fit + s.cal))
    assert len(s.fit) + len(s.cal) + len(s.test) == len(ROWS)
    assert split(ROWS, seed=3) == s, "a seed draws the same split"
    assert split(ROWS, seed=4).test != s.test


@pytest.mark.parametrize("folds", [2, 4, 5])
def test_cross_fitted_calibrate_parts_cover_the_non_test_rows_once(folds: int) -> None:
    s = split(ROWS, seed=1)
    parts = cross_fit(s, folds)
    assert len(parts) == folds
    assert parts[0] == s, "the first part is the fit → calibrate split itself"
    held = [r.prompt for p in parts for r in p.cal]
    assert sorted(held) == sorted(names(s.fit + s.cal)), "every non-test row, once"
    for p in parts:
        assert names(p.fit).isdisjoint(names(p.cal)), "a part's models never saw its calibrate"
        assert names(p.fit + p.cal) == names(s.fit + s.cal)
        assert p.test == s.test


def test_one_fold_is_the_plain_split() -> None:
    s = split(ROWS)
    assert cross_fit(s, 1) == [s]
