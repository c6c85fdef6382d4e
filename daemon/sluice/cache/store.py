"""The cache proper: entries, the exact layer, LRU and TTL, over the vector layer.

Entry bookkeeping (dicts, LRU order, byte counts) changes only on the event loop.
A semantic lookup is decided off the loop (`decide`: the vector search and the
verifier, on the thread that embedded the question) and counted on it (`settle`).
`decide` only reads the bookkeeping, one dict lookup at a time (atomic under the
GIL), and `settle` checks again that what it serves is still here. Vector changes
run on the vector layer's own thread, so a lookup can meet an entry whose removal
is still queued there: it resolves labels through `_by_label` and ignores what is
gone.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import random
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sluice.cache.entry import Entry
from sluice.cache.expiry import bounded_ttl
from sluice.cache.export import CacheExport
from sluice.cache.keys import CacheKey
from sluice.cache.vectors import HnswParams, VectorStore, load_group, save_group
from sluice.cache.verdict import (
    Decision,
    PairVerifier,
    Verdict,
    VerifyPolicy,
    served_candidate,
    verify,
)
from sluice.config import CacheSettings
from sluice.errors import InvalidArgument, NotFound
from sluice.telemetry.metrics import Metrics
from sluice.types import Guard, Usage

Outcome = Literal["exact", "semantic", "miss", "skipped"]
# What became of an entry another pod made (import_entry).
ImportOutcome = Literal["applied", "present", "stale", "expired"]
# Semantic candidates fetched per lookup without a verifier; more than one so
# that an expired best match does not hide a fresh second best.
CANDIDATES = 4
# `served_candidate` and the PairVerifier seam live in verdict.py; here for old imports.
__all__ = ["PairVerifier", "served_candidate"]


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    threshold: float
    floor: float
    ttl_s: float
    # The verifier's precision setting and rule guards (unused without a verifier).
    min_probability: float
    guards: frozenset[Guard]


@dataclass(frozen=True, slots=True)
class LookupResult:
    outcome: Outcome
    entry: Entry | None = None
    similarity: float = 0.0
    threshold: float = 0.0
    reason: str = ""
    # P(same meaning) of the served (or best rejected) candidate, when the verifier ran.
    verifier_score: float | None = None
    verifier_version: str = ""
    # Every candidate the verifier decided, nearest first: (entry, P(same meaning)); 1.0
    # for one with the question's own word pieces (decided without a model run).
    scored: tuple[tuple[Entry, float], ...] = ()
    decided_by: Decision = ""


@dataclass(frozen=True, slots=True)
class SemanticDecision:
    """A semantic lookup decided off the event loop, not yet counted (`decide`, `settle`)."""

    # The lookup's result as decided; a hit's entry may be gone by the time it settles.
    result: LookupResult
    # Candidates found expired, removed when the decision settles.
    expired: tuple[Entry, ...] = ()
    # Cosine of the nearest live candidate, when the vector layer returned any.
    nearest: float | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True, slots=True)
class CacheCounts:
    entries: int
    bytes: int
    exact_hits: int
    semantic_hits: int
    misses: int
    stores: int
    evictions: int
    expirations: int
    invalidations: int
    unsupported_text: int


class SemanticCache:
    """The one cache tier (`CacheTier`, cache/tier.py): exact layer, vectors, verifier."""

    def __init__(
        self,
        settings: CacheSettings,
        dims: int,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        verifier: PairVerifier | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        if verifier is not None:
            metrics.verifier_info.labels(verifier.version).set(1)
        self.metrics = metrics
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.vectors = VectorStore(
            dims,
            HnswParams(
                m=settings.hnsw_m,
                ef_construction=settings.ef_construction,
                ef_search=settings.ef_search,
                compact_fraction=settings.compact_fraction,
            ),
        )
        self.entries: dict[str, Entry] = {}
        self._exact: dict[tuple[str, str], str] = {}
        self._by_label: dict[tuple[str, str, int], str] = {}
        self._lru: OrderedDict[str, None] = OrderedDict()
        self._expiry: list[tuple[float, str]] = []
        self.bytes = 0
        self._ns_entries: Counter[str] = Counter()
        self._ns_bytes: Counter[str] = Counter()
        self.counts: dict[str, Counter[str]] = {}
        # `lookup_semantic` decides here (callers that pass their own vector: evaluations);
        # the daemon's lookups decide on the embedding lane instead (Pipeline).
        self._deciders = ThreadPoolExecutor(
            max_workers=settings.verifier.threads, thread_name_prefix="lookup"
        )

    @property
    def dims(self) -> int:
        return self.vectors.dims

    @property
    def keeps_questions(self) -> bool:
        return self.verifier is not None

    # ---- policy
    def configure(self, settings: CacheSettings) -> None:
        """A reload's settings; those the cache was built with (hnsw_*, verifier threads,
        snapshot_dir) are restart-only (reload.py) and keep their running values."""
        self.settings = settings

    def policy(self, namespace: str) -> NamespacePolicy:
        s = self.settings
        ns = s.namespaces.get(namespace)
        threshold = ns.threshold if ns and ns.threshold is not None else s.threshold
        floor = ns.floor if ns and ns.floor is not None else s.floor
        ttl = ns.ttl_s if ns and ns.ttl_s is not None else s.ttl_s
        if ns is not None and ns.min_probability is not None:
            min_p = ns.min_probability
        elif s.verifier.min_probability is not None:
            min_p = s.verifier.min_probability
        else:
            min_p = self.verifier.default_min_probability if self.verifier else 1.0
        guards = s.verifier.guards
        if ns is not None and ns.substitution_guard is not None:
            others = guards - {"substitution_guard"}
            guards = others | {"substitution_guard"} if ns.substitution_guard else others
        return NamespacePolicy(
            threshold=threshold,
            floor=min(floor, threshold),
            ttl_s=ttl,
            min_probability=min_p,
            guards=guards,
        )

    def threshold_for(self, namespace: str, requested: float | None, field: str) -> float:
        """The cosine a candidate needs: the request's, or the default; never below the floor.

        The default is the namespace's threshold, or with a verifier its
        recall threshold (the verifier, not the cosine, then decides; anything
        from that default up is then a raise, so the floor is the lower of the two).
        """
        policy = self.policy(namespace)
        default = self.settings.verifier.recall_threshold if self.verifier else policy.threshold
        if requested is None:
            return default
        floor = min(policy.floor, default)
        if requested < floor:
            raise InvalidArgument(
                field,
                f"{requested} is below namespace {namespace!r}'s floor {floor}; "
                "a request may raise the threshold, not lower it past the floor",
            )
        return requested

    def _count(self, namespace: str, what: str, n: int = 1) -> None:
        self.counts.setdefault(namespace, Counter())[what] += n

    # ---- lookups
    def entry(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    async def lookup_exact(self, key: CacheKey) -> Entry | None:
        entry_id = self._exact.get((key.namespace, key.exact))
        entry = self.entries.get(entry_id) if entry_id else None
        if entry is None:
            return None
        if entry.expired(self.clock()):
            self._remove(entry, "expired")
            return None
        self._touch(entry)
        self._count(key.namespace, "exact_hits")
        self.metrics.cache_lookups.labels("exact").inc()
        return entry

    async def lookup_semantic(
        self,
        key: CacheKey,
        vector: npt.NDArray[np.float32],
        threshold: float,
        *,
        min_probability: float | None = None,
        score_all: bool = False,
    ) -> LookupResult:
        """`decide` on one of the cache's threads, then `settle` (see both)."""
        decide = functools.partial(
            self.decide, key, vector, threshold, min_probability=min_probability,
            score_all=score_all,
        )  # fmt: skip
        decision = await asyncio.get_running_loop().run_in_executor(self._deciders, decide)
        return self.settle(key, decision)

    def decide(
        self,
        key: CacheKey,
        vector: npt.NDArray[np.float32],
        threshold: float,
        *,
        min_probability: float | None = None,
        score_all: bool = False,
    ) -> SemanticDecision:
        """The best live candidate whose cosine is ≥ threshold, verified when a verifier is set.

        Runs on any thread but the event loop's (it searches under the vector layer's lock
        and runs the verifier's model), changes nothing: `settle` counts it, on the loop.
        `min_probability` overrides the namespace's verifier setting; `score_all`
        scores every candidate the daemon would (up to `max_pairs`) in one call, even
        when the nearest passes (evaluations, which apply their own min_probability grid
        to `scored`).
        """
        k = self.settings.verifier.candidates if self.verifier else CANDIDATES
        found = self.vectors.search(key.namespace, key.scope, vector, k)
        now = self.clock()
        live: list[tuple[Entry, float]] = []
        expired: list[Entry] = []
        for label, similarity in found:
            entry_id = self._by_label.get((key.namespace, key.scope, label))
            entry = self.entries.get(entry_id) if entry_id else None
            if entry is None:
                continue
            if entry.expired(now):
                expired.append(entry)
                continue
            live.append((entry, similarity))
        best = max((sim for _, sim in live), default=0.0)
        nearest = best if found else None
        above = [(e, sim) for e, sim in live if sim >= threshold]
        # An entry whose hit at some cosine was marked wrong serves only closer questions.
        barred = _barred(above)
        above = [(e, sim) for e, sim in above if sim > e.wrong_at]
        if self.verifier is not None:
            above.sort(key=lambda c: c[1], reverse=True)
            result, verdict = self._verified(
                key, above, best, threshold, min_probability=min_probability,
                score_all=score_all, barred=barred,
            )  # fmt: skip
            return SemanticDecision(result, tuple(expired), nearest, verdict)
        if above:
            entry, similarity = max(above, key=lambda c: c[1])
            result = LookupResult("semantic", entry, similarity, threshold, decided_by="cosine")
        else:
            reason = barred or (
                f"best similarity {best:.4f} < threshold {threshold}" if live else ""
            )
            result = LookupResult("miss", None, best, threshold, reason)
        return SemanticDecision(result, tuple(expired), nearest)

    def _verified(
        self,
        key: CacheKey,
        above: list[tuple[Entry, float]],
        best: float,
        threshold: float,
        *,
        min_probability: float | None,
        score_all: bool,
        barred: str,
    ) -> tuple[LookupResult, Verdict | None]:
        """The verifier's decision on the candidates above the recall threshold.

        `barred`: why candidates above it were left out (`_barred`), or ""."""
        verifier = self.verifier
        assert verifier is not None
        # Entries restored from a snapshot written without question text cannot be verified.
        proposals = [(e, sim) for e, sim in above if e.question]
        if not proposals:
            reason = (
                barred or f"best similarity {best:.4f} < recall threshold {threshold}"
                if not above
                else "candidates lack question text (restored without it); not verifiable"
            )
            return LookupResult("miss", None, best, threshold, reason), None
        namespace = self.policy(key.namespace)
        wanted = min_probability if min_probability is not None else namespace.min_probability
        policy = VerifyPolicy(wanted, self.settings.verifier.max_pairs, namespace.guards, score_all)
        v = verify(verifier, key.question, proposals, policy)
        version = verifier.version if v.decided_by == "verifier" else ""
        entry = None if v.served is None else v.served[0]
        result = LookupResult(
            "miss" if entry is None else "semantic", entry, v.similarity, threshold, v.reason,
            v.score, version, v.scored, v.decided_by,
        )  # fmt: skip
        return result, v

    def settle(self, key: CacheKey, decision: SemanticDecision) -> LookupResult:
        """Count a decided lookup, on the event loop: hit or miss, metrics, expired entries."""
        for entry in decision.expired:
            self._remove(entry, "expired")  # a no-op for one already gone
        if decision.nearest is not None:
            self.metrics.cache_similarity.observe(decision.nearest)
        verdict = decision.verdict
        if verdict is not None:
            self._observe_verdict(verdict)
        result = decision.result
        if result.entry is not None and result.entry.id not in self.entries:
            # Removed (replaced, evicted, invalidated) while the lookup was decided.
            reason = "the matching entry was removed while the lookup ran"
            result = replace(result, outcome="miss", entry=None, reason=reason)
        if result.entry is not None:
            self._touch(result.entry)
            self._count(key.namespace, "semantic_hits")
            self.metrics.cache_lookups.labels("semantic").inc()
            if verdict is not None:
                served = "same_pieces" if verdict.decided_by == "word_pieces" else "accept"
                self.metrics.verifier_decisions.labels(served).inc()
            return result
        if verdict is not None and verdict.decided_by == "verifier":
            self.metrics.verifier_decisions.labels("reject").inc()
        self.record_miss(key.namespace)
        return result

    def _observe_verdict(self, verdict: Verdict) -> None:
        m = self.metrics
        for guard in verdict.refused_by:
            m.verifier_decisions.labels(guard).inc()
        if verdict.scores:
            m.verifier_seconds.observe(verdict.seconds)
            for score in verdict.scores:
                m.verifier_score.observe(score)

    def record_miss(self, namespace: str) -> None:
        self._count(namespace, "misses")
        self.metrics.cache_lookups.labels("miss").inc()

    def record_unsupported(self, namespace: str) -> None:
        self._count(namespace, "unsupported_text")
        self.metrics.cache_unsupported.inc()
        self.metrics.cache_lookups.labels("skipped").inc()

    def _touch(self, entry: Entry) -> None:
        entry.hits += 1
        entry.last_hit = self.clock()
        self._lru.move_to_end(entry.id)

    def mark_wrong(self, entry_id: str, similarity: float) -> Entry | None:
        """A semantic hit on the entry at `similarity` was wrong: from now on it serves only
        questions closer than that. The entry, or None when it is gone."""
        entry = self.entries.get(entry_id)
        if entry is not None:
            entry.wrong_at = max(entry.wrong_at, similarity)
        return entry

    async def vector_of(self, entry: Entry) -> npt.NDArray[np.float32] | None:
        """The entry's vector, or None when it has none (exact layer only) or is gone."""
        if entry.slot < 0:
            return None
        return await self.vectors.call(
            self.vectors.vector_sync, entry.namespace, entry.scope, entry.slot
        )

    # ---- writes
    async def store(
        self,
        key: CacheKey,
        vector: npt.NDArray[np.float32] | None,
        *,
        answer: str,
        finish_reason: str,
        usage: Usage,
        model: str,
        ttl_s: float | None = None,
    ) -> tuple[Entry, bool]:
        """Store an answer (replacing one with the same exact key)."""
        now = self.clock()
        ttl = ttl_s if ttl_s is not None else self.policy(key.namespace).ttl_s
        jitter = self.settings.ttl_jitter
        # Clamped again after the jitter: the fronts check a request's TTL, but a configured
        # one (or a new caller) must not store an expiry no Timestamp can carry either.
        expires = now + bounded_ttl(ttl * (1.0 + self.rng.uniform(-jitter, jitter)))
        label = -1
        if vector is not None:
            label = await self.vectors.call(self.vectors.add_sync, key.namespace, key.scope, vector)
        old_id = self._exact.get((key.namespace, key.exact))
        old = self.entries.get(old_id) if old_id else None
        if old is not None:
            self._remove(old, None)
        entry = Entry(
            id=uuid.uuid4().hex, namespace=key.namespace, scope=key.scope, exact=key.exact,
            question=key.question, answer=answer, finish_reason=finish_reason, usage=usage,
            model=model, created=now, expires=expires, slot=label,
        )  # fmt: skip
        self._insert(entry)
        self._count(key.namespace, "stores")
        self.metrics.cache_stores.inc()
        self._evict()
        return entry, old is not None

    async def import_entry(
        self, entry: Entry, vector: npt.NDArray[np.float32] | None
    ) -> ImportOutcome:
        """Insert an entry made elsewhere (another pod), keeping its id, times and expiry.

        Looked up like a local one (exact layer, vector layer with `vector`, the verifier);
        `entry.slot` is ignored. Not inserted when it is already here (`present`), expired,
        or older than the entry this pod holds for the same question (`stale`: the newest
        answer wins on every pod, whichever order they arrive in). Not counted as a store.
        """
        here = self.entries.get(entry.id)
        if here is not None:
            # The same entry again, as another pod narrowed it (mark_wrong): keep the
            # narrowest, whichever order the pods' marks arrive in.
            here.wrong_at = max(here.wrong_at, entry.wrong_at)
            return "present"
        refused = self._newer_or_expired(entry)
        if refused is not None:
            return refused
        label = -1
        if vector is not None:
            label = await self.vectors.call(
                self.vectors.add_sync, entry.namespace, entry.scope, vector
            )
        # The vector thread ran in between: check again before the entry becomes visible.
        refused = "present" if entry.id in self.entries else self._newer_or_expired(entry)
        if refused is not None:
            if label >= 0:
                self.vectors.submit(self.vectors.remove_sync, entry.namespace, entry.scope, label)
            return refused
        old_id = self._exact.get((entry.namespace, entry.exact))
        if old_id is not None and old_id in self.entries:
            self._remove(self.entries[old_id], None)
        self._insert(replace(entry, hits=0, last_hit=0.0, slot=label))
        self._evict()
        return "applied"

    def _newer_or_expired(self, entry: Entry) -> ImportOutcome | None:
        if entry.expired(self.clock()):
            return "expired"
        old_id = self._exact.get((entry.namespace, entry.exact))
        old = self.entries.get(old_id) if old_id else None
        if old is not None and old.created >= entry.created:
            return "stale"
        return None

    def _insert(self, entry: Entry) -> None:
        self.entries[entry.id] = entry
        self._exact[(entry.namespace, entry.exact)] = entry.id
        if entry.slot >= 0:
            self._by_label[(entry.namespace, entry.scope, entry.slot)] = entry.id
        self._lru[entry.id] = None
        heapq.heappush(self._expiry, (entry.expires, entry.id))
        size = entry.size_bytes
        self.bytes += size
        self._ns_entries[entry.namespace] += 1
        self._ns_bytes[entry.namespace] += size
        self._update_gauges()

    def _remove(self, entry: Entry, reason: Literal["lru", "bytes", "expired"] | None) -> None:
        if self.entries.pop(entry.id, None) is None:
            return
        if self._exact.get((entry.namespace, entry.exact)) == entry.id:
            del self._exact[(entry.namespace, entry.exact)]
        self._lru.pop(entry.id, None)
        if entry.slot >= 0:
            self._by_label.pop((entry.namespace, entry.scope, entry.slot), None)
            self.vectors.submit(self.vectors.remove_sync, entry.namespace, entry.scope, entry.slot)
        size = entry.size_bytes
        self.bytes -= size
        self._ns_entries[entry.namespace] -= 1
        self._ns_bytes[entry.namespace] -= size
        if reason == "expired":
            self._count(entry.namespace, "expirations")
            self.metrics.cache_evictions.labels("expired").inc()
        elif reason is not None:
            self._count(entry.namespace, "evictions")
            self.metrics.cache_evictions.labels(reason).inc()
        self._update_gauges()

    def _evict(self) -> None:
        s = self.settings
        while self._lru and (len(self.entries) > s.max_entries or self.bytes > s.max_bytes):
            reason: Literal["lru", "bytes"] = (
                "lru" if len(self.entries) > s.max_entries else "bytes"
            )
            oldest = next(iter(self._lru))
            self._remove(self.entries[oldest], reason)

    def reap_expired(self) -> int:
        """Remove every expired entry; returns how many."""
        now = self.clock()
        removed = 0
        while self._expiry and self._expiry[0][0] <= now:
            _, entry_id = heapq.heappop(self._expiry)
            entry = self.entries.get(entry_id)
            if entry is not None and entry.expired(now):
                self._remove(entry, "expired")
                removed += 1
        # The heap keeps stale ids of replaced entries; rebuild when it bloats.
        if len(self._expiry) > 2 * len(self.entries) + 1024:
            self._expiry = [(e.expires, e.id) for e in self.entries.values()]
            heapq.heapify(self._expiry)
        return removed

    # ---- invalidation
    async def invalidate_id(self, entry_id: str) -> int:
        entry = self.entries.get(entry_id)
        if entry is None:
            raise NotFound(f"entry_id: no cache entry {entry_id[:64]!r} (expired or removed)")
        self._remove(entry, None)
        self._count(entry.namespace, "invalidations")
        return 1

    async def invalidate_namespace(self, namespace: str | None) -> int:
        """Every entry of one namespace, or of all (None)."""
        return self._invalidate_namespace(namespace)

    def _invalidate_namespace(self, namespace: str | None) -> int:
        doomed = [e for e in self.entries.values() if namespace is None or e.namespace == namespace]
        for entry in doomed:
            # Vectors go with the whole group below, not one by one.
            entry.slot = -1
            self._remove(entry, None)
            self._count(entry.namespace, "invalidations")
        self.vectors.submit(self.vectors.drop_namespace_sync, namespace)
        self._by_label = {
            k: v for k, v in self._by_label.items() if namespace is not None and k[0] != namespace
        }
        return len(doomed)

    # ---- figures
    def _update_gauges(self) -> None:
        self.metrics.cache_entries.set(len(self.entries))
        self.metrics.cache_bytes.set(self.bytes)

    def stats(self, namespace: str | None = None) -> CacheCounts:
        if namespace is None:
            total: Counter[str] = Counter()
            for c in self.counts.values():
                total.update(c)
            entries, size = len(self.entries), self.bytes
        else:
            total = self.counts.get(namespace, Counter())
            entries, size = self._ns_entries[namespace], self._ns_bytes[namespace]
        return CacheCounts(
            entries=entries, bytes=size, exact_hits=total["exact_hits"],
            semantic_hits=total["semantic_hits"], misses=total["misses"],
            stores=total["stores"], evictions=total["evictions"],
            expirations=total["expirations"], invalidations=total["invalidations"],
            unsupported_text=total["unsupported_text"],
        )  # fmt: skip

    # ---- snapshots (the files and their format: cache/snapshot.py)
    async def export_snapshot(self, folder: Path, encode: Callable[[Entry], str]) -> CacheExport:
        """Every entry through `encode` as it is now (on the loop: cheap), then every vector
        group saved into `folder` on the vector thread (after every queued vector change)."""
        rows = [encode(e) for e in self.entries.values()]
        groups = await self.vectors.call(self._save_groups, str(folder))
        return CacheExport(rows, tuple(groups), self.dims)

    def _save_groups(self, directory: str) -> list[dict[str, Any]]:
        out = []
        for i, ((namespace, scope), group) in enumerate(self.vectors.groups.items()):
            meta = save_group(group, directory, f"g{i}")
            out.append({"namespace": namespace, "scope": scope, **meta})
        return out

    def import_snapshot(
        self,
        folder: Path,
        groups: Sequence[Mapping[str, Any]],
        entries: Iterable[Entry],
        *,
        discard: Iterable[Entry] = (),
    ) -> int:
        """Load an export into this (empty) cache, off the event loop before serving.

        Expired entries are left out, with their vectors, and so are the vectors of
        `discard`; on any error the cache is emptied and the error raised. Returns how many
        entries were restored."""
        try:
            return self._import_snapshot(folder, groups, entries, discard)
        except Exception:
            self._invalidate_namespace(None)
            raise

    def _import_snapshot(
        self,
        folder: Path,
        groups: Sequence[Mapping[str, Any]],
        entries: Iterable[Entry],
        discard: Iterable[Entry],
    ) -> int:
        vectors = self.vectors
        for g in groups:
            group = load_group(vectors.dims, vectors.params, str(folder), dict(g))
            vectors.groups[(g["namespace"], g["scope"])] = group
        now = self.clock()
        restored = 0
        for entry in entries:
            if not entry.expired(now):
                self._insert(entry)
                restored += 1
            elif entry.slot >= 0:
                vectors.remove_sync(entry.namespace, entry.scope, entry.slot)
        for entry in discard:
            if entry.slot >= 0:
                vectors.remove_sync(entry.namespace, entry.scope, entry.slot)
        self._evict()
        return restored

    def close(self) -> None:
        self._deciders.shutdown(wait=True)
        self.vectors.close()


def _barred(above: Sequence[tuple[Entry, float]]) -> str:
    """Why candidates above the threshold are left out: their question is no closer than
    a hit on them that Feedback marked wrong (`mark_wrong`); "" when none is."""
    barred = [(e, sim) for e, sim in above if sim <= e.wrong_at]
    if not barred:
        return ""
    entry, similarity = max(barred, key=lambda c: c[1])
    return (
        f"nearest candidate (cosine {similarity:.4f}) is no closer than a hit on it that "
        f"Feedback marked wrong (cosine {entry.wrong_at:.4f})"
    )
