"""A bounded map of recent request ids, for judgements that arrive after the answer.

Feedback names a request by its id; what the router and the cache did for it is kept
here for the last `capacity` requests, oldest forgotten first, so memory stays bounded
however many requests are never judged. A request is judged once: `pop` takes it, and the
last `capacity` ids taken are remembered so that a second judgement can be told apart from
an id never seen (`taken`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    """A bounded map request id → T (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, T] = OrderedDict()
        self._taken: OrderedDict[str, None] = OrderedDict()

    def put(self, request_id: str, item: T) -> None:
        self._items[request_id] = item
        self._items.move_to_end(request_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def pop(self, request_id: str) -> T | None:
        item = self._items.pop(request_id, None)
        if item is not None:
            self._taken[request_id] = None
            while len(self._taken) > self.capacity:
                self._taken.popitem(last=False)
        return item

    def taken(self, request_id: str) -> bool:
        """Whether `request_id` was popped already (one of the last `capacity` popped)."""
        return request_id in self._taken

    def __len__(self) -> int:
        return len(self._items)


def unknown_request(request_id: str, capacity: int) -> str:
    """Feedback's NOT_FOUND message for an id no part of the daemon remembers."""
    return (
        f"request_id {request_id[:128]!r}: no recent completion with this id "
        f"(the last {capacity} are kept)"
    )


def judged_already(request_id: str) -> str:
    """Feedback's NOT_FOUND message for an id whose answer was judged before."""
    return (
        f"request_id {request_id[:128]!r}: this answer was judged already; "
        "the first judgement of an answer is the one that counts"
    )
