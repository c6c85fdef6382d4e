"""Cross-pod cache fill over Redis (issue #20): a Store on one pod is a hit on every pod.

Each pod keeps its own cache (exact layer, hnswlib, verifier): a lookup never calls Redis.
Redis holds the fleet's entries and a stream of what changed (entry_codec.py has the keys):

    Store here     → outbox → put script: SET entry PX ttl, ZADD index, trim, XADD put
    Invalidate     → outbox → del script (DEL, ZREM, XADD del) / drop chunks, XADD drop
    other pods     → XREAD BLOCK on the stream → MGET the put entries → import_entry
    a starting pod → the newest `catch_up_max_entries` of the index, before SERVING

The outbox is a bounded queue drained by one task, so a Store never waits for Redis; while
Redis is down it holds what was stored (the oldest dropped past its bound, counted) and is
sent when Redis answers again. Events of this pod come back on the stream and are skipped.

An entry whose vector came from another embedding model (a rolling upgrade) is imported
into the exact layer only: its vector is not comparable with this pod's, and re-embedding
every other pod's questions would cost each pod the whole fleet's embedding CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from sluice.cache.entry import Entry
from sluice.cache.tier import CacheTier
from sluice.config import FleetSettings
from sluice.fleet.entry_codec import Keys, decode, encode, member, namespace_digest
from sluice.fleet.link import FleetLink
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.fleet")
Vector = npt.NDArray[np.float32]

# Events held while Redis is away; past it the oldest are dropped (and counted).
OUTBOX_MAX = 10_000
# Events sent in one pipeline (one round trip).
BATCH = 128
# Entries fetched per MGET (catch-up and following).
FETCH = 256
# How long one XREAD waits for news; the call's bound is this plus the command timeout.
BLOCK_MS = 1000
# The bound on a bulk read (MGET of FETCH entries, up to 0.6 MB; the index at catch-up).
BULK_TIMEOUT_S = 1.0
# Index members scanned per drop-script run: a namespace drop never holds Redis long.
DROP_CHUNK = 1000

_PUT = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('DEL', ARGV[8] .. m)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'k', 'put', 'm', ARGV[4],
                  'pod', ARGV[7])
"""
_DEL = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'k', 'del', 'm', ARGV[1],
                  'pod', ARGV[3])
"""
# ARGV[1]: the member prefix to remove ('' = all), ARGV[2]: first rank, ARGV[3]: how many.
_DROP_CHUNK = """
local members = redis.call('ZRANGE', KEYS[1], ARGV[2], ARGV[2] + ARGV[3] - 1)
local removed = 0
for _, m in ipairs(members) do
  if ARGV[1] == '' or string.sub(m, 1, #ARGV[1]) == ARGV[1] then
    redis.call('DEL', ARGV[4] .. m)
    redis.call('ZREM', KEYS[1], m)
    removed = removed + 1
  end
end
return {#members, removed}
"""

Kind = Literal["put", "del", "drop"]


@dataclass(frozen=True, slots=True)
class _Event:
    kind: Kind
    entry: Entry | None = None
    vector: Vector | None = None
    # drop: the namespace, None for all of them.
    namespace: str | None = None


class FleetCache:
    """The fleet side of one pod's cache: implements `CacheReplica` (cache.replication)."""

    def __init__(
        self,
        link: FleetLink,
        cache: CacheTier,
        settings: FleetSettings,
        *,
        model_id: str,
        metrics: Metrics,
    ) -> None:
        self.link = link
        self.cache = cache
        self.settings = settings
        self.model_id = model_id
        self.metrics = metrics
        self.keys = Keys(settings.key_prefix)
        # Which pod wrote an event: this pod skips its own on the stream.
        self.pod = uuid.uuid4().hex[:12]
        self.last_id: bytes | None = None
        self._outbox: deque[_Event] = deque()
        self._wake = asyncio.Event()
        # Set while the outbox is empty (or what is left waits for Redis to return).
        self._idle = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Bulk reads (up to FETCH entries, the index) run in the background, never on a
        # request's path: a remote Redis gets longer than one command's bound for them.
        self._bulk_s = max(link.timeout_s, BULK_TIMEOUT_S)
        self._put = link.script(_PUT)
        self._del = link.script(_DEL)
        self._drop = link.script(_DROP_CHUNK)

    # ---- CacheReplica: called by the pipeline after a local write; never waits, never raises
    def stored(self, entry: Entry, vector: Vector | None) -> None:
        self._enqueue(_Event("put", entry, vector))

    def invalidated(self, entry: Entry) -> None:
        self._enqueue(_Event("del", entry))

    def dropped(self, namespace: str | None) -> None:
        self._enqueue(_Event("drop", namespace=namespace))

    def _enqueue(self, event: _Event) -> None:
        if len(self._outbox) >= OUTBOX_MAX:
            lost = self._outbox.popleft()
            self.metrics.fleet_cache_published.labels(lost.kind, "dropped").inc()
        self._outbox.append(event)
        self._idle.clear()
        self._wake.set()

    # ---- life cycle
    def start(self) -> None:
        """Run the publisher and the follower; catch up again whenever Redis returns."""
        self.link.on_recovered(self._on_recovered)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._publish_loop(), name="fleet-cache-publish"),
            loop.create_task(self._follow_loop(), name="fleet-cache-follow"),
        ]

    async def close(self, flush_s: float = 1.0) -> None:
        """Send what the outbox holds (within `flush_s`), then stop."""
        if self._outbox and not self.link.degraded:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_s):
                    await self._idle.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _on_recovered(self) -> None:
        await self.catch_up()
        self._wake.set()

    # ---- catch-up: the newest entries of the index, newest first
    async def catch_up(self) -> int:
        """Import up to `catch_up_max_entries` of the fleet's newest entries; how many.

        The stream position is taken first, so whatever is stored meanwhile is replayed by
        the follower (an entry already here is skipped). A pod that was following keeps
        its position: the events it missed (invalidations too) are replayed from there, and
        the index is read only when the stream no longer holds them all (a blip of Redis,
        or of this pod's event loop, costs no bulk copy).
        """
        started = time.perf_counter()
        if self.last_id is not None:
            if not await self._gap():
                return 0
        else:
            newest = await self.link.call(
                "cache_catch_up", lambda r: _boxed(r.xrevrange(self.keys.events, count=1))
            )
            if newest is None:
                return 0
            self.last_id = newest[0][0][0] if newest[0] else b"0-0"
        limit = self.settings.catch_up_max_entries
        if limit == 0:
            return 0
        found = await self.link.call(
            "cache_catch_up",
            lambda r: _boxed(r.zrevrange(self.keys.index, 0, limit - 1)),
            timeout_s=self._bulk_s,
        )
        members: list[bytes] = list(found[0]) if found is not None else []
        applied = 0
        for i in range(0, len(members), FETCH):
            got = await self._fetch_and_import([_text(m) for m in members[i : i + FETCH]])
            if got is None:
                break
            applied += got
        log.info("fleet_cache_caught_up", entries=applied, index=len(members),
                 ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip
        return applied

    async def _gap(self) -> bool:
        """Whether the stream lost events this pod had not read (it was away too long).

        Then the puts are copied from the index; invalidations made meanwhile are not
        known here, and such entries are served until they expire (logged).
        """
        first = await self.link.call(
            "cache_catch_up", lambda r: _boxed(r.xrange(self.keys.events, count=1))
        )
        if first is None or not first[0] or self.last_id is None:
            return False
        if _stream_id(first[0][0][0]) <= _stream_id(self.last_id):
            return False
        log.warning(
            "fleet_cache_stream_gap", stream_max_len=self.settings.stream_max_len,
            effect="invalidations made elsewhere meanwhile may hold here until the "
            "entries expire; raise fleet.stream_max_len",
        )  # fmt: skip
        return True

    # ---- publishing
    async def _publish_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and not self.link.degraded:
                await self._publish_next()
            self._idle.set()

    async def _publish_next(self) -> None:
        first = self._outbox.popleft()
        if first.kind == "drop":
            if not await self._publish_drop(first.namespace):
                self._requeue([first])
            return
        batch = [first]
        while self._outbox and len(batch) < BATCH and _not_drop(self._outbox[0]):
            batch.append(self._outbox.popleft())
        now = self.cache.clock()
        live = [e for e in batch if e.kind == "del" or (e.entry and not e.entry.expired(now))]
        if not live:
            return
        sent = await self.link.call("cache_publish", lambda r: self._send(r, live, now))
        if sent is None:
            self._requeue(live)
            return
        for event in live:
            self.metrics.fleet_cache_published.labels(event.kind, "sent").inc()

    def _requeue(self, events: list[_Event]) -> None:
        """Redis down: keep the events for later, in order. Refused: drop them (counted)."""
        if self.link.degraded:
            room = OUTBOX_MAX - len(self._outbox)
            for event in events[room:] if room < len(events) else ():
                self.metrics.fleet_cache_published.labels(event.kind, "dropped").inc()
            self._outbox.extendleft(reversed(events[: max(room, 0)]))
            return
        for event in events:
            self.metrics.fleet_cache_published.labels(event.kind, "refused").inc()

    async def _send(self, redis: Redis, events: Sequence[_Event], now: float) -> int:
        """One pipeline of EVALSHA calls. redis-py's script objects would add a SCRIPT
        EXISTS round trip to every pipeline; instead a NOSCRIPT (a restarted Redis) loads
        the scripts and sends the batch again (a put sent twice is skipped by followers)."""
        try:
            return await self._send_once(redis, events, now)
        except NoScriptError:
            for script in (self._put, self._del):
                await redis.script_load(script.script)
            return await self._send_once(redis, events, now)

    async def _send_once(self, redis: Redis, events: Sequence[_Event], now: float) -> int:
        s, k = self.settings, self.keys
        keep_question = self.cache.keeps_questions
        async with redis.pipeline(transaction=False) as pipe:
            for event in events:
                entry = event.entry
                assert entry is not None
                name = member(entry.namespace, entry.id)
                keys = (k.entry(name), k.index, k.events)
                if event.kind == "put":
                    payload = encode(entry, event.vector, self.model_id,
                                     keep_question=keep_question)  # fmt: skip
                    ttl_ms = max(1, int((entry.expires - now) * 1000))
                    pipe.evalsha(
                        self._put.sha, 3, *keys, payload, ttl_ms, int(entry.created * 1000),
                        name, s.max_entries, s.stream_max_len, self.pod, k.entry_base,
                    )  # fmt: skip
                else:
                    pipe.evalsha(self._del.sha, 3, *keys, name, s.stream_max_len, self.pod)
            await pipe.execute()
        return len(events)

    async def _publish_drop(self, namespace: str | None) -> bool:
        """Delete a namespace's entries (all: None) in chunks, then tell the other pods."""
        prefix = "" if namespace is None else namespace_digest(namespace) + ":"
        start = 0
        while True:
            args: list[str | int] = [prefix, start, DROP_CHUNK, self.keys.entry_base]
            done = await self.link.call(
                "cache_publish", functools.partial(self._drop_chunk, args=args)
            )
            if done is None:
                return False
            scanned, removed = int(done[0]), int(done[1])
            if scanned < DROP_CHUNK:
                break
            start += scanned - removed
        fields = {"k": "drop", "ns": namespace or "", "all": "1" if namespace is None else "0",
                  "pod": self.pod}  # fmt: skip
        added = await self.link.call(
            "cache_publish",
            lambda r: r.xadd(self.keys.events, fields,  # type: ignore[arg-type]
                             maxlen=self.settings.stream_max_len, approximate=True),
        )  # fmt: skip
        if added is not None:
            self.metrics.fleet_cache_published.labels("drop", "sent").inc()
        return added is not None

    async def _drop_chunk(self, redis: Redis, args: list[str | int]) -> Any:
        return await self._drop(keys=[self.keys.index], args=args, client=redis)

    # ---- following
    async def _read(self, last_id: bytes, redis: Redis) -> tuple[Any]:
        reply = await redis.xread({self.keys.events: last_id}, count=FETCH, block=BLOCK_MS)
        return (reply,)

    async def _follow_loop(self) -> None:
        while True:
            if self.last_id is None or self.link.degraded:
                # Not caught up yet, or Redis is away: the recovery hook catches up first.
                await asyncio.sleep(0.05)
                continue
            reply = await self.link.call(
                "cache_follow",
                functools.partial(self._read, self.last_id),
                timeout_s=BLOCK_MS / 1000 + self.link.timeout_s + 0.5,
            )
            if reply is None:
                await asyncio.sleep(0.05)
                continue
            for _stream, events in reply[0] or ():
                await self._apply(events)

    async def _apply(self, events: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        puts: list[str] = []
        for event_id, fields in events:
            if fields.get(b"pod", b"").decode() != self.pod:
                kind = fields.get(b"k", b"").decode()
                if kind == "put":
                    puts.append(_text(fields.get(b"m", b"")))
                else:
                    await self._flush_puts(puts)
                    puts = []
                    await self._apply_removal(kind, fields)
            self.last_id = event_id
        await self._flush_puts(puts)

    async def _flush_puts(self, puts: list[str]) -> None:
        if puts:
            await self._fetch_and_import(puts)

    async def _apply_removal(self, kind: str, fields: dict[bytes, bytes]) -> None:
        if kind == "del":
            entry_id = _text(fields.get(b"m", b"")).rpartition(":")[2]
            found = self.cache.entry(entry_id) is not None
            if found:
                await self.cache.invalidate_id(entry_id)
            self.metrics.fleet_cache_received.labels("del", "applied" if found else "absent").inc()
        elif kind == "drop":
            everything = fields.get(b"all") == b"1"
            namespace = None if everything else _text(fields.get(b"ns", b""))
            await self.cache.invalidate_namespace(namespace)
            self.metrics.fleet_cache_received.labels("drop", "applied").inc()

    async def _fetch_and_import(self, members: list[str]) -> int | None:
        """MGET the entries and import them; how many were applied (None: Redis failed)."""
        keys = [self.keys.entry(m) for m in members]
        payloads = await self.link.call(
            "cache_fetch", lambda r: _boxed(r.mget(keys)), timeout_s=self._bulk_s
        )
        if payloads is None:
            return None
        applied = 0
        now = self.cache.clock()
        for payload in payloads[0]:
            outcome = await self._import(payload, now)
            self.metrics.fleet_cache_received.labels("put", outcome).inc()
            applied += outcome in ("applied", "exact_only")
        return applied

    async def _import(self, payload: bytes | None, now: float) -> str:
        if payload is None:
            return "gone"  # expired, invalidated or trimmed since
        try:
            shared = decode(payload, now)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning("fleet_cache_bad_entry", error=f"{type(exc).__name__}: {exc}"[:200])
            return "bad"
        vector = shared.vector
        same_model = shared.model_id == self.model_id
        if vector is not None and (not same_model or vector.shape[0] != self.cache.dims):
            vector = None
        outcome = await self.cache.import_entry(shared.entry, vector)
        if outcome == "applied" and shared.vector is not None and vector is None:
            return "exact_only"
        return outcome


def _not_drop(event: _Event) -> bool:
    return event.kind != "drop"


def _boxed(value: Any) -> Any:
    """Wrap an awaitable's result in a tuple: a None reply is then not a failed call."""

    async def run() -> tuple[Any]:
        return (await value,)

    return run()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _stream_id(value: bytes) -> tuple[int, int]:
    ms, _, seq = value.decode().partition("-")
    return int(ms), int(seq or 0)
