"""Threads that do not spin (issue #19): one onnxruntime thread per run, runs side by side."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

from sluice.cli import default_model_dir, default_verifier_dir
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import Embedded, OnnxEmbedder
from sluice.telemetry.metrics import Metrics
from sluice.verifier.model import OnnxVerifier, Verifier
from tests.unit.embedding.test_model import embedder


def _spinning(session: Any) -> str:
    return str(session.get_session_options().get_session_config_entry(
        "session.intra_op.allow_spinning"
    ))  # fmt: skip


def test_every_session_runs_on_one_thread_that_never_spins() -> None:
    # A second intra-op thread spin-waited away half of a served hit's CPU (issue #19).
    for session in (
        OnnxEmbedder(default_model_dir(), threads=4).session,
        OnnxVerifier(default_verifier_dir(), threads=4).session,
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

    def embed(self, texts: Sequence[str], *args: Any) -> list[Embedded]:
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


class _VerifierProbe:
    """The real verifier model, recording how many of its calls overlap (each ≥ 50 ms)."""

    def __init__(self, threads: int) -> None:
        self.real = OnnxVerifier(default_verifier_dir(), threads=threads)
        self.running = self.most = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def score(self, query: str, cached: Sequence[str]) -> list[float]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)
            return self.real.score(query, cached)
        finally:
            with self._lock:
                self.running -= 1


async def test_the_verifier_scores_pairs_side_by_side_up_to_its_threads() -> None:
    for threads in (2, 1):
        probe = _VerifierProbe(threads)
        verifier = Verifier(probe)  # type: ignore[arg-type]
        try:
            scores = await asyncio.gather(
                *(verifier.score(f"What is {i}?", [f"What is {i} ?"]) for i in range(4))
            )
        finally:
            verifier.close()
        assert all(len(s) == 1 for s, _ in scores)
        assert probe.most == threads
