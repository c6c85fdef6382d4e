"""Fire-and-forget Redis work that the hot path must not wait for, awaited at close."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Background:
    """Runs coroutines as tasks it keeps (so none is collected mid-flight) until they end."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, object]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop left (a stream finalised after shutdown): nothing to send on
            work.close()
            return
        task = loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Wait for the work in flight (each call bounded by the link's command timeout)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
