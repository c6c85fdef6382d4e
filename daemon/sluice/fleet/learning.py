"""Shared bandit learning (issue #20): Feedback that trains one pod's bandit reaches them all.

    <prefix>:bandit:<policy>:pod:<pod>   one pod's own statistics (codec below), PX one day
    <prefix>:bandit:<policy>:pods        ZSET pod → Redis time (ms) of that pod's last write

A LinUCB model is a function of sums over its updates (routing/stats.py), so pods pool
what they learned by adding it up. Each pod learns locally as before (one Sherman–Morrison
step per Feedback) and keeps apart what it learned itself. Every
`fleet.bandit_sync_interval_s` one background task, per bandit policy:

  1. reads the index (one small ZRANGE) and GETs only the pods whose score moved;
  2. when another pod's statistics changed, rebuilds the model as ridge·I + own + Σ others,
     off the event loop (one inverse per arm; updates made meanwhile are replayed);
  3. writes its own statistics when they changed, every TTL / 4, and when the index no
     longer lists them (a Redis that restarted empty) (bandit_publish.lua).

Nothing here is on a request's path: Route and Feedback use the local model. The index read
is bounded by `fleet.command_timeout_ms`, an entry's GET or write (about a megabyte) by
max(that, BULK_TIMEOUT_S), as the cache fill's bulk reads. Redis down or slow: the link
degrades, later calls give up at once, and the pod goes on learning alone; its statistics are
cumulative, so its first write after Redis returns carries everything.

The pod id is kept in the snapshot folder (`fleet-pod-id`), beside the bandit snapshot that
holds the pod's own statistics: a restarted pod writes over its own entry instead of adding
its learning a second time. On its first read it takes back what its entry holds beyond
the snapshot (updates after the last snapshot, before a crash). Without a snapshot folder
the id is new at each start and the pod starts with nothing of its own: its earlier
entry stays one of the "other pods" until it ages out, counted once.

Size of an entry: a header, the pulls, and float32 sums — the upper triangle of Σ x xᵀ
plus Σ r x and Σ x — `entry_bytes(arms, dim)`: 1.20 MB for 4 tiers on a 384-dimension
model (dim 385), 0.90 MB for 3. A pod holds the raw entries of the other pods (that much
memory each) and reads one again only when it changed; its model keeps A⁻¹, its own Σ x xᵀ
and the others' sum in float64 (4.7 MB each at 4 × 385). float32 keeps ~7 significant
digits of each sum: far below what changes a bandit's choice. Traffic: a pod that takes
Feedback writes its entry once per interval; every other pod reads it once per write.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import re
import struct
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from redis.asyncio import Redis

from sluice.fleet import lua
from sluice.fleet.link import FleetLink
from sluice.routing.stats import LinearStats, Mergeable
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.fleet")

# How long an entry outlives its pod's last write (every write refreshes it).
TTL_S = 86_400.0
# Bound on reading or writing entries (about a megabyte each), in the background only.
BULK_TIMEOUT_S = 1.0
# Entries per GET round trip.
FETCH = 4
POD_FILE = "fleet-pod-id"
MAGIC = b"SLB1"
# magic, arms, dim, sha-256 of the tag (16 bytes), Σ rewards; then pulls (int64 × arms),
# the upper triangles of Σ x xᵀ, Σ r x, Σ x (float32, little-endian).
_HEADER = struct.Struct("<4sII16sd")
_SAFE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Refused(ValueError):
    """Another pod's entry that is not merged: `reason` is shape, tag or bad."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# ---- the codec
def entry_bytes(arms: int, dim: int) -> int:
    return _HEADER.size + 8 * arms + 4 * arms * (dim * (dim + 1) // 2 + 2 * dim)


def _digest(tag: str) -> bytes:
    return hashlib.sha256(tag.encode("utf-8")).digest()[:16]


def encode(stats: LinearStats, tag: str) -> bytes:
    rows, cols = np.triu_indices(stats.dim)
    return b"".join((
        _HEADER.pack(MAGIC, stats.arms, stats.dim, _digest(tag), stats.rewards),
        stats.pulls.astype("<i8").tobytes(),
        stats.a[:, rows, cols].astype("<f4").tobytes(),
        stats.rx.astype("<f4").tobytes(),
        stats.sx.astype("<f4").tobytes(),
    ))  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Parts:
    pulls: np.ndarray[Any, Any]
    upper: np.ndarray[Any, Any]  # (arms, dim(dim+1)/2)
    rx: np.ndarray[Any, Any]
    sx: np.ndarray[Any, Any]
    rewards: float


def _parts(data: bytes, shape: tuple[int, int], tag: str) -> _Parts:
    """The arrays of one entry (views on `data`), or Refused saying why not."""
    if len(data) < _HEADER.size:
        raise Refused("bad", f"{len(data)} bytes: too short for an entry")
    magic, arms, dim, digest, rewards = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Refused("bad", "not bandit statistics")
    if (arms, dim) != shape:
        raise Refused(
            "shape", f"{arms} arms × context dimension {dim}, this pod has "
            f"{shape[0]} × {shape[1]} (another embedding model or tier list)"
        )  # fmt: skip
    if digest != _digest(tag):
        raise Refused("tag", "learned on another embedding model or tier list")
    if len(data) != entry_bytes(arms, dim):
        raise Refused("bad", f"{len(data)} bytes, expected {entry_bytes(arms, dim)}")
    tri, at = dim * (dim + 1) // 2, _HEADER.size
    pulls = np.frombuffer(data, "<i8", arms, at)
    at += 8 * arms
    upper = np.frombuffer(data, "<f4", arms * tri, at).reshape(arms, tri)
    at += 4 * arms * tri
    rx = np.frombuffer(data, "<f4", arms * dim, at).reshape(arms, dim)
    sx = np.frombuffer(data, "<f4", arms * dim, at + 4 * arms * dim).reshape(arms, dim)
    finite = all(np.isfinite(x).all() for x in (upper, rx, sx)) and math.isfinite(rewards)
    if not finite or (pulls < 0).any():
        raise Refused("bad", "non-finite sums or negative pulls")
    return _Parts(pulls, upper, rx, sx, float(rewards))


def _expand(parts: Iterable[_Parts], shape: tuple[int, int]) -> LinearStats:
    """The sum of entries, summed as triangles and expanded once."""
    arms, dim = shape
    upper = np.zeros((arms, dim * (dim + 1) // 2))
    out = LinearStats.zeros(arms, dim)
    for p in parts:
        upper += p.upper
        out.rx += p.rx
        out.sx += p.sx
        out.pulls += p.pulls
        out.rewards += p.rewards
    rows, cols = np.triu_indices(dim)
    out.a[:, rows, cols] = upper
    out.a[:, cols, rows] = upper
    return out


def decode(data: bytes, *, shape: tuple[int, int], tag: str) -> LinearStats:
    """One entry's statistics; Refused when it is not of this shape and tag, or broken."""
    return _expand([_parts(data, shape, tag)], shape)


# ---- the pod's id
def pod_id(folder: Path | None) -> str:
    """This pod's id: kept in the snapshot folder (see the module's notes); random without."""
    if folder is None:
        return uuid.uuid4().hex[:12]
    path = folder / POD_FILE
    with contextlib.suppress(FileNotFoundError):
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("fleet_pod_id_unreadable", path=str(path), error=type(exc).__name__)
        else:
            if re.fullmatch(r"[0-9a-f]{12}", text):
                return text
    pod = uuid.uuid4().hex[:12]
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(pod + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        log.warning(
            "fleet_pod_id_not_saved", path=str(path), error=type(exc).__name__,
            effect="after a restart this pod's restored bandit learning counts twice "
            "until its old entry ages out",
        )  # fmt: skip
    return pod


# ---- the sync
@dataclass
class _Track:
    """One bandit policy's model and what this pod holds of the other pods' entries."""

    name: str
    model: Mergeable
    index: str  # the ZSET key
    entry_base: str  # + pod id = an entry's key
    # Own statistics when attached (restored from a snapshot, or none), until the first
    # read of the own entry: what the entry holds beyond them is this pod's, lost at a crash.
    base: LinearStats | None
    synced: bool = False
    published: int = 0  # own total pulls last written
    published_at: float = -math.inf
    versions: dict[str, float] = field(default_factory=dict)  # pod → score of the entry held
    # pod → when (this pod's clock) the index last listed it: an entry held is dropped only
    # when its pod has not been listed for TTL_S, so a Redis that restarts empty costs no
    # learning while the other pods write theirs again.
    listed_at: dict[str, float] = field(default_factory=dict)
    entries: dict[str, bytes] = field(default_factory=dict)  # pod → entry (merged)
    merged: set[str] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)  # pod → reason logged


class FleetLearning:
    """Pools the router's bandit models across the fleet (see the module's notes)."""

    def __init__(
        self,
        link: FleetLink,
        metrics: Metrics,
        *,
        prefix: str,
        pod: str,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._metrics = metrics
        self._prefix = prefix
        self.pod = pod
        self._interval_s = interval_s
        self._clock = clock
        self._bulk_s = max(link.timeout_s, BULK_TIMEOUT_S)
        self._publish = link.script(lua.source("bandit_publish.lua"))
        self._tracks: dict[str, _Track] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def attach(self, models: Mapping[str, Mergeable]) -> None:
        """The router's pooled models (at start, and after a reload that rebuilt the router)."""
        tracks: dict[str, _Track] = {}
        for name, model in models.items():
            old = self._tracks.get(name)
            if old is not None and old.model is model:
                tracks[name] = old
                continue
            safe = name if _SAFE.fullmatch(name) else "h" + _digest(name).hex()
            base = f"{self._prefix}:bandit:{safe}"
            tracks[name] = _Track(name, model, f"{base}:pods", f"{base}:pod:", model.contribution())
        for name in self._tracks.keys() - tracks.keys():
            with contextlib.suppress(KeyError):  # never merged anything
                self._metrics.fleet_bandit_pods.remove(name)
        self._tracks = tracks
        self._wake.set()

    def start(self) -> None:
        log.info("fleet_learning_started", pod=self.pod, policies=sorted(self._tracks),
                 interval_s=self._interval_s)  # fmt: skip
        self._link.on_recovered(self._recovered)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="fleet-learning")

    async def aclose(self) -> None:
        """Stop; write what changed since the last round (bounded by the link)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for track in list(self._tracks.values()):
            with contextlib.suppress(Exception):
                await self._write(track)

    async def _recovered(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self.sync()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._wake.wait()
            self._wake.clear()

    async def sync(self) -> None:
        """One round for every pooled model: read, merge what changed, write."""
        for track in list(self._tracks.values()):
            try:
                if await self._read(track):
                    await self._write(track)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug here must not stop the rounds
                log.warning("fleet_bandit_sync_failed", policy=track.name,
                            error=f"{type(exc).__name__}: {str(exc)[:200]}")  # fmt: skip

    # ---- reading and merging
    async def _read(self, t: _Track) -> bool:
        """Fetch the entries that moved and merge them; False when Redis did not answer."""
        index = await self._link.call(
            "bandit_read", lambda r: _boxed(r.zrange(t.index, 0, -1, withscores=True))
        )
        if index is None:
            return False
        listed = {_text(pod): float(score) for pod, score in index[0]}
        now = self._clock()
        for pod in listed:
            t.listed_at[pod] = now
        if t.published and self.pod not in listed:  # Redis lost it (restarted empty)
            t.published_at = -math.inf
        # The other pods' entries that moved, and at first this pod's own.
        want = [p for p, score in listed.items() if (p == self.pod and not t.synced)
                or (p != self.pod and t.versions.get(p) != score)]  # fmt: skip
        fetched: dict[str, bytes | None] = {}
        for i in range(0, len(want), FETCH):
            chunk = want[i : i + FETCH]
            got = await self._link.call(
                "bandit_read", _mget([t.entry_base + p for p in chunk]), timeout_s=self._bulk_s
            )
            if got is None:
                return False
            fetched.update(zip(chunk, got[0], strict=True))
        own = fetched.pop(self.pod, None)
        changed = False
        gone = {p for p, at in t.listed_at.items() if now - at > TTL_S}
        for pod in gone:
            del t.listed_at[pod]
            t.versions.pop(pod, None)
        for pod in [p for p in t.entries if p in gone or p in fetched]:
            del t.entries[pod]
            changed = True
        shape, tag = t.model.shape, t.model.tag
        for pod, data in fetched.items():
            t.versions[pod] = listed[pod]
            if data is None:  # expired between the index and the GET
                continue
            try:
                _parts(data, shape, tag)
            except Refused as refused:
                self._refuse(t, pod, refused)
                continue
            t.entries[pod] = data
            changed = True
        missing = None
        if not t.synced:
            missing = self._missing(t, own)
            t.synced, t.base = True, None
        if changed or missing is not None:
            entries = dict(t.entries)
            await asyncio.to_thread(self._merge, t.model, entries, missing)
            self._merged(t, set(entries), missing)
        return True

    def _refuse(self, t: _Track, pod: str, refused: Refused) -> None:
        self._metrics.fleet_bandit_refused.labels(t.name, refused.reason).inc()
        if t.refused.get(pod) != refused.reason:
            t.refused[pod] = refused.reason
            log.warning("fleet_bandit_refused", policy=t.name, pod=pod,
                        reason=refused.reason, detail=str(refused))  # fmt: skip

    def _missing(self, t: _Track, own: bytes | None) -> LinearStats | None:
        """What this pod's own entry holds beyond the statistics it started with."""
        if own is None or t.base is None:
            return None
        try:
            held = decode(own, shape=t.model.shape, tag=t.model.tag)
        except Refused:
            return None  # another shape or tag: this pod writes over it
        if held.total <= t.base.total or not held.contains(t.base):
            return None
        log.info("fleet_bandit_own_recovered", policy=t.name,
                 updates=held.total - t.base.total)  # fmt: skip
        return held - t.base

    @staticmethod
    def _merge(model: Mergeable, entries: Mapping[str, bytes], missing: LinearStats | None) -> None:
        shape, tag = model.shape, model.tag
        parts = [_parts(e, shape, tag) for e in entries.values()]
        model.merge(_expand(parts, shape) if parts else None, missing)

    def _merged(self, t: _Track, pods: set[str], missing: LinearStats | None) -> None:
        self._metrics.fleet_bandit_pods.labels(t.name).set(len(pods))
        for pod in sorted(pods - t.merged):
            log.info("fleet_bandit_merged", policy=t.name, pod=pod, pods=len(pods))
        t.merged = pods

    # ---- writing
    async def _write(self, t: _Track) -> None:
        """Write own statistics when they changed (or to refresh the TTL); never before the
        first read, which may take back what the own entry holds."""
        if not t.synced:
            return
        own = t.model.contribution()
        stale = self._clock() - t.published_at > TTL_S / 4
        if own.total == 0 or (own.total == t.published and not stale):
            return
        data = await asyncio.to_thread(encode, own, t.model.tag)
        keys, ttl_ms = [t.entry_base + self.pod, t.index], int(TTL_S * 1000)
        done = await self._link.call(
            "bandit_publish",
            lambda r: self._publish(keys=keys, args=[data, ttl_ms, self.pod]),
            timeout_s=self._bulk_s,
        )
        if done is not None:
            t.published, t.published_at = own.total, self._clock()
            self._metrics.fleet_bandit_published.labels(t.name).inc()


def _mget(keys: list[str]) -> Callable[[Redis], Awaitable[tuple[list[bytes | None]]]]:
    def op(redis: Redis) -> Awaitable[tuple[list[bytes | None]]]:
        return _boxed(redis.mget(keys))  # type: ignore[no-any-return]

    return op


def _boxed(awaitable: Any) -> Any:
    async def run() -> tuple[Any]:
        return (await awaitable,)

    return run()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
