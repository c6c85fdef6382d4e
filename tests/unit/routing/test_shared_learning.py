"""LinUCB over statistics that add up: pods that pool their learning get the model one pod
would have built from all of their updates (issue #20, shared learning)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sluice.routing.bandit import LinUCB
from sluice.routing.stats import LinearStats

ARMS, DIM = 3, 6


def updates(seed: int, n: int) -> list[tuple[int, np.ndarray, float]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = np.append(rng.normal(size=DIM - 1), 1.0)
        out.append((int(rng.integers(0, ARMS)), x, float(rng.uniform(-0.3, 1.0))))
    return out


def trained(*batches: list[tuple[int, np.ndarray, float]], ridge: float = 1.0) -> LinUCB:
    model = LinUCB(ARMS, DIM, ridge=ridge)
    for batch in batches:
        for arm, x, r in batch:
            model.update(arm, x, r)
    return model


def same_model(got: LinUCB, want: LinUCB, rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(got.a_inv, want.a_inv, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got.b, want.b, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(got.pulls, want.pulls)
    assert got.offset == pytest.approx(want.offset, rel=rtol)
    x = np.append(np.linspace(-1, 1, DIM - 1), 1.0)
    assert got.choose(x)[0] == want.choose(x)[0]


def test_merging_two_pods_equals_one_model_that_saw_both() -> None:
    first, second = updates(1, 60), updates(2, 45)
    a, b = trained(first, ridge=2.0), trained(second, ridge=2.0)
    one = trained(first, second, ridge=2.0)
    # The order of updates does not matter either: the sums are the same.
    assert np.allclose(trained(second, first, ridge=2.0).b, one.b)
    a.merge(b.contribution())
    b.merge(a.contribution())
    same_model(a, one)
    same_model(b, one)
    # Each pod's own part is still only its own: that is what it writes for the others.
    assert a.contribution().total == 60
    assert b.contribution().total == 45


def test_learning_goes_on_after_a_merge_and_a_new_merge_replaces_the_old() -> None:
    first, second, third = updates(3, 30), updates(4, 30), updates(5, 20)
    a = trained(first)
    a.merge(trained(second).contribution())
    for arm, x, r in third:  # Sherman–Morrison on top of the merged model
        a.update(arm, x, r)
    same_model(a, trained(first, second, third), rtol=1e-8)
    # The other pod learned more: its newer statistics replace the older ones, not add.
    a.merge(trained(second, updates(6, 10)).contribution())
    same_model(a, trained(first, third, second, updates(6, 10)), rtol=1e-8)


def test_an_update_during_a_merge_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, late = updates(7, 20), updates(8, 20), updates(9, 1)[0]
    a, other = trained(first), trained(second).contribution()
    inverse = np.linalg.inv

    def slow_inverse(m: np.ndarray) -> np.ndarray:
        a.update(*late)  # Feedback arrives while the merge computes, off the event loop
        return inverse(m)

    monkeypatch.setattr(np.linalg, "inv", slow_inverse)
    a.merge(other)
    monkeypatch.setattr(np.linalg, "inv", inverse)
    same_model(a, trained(first, [late], second), rtol=1e-8)
    assert a.contribution().total == 21


def test_missing_updates_are_added_to_own_statistics() -> None:
    first, lost = updates(10, 25), updates(11, 15)
    restored = trained(first)
    held = trained(first, lost).contribution()  # what the pod's entry in Redis holds
    restored.merge(None, missing=held - restored.contribution())
    same_model(restored, trained(first, lost), rtol=1e-8)
    assert restored.contribution().total == 40


def test_statistics_of_another_shape_are_refused() -> None:
    a = trained(updates(12, 5))
    with pytest.raises(ValueError, match="shape"):
        a.merge(LinearStats.zeros(ARMS + 1, DIM))


def test_a_snapshot_holds_own_learning_only(tmp_path: Path) -> None:
    first, second = updates(13, 30), updates(14, 20)
    a = trained(first)
    a.merge(trained(second).contribution())
    path = tmp_path / "bandit.npz"
    a.save(path)
    fresh = LinUCB(ARMS, DIM)
    assert fresh.load(path)
    same_model(fresh, trained(first), rtol=1e-8)


def test_a_snapshot_of_the_earlier_format_still_loads(tmp_path: Path) -> None:
    old = trained(updates(15, 30))
    path = tmp_path / "bandit.npz"
    with path.open("wb") as f:  # what save() wrote before the statistics were kept
        np.savez(f, a_inv=old.a_inv, b=old.b, pulls=old.pulls, offset=old.offset)
    fresh = LinUCB(ARMS, DIM)
    assert fresh.load(path)
    np.testing.assert_allclose(fresh.a_inv, old.a_inv, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fresh.b, old.b, rtol=1e-8, atol=1e-10)
    assert fresh.offset == pytest.approx(old.offset)
    assert not LinUCB(ARMS + 1, DIM).load(path), "another tier count"
