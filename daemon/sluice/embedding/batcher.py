"""Micro-batching of embedding requests, with a question's vector ahead of bulk work.

Two lanes. The question lane embeds the question of a Lookup, Complete, Store or
Route (and, for a question longer than the model's tokens, its tail for the router:
`embed(tail=True)`, issue #21): queued jobs are taken together the moment one of its
`embedder.threads` threads is free (no timer, so batches grow with load and a lone
request pays no waiting time).
The bulk lane serves the Embed RPC and `POST /v1/embeddings` in steps: tokenize a slice
of texts, or one onnxruntime call of at most `max_batch_tokens` padded tokens; bulk jobs
take steps in turn, so a one-text Embed is not stuck behind a 256-text one.

A question's caller may hand the lane what to do with the vector (`embed_then`): the
cache's vector search and verifier then run on the lane's thread right after the
embedding, so a lookup's model work costs one hop off the event loop and one back,
not one per model (issue #19).

The lanes run side by side on one onnxruntime session (`Run` is thread-safe) and the
bulk lane's threads run at a lower CPU priority, so a question never waits for a
bulk step. The bulk lane has `bulk_threads` threads (`embedding.bulk_threads`, by default
as many as the question lane): each takes the next job in line, so several callers'
Embeds run side by side. A job is tokenized one slice at a time, in order; its
onnxruntime calls are independent of each other, so once it is tokenized each call is a
step of its own and one large Embed uses every bulk thread. With a model that runs each
text alone (int8) batching saves nothing, and one bulk thread gave half the texts/s
that calls run side by side did (issue #19, docs/cpu.md).
Measured, a question waiting its turn behind bulk steps on one thread had a
p99 108× its idle p99, side by side 1.0–2.2× (docs/RELIABILITY.md, "Embedding memory
and CPU"); before any of this, a one-text Lookup waited ~30 s behind 120 × 64 KiB.
Memory stays bounded: one call of `max_batch_tokens` per running thread of either lane.

The bulk queue holds at most `max_queued_texts` texts; a call that would overflow it
gets `Overloaded` at once, with a Retry-After from the measured speed. A caller that
gave up (deadline, cancel) costs nothing further: its question is dropped before the
run, its bulk job before its next step, and its texts leave the queue's count at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sluice.embedding.model import (
    DEFAULT_BATCH_TOKENS,
    Embedded,
    OnnxEmbedder,
    Tokenized,
    plan_batches,
)
from sluice.errors import Overloaded
from sluice.telemetry.metrics import Metrics

# Texts tokenized per bulk step: ~2,000 characters each after the cut (model.tokenize),
# a few milliseconds in all, shorter than an onnxruntime call.
_TOKENIZE_SLICE = 16
# Texts per bulk call for a model that runs each text alone (`one_row_per_run`): a larger
# group saves nothing there, and smaller ones spread one caller's texts over the bulk
# threads and let other callers' steps in sooner.
_ALONE_PER_STEP = 8
# Retry-After bounds (seconds) for a full bulk queue.
_RETRY_MIN, _RETRY_MAX = 1.0, 60.0
# The bulk thread's nice value: when both lanes compute, Linux gives the question lane
# ~10× its CPU share. Raising one's own nice value needs no privilege.
_BULK_NICE = 10

T = TypeVar("T")


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: same priority, still correct
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _BULK_NICE)


def _fail(futures: Sequence[asyncio.Future[Any]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)


@dataclass(slots=True)
class _Job:
    texts: Sequence[str]
    future: asyncio.Future[Any] = field(repr=False)
    # Run on the lane's thread with the texts' results; its return value answers the job.
    then: Callable[[list[Embedded]], Any] | None = field(default=None, repr=False)
    # Embed each text's last tokens (the routing representation, OnnxEmbedder.embed).
    tail: bool = False


def _answer(job: _Job, part: list[Embedded]) -> tuple[Any, Exception | None]:
    """The job's answer (or its error), on the lane's thread."""
    if job.then is None:
        return part, None
    # A caller that gave up meanwhile (deadline, cancel) costs no verifier run: a plain
    # read of the future's state, which only the event loop changes.
    if job.future.done():
        return None, None
    try:
        return job.then(part), None
    except Exception as exc:  # noqa: BLE001 - handed to the job's caller
        return None, exc


def _deliver(job: _Job, answer: tuple[Any, Exception | None]) -> None:
    """On the loop: the job's answer to its caller, once (it may have given up)."""
    if job.future.done():
        return
    result, error = answer
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)


@dataclass(slots=True)
class _BulkJob:
    texts: Sequence[str]
    future: asyncio.Future[list[Embedded]] = field(repr=False)
    tokenized: list[Tokenized] = field(default_factory=list, repr=False)
    # None until every text is tokenized; then the onnxruntime calls still to make.
    groups: deque[list[int]] | None = field(default=None, repr=False)
    results: list[Embedded | None] = field(default_factory=list, repr=False)
    # Its onnxruntime calls running now, on any of the bulk threads.
    running: int = 0


class MicroBatcher:
    def __init__(
        self,
        embedder: OnnxEmbedder,
        metrics: Metrics,
        *,
        max_batch: int = 64,
        max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
        max_queued_texts: int = 512,
        batching: bool = True,
        bulk_threads: int | None = None,
    ) -> None:
        self.embedder = embedder
        self.metrics = metrics
        self.max_batch = max_batch
        self._bulk_batch = (
            min(max_batch, _ALONE_PER_STEP) if embedder.one_row_per_run else max_batch
        )
        self.max_batch_tokens = max_batch_tokens
        self.max_queued_texts = max_queued_texts
        # batching=False runs each call on its own (for the benchmark's side-by-side).
        self.batching = batching
        self._interactive: deque[_Job] = deque()
        self._bulk: deque[_BulkJob] = deque()
        self._queued_texts = 0
        # Seconds per bulk text, smoothed; only feeds Retry-After.
        self._seconds_per_text = 0.01
        self._bulk_ready = asyncio.Event()
        # Question batches run side by side, one per embedder thread: a batch that queued
        # behind a running one takes a free thread instead of waiting for it.
        self._lanes = max(1, embedder.threads)
        # The question batches on a lane now, and their callers.
        self._running: dict[Future[list[tuple[Any, Exception | None]]], list[_Job]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=self._lanes, thread_name_prefix="embed")
        # Bulk jobs step side by side on this many threads (None: as many as the lanes).
        self._bulk_threads = max(1, self._lanes if bulk_threads is None else bulk_threads)
        self._bulk_executor = ThreadPoolExecutor(
            max_workers=self._bulk_threads, thread_name_prefix="embed-bulk",
            initializer=_lower_priority,
        )  # fmt: skip
        self._workers: list[asyncio.Task[None]] = []
        # Bulk steps taken and not yet ended (submitted to a thread, or running there).
        self.bulk_steps_running = 0

    @property
    def queued_texts(self) -> int:
        """Texts of bulk calls admitted and not yet answered (or given up)."""
        return self._queued_texts

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self._workers:
            # Each worker steps one job at a time: a job is out of the line while its step
            # runs, so no two workers ever step the same job.
            self._workers = [
                asyncio.create_task(self._run_bulk(), name=f"embed-bulk-{i}")
                for i in range(self._bulk_threads)
            ]

    async def stop(self) -> None:
        # Queued callers first, so no freed thread starts their batch while we stop.
        queued = [j.future for j in self._interactive] + [j.future for j in self._bulk]
        self._interactive.clear()
        self._bulk.clear()
        running = [j.future for jobs in self._running.values() for j in jobs]
        _fail(queued + running, RuntimeError("embedder stopped"))
        tasks = list(self._workers)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._bulk_executor.shutdown(wait=True, cancel_futures=True)

    async def embed(
        self, texts: Sequence[str], *, bulk: bool = False, tail: bool = False
    ) -> list[Embedded]:
        """Vectors of `texts`, in order. `bulk`: a client's batch, for the bulk lane.
        `tail`: a question's routing vector (its last tokens when long), on the question lane.

        Raises Overloaded when `bulk` and the bulk queue cannot take `texts`.
        """
        if bulk and tail:
            raise ValueError("the bulk lane embeds texts' first tokens only")
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        if not self.batching:
            return await loop.run_in_executor(
                self._executor, functools.partial(self._embed, list(texts), tail=tail)
            )
        if not self._workers:
            raise RuntimeError("MicroBatcher.start() was not called")
        future: asyncio.Future[list[Embedded]] = loop.create_future()
        if bulk:
            self._admit(texts, future)
            self._bulk_ready.set()
        else:
            self._interactive.append(_Job(texts, future, tail=tail))
            self._dispatch()
        return await future

    async def embed_then(self, text: str, then: Callable[[Embedded], T]) -> T:
        """`then(text's result)`, run on the question lane's thread right after the embedding.

        For work that needs the vector and must not run on the event loop (the cache's
        vector search and verifier): no hop of its own. `then` may run side by side with
        itself on other lanes, and must not touch the event loop. Its error is raised here.
        """
        loop = asyncio.get_running_loop()
        if not self.batching:
            return await loop.run_in_executor(self._executor, lambda: then(self._embed([text])[0]))
        if not self._workers:
            raise RuntimeError("MicroBatcher.start() was not called")
        future: asyncio.Future[T] = loop.create_future()
        self._interactive.append(_Job((text,), future, lambda part: then(part[0])))
        self._dispatch()
        return await future

    def _admit(self, texts: Sequence[str], future: asyncio.Future[list[Embedded]]) -> None:
        # An empty queue takes any call, so a call larger than the bound is slow, not refused.
        if self._queued_texts and self._queued_texts + len(texts) > self.max_queued_texts:
            wait = self._queued_texts * self._seconds_per_text
            retry_after = float(min(_RETRY_MAX, max(_RETRY_MIN, math.ceil(wait))))
            raise Overloaded(
                f"texts: the embedding queue holds {self._queued_texts} texts and takes at most "
                f"{self.max_queued_texts} (limits.max_queued_embed_texts); retry after "
                f"{retry_after:.0f} s, or send fewer texts per call",
                retry_after=retry_after,
            )
        self._queued_texts += len(texts)
        count = len(texts)

        def release(_: asyncio.Future[list[Embedded]]) -> None:
            self._queued_texts -= count

        # Fires on the answer, an error or the caller's cancel alike.
        future.add_done_callback(release)
        self._bulk.append(_BulkJob(texts, future))

    def _run_jobs(self, jobs: list[_Job]) -> list[tuple[Any, Exception | None]]:
        """A question batch on a lane's thread: one embedding run (two when routing vectors
        of long questions are asked too), then each job's `then`."""
        parts: dict[bool, list[Embedded]] = {}
        for tail in (False, True):
            texts = [t for j in jobs if j.tail is tail for t in j.texts]
            if texts:
                parts[tail] = self._embed(texts, tail=tail)
        offsets = dict.fromkeys(parts, 0)
        answers = []
        for i, job in enumerate(jobs):
            offset = offsets[job.tail]
            answer = _answer(job, parts[job.tail][offset : offset + len(job.texts)])
            offsets[job.tail] = offset + len(job.texts)
            if job.then is not None and i < len(jobs) - 1 and self._loop is not None:
                # Its caller need not wait for the rest of the batch's verifier runs.
                self._loop.call_soon_threadsafe(_deliver, job, answer)
            answers.append(answer)
        return answers

    def _embed(self, texts: list[str], *, tail: bool = False) -> list[Embedded]:
        started = time.perf_counter()
        results = self.embedder.embed(texts, self.max_batch, self.max_batch_tokens, tail=tail)
        self._observe(started, results)
        return results

    def _observe(self, started: float, results: Sequence[Embedded]) -> None:
        self.metrics.embed_latency.observe(time.perf_counter() - started)
        self.metrics.embed_batch_size.observe(len(results))
        self.metrics.embed_texts.inc(len(results))
        self.metrics.embed_truncated.inc(sum(r.truncated for r in results))

    def _dispatch(self) -> None:
        """Start every queued question on a free thread: alone when one is free at once,
        together with those that queued meanwhile when a thread frees up."""
        while self._interactive and len(self._running) < self._lanes:
            # A caller that gave up (deadline, cancel) costs nothing.
            jobs = [j for j in self._interactive if not j.future.done()]
            self._interactive.clear()
            if not jobs:
                return
            ran = self._executor.submit(self._run_jobs, jobs)
            self._running[ran] = jobs
            # The lane's thread wakes the loop itself with the answers: no task and no
            # asyncio future in between (each is a few more turns of the loop per batch).
            ran.add_done_callback(self._post)

    def _post(self, ran: Future[list[tuple[Any, Exception | None]]]) -> None:
        """On the lane's thread: hand the finished batch to the event loop."""
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed under a stopped batcher
            self._loop.call_soon_threadsafe(self._answer, ran)

    def _answer(self, ran: Future[list[tuple[Any, Exception | None]]]) -> None:
        """On the loop: answer a batch's callers, then start what queued meanwhile."""
        jobs = self._running.pop(ran, [])
        error = RuntimeError("embedder stopped") if ran.cancelled() else ran.exception()
        if error is not None:
            _fail([j.future for j in jobs], error)
        else:
            for job, answer in zip(jobs, ran.result(), strict=True):
                _deliver(job, answer)
        self._dispatch()

    async def _run_bulk(self) -> None:
        while True:
            if self._bulk:
                await self._bulk_step()
            else:
                self._bulk_ready.clear()
                await self._bulk_ready.wait()

    async def _bulk_step(self) -> None:
        """One step of the first bulk job in line; the step puts the job back in line
        (at the back) when it has more steps to take."""
        job = self._bulk.popleft()
        if job.future.done():  # gave up: the rest of its steps are never run
            return
        self.bulk_steps_running += 1
        try:
            results = await self._step(job)
        except asyncio.CancelledError:  # stop(): answer the caller, then end the worker
            _fail([job.future], RuntimeError("embedder stopped"))
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            _fail([job.future], exc)
            return
        finally:
            self.bulk_steps_running -= 1
        if results is not None and not job.future.done():
            job.future.set_result(results)

    def _requeue(self, job: _BulkJob) -> None:
        self._bulk.append(job)
        self._bulk_ready.set()

    async def _step(self, job: _BulkJob) -> list[Embedded] | None:
        """Tokenize a slice or run one call; the results once the job's last call ran.

        Tokenizing is in order: the job is out of the line while a slice runs. Its calls
        are not: taking one puts the job straight back in line, so another bulk thread
        may run its next call meanwhile, and whichever call ends last answers the job.
        A job whose texts fit one slice and one call (a typical one-text Embed) is
        tokenized and run in the same step: one hop to the bulk thread, not two."""
        loop = asyncio.get_running_loop()
        done = len(job.tokenized)
        started = time.perf_counter()
        if done < len(job.texts):
            part = job.texts[done : done + _TOKENIZE_SLICE]
            whole = done == 0 and len(part) == len(job.texts)
            tokenized, ran = await loop.run_in_executor(
                self._bulk_executor, self._tokenize_step, part, whole
            )
            job.tokenized += tokenized
            if ran is None:
                self._requeue(job)
                return None
            self._observe_bulk(started, ran)
            return ran
        if job.groups is None:
            job.groups = deque(plan_batches(job.tokenized, self._bulk_batch, self.max_batch_tokens))
            job.results = [None] * len(job.texts)
        group = job.groups.popleft()
        if job.groups:
            self._requeue(job)
        job.running += 1
        try:
            ran = await loop.run_in_executor(
                self._bulk_executor, self.embedder.embed_group, job.texts, job.tokenized, group
            )
        finally:
            job.running -= 1
        self._observe_bulk(started, ran)
        for index, result in zip(group, ran, strict=True):
            job.results[index] = result
        if job.groups or job.running:
            return None  # a later step, or one running now, answers the job
        return [r for r in job.results if r is not None]

    def _tokenize_step(
        self, texts: Sequence[str], whole: bool
    ) -> tuple[list[Tokenized], list[Embedded] | None]:
        """On a bulk thread: `texts` tokenized, and, when they are the whole job and fit
        one call, their results too (else None: the groups run in later steps)."""
        tokenized = self.embedder.tokenize(texts)
        if not whole:
            return tokenized, None
        groups = plan_batches(tokenized, self._bulk_batch, self.max_batch_tokens)
        if len(groups) != 1:
            return tokenized, None
        ran = self.embedder.embed_group(texts, tokenized, groups[0])
        results: list[Embedded | None] = [None] * len(texts)
        for index, result in zip(groups[0], ran, strict=True):
            results[index] = result
        return tokenized, [r for r in results if r is not None]

    def _observe_bulk(self, started: float, ran: Sequence[Embedded]) -> None:
        elapsed = time.perf_counter() - started
        self._seconds_per_text = 0.8 * self._seconds_per_text + 0.2 * elapsed / len(ran)
        self._observe(started, ran)
