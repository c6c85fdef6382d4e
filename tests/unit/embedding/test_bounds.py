"""Memory and CPU bounds of the embedding path (issue #17): text cut, token cap, fair queue."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest
from tokenizers import Encoding, Tokenizer

from sluice.cli import default_model_dir
from sluice.config import parse_settings
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import Embedded, OnnxEmbedder, plan_batches
from sluice.errors import ConfigError, Overloaded
from sluice.onnx_session import prefix
from sluice.telemetry.metrics import Metrics
from tests.support.worst_cases import prose


@cache
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder(default_model_dir(), threads=2, max_tokens=256)


class _CountingTokenizer:
    """The real tokenizer, counting the characters it is given (a seam, not a mock)."""

    def __init__(self, inner: Tokenizer) -> None:
        self.inner = inner
        self.chars = 0

    def encode_batch(self, texts: Sequence[str]) -> list[Encoding]:
        self.chars += sum(len(t) for t in texts)
        return list(self.inner.encode_batch(list(texts)))


def _whole(text: str) -> Encoding:
    return embedder().tokenizer.encode(text)


# ---- the cut before tokenizing


def test_a_1_mib_question_is_not_tokenized_whole() -> None:
    emb = embedder()
    counting = _CountingTokenizer(emb.tokenizer)
    emb.tokenizer = counting  # type: ignore[assignment]  # the seam: same encode_batch
    try:
        (tok,) = emb.tokenize([prose(1024 * 1024, seed=0)])
    finally:
        emb.tokenizer = counting.inner
    # Before: all 1,048,576 characters (~0.5–2 s); now the first cut suffices.
    assert counting.chars <= 256 * 8
    assert tok.truncated
    assert len(tok.encoding.ids) == 256


REALISTIC = {
    "prose": prose(40_000, seed=1),
    "code": "\n".join(
        f"{'    ' * (i % 4)}def handler_{i}(request, context):\n"
        f"{'    ' * (i % 4 + 1)}return await self._rpc('Embed', request, context)  # ok"
        for i in range(400)
    ),
    "table": "\n".join(f"| {i:<30} | {'value ' * 3:<40} | {i * 7:>20} |" for i in range(600)),
    "urls": " ".join(f"https://example.com/a/b/c?id={i}&q=cache+hit" for i in range(900)),
    "cjk": "如何删除文件并且保留目录结构" * 400,
    "short": "How do I delete a file in Linux?",
    "padded": "word " + " " * 20_000 + "another word " * 300,
}


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_the_cut_keeps_the_tokens_the_whole_text_would_give(name: str) -> None:
    text = REALISTIC[name]
    (tok,) = embedder().tokenize([text])
    whole = _whole(text)
    assert tok.encoding.ids == whole.ids, name
    assert tok.truncated == bool(whole.overflowing), name


def test_a_text_with_no_tokens_in_its_first_64_kib_is_cut_and_reported_truncated() -> None:
    # 1 MiB of white space around two words: past 256 characters a token nothing is read.
    (tok,) = embedder().tokenize(["start" + " " * (1024 * 1024) + "end"])
    assert tok.truncated
    assert len(tok.encoding.ids) == 3  # [CLS] start [SEP]


def test_prefix_ends_between_words() -> None:
    assert prefix("alpha beta gamma", 100) == "alpha beta gamma"
    assert prefix("alpha beta gamma", 12) == "alpha beta"
    assert prefix("x" * 1000, 300) == "x" * 300  # one [UNK] word either way


def test_embedding_a_cut_text_gives_the_whole_texts_vector() -> None:
    text = prose(20_000, seed=3)
    (cut,) = embedder().embed([text])
    enc = _whole(text)
    whole = embedder().run([enc])[0]
    assert float(cut.vector @ whole) >= 0.9999
    assert cut.truncated
    assert cut.tokens == 256


# ---- the token cap per onnxruntime call


def test_batches_respect_the_token_cap_and_cover_every_text_once() -> None:
    rng = random.Random(7)
    texts = [prose(rng.randrange(10, 3000), seed=i) for i in range(120)]
    tokenized = embedder().tokenize(texts)
    for cap in (256, 1024, 2048, 8192):
        groups = plan_batches(tokenized, 64, cap)
        assert sorted(i for g in groups for i in g) == list(range(len(texts)))
        for group in groups:
            padded = len(group) * max(len(tokenized[i].encoding.ids) for i in group)
            assert padded <= cap or len(group) == 1, (cap, padded)
            assert len(group) <= 64


def test_the_token_cap_does_not_change_vectors() -> None:
    texts = [prose(n, seed=n) for n in (20, 200, 900, 1500, 5000)] * 3
    capped = embedder().embed(texts, max_batch=64, max_batch_tokens=256)
    free = embedder().embed(texts, max_batch=64, max_batch_tokens=1 << 20)
    for a, b in zip(capped, free, strict=True):
        assert float(a.vector @ b.vector) >= 0.9999


def test_config_keys_are_checked_and_named() -> None:
    settings = parse_settings({})
    assert settings.embedding.max_batch_tokens == 1024
    assert settings.limits.max_queued_embed_texts == 512
    with pytest.raises(ConfigError) as err:
        parse_settings({"embedding": {"max_batch_tokens": 100}})
    assert err.value.key == "embedding.max_batch_tokens"
    with pytest.raises(ConfigError) as err:
        parse_settings({"limits": {"max_queued_embed_texts": 10}})
    assert err.value.key == "limits.max_queued_embed_texts"


# ---- interactive work first, a bounded bulk queue


def _runs(metrics: Metrics) -> int:
    samples = metrics.embed_batch_size.collect()[0].samples
    return int(next(s.value for s in samples if s.name.endswith("_count")))


def _embedded_texts(metrics: Metrics) -> int:
    samples = metrics.embed_texts.collect()[0].samples
    return int(next(s.value for s in samples if s.name.endswith("_total")))


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(6000):  # 30 s: a loaded machine is slow, a broken batcher never gets there
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never became true")


async def _started(batcher: MicroBatcher) -> MicroBatcher:
    await batcher.start()
    return batcher


BULK = [prose(1200, seed=i) for i in range(48)]  # 256 tokens each: 2 texts per 512-token call


async def test_a_question_does_not_wait_for_a_bulk_job() -> None:
    metrics = Metrics()
    batcher = await _started(MicroBatcher(embedder(), metrics, max_batch_tokens=512))
    try:
        bulk = asyncio.create_task(batcher.embed(BULK, bulk=True))
        await _until(lambda: _runs(metrics) >= 2)  # the bulk job is running its calls
        (question,) = await batcher.embed(["How do I delete a file in Linux?"])
        assert not bulk.done(), "the question did not wait for the rest of the bulk job"
        assert len(await bulk) == len(BULK)
    finally:
        await batcher.stop()
    (alone,) = embedder().embed(["How do I delete a file in Linux?"])
    assert float(question.vector @ alone.vector) >= 0.9999


async def test_a_small_bulk_call_is_not_stuck_behind_a_large_one() -> None:
    batcher = await _started(MicroBatcher(embedder(), Metrics(), max_batch_tokens=512))
    try:
        large = asyncio.create_task(batcher.embed(BULK, bulk=True))
        await asyncio.sleep(0.05)
        small = await batcher.embed(["one text"], bulk=True)
        assert not large.done()
        assert len(small) == 1
        results = await large
    finally:
        await batcher.stop()
    # Bulk results equal the one-call results, text by text.
    direct = embedder().embed(BULK)
    for got, want in zip(results, direct, strict=True):
        assert float(got.vector @ want.vector) >= 0.9999
        assert (got.tokens, got.truncated) == (want.tokens, want.truncated)


async def test_a_full_bulk_queue_answers_overloaded_and_frees_up_after() -> None:
    batcher = await _started(
        MicroBatcher(embedder(), Metrics(), max_batch_tokens=512, max_queued_texts=48)
    )
    try:
        first = asyncio.create_task(batcher.embed(BULK, bulk=True))
        await asyncio.sleep(0)
        assert batcher.queued_texts == 48
        with pytest.raises(Overloaded) as err:
            await batcher.embed(["one more"], bulk=True)
        assert err.value.retry_after >= 1
        assert "limits.max_queued_embed_texts" in err.value.message
        # Questions never wait in the bulk queue, so they are never refused by it.
        assert len(await batcher.embed(["a question"])) == 1
        await first
        await asyncio.sleep(0)
        assert batcher.queued_texts == 0
        assert len(await batcher.embed(["one more"], bulk=True)) == 1
    finally:
        await batcher.stop()


async def test_a_bulk_caller_that_gave_up_costs_nothing_further() -> None:
    metrics = Metrics()
    batcher = await _started(MicroBatcher(_OverlapCounting(), metrics, max_batch_tokens=512))
    try:
        bulk = asyncio.create_task(batcher.embed(BULK, bulk=True))
        await _until(lambda: _runs(metrics) >= 1)
        bulk.cancel()
        at_cancel = _embedded_texts(metrics)
        for _ in range(3):  # the cancel reaches the future, then its done-callback runs
            await asyncio.sleep(0)
        assert batcher.queued_texts == 0, "its texts left the queue's count at once"
        # The steps taken before the cancel end (a loaded machine may take a while to even
        # start them); at most one 2-text call per bulk thread.
        await _until(lambda: batcher.bulk_steps_running == 0)
        settled = _embedded_texts(metrics)
        assert settled <= at_cancel + 2 * batcher._bulk_threads, (at_cancel, settled)
        # Nothing of the cancelled job runs after them; a new call is served.
        await batcher.embed(["a bulk call after the cancel"], bulk=True)
        await asyncio.sleep(0.2)
        assert _embedded_texts(metrics) == settled + 1
    finally:
        await batcher.stop()


async def test_bulk_without_micro_batching_still_answers() -> None:
    batcher = MicroBatcher(embedder(), Metrics(), batching=False)
    results = await batcher.embed(["alone", "together"], bulk=True)
    await batcher.stop()
    assert [r.vector.shape for r in results] == [(384,), (384,)]
    assert np.isfinite(results[0].vector).all()


async def test_stop_answers_a_bulk_caller_whose_step_is_running() -> None:
    metrics = Metrics()
    batcher = await _started(MicroBatcher(embedder(), metrics, max_batch_tokens=512))
    bulk = asyncio.create_task(batcher.embed(BULK, bulk=True))
    await _until(lambda: _runs(metrics) >= 1)
    await batcher.stop()
    with pytest.raises(RuntimeError, match="embedder stopped"):
        await asyncio.wait_for(bulk, 10)


class _OverlapCounting(OnnxEmbedder):
    """The real embedder, counting how many bulk calls run at once (a seam, not a mock)."""

    def __init__(self) -> None:
        super().__init__(default_model_dir(), threads=2, max_tokens=256)
        self._lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def embed_group(self, *args: Any, **kwargs: Any) -> list[Embedded]:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(0.01)  # long enough for a second thread's call to start meanwhile
            return super().embed_group(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


@pytest.mark.parametrize("threads", [1, 2])
async def test_bulk_callers_run_side_by_side_on_the_bulk_threads(threads: int) -> None:
    # Issue #19: with one bulk thread, 32 one-text Embed callers got half the texts/s of
    # the same calls run side by side (the int8 model runs each text alone, so batching
    # them saved nothing). Each bulk thread now steps one caller's job at a time.
    counting = _OverlapCounting()
    batcher = await _started(
        MicroBatcher(counting, Metrics(), max_batch_tokens=512, bulk_threads=threads)
    )
    try:
        parts = [BULK[i::4] for i in range(4)]
        results = await asyncio.gather(*(batcher.embed(p, bulk=True) for p in parts))
    finally:
        await batcher.stop()
    assert counting.most_at_once == threads
    for part, got in zip(parts, results, strict=True):
        for text, result in zip(part, got, strict=True):
            (alone,) = embedder().embed([text])
            assert float(result.vector @ alone.vector) >= 0.9999


@pytest.mark.parametrize("threads", [1, 2])
async def test_one_large_bulk_call_runs_its_calls_on_every_bulk_thread(threads: int) -> None:
    # Issue #19: one Embed of many texts ran its onnxruntime calls one after another on
    # one bulk thread while the others idled. Its calls are independent once tokenized.
    counting = _OverlapCounting()
    batcher = await _started(
        MicroBatcher(counting, Metrics(), max_batch_tokens=512, bulk_threads=threads)
    )
    try:
        (results, small) = await asyncio.gather(
            batcher.embed(BULK, bulk=True), batcher.embed(["a small call beside it"], bulk=True)
        )
    finally:
        await batcher.stop()
    assert counting.most_at_once == threads
    assert len(small) == 1
    direct = embedder().embed(BULK)
    for got, want in zip(results, direct, strict=True):
        assert float(got.vector @ want.vector) >= 0.9999
        assert (got.tokens, got.truncated) == (want.tokens, want.truncated)


async def test_short_texts_of_a_model_that_runs_rows_alone_spread_over_the_bulk_threads() -> None:
    # 32 short texts fit one 64-row call; the int8 model runs each row alone anyway, so
    # the lane cuts them into calls of a few rows that both bulk threads can take.
    counting = _OverlapCounting()
    assert counting.one_row_per_run
    texts = [f"How do I rotate the log files of service number {i}?" for i in range(32)]
    batcher = await _started(MicroBatcher(counting, Metrics(), bulk_threads=2))
    try:
        results = await batcher.embed(texts, bulk=True)
    finally:
        await batcher.stop()
    assert counting.most_at_once == 2
    for got, want in zip(results, embedder().embed(texts), strict=True):
        assert float(got.vector @ want.vector) >= 0.9999


async def test_a_failed_call_answers_the_large_job_once_and_leaves_the_lane_working() -> None:
    class _FailingOnce(_OverlapCounting):
        failed = False

        def embed_group(self, *args: Any, **kwargs: Any) -> list[Embedded]:
            if not self.failed:
                self.failed = True
                raise RuntimeError("onnxruntime failed")
            return super().embed_group(*args, **kwargs)

    batcher = await _started(
        MicroBatcher(_FailingOnce(), Metrics(), max_batch_tokens=512, bulk_threads=2)
    )
    try:
        with pytest.raises(RuntimeError, match="onnxruntime failed"):
            await batcher.embed(BULK, bulk=True)
        assert len(await batcher.embed(BULK[:3], bulk=True)) == 3
        await _until(lambda: batcher.queued_texts == 0)
    finally:
        await batcher.stop()


def test_the_bulk_lane_has_as_many_threads_as_the_question_lane_by_default() -> None:
    assert MicroBatcher(embedder(), Metrics())._bulk_threads == embedder().threads
    settings = parse_settings({"embedding": {"bulk_threads": 3}})
    assert settings.embedding.bulk_threads == 3
    with pytest.raises(ConfigError, match=r"embedding\.bulk_threads"):
        parse_settings({"embedding": {"bulk_threads": 0}})
