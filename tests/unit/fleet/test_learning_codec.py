"""The bytes a pod writes for the others' bandits (fleet/learning.py): round trip, size,
and refusal of what does not fit (another embedding model, another tier list, garbage)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sluice.fleet.learning import Refused, decode, encode, entry_bytes, pod_id
from sluice.routing.bandit import LinUCB

ARMS, DIM = 3, 9
TAG = "all-MiniLM-L6-v2|cheap/medium/premium"


def learned(seed: int, n: int = 50) -> LinUCB:
    rng = np.random.default_rng(seed)
    model = LinUCB(ARMS, DIM, tag=TAG)
    for _ in range(n):
        x = np.append(rng.normal(size=DIM - 1) / 3, 1.0)
        model.update(int(rng.integers(0, ARMS)), x, float(rng.uniform(0, 1)))
    return model


def test_statistics_round_trip_within_float32() -> None:
    stats = learned(1).contribution()
    data = encode(stats, TAG)
    assert len(data) == entry_bytes(ARMS, DIM)
    back = decode(data, shape=(ARMS, DIM), tag=TAG)
    np.testing.assert_array_equal(back.pulls, stats.pulls)
    assert back.rewards == stats.rewards
    for name in ("a", "rx", "sx"):
        np.testing.assert_allclose(getattr(back, name), getattr(stats, name), rtol=1e-6,
                                   atol=1e-5)  # fmt: skip
    np.testing.assert_array_equal(back.a, np.swapaxes(back.a, 1, 2))


def test_a_merge_through_the_codec_matches_one_model() -> None:
    a, b = learned(2), learned(3)
    one = LinUCB(ARMS, DIM)
    for part in (a.contribution(), b.contribution()):
        one.merge(None, missing=part)
    a.merge(decode(encode(b.contribution(), TAG), shape=(ARMS, DIM), tag=TAG))
    np.testing.assert_allclose(a.a_inv, one.a_inv, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.b, one.b, rtol=1e-4, atol=1e-5)


def test_the_size_of_an_entry_for_minilm() -> None:
    assert entry_bytes(4, 385) == 1_201_268  # 4 tiers, 384 dimensions + 1
    assert entry_bytes(3, 385) == 900_960


@pytest.mark.parametrize(
    ("shape", "tag", "reason"),
    [
        ((ARMS, DIM + 1), TAG, "shape"),  # another embedding model's dimension
        ((ARMS + 1, DIM), TAG, "shape"),  # another tier count
        ((ARMS, DIM), "other-model|cheap/medium/premium", "tag"),  # same size, other meaning
    ],
)
def test_statistics_that_do_not_fit_are_refused(
    shape: tuple[int, int], tag: str, reason: str
) -> None:
    data = encode(learned(4).contribution(), TAG)
    with pytest.raises(Refused) as refused:
        decode(data, shape=shape, tag=tag)
    assert refused.value.reason == reason


def test_broken_entries_are_refused() -> None:
    data = encode(learned(5).contribution(), TAG)
    for bad in (b"", b"junk" * 20, data[:-4], b"XXXX" + data[4:]):
        with pytest.raises(Refused) as refused:
            decode(bad, shape=(ARMS, DIM), tag=TAG)
        assert refused.value.reason == "bad"
    stats = learned(6).contribution()
    stats.rx[0, 0] = np.nan
    with pytest.raises(Refused, match="non-finite"):
        decode(encode(stats, TAG), shape=(ARMS, DIM), tag=TAG)


def test_the_pod_id_is_kept_in_the_snapshot_folder(tmp_path: Path) -> None:
    folder = tmp_path / "snap"
    first = pod_id(folder)
    assert pod_id(folder) == first, "a restart writes over its own entry"
    assert pod_id(None) != pod_id(None), "without a folder: a new id at each start"
    (folder / "fleet-pod-id").write_text("not an id\n")
    assert pod_id(folder) != first
