"""Feedback on the cache's answers: a judgement that an answer it served or stored was wrong.

Feedback (the gRPC RPC) names a request by its id. For the last `cache.feedback_capacity`
requests the cache answered (an exact or semantic hit) or stored an answer for,
`CacheFeedback` remembers which entry and how. A judgement of quality below
`cache.feedback_below` (THUMBS_DOWN, REGENERATE, a low SCORE) marks that answer wrong:

- an exact hit, a same-question hit (the question's own word pieces) or the answer stored
  for the request: the answer is wrong for its own question, so the entry is removed, on
  every pod as Invalidate does, and the next ask goes to a model;
- a semantic hit at cosine c: the answer may be right for the cached question but not for
  this one, so the entry serves only questions closer than c from now on
  (`Entry.wrong_at`), and fleet mode shares the narrowed entry. This is vCache's idea of a
  threshold learned per entry from judged hits, in a one-sided form: a wrong hit
  tightens the entry; a good one never loosens it (issue #18, docs/cache-eval.md).

Without it, Feedback on a cache-served answer was answered NOT_FOUND and the cache kept
serving the answer the user had just rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sluice.cache.entry import Entry
from sluice.cache.replication import CacheReplica
from sluice.cache.store import LookupResult
from sluice.cache.tier import CacheTier
from sluice.errors import NotFound
from sluice.recent import Recent
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.cache.feedback")

Action = Literal["removed", "narrowed", "kept", "gone"]


@dataclass(frozen=True, slots=True)
class Answered:
    """The entry that answered (or was stored for) one request."""

    entry_id: str
    # The cosine of a semantic hit on a neighbour's entry; None when the answer is the
    # entry's own question's (an exact or same-question hit, or stored for this request).
    similarity: float | None = None


class CacheFeedback:
    def __init__(
        self, cache: CacheTier, replica: CacheReplica, metrics: Metrics, capacity: int
    ) -> None:
        self.cache = cache
        self.replica = replica
        self.metrics = metrics
        self._recent: Recent[Answered] = Recent(capacity)

    def served(self, request_id: str, lookup: LookupResult) -> None:
        """The cache answered `request_id` (a hit); a miss is not remembered."""
        entry = lookup.entry
        if entry is None:
            return
        own = lookup.outcome == "exact" or lookup.decided_by == "word_pieces"
        self._recent.put(request_id, Answered(entry.id, None if own else lookup.similarity))

    def stored(self, request_id: str, entry: Entry) -> None:
        """A model's answer to `request_id` was stored as `entry`."""
        self._recent.put(request_id, Answered(entry.id))

    async def judge(self, request_id: str, quality: float, below: float) -> Action | None:
        """Apply a judgement of quality in [0, 1]; what it did, or None when the cache did
        not answer or store for `request_id` (or has forgotten it)."""
        answered = self._recent.pop(request_id)
        if answered is None:
            return None
        action = await self._apply(answered, quality >= below)
        self.metrics.cache_feedback.labels(action).inc()
        log.info("cache_feedback", request_id=request_id, entry_id=answered.entry_id,
                 action=action)  # fmt: skip
        return action

    def judged(self, request_id: str) -> bool:
        """Whether `request_id` was judged here already (an answer takes one judgement)."""
        return self._recent.taken(request_id)

    async def _apply(self, answered: Answered, good: bool) -> Action:
        entry = self.cache.entry(answered.entry_id)
        if entry is None:
            return "gone"
        if good:
            return "kept"
        if answered.similarity is None:
            try:
                await self.cache.invalidate_id(entry.id)
            except NotFound:  # removed while we waited
                return "gone"
            self.replica.invalidated(entry)
            return "removed"
        narrowed = self.cache.mark_wrong(entry.id, answered.similarity)
        if narrowed is None:
            return "gone"
        vector = await self.cache.vector_of(narrowed)
        if vector is not None:  # other pods hold it too: they take the narrower one
            self.replica.stored(narrowed, vector)
        return "narrowed"
