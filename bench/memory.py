"""Memory and CPU of the embedding path under the documented worst cases (issue #17).

    .venv/bin/python -m bench.memory [--lookups 100] [--flood-s 30] [--skip-options]
                                     [--batch-tokens N] [--queue N] [--bulk-threads N]

Starts the real daemon with its shipped configuration and replays, one after the other:
an Embed of max texts × long texts, an Embed at the message limit (120 × 64 KiB), 64
concurrent Lookups of ~250 words, POST /v1/embeddings with 64 long texts and 8 concurrent
Embeds at the message limit; after each it prints the daemon's RSS and peak (VmHWM). Then a
one-text Lookup's latency idle and under an Embed flood, side by side in one run, and the
embedding speed. `--skip-options` skips the onnxruntime session options compared in-process
(memory arena, memory pattern); `--batch-tokens` and `--queue` override the two settings
this path added (embedding.max_batch_tokens, limits.max_queued_embed_texts).

Prints figures; asserts nothing (shared machines are noisy: compare within one run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import grpc

from bench.common import REPO, Daemon, pct, table
from sluice.v1 import sluice_pb2_grpc
from tests.support import worst_cases as wc

LIMIT_MB = 1024  # deploy/kubernetes: the container's memory limit


def _embedded(daemon: Daemon) -> int:
    """The daemon's count of texts embedded (sluice_embed_texts_total)."""
    for line in daemon.metrics().splitlines():
        if line.startswith("sluice_embed_texts_total"):
            return int(float(line.split()[-1]))
    return 0


def _mem(daemon: Daemon) -> str:
    assert daemon.proc is not None
    rss, hwm = wc.memory_mb(daemon.proc.pid)
    return f"RSS {rss:5.0f} MiB   peak {hwm:5.0f} MiB   ({hwm / LIMIT_MB:.0%} of 1 GiB)"


async def _worst_cases(daemon: Daemon) -> list[tuple[str, str]]:
    rows = [("idle, after start", _mem(daemon))]
    async with wc.channel(daemon.address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        started = time.perf_counter()
        await wc.embed(stub, wc.texts(wc.MAX_TEXTS, 1500, seed=1))
        took = time.perf_counter() - started
        rows.append((f"Embed 256 × 1,500 chars ({took:.1f} s)", _mem(daemon)))
        started = time.perf_counter()
        await wc.embed(stub, wc.texts(wc.TEXTS_PER_MESSAGE_AT_MAX_BYTES, wc.MAX_TEXT_BYTES, 2))
        took = time.perf_counter() - started
        rows.append((f"Embed 120 × 64 KiB ({took:.1f} s)", _mem(daemon)))
        started = time.perf_counter()
        await wc.concurrent_lookups(stub, 64, seed=3)
        took = time.perf_counter() - started
        rows.append((f"64 concurrent Lookups of ~250 words ({took:.1f} s)", _mem(daemon)))
        model = (await wc.embed(stub, ["x"])).model
        started = time.perf_counter()
        await asyncio.to_thread(
            wc.openai_embeddings, daemon.openai, wc.texts(64, 1500, seed=4), model
        )
        took = time.perf_counter() - started
        rows.append((f"/v1/embeddings 64 × 1,500 chars ({took:.1f} s)", _mem(daemon)))
        started = time.perf_counter()
        big = [
            wc.texts(wc.TEXTS_PER_MESSAGE_AT_MAX_BYTES, wc.MAX_TEXT_BYTES, 10 + i) for i in range(8)
        ]
        outcomes = await asyncio.gather(*(wc.embed(stub, b) for b in big), return_exceptions=True)
        took = time.perf_counter() - started
        refused = sum(
            isinstance(o, grpc.aio.AioRpcError) and o.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            for o in outcomes
        )
        rows.append(
            (f"8 concurrent Embeds of 120 × 64 KiB ({took:.1f} s, {refused} refused)", _mem(daemon))
        )
    return rows


async def _latency(daemon: Daemon, lookups: int, flood_s: float) -> list[tuple[str, str]]:
    async with wc.channel(daemon.address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        await wc.sequential_lookups(stub, 10, seed=50)  # warm
        idle = await wc.sequential_lookups(stub, lookups, seed=51)
        stop = time.perf_counter() + flood_s
        before = _embedded(daemon)

        async def flood(seed: int) -> None:
            k = 0
            while time.perf_counter() < stop:
                batch = wc.texts(
                    wc.TEXTS_PER_MESSAGE_AT_MAX_BYTES, wc.MAX_TEXT_BYTES, seed * 100 + k
                )
                await wc.embed(stub, batch)
                k += 1

        floods = [asyncio.create_task(flood(s)) for s in (60, 61)]
        await asyncio.sleep(0.5)  # the flood is queued
        loaded: list[float] = []
        seed = 52
        while time.perf_counter() < stop and len(loaded) < lookups:
            loaded += await wc.sequential_lookups(stub, 1, seed=seed)
            seed += 1
        embedded = _embedded(daemon) - before
        for task in floods:
            task.cancel()
        await asyncio.gather(*floods, return_exceptions=True)
        started = time.perf_counter()
        short = await wc.embed(stub, wc.texts(64, 60, seed=70))
        short_ms = (time.perf_counter() - started) * 1000 / len(short.embeddings)
        started = time.perf_counter()
        long = await wc.embed(stub, wc.texts(64, 1500, seed=71))
        long_ms = (time.perf_counter() - started) * 1000 / len(long.embeddings)
    ratio = pct(loaded, 99) / pct(idle, 99)
    return [
        (f"Lookup idle ({len(idle)}), p50 / p99",
         f"{pct(idle, 50):.1f} ms / {pct(idle, 99):.1f} ms"),
        (f"Lookup under an Embed flood ({len(loaded)}), p50 / p99",
         f"{pct(loaded, 50):.1f} ms / {pct(loaded, 99):.1f} ms  (p99 {ratio:.1f}× idle)"),
        ("flood: 2 callers sending 120 × 64 KiB", f"{embedded} texts embedded meanwhile"),
        ("Embed 64 × ~12 tokens, per text", f"{short_ms:.2f} ms"),
        ("Embed 64 × 256 tokens, per text", f"{long_ms:.2f} ms"),
    ]  # fmt: skip


# In a subprocess each, so one option's arena does not count in the next one's RSS.
_OPTIONS_PROBE = """
import sys, time
import onnxruntime as ort
from sluice.cli import default_model_dir
from sluice.embedding.model import OnnxEmbedder
from tests.support.worst_cases import memory_mb, texts
arena, pattern, cap = sys.argv[1] == "1", sys.argv[2] == "1", int(sys.argv[3])
emb = OnnxEmbedder(default_model_dir(), threads=2, max_tokens=256)
o = ort.SessionOptions()
o.intra_op_num_threads, o.inter_op_num_threads = 2, 1
o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
o.enable_cpu_mem_arena, o.enable_mem_pattern = arena, pattern
emb.session = ort.InferenceSession(str(default_model_dir() / "model.onnx"), sess_options=o,
                                   providers=["CPUExecutionProvider"])
emb.embed(["warm-up"] * 8)
batch = texts(256, 1500, seed=5)
started = time.perf_counter()
emb.embed(batch, 64, cap)
ms = (time.perf_counter() - started) * 1000 / len(batch)
emb.embed(["one short question"])
rss, hwm = memory_mb(__import__("os").getpid())
print(f"{ms:.1f} {rss:.0f} {hwm:.0f}")
"""


def _options() -> list[tuple[str, str]]:
    rows = []
    for arena, pattern, cap in (
        (1, 1, 16384),
        (1, 1, 1024),
        (0, 1, 1024),
        (1, 0, 1024),
        (0, 0, 1024),
    ):
        out = subprocess.run(
            [sys.executable, "-c", _OPTIONS_PROBE, str(arena), str(pattern), str(cap)],
            capture_output=True, text=True, check=True, cwd=REPO,
        ).stdout.split()  # fmt: skip
        ms, rss, hwm = (float(x) for x in out)
        name = "before: " if cap > 1024 else ""
        name += (
            f"arena {'on ' if arena else 'off'}, pattern {'on ' if pattern else 'off'}, cap {cap}"
        )
        rows.append((name, f"{ms:5.1f} ms/text   RSS after {rss:4.0f} MiB   peak {hwm:4.0f} MiB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lookups", type=int, default=100)
    parser.add_argument("--flood-s", type=float, default=30.0)
    parser.add_argument("--skip-options", action="store_true")
    parser.add_argument("--batch-tokens", type=int, help="embedding.max_batch_tokens")
    parser.add_argument("--queue", type=int, help="limits.max_queued_embed_texts")
    parser.add_argument("--bulk-threads", type=int, help="embedding.bulk_threads")
    args = parser.parse_args()
    config: dict[str, dict[str, object]] = {"logging": {"level": "warning"}}
    embedding: dict[str, object] = {}
    if args.batch_tokens:
        embedding["max_batch_tokens"] = args.batch_tokens
    if args.bulk_threads:
        embedding["bulk_threads"] = args.bulk_threads
    if embedding:
        config["embedding"] = embedding
    if args.queue:
        config["limits"] = {"max_queued_embed_texts": args.queue}
    daemon = Daemon(config)
    daemon.start()
    try:
        cases = asyncio.run(_worst_cases(daemon))
        latency = asyncio.run(_latency(daemon, args.lookups, args.flood_s))
        cases.append(("after the latency runs", _mem(daemon)))
    finally:
        daemon.cleanup()
    cores = os.cpu_count()
    table(f"Daemon memory, shipped config, {cores} cores (limit 1 GiB, target ≤ 768 MiB)", cases)
    table("Lookup of a one-line question, idle vs under an Embed flood (one run)", latency)
    if not args.skip_options:
        table(
            "onnxruntime session options, in-process: 256 × 1,500 chars then one question "
            "(64 texts × cap padded tokens per call)",
            _options(),
        )


if __name__ == "__main__":
    main()
