"""A cache entry: the answer, its accounting, and its place in time."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sluice.types import Usage

# Per-entry overhead beyond its strings: the object, dict slots, the vector (384 float32).
_OVERHEAD_BYTES = 600


@dataclass(slots=True)
class Entry:
    id: str
    namespace: str
    scope: str
    exact: str
    question: str
    answer: str
    finish_reason: str
    usage: Usage
    model: str
    created: float  # wall clock (time.time), survives restarts
    expires: float
    hits: int = 0
    last_hit: float = 0.0
    # Row of this entry's vector in its group (-1: exact layer only).
    slot: int = -1
    # The cosine of the closest semantic hit on this entry that Feedback marked wrong (0:
    # none): a question must be closer than that to be served it (cache/feedback.py).
    wrong_at: float = 0.0

    @property
    def size_bytes(self) -> int:
        return (
            _OVERHEAD_BYTES
            + len(self.question.encode("utf-8"))
            + len(self.answer.encode("utf-8"))
            + sys.getsizeof(self.model)
        )

    def expired(self, now: float) -> bool:
        return now >= self.expires
