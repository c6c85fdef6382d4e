"""The cache proper: entries, the exact layer, LRU and TTL, over the vector layer.

Entry bookkeeping (dicts, LRU order, byte counts) lives on the event loop and
is never shared with threads; vector work goes through `VectorStore`, which
runs on its own thread. A lookup can therefore meet an entry whose removal is
still queued for the vector thread: it resolves labels through `_by_label`
and ignores what is gone.
"""

from __future__ import annotations

import heapq
import random
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from sluice.cache.entry import Entry
from sluice.cache.expiry import bounded_ttl
from sluice.cache.keys import CacheKey
from sluice.cache.vectors import HnswParams, VectorStore
from sluice.config import CacheSettings
from sluice.errors import InvalidArgument, NotFound
from sluice.telemetry.metrics import Metrics
from sluice.types import Usage

Outcome = Literal["exact", "semantic", "miss", "skipped"]
# What decided a semantic lookup: the cosine alone (no verifier), the verifier's model, or the
# question's own word pieces (the same question to the models: no model run).
Decision = Literal["", "cosine", "verifier", "word_pieces"]
# Semantic candidates fetched per lookup without a verifier; more than one so
# that an expired best match does not hide a fresh second best.
CANDIDATES = 4
# The same word pieces give the same vector (the embedder is row-independent), so only a
# candidate this close can be the question itself: only those are tokenized to check.
SAME_VECTOR = 0.999


class PairVerifier(Protocol):
    """Scores P(same meaning) of a query and cached questions (sluice.verifier)."""

    version: str
    default_min_probability: float

    async def score(self, query: str, cached: Sequence[str]) -> tuple[list[float], float]:
        """Probabilities in the order of `cached`, and the seconds the model took."""
        ...

    async def same_pieces(self, query: str, cached: Sequence[str]) -> list[bool]:
        """Whether each cached question has the query's own word pieces, none unknown.

        Such a pair is the same question to both models (the tokenizer's normalisation:
        case, accents, white space), so it is served without a model run.
        """
        ...


@dataclass(frozen=True, slots=True)
class NamespacePolicy:
    threshold: float
    floor: float
    ttl_s: float
    # The verifier's precision setting (unused without a verifier).
    min_probability: float


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


def served_candidate(scores: Sequence[float], wanted: float) -> int | None:
    """Which verified candidate is served, given their scores nearest first.

    The nearest one when it passes (it is scored alone, so a hit usually costs
    one model pair); otherwise the best-scored of the others when it passes.
    """
    if not scores:
        return None
    if scores[0] >= wanted:
        return 0
    best = max(range(1, len(scores)), key=scores.__getitem__, default=None)
    return best if best is not None and scores[best] >= wanted else None


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

    # ---- policy
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
        return NamespacePolicy(
            threshold=threshold, floor=min(floor, threshold), ttl_s=ttl, min_probability=min_p
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
    def lookup_exact(self, key: CacheKey) -> Entry | None:
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
        """The best live candidate whose cosine is ≥ threshold, verified when a verifier is set.

        `min_probability` overrides the namespace's verifier setting; `score_all`
        scores every candidate the daemon would (up to `max_pairs`) in one call, even
        when the nearest passes (evaluations, which apply their own min_probability grid
        to `scored`).
        """
        k = self.settings.verifier.candidates if self.verifier else CANDIDATES
        found = await self.vectors.call(
            self.vectors.search_sync, key.namespace, key.scope, vector, k
        )
        now = self.clock()
        live: list[tuple[Entry, float]] = []
        for label, similarity in found:
            entry_id = self._by_label.get((key.namespace, key.scope, label))
            entry = self.entries.get(entry_id) if entry_id else None
            if entry is None:
                continue
            if entry.expired(now):
                self._remove(entry, "expired")
                continue
            live.append((entry, similarity))
        best = max((sim for _, sim in live), default=0.0)
        if found:
            self.metrics.cache_similarity.observe(best)
        above = [(e, sim) for e, sim in live if sim >= threshold]
        if self.verifier is not None:
            above.sort(key=lambda c: c[1], reverse=True)
            wanted = (
                min_probability
                if min_probability is not None
                else self.policy(key.namespace).min_probability
            )
            return await self._verify(
                key, above, best, threshold, wanted=wanted, score_all=score_all
            )
        if above:
            entry, similarity = max(above, key=lambda c: c[1])
            return replace(
                self._semantic_hit(key, entry, similarity, threshold), decided_by="cosine"
            )
        self.record_miss(key.namespace)
        reason = f"best similarity {best:.4f} < threshold {threshold}" if live else ""
        return LookupResult("miss", None, best, threshold, reason)

    async def _verify(
        self,
        key: CacheKey,
        above: list[tuple[Entry, float]],
        best: float,
        threshold: float,
        *,
        wanted: float,
        score_all: bool,
    ) -> LookupResult:
        """Decide the candidates (nearest first) as cheaply as the decision allows.

        A candidate with the question's own word pieces is served without a model run.
        Otherwise the model scores the nearest alone (a typical hit costs one pair), then,
        when it is refused, the next ones in one call, at most `max_pairs` runs in all
        (what a refused lookup may cost), and `served_candidate` picks.
        """
        verifier = self.verifier
        assert verifier is not None
        # Entries restored from a snapshot written without question text cannot be verified.
        proposals = [(e, sim) for e, sim in above if e.question]
        if not proposals:
            self.record_miss(key.namespace)
            reason = (
                f"best similarity {best:.4f} < recall threshold {threshold}"
                if not above
                else "candidates lack question text (restored without it); not verifiable"
            )
            return LookupResult("miss", None, best, threshold, reason)
        same = await self._same_question(key, proposals, threshold)
        if same is not None:
            return same
        cap = self.settings.verifier.max_pairs
        questions = [e.question for e, _ in proposals[:cap]]
        first = questions if score_all else questions[:1]
        scores, seconds = await verifier.score(key.question, first)
        if scores[0] < wanted and len(scores) < len(questions):
            more, more_seconds = await verifier.score(key.question, questions[len(scores) :])
            scores, seconds = scores + more, seconds + more_seconds
        self.metrics.verifier_seconds.observe(seconds)
        for score in scores:
            self.metrics.verifier_score.observe(score)
        scored = tuple((e, p) for (e, _), p in zip(proposals, scores, strict=False))
        i = served_candidate(scores, wanted)
        if i is not None and proposals[i][0].id in self.entries:
            entry, similarity = proposals[i]
            self.metrics.verifier_decisions.labels("accept").inc()
            hit = self._semantic_hit(
                key, entry, similarity, threshold, score=scores[i], version=verifier.version
            )
            return replace(hit, scored=scored, decided_by="verifier")
        self.metrics.verifier_decisions.labels("reject").inc()
        self.record_miss(key.namespace)
        i = max(range(len(scores)), key=scores.__getitem__)
        similarity = proposals[i][1]
        unscored = len(proposals) - len(scores)
        capped = (
            f"; {unscored} more not scored (cache.verifier.max_pairs {cap})" if unscored else ""
        )
        reason = (
            f"verifier: P(same meaning) {scores[i]:.3f} < {wanted} "
            f"(cosine {similarity:.4f}, {len(scores)} candidate(s){capped})"
        )
        return LookupResult(
            "miss", None, similarity, threshold, reason, scores[i], verifier.version, scored,
            "verifier",
        )  # fmt: skip

    async def _same_question(
        self, key: CacheKey, proposals: list[tuple[Entry, float]], threshold: float
    ) -> LookupResult | None:
        """The hit when a candidate has the question's own word pieces, else None."""
        assert self.verifier is not None
        close = [(e, sim) for e, sim in proposals if sim >= SAME_VECTOR]
        if not close:
            return None
        flags = await self.verifier.same_pieces(key.question, [e.question for e, _ in close])
        found = next((c for c, same in zip(close, flags, strict=True) if same), None)
        if found is None or found[0].id not in self.entries:
            return None
        entry, similarity = found
        self.metrics.verifier_decisions.labels("same_pieces").inc()
        hit = self._semantic_hit(key, entry, similarity, threshold)
        reason = "same word pieces as the cached question: served without a verifier run"
        return replace(hit, reason=reason, scored=((entry, 1.0),), decided_by="word_pieces")

    def _semantic_hit(
        self,
        key: CacheKey,
        entry: Entry,
        similarity: float,
        threshold: float,
        *,
        score: float | None = None,
        version: str = "",
    ) -> LookupResult:
        self._touch(entry)
        self._count(key.namespace, "semantic_hits")
        self.metrics.cache_lookups.labels("semantic").inc()
        return LookupResult("semantic", entry, similarity, threshold, "", score, version)

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
    def invalidate_id(self, entry_id: str) -> int:
        entry = self.entries.get(entry_id)
        if entry is None:
            raise NotFound(f"entry_id: no cache entry {entry_id[:64]!r} (expired or removed)")
        self._remove(entry, None)
        self._count(entry.namespace, "invalidations")
        return 1

    def invalidate_namespace(self, namespace: str | None) -> int:
        """Every entry of one namespace, or of all (None)."""
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

    def close(self) -> None:
        self.vectors.close()
