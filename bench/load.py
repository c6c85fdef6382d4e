"""Load and memory against the real daemon. Prints figures; asserts nothing.

    .venv/bin/python -m bench.load load --concurrency 100 --seconds 30 [--procs 2]
    .venv/bin/python -m bench.load memory --stores 1000000 --max-entries 50000

load: N concurrent Complete calls (grpc.aio, spread over client processes and channels)
held for a set time; the mix is 60 % L2 (semantic) hits, 20 % L1 (exact) hits and 20 %
misses answered by an instant fake provider (then stored). Reports throughput, p50/p99
per kind, errors by status code, the cache outcomes actually seen, and the daemon's RSS.

memory: Store calls with unique questions into a cache capped at max_entries; prints the
daemon's RSS every `--every` stores, so a plateau (or a leak) shows as a curve.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import time
import uuid
from collections import Counter
from typing import Any

import grpc

from bench.common import Daemon, pct, rss_mb, table
from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc
from tests.support.fake import FakeProvider

HOT = 500  # questions stored before the run: the L1/L2 working set


def question(i: int) -> str:
    return f"How do I configure service number {i} for production?"


def paraphrase(i: int) -> str:
    # Normalises to other text than the stored one (no exact hit); cosine ≈ 0.995.
    return f"How do I configure service number {i} for production??"


def _user(text: str) -> list[pb.Message]:
    return [pb.Message(role=pb.ROLE_USER, content=text)]


async def _client(address: str, workers: int, seconds: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    latencies: dict[str, list[float]] = {"l1": [], "l2": [], "miss": []}
    errors: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    channels = [grpc.aio.insecure_channel(address) for _ in range(max(1, workers // 100))]
    stubs = [sluice_pb2_grpc.SluiceStub(c) for c in channels]
    end = time.monotonic() + seconds

    async def worker(n: int) -> None:
        stub = stubs[n % len(stubs)]
        while time.monotonic() < end:
            roll = rng.random()
            i = rng.randrange(HOT)
            if roll < 0.6:
                kind, text = "l2", paraphrase(i)
            elif roll < 0.8:
                kind, text = "l1", question(i)
            else:
                kind, text = "miss", f"A question never asked before: {uuid.uuid4().hex}?"
            started = time.perf_counter()
            try:
                response = await stub.Complete(pb.CompleteRequest(messages=_user(text)), timeout=30)
                outcomes[pb.CacheOutcome.Name(response.cache.outcome)] += 1
                latencies[kind].append((time.perf_counter() - started) * 1000)
            except grpc.aio.AioRpcError as exc:
                errors[exc.code().name] += 1

    await asyncio.gather(*(worker(n) for n in range(workers)))
    for channel in channels:
        await channel.close()
    return {"latencies": latencies, "errors": errors, "outcomes": outcomes}


def _run_client(args: tuple[str, int, float, int]) -> dict[str, Any]:
    return asyncio.run(_client(*args))


def _start(fake: FakeProvider, cache: dict[str, Any] | None = None) -> Daemon:
    config: dict[str, Any] = {
        "providers": fake.providers(),
        "tiers": [{"name": "cheap", "timeout_s": 10,
                   "deployments": [{"provider": "oa", "model": "gpt-4o-mini"}]}],
        "logging": {"level": "warning"},  # one line per request would measure the disk
        # Cosine-only, so the mix stays 60/20/20 (the verifier refuses some of the generated
        # L2 variants; its cost is bench/verifier.py's figure).
        "cache": {"verifier": {"enabled": False}, **(cache or {})},
    }  # fmt: skip
    return Daemon(config).start()


def load(concurrency: int, seconds: float, procs: int) -> None:
    fake = FakeProvider()
    daemon = _start(fake)
    try:
        assert daemon.proc is not None
        stub = daemon.stub()
        for i in range(HOT):
            stub.Store(
                pb.StoreRequest(
                    messages=_user(question(i)),
                    answer=pb.Message(
                        role=pb.ROLE_ASSISTANT, content=f"Set option {i} in the config."
                    ),
                ),
                timeout=10,
            )
        rss_before = rss_mb(daemon.proc.pid)
        per = [concurrency // procs + (1 if p < concurrency % procs else 0) for p in range(procs)]
        jobs = [(daemon.address, n, seconds, p) for p, n in enumerate(per)]
        started = time.monotonic()
        with multiprocessing.get_context("spawn").Pool(procs) as pool:
            results = pool.map(_run_client, jobs)
        elapsed = time.monotonic() - started
        rss_after = rss_mb(daemon.proc.pid)
    finally:
        daemon.cleanup()
        fake.stop()
    latencies: dict[str, list[float]] = {"l1": [], "l2": [], "miss": []}
    errors: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for r in results:
        for kind, values in r["latencies"].items():
            latencies[kind].extend(values)
        errors.update(r["errors"])
        outcomes.update(r["outcomes"])
    every = [v for values in latencies.values() for v in values]
    rows = [
        ("concurrent streams", f"{concurrency} ({procs} client processes)"),
        ("duration", f"{elapsed:.1f} s"),
        ("answered", f"{len(every)}  ({len(every) / elapsed:.0f} req/s)"),
        ("errors", f"{sum(errors.values())} {dict(errors)}"),
        ("cache outcomes", str(dict(outcomes))),
        ("all p50 / p99", f"{pct(every, 50):.1f} / {pct(every, 99):.1f} ms"),
    ]
    for kind in ("l1", "l2", "miss"):
        values = latencies[kind]
        if values:
            rows.append((f"{kind} p50 / p99", f"{pct(values, 50):.1f} / {pct(values, 99):.1f} ms"))
    rows.append(("daemon RSS before / after", f"{rss_before:.0f} / {rss_after:.0f} MB"))
    table(f"sluice bench load: {concurrency} concurrent Complete streams", rows)


async def _stores(address: str, total: int, every: int, pid: int, concurrency: int) -> None:
    done = 0
    started = time.monotonic()
    print(f"{'stores':>9} {'rss_mb':>8} {'stores/s':>9}", flush=True)
    print(f"{0:>9} {rss_mb(pid):>8.0f} {'':>9}", flush=True)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        answer = pb.Message(role=pb.ROLE_ASSISTANT, content="A short cached answer. " * 8)

        async def worker(n: int) -> None:
            nonlocal done
            while done < total:
                done += 1
                i = done
                await stub.Store(pb.StoreRequest(messages=_user(
                    f"memory question {i} about item {uuid.uuid4().hex[:8]}"), answer=answer),
                    timeout=60)  # fmt: skip
                if i % every == 0:
                    rate = i / (time.monotonic() - started)
                    print(f"{i:>9} {rss_mb(pid):>8.0f} {rate:>9.0f}", flush=True)

        await asyncio.gather(*(worker(n) for n in range(concurrency)))


def memory(stores: int, max_entries: int, every: int, concurrency: int) -> None:
    fake = FakeProvider()
    daemon = _start(fake, {"max_entries": max_entries})
    try:
        assert daemon.proc is not None
        asyncio.run(_stores(daemon.address, stores, every, daemon.proc.pid, concurrency))
        stats = daemon.stub().GetStats(pb.GetStatsRequest(), timeout=10).cache
        print(f"entries {stats.entries}, stores {stats.stores}, evictions {stats.evictions}")
    finally:
        daemon.cleanup()
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.load", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("load")
    p.add_argument("--concurrency", type=int, nargs="+", default=[100])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--procs", type=int, default=2, help="client processes")
    m = sub.add_parser("memory")
    m.add_argument("--stores", type=int, default=1_000_000)
    m.add_argument("--max-entries", type=int, default=50_000)
    m.add_argument("--every", type=int, default=50_000)
    m.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    if args.what == "load":
        for n in args.concurrency:
            load(n, args.seconds, args.procs)
    else:
        memory(args.stores, args.max_entries, args.every, args.concurrency)


if __name__ == "__main__":
    main()
