"""A bounded map of recent request ids, for judgements that arrive after the answer.

Feedback names a request by its id; what the router and the cache did for it is kept
here for the last `capacity` requests, oldest forgotten first, so memory stays bounded
however many requests are never judged.
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

    def put(self, request_id: str, item: T) -> None:
        self._items[request_id] = item
        self._items.move_to_end(request_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def pop(self, request_id: str) -> T | None:
        return self._items.pop(request_id, None)

    def __len__(self) -> int:
        return len(self._items)
