"""Daemon CPU per request, next to the models' floor measured in the same run (issue #19).

    .venv/bin/python -m bench.cpu [--entries 10000] [--n 300] [--seconds 10]
                                  [--set embedding.threads=1 --set cache.verifier.max_pairs=4]

Why CPU and not wall time: a sidecar's cost is the CPU it takes from every pod, and the
process's utime + stime (/proc/<pid>/stat, every thread, spin-waits included) is far steadier
on a shared machine than a latency.

1. A real daemon on the shipped defaults (verifier on; `--set` overrides one key), filled
   with `--entries` questions through Store (bench/cache.py's synthetic questions).
2. Each kind of request `--n` times in a row; daemon CPU per call is the /proc delta / n:
     L1 exact hit              the stored text again
     L2 hit, same word pieces  "…?" → "… ?": the uncased WordPiece sees the same question
     L2 hit, verifier served   "…?" → "…": other word pieces, the verifier accepts it
     L2 refused by verifier    another item number: near neighbours, every one refused
                               (by the number guard unless --set cache.verifier.number_guard=false)
     L2 refused by the number guard   the same queries, when the guard is on: no model run
     miss + Store (far)        a Lookup that misses with no neighbour, then Store of it
     miss + Store (near)       the same with near neighbours (the verifier runs and refuses;
                               the number guard, when on, vetoes them first)
   The L2 and refused queries are first looked up once and only those with the expected
   outcome are measured (the table says how many); model pairs per call come from the
   daemon's own sluice_cache_verifier_score counter.
3. The floor, in this process, one thread: the embedder on one text, one verifier pair, one
   hnswlib query (k=4, same index parameters and size), the language check on one text,
   and GetStats on the daemon (daemon CPU
   per call) as the gRPC floor. Also the embedder and one pair in turn on one thread: each
   evicts the other's weights from the caches, as in a served hit (printed, not in ratios).
4. 32 concurrent callers for `--seconds` each: calls/s and daemon CPU per call.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import hnswlib
import numpy as np
import yaml

from bench.cache import fill, msg, question
from bench.common import Daemon, table
from sluice.cli import default_model_dir, default_verifier_dir
from sluice.config import Settings
from sluice.embedding import language
from sluice.embedding.model import OnnxEmbedder
from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc
from sluice.verifier.model import OnnxVerifier

_TICK = os.sysconf("SC_CLK_TCK")
# Words for "far" questions: six drawn at random are nowhere near a stored template question.
_WORDS = (
    "amber", "canyon", "violin", "harbour", "lantern", "meadow", "orbit", "pepper", "quartz",
    "saddle", "tundra", "walnut", "glacier", "falcon", "copper", "velvet", "marble", "thistle",
    "cobalt", "juniper", "lagoon", "pylon", "ember", "sonnet", "bramble", "ferret", "nickel",
    "oyster", "prairie", "quiver", "raven", "spindle", "tulip", "umber", "vortex", "willow",
)  # fmt: skip


def daemon_cpu_s(pid: int) -> float:
    """utime + stime of the whole process (every thread), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def far(i: int) -> str:
    r = random.Random(-1 - i)
    return " ".join(r.sample(_WORDS, 6)) + f" {i}?"


def other_item(i: int) -> str:
    """The stored question with another item number: its neighbours differ in a number."""
    return re.sub(r"item (\d+)", lambda m: f"item {int(m.group(1)) + 1}", question(i))


@dataclass(frozen=True, slots=True)
class Measured:
    calls: int
    cpu_ms: float  # daemon CPU per call
    pairs: float  # verifier model runs per call
    kept: str = ""  # how many queries had the expected outcome


class Bench:
    def __init__(self, daemon: Daemon, stub: sluice_pb2_grpc.SluiceStub) -> None:
        assert daemon.proc is not None
        self.daemon, self.stub, self.pid = daemon, stub, daemon.proc.pid

    def pairs_scored(self) -> float:
        for line in self.daemon.metrics().splitlines():
            if line.startswith("sluice_cache_verifier_score_count "):
                return float(line.split()[1])
        return 0.0

    async def lookup(self, text: str) -> pb.LookupResponse:
        return await self.stub.Lookup(pb.LookupRequest(messages=msg(text)))

    async def store(self, text: str) -> None:
        answer = pb.Message(role=pb.ROLE_ASSISTANT, content=f"answer to {text} " + "x" * 200)
        await self.stub.Store(pb.StoreRequest(messages=msg(text), answer=answer, model="bench"))

    async def keep(
        self, texts: list[str], expected: Callable[[pb.LookupResponse], bool]
    ) -> tuple[list[str], str]:
        kept = [t for t in texts if expected(await self.lookup(t))]
        return kept, f"{len(kept)}/{len(texts)}"

    async def measure(
        self, texts: list[str], call: Callable[[str], Any], kept: str = ""
    ) -> Measured:
        if not texts:
            return Measured(0, float("nan"), float("nan"), kept)
        pairs = self.pairs_scored()
        started = daemon_cpu_s(self.pid)
        for text in texts:
            await call(text)
        cpu = daemon_cpu_s(self.pid) - started
        return Measured(
            len(texts), 1000 * cpu / len(texts), (self.pairs_scored() - pairs) / len(texts), kept
        )

    async def concurrent(
        self, texts: list[str], seconds: float, callers: int = 32
    ) -> tuple[float, float]:
        """calls/s and daemon CPU ms per call with `callers` concurrent Lookups."""
        done = 0
        stop = time.perf_counter() + seconds

        async def worker(seed: int) -> None:
            nonlocal done
            rng = random.Random(seed)
            while time.perf_counter() < stop:
                await self.lookup(texts[rng.randrange(len(texts))])
                done += 1

        cpu, started = daemon_cpu_s(self.pid), time.perf_counter()
        await asyncio.gather(*(worker(s) for s in range(callers)))
        wall, cpu = time.perf_counter() - started, daemon_cpu_s(self.pid) - cpu
        return done / wall, 1000 * cpu / max(done, 1)


def semantic(r: pb.LookupResponse) -> bool:
    return r.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC


def refused(r: pb.LookupResponse) -> bool:
    return r.cache.outcome == pb.CACHE_OUTCOME_MISS and r.cache.reason.startswith("verifier:")


def guarded(r: pb.LookupResponse) -> bool:
    return r.cache.outcome == pb.CACHE_OUTCOME_MISS and r.cache.reason.startswith("number guard")


async def sequential(b: Bench, entries: int, n: int) -> dict[str, Measured]:
    rng = random.Random(1)
    picks = [rng.randrange(entries) for _ in range(n)]
    await b.measure([question(i) for i in picks[:20]], b.lookup)  # warm-up
    same, same_kept = await b.keep([question(i)[:-1] + " ?" for i in picks], semantic)
    verified, verified_kept = await b.keep([question(i)[:-1] for i in picks], semantic)
    no, no_kept = await b.keep([other_item(i) for i in picks], refused)
    vetoed, vetoed_kept = await b.keep([other_item(i) for i in picks], guarded)

    async def miss_store(text: str) -> None:
        await b.lookup(text)
        await b.store(text)

    async def stats(_: str) -> None:
        await b.stub.GetStats(pb.GetStatsRequest())

    # The cheap rows get 4× the calls: the kernel counts CPU in ticks (10 ms).
    return {
        "gRPC floor (GetStats)": await b.measure(["-"] * 4 * n, stats),
        "L1 exact hit": await b.measure([question(i) for i in picks * 4], b.lookup),
        "L2 hit, same word pieces": await b.measure(same, b.lookup, same_kept),
        "L2 hit, verifier served": await b.measure(verified, b.lookup, verified_kept),
        "L2 refused by the verifier": await b.measure(no, b.lookup, no_kept),
        "L2 refused by the number guard": await b.measure(vetoed, b.lookup, vetoed_kept),
        "miss + Store (no neighbour)": await b.measure([far(i) for i in range(n)], miss_store),
        "miss + Store (near neighbours)": await b.measure(
            [question(entries + i) for i in range(n)], miss_store
        ),
    }


@dataclass(frozen=True, slots=True)
class Floor:
    embed_ms: float
    pair_ms: float
    hnsw_ms: float
    # Embed one text, then score one pair, in turn on one thread: what a served hit's models
    # cost when each evicts the other's weights from the caches (the ratios use the sum of
    # the models alone, as the targets do; this says how much of the gap is that).
    in_turn_ms: float
    # The language check on one question (embedding/language.py); ~0 when embedding.languages
    # is ["*"] (`refusal` returns at once).
    language_ms: float


def cpu_ms_per_call(fn: Callable[[int], object], n: int) -> float:
    fn(0)
    started = time.process_time()
    for i in range(n):
        fn(i)
    return 1000 * (time.process_time() - started) / n


def models_floor(entries: int, n: int, settings: Settings) -> Floor:
    """The models alone on one thread, in this process (no gRPC, no queue, no event loop)."""
    embedder = OnnxEmbedder(default_model_dir(), threads=1, precision=settings.embedding.precision)
    verifier = OnnxVerifier(default_verifier_dir())
    texts = [question(i)[:-1] for i in range(n)]
    embed_ms = cpu_ms_per_call(lambda i: embedder.embed([texts[i]]), n)
    pair_ms = cpu_ms_per_call(lambda i: verifier.score(texts[i], [question(i)]), n)
    in_turn_ms = cpu_ms_per_call(
        lambda i: (embedder.embed([texts[i]]), verifier.score(texts[i], [question(i)])), n
    )
    c = settings.cache
    index = hnswlib.Index(space="ip", dim=embedder.dimensions)
    index.init_index(max_elements=entries, M=c.hnsw_m, ef_construction=c.ef_construction)
    index.set_num_threads(1)
    data = np.random.default_rng(0).standard_normal((entries, embedder.dimensions))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    index.add_items(data)
    index.set_ef(c.ef_search)
    hnsw_ms = cpu_ms_per_call(lambda i: index.knn_query(data[i % entries], k=4), n)
    emb = settings.embedding
    language_ms = cpu_ms_per_call(
        lambda i: language.refusal(texts[i], emb.languages, emb.language_min_probability), n
    )
    return Floor(embed_ms, pair_ms, hnsw_ms, in_turn_ms, language_ms)


def overrides(pairs: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for pair in pairs:
        dotted, _, value = pair.partition("=")
        node = config
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return config


async def run(
    daemon: Daemon, args: argparse.Namespace
) -> tuple[dict[str, Measured], dict[str, tuple[float, float]]]:
    await fill(daemon.address, args.entries)
    async with grpc.aio.insecure_channel(daemon.address) as channel:
        b = Bench(daemon, sluice_pb2_grpc.SluiceStub(channel))
        seq = await sequential(b, args.entries, args.n)
        rng = random.Random(2)
        picks = [rng.randrange(args.entries) for _ in range(2000)]
        tput = {
            "L1 exact hits": await b.concurrent([question(i) for i in picks], args.seconds),
            "L2 hits, same word pieces": await b.concurrent(
                [question(i)[:-1] + " ?" for i in picks], args.seconds
            ),
            "L2 hits, verifier served": await b.concurrent(
                [question(i)[:-1] for i in picks], args.seconds
            ),
        }
    return seq, tput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=300, help="sequential calls per kind")
    parser.add_argument("--seconds", type=float, default=10.0, help="per throughput run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    config = overrides(args.set)
    daemon = Daemon(config or None)
    daemon.start()
    try:
        seq, tput = asyncio.run(run(daemon, args))
    finally:
        daemon.cleanup()
    floor = models_floor(args.entries, args.n, Settings.model_validate(config))
    grpc_ms = seq["gRPC floor (GetStats)"].cpu_ms
    lookup = floor.embed_ms + floor.hnsw_ms + floor.language_ms

    def models(name: str, m: Measured) -> float:
        if name.startswith("gRPC") or name.startswith("L1"):
            return 0.0
        return lookup + m.pairs * floor.pair_ms

    rows = [
        ("models alone, 1 thread: embed one text / verifier pair / hnswlib k=4",
         f"{floor.embed_ms:.2f} / {floor.pair_ms:.2f} / {floor.hnsw_ms:.3f} ms"),
        ("models in turn, 1 thread: embed one text, then one pair",
         f"{floor.in_turn_ms:.2f} ms (alone, summed: {floor.embed_ms + floor.pair_ms:.2f})"),
        ("language check on one text, 1 thread (in the models' floor of every L2 call)",
         f"{floor.language_ms:.3f} ms"),
        ("", "daemon CPU/call   pairs/call   models   models+gRPC   ×models   ×(models+gRPC)"),
    ]  # fmt: skip
    for name, m in seq.items():
        rpcs = 2 if name.startswith("miss") else 1
        base = models(name, m)
        with_grpc = base + rpcs * grpc_ms
        ratio = f"{m.cpu_ms / base:8.2f}" if base else "       —"
        rows.append((
            f"{name}" + (f" [{m.kept} kept]" if m.kept else ""),
            f"{m.cpu_ms:10.2f} ms   {m.pairs:10.2f}   {base:6.2f}   {with_grpc:11.2f}   "
            f"{ratio}   {m.cpu_ms / with_grpc:14.2f}",
        ))  # fmt: skip
    for name, (rate, cpu) in tput.items():
        rows.append((f"32 callers: {name}", f"{rate:8.0f} calls/s, {cpu:.2f} ms daemon CPU/call"))
    table(
        f"Daemon CPU per request ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"{args.entries:,} entries, n={args.n}, overrides {config or 'none'})",
        rows,
    )


if __name__ == "__main__":
    main()
