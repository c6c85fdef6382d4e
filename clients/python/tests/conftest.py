from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the shared daemon helper next to this file

import sluice_client
from daemon import RunningDaemon, running_daemon


@pytest.fixture(scope="session")
def daemon() -> Iterator[RunningDaemon]:
    with running_daemon() as d:
        yield d


@pytest.fixture
def client(daemon: RunningDaemon) -> Iterator[sluice_client.Client]:
    with sluice_client.Client(daemon.target, timeout=30) as c:
        yield c
