"""Micro-batching of embedding requests across concurrent callers.

No timer: the worker takes whatever is queued the moment it is free, runs it
as one `OnnxEmbedder.embed` call on a single-thread executor (onnxruntime has
its own intra-op threads), and resolves each caller's future. While a batch
runs, new requests queue up and form the next batch, so batches grow with
load and a lone request pays no waiting time. The event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sluice.embedding.model import Embedded, OnnxEmbedder
from sluice.telemetry.metrics import Metrics


@dataclass(slots=True)
class _Job:
    texts: Sequence[str]
    future: asyncio.Future[list[Embedded]] = field(repr=False)


class MicroBatcher:
    def __init__(
        self,
        embedder: OnnxEmbedder,
        metrics: Metrics,
        *,
        max_batch: int = 64,
        batching: bool = True,
    ) -> None:
        self.embedder = embedder
        self.metrics = metrics
        self.max_batch = max_batch
        # batching=False runs each call on its own (for the benchmark's side-by-side).
        self.batching = batching
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="embed-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(RuntimeError("embedder stopped"))
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def embed(self, texts: Sequence[str]) -> list[Embedded]:
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        if not self.batching:
            return await loop.run_in_executor(self._executor, self._embed, list(texts))
        if self._worker is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        job = _Job(texts, loop.create_future())
        self._queue.put_nowait(job)
        return await job.future

    def _embed(self, texts: list[str]) -> list[Embedded]:
        started = time.perf_counter()
        results = self.embedder.embed(texts, self.max_batch)
        self.metrics.embed_latency.observe(time.perf_counter() - started)
        self.metrics.embed_batch_size.observe(len(texts))
        self.metrics.embed_texts.inc(len(texts))
        self.metrics.embed_truncated.inc(sum(r.truncated for r in results))
        return results

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            while not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            # A caller that gave up (deadline, cancel) costs nothing.
            jobs = [j for j in jobs if not j.future.done()]
            texts = [t for j in jobs for t in j.texts]
            if not texts:
                continue
            try:
                results = await loop.run_in_executor(self._executor, self._embed, texts)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            offset = 0
            for job in jobs:
                part = results[offset : offset + len(job.texts)]
                offset += len(job.texts)
                if not job.future.done():
                    job.future.set_result(part)
