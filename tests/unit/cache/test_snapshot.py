"""Snapshots: round trip, and every kind of damage means 'start empty', never a crash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sluice.cache.snapshot import Snapshotter
from sluice.cache.store import SemanticCache
from sluice.cache.tier import CacheTier
from tests.unit.cache.test_store import Clock, cache, key, put, unit
from tests.unit.cache.test_verifier_stage import ScriptedVerifier, verified_cache


async def filled(clock: Clock, n: int = 20) -> SemanticCache:
    c = cache(clock, max_entries=10_000)
    for i in range(n):
        await put(c, f"question {i}", unit(i), ns="a" if i % 2 else "b")
    return c


async def test_round_trip_restores_entries_vectors_and_counters(tmp_path: Path) -> None:
    clock = Clock()
    c = await filled(clock, 2200)  # 1,100 per namespace: both groups live in hnswlib
    assert all(g.index is not None for g in c.vectors.groups.values())
    await Snapshotter(c, tmp_path, "model@1").write()
    c.close()
    restored = cache(clock, max_entries=10_000)
    assert Snapshotter(restored, tmp_path, "model@1").restore() == 2200
    assert all(g.index is not None for g in restored.vectors.groups.values())
    entry = await restored.lookup_exact(key("question 7", ns="a"))
    assert entry is not None
    assert entry.answer == "answer to question 7"
    hit = await restored.lookup_semantic(key("anything", ns="b"), unit(8), 0.97)
    assert hit.entry is not None
    assert hit.entry.answer == "answer to question 8"
    assert hit.entry.question == ""  # prompt bodies are not written to disk
    assert restored.stats("a").entries == 1100
    restored.close()


async def test_expired_entries_are_not_restored(tmp_path: Path) -> None:
    clock = Clock()
    c = await filled(clock)
    await Snapshotter(c, tmp_path, "m").write()
    clock.now += 1000
    fresh = cache(clock)
    assert Snapshotter(fresh, tmp_path, "m").restore() == 0
    fresh.close()
    c.close()


async def test_only_the_newest_snapshot_is_kept(tmp_path: Path) -> None:
    c = await filled(Clock())
    snap = Snapshotter(c, tmp_path, "m")
    await snap.write()
    newest = await snap.write()
    names = sorted(p.name for p in tmp_path.iterdir())  # noqa: ASYNC240 - a test's tmp dir
    assert names == sorted(["CURRENT", newest.name])
    c.close()


def _corrupt_truncate(folder: Path) -> None:
    path = folder / "entries.jsonl"
    path.write_bytes(path.read_bytes()[:50])


def _corrupt_flip(folder: Path) -> None:
    path = next(folder.glob("*.npy"))
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt_version(folder: Path) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta["version"] = 999
    (folder / "meta.json").write_text(json.dumps(meta))


def _corrupt_meta(folder: Path) -> None:
    (folder / "meta.json").write_text("{not json")


def _missing_file(folder: Path) -> None:
    next(folder.glob("*.npy")).unlink()


def _current_points_nowhere(folder: Path) -> None:
    (folder.parent / "CURRENT").write_text("snap-does-not-exist")


def _current_garbage(folder: Path) -> None:
    (folder.parent / "CURRENT").write_bytes(b"\xff\xfe\x00/../..")


def _empty_folder(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


def _forged_row(folder: Path) -> None:
    """A row of the wrong shape, with checksums to match (a writer bug, not a disk fault)."""
    entries = folder / "entries.jsonl"
    entries.write_text('["id", "ns"]\n' + entries.read_text())
    meta = json.loads((folder / "meta.json").read_text())
    meta["sha256"]["entries.jsonl"] = hashlib.sha256(entries.read_bytes()).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "damage",
    [_corrupt_truncate, _corrupt_flip, _corrupt_version, _corrupt_meta, _missing_file,
     _current_points_nowhere, _current_garbage, _empty_folder, _forged_row],
)  # fmt: skip
async def test_damaged_snapshot_is_logged_and_skipped(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    c = await filled(clock)
    folder = await Snapshotter(c, tmp_path, "m").write()
    c.close()
    damage(folder)
    fresh = cache(clock)
    with capture_logs() as logs:
        assert Snapshotter(fresh, tmp_path, "m").restore() == 0
    assert [entry["event"] for entry in logs] == ["snapshot_skipped"]
    assert len(fresh.entries) == 0
    assert not fresh.vectors.groups
    fresh.close()


async def test_snapshot_of_another_model_keeps_its_exact_layer_only(tmp_path: Path) -> None:
    # An upgrade that changes the embedding model (embedding.precision auto → int8, issue
    # #19) used to start with an empty cache: the answers' exact keys do not depend on it.
    clock = Clock()
    c = await filled(clock, 2200)
    await Snapshotter(c, tmp_path, "model-a@1").write()
    fresh = cache(clock, max_entries=10_000)
    with capture_logs() as logs:
        assert Snapshotter(fresh, tmp_path, "model-b@2").restore() == 2200
    (dropped,) = [e for e in logs if e["event"] == "snapshot_vectors_dropped"]
    assert dropped["made_with"] == "model-a@1"
    assert dropped["loaded"] == "model-b@2"
    entry = await fresh.lookup_exact(key("question 7", ns="a"))
    assert entry is not None
    assert entry.answer == "answer to question 7"
    assert not fresh.vectors.groups
    hit = await fresh.lookup_semantic(key("anything", ns="b"), unit(8), 0.97)
    assert hit.entry is None
    # A Store of the same question gives it a vector of the new model again.
    await put(fresh, "question 8", unit(8), ns="b")
    hit = await fresh.lookup_semantic(key("anything", ns="b"), unit(8), 0.97)
    assert hit.entry is not None
    fresh.close()
    c.close()


def test_no_snapshot_yet_is_not_an_error(tmp_path: Path) -> None:
    fresh = cache(Clock())
    with capture_logs() as logs:
        assert Snapshotter(fresh, tmp_path / "absent", "m").restore() == 0
    assert logs == []
    fresh.close()


async def test_with_a_verifier_questions_are_kept_and_snapshots_are_owner_only(
    tmp_path: Path,
) -> None:
    c = verified_cache(ScriptedVerifier({}))
    await put(c, "what is kept", unit(1))
    folder = await Snapshotter(c, tmp_path / "snaps", "m").write()
    c.close()
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "snaps").stat().st_mode & 0o077 == 0
    restored = verified_cache(ScriptedVerifier({}))
    assert Snapshotter(restored, tmp_path / "snaps", "m").restore() == 1
    entry = await restored.lookup_exact(key("what is kept"))
    assert entry is not None
    assert entry.question == "what is kept"
    restored.close()


class _ProtocolOnly:
    """A tier seen only through `CacheTier`'s names: what a snapshot may use of any tier."""

    NAMES = frozenset(n for n in dir(CacheTier) if not n.startswith("_"))

    def __init__(self, inner: SemanticCache) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name not in self.NAMES:
            raise AttributeError(f"{name!r} is not part of CacheTier")
        return getattr(self._inner, name)


async def test_snapshots_use_only_the_tier_protocol(tmp_path: Path) -> None:
    # Another tier is one class that satisfies CacheTier: the Snapshotter must not reach
    # into SemanticCache's fields (entries, vectors, _insert) to write or restore it.
    clock = Clock()
    c = await filled(clock, 1200)  # 600 per namespace: exact groups; hnswlib is above
    await Snapshotter(_ProtocolOnly(c), tmp_path, "m").write()  # type: ignore[arg-type]
    c.close()
    restored = cache(clock, max_entries=10_000)
    tier = _ProtocolOnly(restored)
    assert Snapshotter(tier, tmp_path, "m").restore() == 1200  # type: ignore[arg-type]
    hit = await restored.lookup_semantic(key("anything", ns="a"), unit(7), 0.97)
    assert hit.entry is not None
    assert hit.entry.answer == "answer to question 7"
    restored.close()
