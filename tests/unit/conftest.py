"""Fixtures the unit tests of several folders share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sluice.embedding.batcher import MicroBatcher
from sluice.telemetry.metrics import Metrics
from tests.unit.embedding.test_model import embedder


@pytest.fixture
async def batcher() -> AsyncIterator[MicroBatcher]:
    """A started MicroBatcher on the shipped embedder (the pipeline's question lane)."""
    batcher = MicroBatcher(embedder(), Metrics())
    await batcher.start()
    yield batcher
    await batcher.stop()
