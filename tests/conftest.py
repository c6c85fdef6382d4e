from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.daemon import Daemon


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., Daemon]]:
    """Start one or more real daemons; every one is stopped and removed afterwards."""
    started: list[Daemon] = []

    def start(config: dict[str, Any] | None = None, **kwargs: Any) -> Daemon:
        wait = kwargs.pop("wait", True)
        daemon = Daemon(config, **kwargs)
        started.append(daemon)
        return daemon.start(wait=wait)

    yield start
    for daemon in started:
        daemon.cleanup()


@pytest.fixture(scope="module")
def shared_daemon() -> Iterator[Daemon]:
    """One daemon for a module's read-mostly tests (each uses its own namespace)."""
    daemon = Daemon().start()
    yield daemon
    daemon.cleanup()
