"""The question vector a Lookup that missed hands to the Store that follows (issue #19).

A client's read-through (Lookup; on a miss, call a model; Store the answer) would embed the
same question twice, and the embedding is most of what either call costs. The miss leaves
its vector here under the cache key; a Store of the same key and the same text takes it,
once, while it is fresh. Bounded both ways: at most `max_entries` (the oldest go first) for
at most `ttl_s` seconds; an entry is a 384-float vector (1.5 KB) and two short digests.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sluice.cache.keys import CacheKey

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _Handed:
    # A digest of the text as the caller wrote it: the exact key folds case and white space,
    # the embedder does not quite the same way, so only the very same text takes the vector.
    text: bytes
    vector: Vector | None
    # Why there is no vector (too long, not covered, another language), as question_vector said.
    reason: str
    expires: float


def _text_digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class VectorHandoff:
    """A small map from cache key to a question's vector (or why it has none)."""

    def __init__(
        self, max_entries: int, ttl_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.clock = clock
        self._handed: OrderedDict[tuple[str, str], _Handed] = OrderedDict()

    def __len__(self) -> int:
        return len(self._handed)

    def put(self, key: CacheKey, vector: Vector | None, reason: str) -> None:
        if self.max_entries == 0 or self.ttl_s <= 0:
            return
        now = self.clock()
        slot = (key.namespace, key.exact)
        self._handed.pop(slot, None)
        self._handed[slot] = _Handed(_text_digest(key.question), vector, reason, now + self.ttl_s)
        # One TTL for all: insertion order is expiry order, so the stale ones are in front.
        while self._handed and (
            len(self._handed) > self.max_entries or next(iter(self._handed.values())).expires <= now
        ):
            self._handed.popitem(last=False)

    def take(self, key: CacheKey) -> tuple[Vector | None, str] | None:
        """The vector handed over for this key and text, once; None when there is none."""
        handed = self._handed.pop((key.namespace, key.exact), None)
        if handed is None or handed.expires <= self.clock():
            return None
        if handed.text != _text_digest(key.question):
            return None
        return handed.vector, handed.reason
