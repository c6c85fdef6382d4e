"""Threads that do not spin (issue #19): one onnxruntime thread per run, runs side by side."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Collection, Sequence
from typing import Any

from sluice.cache.store import SemanticCache
from sluice.cli import default_model_dir, default_verifier_dir
from sluice.config import Settings
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import Embedded, OnnxEmbedder
from sluice.pipeline import Pipeline
from sluice.telemetry.metrics import Metrics
from sluice.types import ChatMessage, GenParams, Guard, Usage
from sluice.verifier.model import OnnxVerifier
from tests.unit.embedding.test_model import embedder


def _spinning(session: Any) -> str:
    return str(session.get_session_options().get_session_config_entry(
        "session.intra_op.allow_spinning"
    ))  # fmt: skip


def test_every_session_runs_on_one_thread_that_never_spins() -> None:
    # A second intra-op thread spin-waited away half of a served hit's CPU (issue #19).
    for session in (
        OnnxEmbedder(default_model_dir(), threads=4).session,
        OnnxVerifier(default_verifier_dir()).session,
    ):
        assert session.get_session_options().intra_op_num_threads == 1
        assert _spinning(session) == "0"


class _Probe:
    """The real embedder, recording how many of its runs overlap; each run takes ≥ 50 ms."""

    def __init__(self, threads: int) -> None:
        self.real = embedder()
        self.threads = threads
        self.running = self.most = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def embed(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> list[Embedded]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)
            return self.real.embed(texts, *args)
        finally:
            with self._lock:
                self.running -= 1


async def _overlap(threads: int) -> int:
    probe = _Probe(threads)
    batcher = MicroBatcher(probe, Metrics())  # type: ignore[arg-type]
    await batcher.start()
    try:
        for n in range(6):
            await asyncio.gather(*(batcher.embed([f"question {n}.{i}"]) for i in range(4)))
            await asyncio.sleep(0)
    finally:
        await batcher.stop()
    return probe.most


async def test_question_batches_run_side_by_side_up_to_the_thread_budget() -> None:
    # The first question runs alone; the ones that queue meanwhile form the next batch, which
    # runs on the second thread instead of waiting for the first.
    assert await _overlap(2) == 2
    assert await _overlap(1) == 1


class _ThreadProbe:
    """A verifier that accepts every pair and records which threads ran what."""

    version = "probe@1"
    default_min_probability = 0.5

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def score(self, query: str, cached: Sequence[str]) -> tuple[list[float], float]:
        self.threads.add(threading.get_ident())
        return [1.0] * len(cached), 0.0

    def same_pieces(self, query: str, cached: Sequence[str]) -> list[bool]:
        return [False] * len(cached)

    def refusal(
        self, query: str, cached: str, guards: Collection[Guard]
    ) -> tuple[Guard, str] | None:
        return None


class _EmbedThreads(_Probe):
    """The real embedder, recording the threads it ran on."""

    def __init__(self) -> None:
        super().__init__(1)
        self.idents: list[int] = []

    def embed(self, texts: Sequence[str], *args: Any, **kwargs: Any) -> list[Embedded]:
        self.idents.append(threading.get_ident())
        return self.real.embed(texts, *args)


async def test_a_lookup_searches_and_verifies_on_the_thread_that_embedded_it() -> None:
    # Issue #19: a hop per model (embed lane → vector thread → verifier thread) was fixed
    # CPU on every lookup; the search and the verifier now run right after the embedding.
    settings = Settings()
    probe, verifier = _EmbedThreads(), _ThreadProbe()
    batcher = MicroBatcher(probe, Metrics())  # type: ignore[arg-type]
    await batcher.start()
    cache = SemanticCache(settings.cache, probe.dimensions, Metrics(), verifier=verifier)
    pipeline = Pipeline(settings, batcher, cache)
    params = GenParams()
    try:
        asked = (ChatMessage("user", "How do I delete a file in Linux?"),)
        await pipeline.store("ns", asked, params, answer="rm", finish_reason="stop",
                             usage=Usage(), model="m", ttl_s=None)  # fmt: skip
        probe.idents.clear()
        again = (ChatMessage("user", "How can I delete a file on Linux?"),)
        result = await pipeline.lookup("ns", again, params)
    finally:
        cache.close()
        await batcher.stop()
    assert result.outcome == "semantic"
    assert result.decided_by == "verifier"
    assert len(probe.idents) == 1
    assert verifier.threads == {probe.idents[0]}
    assert threading.get_ident() not in verifier.threads
