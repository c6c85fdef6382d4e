"""Embed over gRPC against the real daemon: latency and throughput, with and without batching.

    .venv/bin/python bench/embed.py [--seconds 10]

Prints figures; asserts nothing (shared machines are noisy: compare ratios within one run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import grpc

from bench.common import Daemon, pct, table
from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc

SHORT = "How do I delete a file in Linux?"  # 12 tokens with [CLS]/[SEP]
TEXTS = [f"{SHORT} Variant number {i} with a few more words." for i in range(512)]
# A document chunk of ~200 tokens, as a retrieval pipeline sends them: 64 per Embed.
CHUNKS = [
    " ".join(
        f"Step {j} of runbook {i}: drain node {j * 7 % 13}, rotate its logs, and restart "
        f"the payment service before the {j}th health check."
        for j in range(8)
    )
    for i in range(64)
]


async def latency(address: str, texts: list[str], n: int) -> list[float]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        await stub.Embed(pb.EmbedRequest(texts=texts))  # warm
        out = []
        for _ in range(n):
            started = time.perf_counter()
            await stub.Embed(pb.EmbedRequest(texts=texts))
            out.append((time.perf_counter() - started) * 1000)
        return out


async def throughput(address: str, callers: int, seconds: float) -> float:
    """Texts per second with `callers` concurrent clients sending one text each."""
    done = 0
    stop = time.perf_counter() + seconds

    async def caller(stub: sluice_pb2_grpc.SluiceStub, i: int) -> None:
        nonlocal done
        k = i
        while time.perf_counter() < stop:
            await stub.Embed(pb.EmbedRequest(texts=[TEXTS[k % len(TEXTS)]]))
            done += 1
            k += callers

    async with grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        await stub.Embed(pb.EmbedRequest(texts=[SHORT]))
        started = time.perf_counter()
        await asyncio.gather(*(caller(stub, i) for i in range(callers)))
        return done / (time.perf_counter() - started)


def run(embedding: dict[str, object], seconds: float) -> dict[str, float]:
    daemon = Daemon({"embedding": embedding, "logging": {"level": "warning"}})
    daemon.start()
    try:
        one = asyncio.run(latency(daemon.address, [SHORT], 300))
        batch = asyncio.run(latency(daemon.address, TEXTS[:32], 60))
        chunks = asyncio.run(latency(daemon.address, CHUNKS, 5))
        tput = asyncio.run(throughput(daemon.address, 32, seconds))
    finally:
        daemon.cleanup()
    return {
        "one_p50": pct(one, 50), "one_p99": pct(one, 99),
        "b32_p50": pct(batch, 50), "b32_p99": pct(batch, 99), "tput": tput,
        "chunks_p50": pct(chunks, 50),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    on = run({"micro_batching": True}, args.seconds)
    one = run({"micro_batching": True, "bulk_threads": 1}, args.seconds)
    off = run({"micro_batching": False}, args.seconds)
    table(
        f"Embed over gRPC (unix socket), real daemon, {os.cpu_count()} cores, "
        "shipped defaults (embedding.precision auto, one onnxruntime thread per call)",
        [
            ("one short text (12 tokens), p50 / p99",
             f"{on['one_p50']:.2f} ms / {on['one_p99']:.2f} ms"),
            ("one Embed of 32 short texts, p50 / p99",
             f"{on['b32_p50']:.2f} ms / {on['b32_p99']:.2f} ms"),
            ("… the same, embedding.bulk_threads 1",
             f"{one['b32_p50']:.2f} ms / {one['b32_p99']:.2f} ms"),
            ("one Embed of 64 chunks of ~200 tokens, p50 of 5: shipped / bulk_threads 1",
             f"{on['chunks_p50']:.0f} ms / {one['chunks_p50']:.0f} ms "
             f"({one['chunks_p50'] / on['chunks_p50']:.2f}×)"),
            ("32 concurrent callers, micro-batching ON (shipped: bulk_threads = threads)",
             f"{on['tput']:.0f} texts/s"),
            ("32 concurrent callers, micro-batching ON, embedding.bulk_threads 1",
             f"{one['tput']:.0f} texts/s"),
            ("32 concurrent callers, micro-batching OFF", f"{off['tput']:.0f} texts/s"),
            ("ratio ON / OFF", f"{on['tput'] / off['tput']:.2f}×"),
            ("ratio ON / ON with one bulk thread", f"{on['tput'] / one['tput']:.2f}×"),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
