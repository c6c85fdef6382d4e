"""The cache over gRPC against the real daemon, at N entries (default 100,000).

    .venv/bin/python bench/cache.py [--entries 100000] [--seconds 10]

Fills the cache through Store (every question embedded), then measures L1 and
L2 hits, Store, throughput with 32 concurrent callers, RSS, and the snapshot
write (at graceful stop) and restore (at the next start). A health Check on
the same daemon is the bare gRPC floor, measured in the same run.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.common import Daemon, pct, rss_mb, table
from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc

TOPICS = [
    "linux",
    "python",
    "kubernetes",
    "cooking",
    "history",
    "physics",
    "music",
    "finance",
    "gardening",
    "chess",
    "astronomy",
    "law",
    "medicine",
    "football",
    "poetry",
    "travel",
]
VERBS = [
    "explain", "compare", "summarise", "list the steps of", "give an example of",
    "what is the origin of", "how do I fix", "why does",
]  # fmt: skip


def question(i: int) -> str:
    r = random.Random(i)
    return (f"Question {i}: {r.choice(VERBS)} {r.choice(TOPICS)} item {i * 7919 % 100003} "
            f"in the context of {r.choice(TOPICS)}?")  # fmt: skip


def msg(text: str) -> list[pb.Message]:
    return [pb.Message(role=pb.ROLE_USER, content=text)]


async def fill(address: str, n: int, callers: int = 32) -> list[float]:
    latencies: list[float] = []
    next_i = 0

    async def worker(stub: sluice_pb2_grpc.SluiceStub) -> None:
        nonlocal next_i
        while next_i < n:
            i = next_i
            next_i += 1
            started = time.perf_counter()
            await stub.Store(pb.StoreRequest(
                messages=msg(question(i)),
                answer=pb.Message(role=pb.ROLE_ASSISTANT, content=f"answer {i} " + "x" * 200),
                model="bench"))  # fmt: skip
            latencies.append((time.perf_counter() - started) * 1000)

    async with grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        await asyncio.gather(*(worker(stub) for _ in range(callers)))
    return latencies


async def sequential(address: str, n: int, entries: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"echo": [], "l1": [], "l2": [], "miss": []}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        rng = random.Random(1)
        for _ in range(n):
            i = rng.randrange(entries)
            started = time.perf_counter()
            await health.Check(health_pb2.HealthCheckRequest())
            out["echo"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            r = await stub.Lookup(pb.LookupRequest(messages=msg(question(i))))
            out["l1"].append((time.perf_counter() - started) * 1000)
            assert r.cache.outcome == pb.CACHE_OUTCOME_EXACT, r.cache
            # Same tokens, other exact key ("?" → " ?"): a semantic hit, embedding included.
            started = time.perf_counter()
            r = await stub.Lookup(pb.LookupRequest(messages=msg(question(i)[:-1] + " ?")))
            out["l2"].append((time.perf_counter() - started) * 1000)
            assert r.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC, r.cache
            started = time.perf_counter()
            await stub.Lookup(pb.LookupRequest(messages=msg(f"unrelated {i} zebra crossing")))
            out["miss"].append((time.perf_counter() - started) * 1000)
    return out


async def concurrent(address: str, entries: int, seconds: float, semantic: bool) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(stub: sluice_pb2_grpc.SluiceStub, seed: int) -> None:
        nonlocal done
        rng = random.Random(seed)
        while time.perf_counter() < stop:
            q = question(rng.randrange(entries))
            await stub.Lookup(pb.LookupRequest(messages=msg(q[:-1] + " ?" if semantic else q)))
            done += 1

    async with grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        started = time.perf_counter()
        await asyncio.gather(*(worker(stub, s) for s in range(32)))
        return done / (time.perf_counter() - started)


def log_ms(daemon: Daemon, event: str) -> float:
    for line in daemon.log_lines():
        if line.get("event") == event:
            return float(line["ms"])
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    config = {
        # The cache's own layers; what the verifier adds is bench/verifier.py's figure.
        "cache": {"snapshot_dir": str(work / "snap"), "snapshot_interval_s": 86400,
                  "max_entries": max(args.entries * 2, 1000), "verifier": {"enabled": False}},
        "logging": {"level": "info"},
    }  # fmt: skip
    daemon = Daemon(config)
    daemon.start()
    assert daemon.proc is not None
    rss_empty = rss_mb(daemon.proc.pid)
    started = time.perf_counter()
    stores = asyncio.run(fill(daemon.address, args.entries))
    fill_s = time.perf_counter() - started
    rss_full = rss_mb(daemon.proc.pid)
    seq = asyncio.run(sequential(daemon.address, args.samples, args.entries))
    l1_tput = asyncio.run(concurrent(daemon.address, args.entries, args.seconds, False))
    l2_tput = asyncio.run(concurrent(daemon.address, args.entries, args.seconds, True))
    rss_after = rss_mb(daemon.proc.pid)
    daemon.stop()
    write_ms = log_ms(daemon, "snapshot_written")
    daemon.start()
    restore_ms = log_ms(daemon, "snapshot_restored")
    stats = daemon.stub().GetStats(pb.GetStatsRequest(), timeout=10)
    daemon.cleanup()
    size_mb = sum(f.stat().st_size for f in (work / "snap").rglob("*") if f.is_file()) / 2**20
    shutil.rmtree(work, ignore_errors=True)

    def ms(values: list[float]) -> str:
        return f"{pct(values, 50):.2f} ms / {pct(values, 99):.2f} ms"

    table(f"Cache over gRPC (unix socket), real daemon, {args.entries:,} entries", [
        ("bare gRPC floor (health Check), p50 / p99", ms(seq["echo"])),
        ("L1 exact hit, p50 / p99", ms(seq["l1"])),
        ("L2 semantic hit (embedding incl.), p50 / p99", ms(seq["l2"])),
        ("miss (embedding incl.), p50 / p99", ms(seq["miss"])),
        ("Store during fill (32 callers), p50 / p99", ms(stores)),
        ("fill time", f"{fill_s:.0f} s ({args.entries / fill_s:.0f} stores/s)"),
        ("L1 hits, 32 concurrent callers", f"{l1_tput:.0f} calls/s"),
        ("L2 hits, 32 concurrent callers", f"{l2_tput:.0f} calls/s"),
        ("RSS empty / full / after load",
         f"{rss_empty:.0f} / {rss_full:.0f} / {rss_after:.0f} MB"),
        ("snapshot write at stop", f"{write_ms:.0f} ms ({size_mb:.0f} MB on disk)"),
        ("snapshot restore at start",
         f"{restore_ms:.0f} ms ({stats.cache.entries:,} entries back)"),
    ])  # fmt: skip
    print(json.dumps({"l1_p50_ms": pct(seq["l1"], 50), "l2_p50_ms": pct(seq["l2"], 50),
                      "echo_p50_ms": pct(seq["echo"], 50), "l1_tput": l1_tput,
                      "rss_full_mb": rss_full, "restore_ms": restore_ms}))  # fmt: skip


if __name__ == "__main__":
    main()
