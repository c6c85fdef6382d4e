"""What the verifier costs per semantic hit: the model alone on one core, and over gRPC.

    .venv/bin/python -m bench.verifier [--pairs 300] [--entries 2000] [--compare DIR] [--no-grpc]

1. Model alone (intra-op threads 1, as the daemon runs it): a query scored
   against 1 cached question (a hit whose nearest candidate passes) and against
   4 (the nearest, refused, then the other 3; each pair is a model run of its own),
   on pairs of real lengths: MeanCache's paraphrased questions (short, what a chat cache sees) and
   GPTCache's mock pairs (long), when the data (docs/data.md) is there, else built-in.
2. Over gRPC, side by side in one run: two daemons, verifier off and on, the
   same cache content and the same Lookups (L2 hits: a near-identical variant
   of a stored question, so both serve them); the p50/p99 of each and their
   difference is the verifier's extra latency per L2 hit, queue hop included.

Prints figures; asserts nothing (shared machines are noisy: compare within one run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path

import grpc

from bench.cache import fill, msg, question
from bench.common import Daemon, pct, table
from sluice.cli import default_data_dir, default_verifier_dir
from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc
from sluice.verifier.model import OnnxVerifier

BUILT_IN = [
    ("Who wrote War and Peace?", "Who is the author of War and Peace?"),
    ("How do I delete a file in Linux?", "How can I remove a file on Linux?"),
    ("Convert 100 Fahrenheit to Celsius", "Convert 100 Celsius to Fahrenheit"),
    ("Flight from London to Paris", "Flight from Paris to London"),
    ("Does this medication cause drowsiness?", "Does this medication not cause drowsiness?"),
]


def samples(n: int) -> dict[str, list[tuple[str, str]]]:
    """Short questions (MeanCache's paraphrased follow-ups) and GPTCache's long pairs."""
    root = default_data_dir() / "cache"
    if not root.is_dir():
        return {"built-in questions": (BUILT_IN * (n // len(BUILT_IN) + 1))[:n]}
    rng = random.Random(0)
    claude = json.loads((root / "meancache_contextual" / "new_claude.json").read_text())
    short = [(d["u1_duplicate"], d["u1"]) for d in claude] + [
        (d["u0_duplicate"], d["u0"]) for d in claude
    ]
    gpt = json.loads((root / "gptcache_mock_data.json").read_text(encoding="utf-8"))
    long = [(d["similar"], d["origin"]) for d in gpt]
    return {
        "MeanCache questions": rng.sample(short, min(n, len(short))),
        "GPTCache pairs": rng.sample(long, min(n, len(long))),
    }


def model_alone(sample: list[tuple[str, str]], model: OnnxVerifier) -> dict[str, list[float]]:
    others = [c for _, c in sample]
    out: dict[str, list[float]] = {"one": [], "four": [], "tokens": []}
    for i, (query, cached) in enumerate(sample):
        started = time.perf_counter()
        model.score(query, [cached])
        out["one"].append((time.perf_counter() - started) * 1000)
        # The daemon's worst case with 4 candidates: the nearest, refused, then the other
        # three (sluice.cache.store.served_candidate); every pair is a model run of its own.
        rest = [others[(i + k) % len(others)] for k in (1, 2, 3)]
        started = time.perf_counter()
        model.score(query, [cached])
        model.score(query, rest)
        out["four"].append((time.perf_counter() - started) * 1000)
        out["tokens"].append(float(len(model.tokenizer.encode(query, cached).ids)))
    return out


async def l2_hits(address: str, entries: int, n: int) -> tuple[list[float], list[float]]:
    """Latencies of the Lookups that were served (semantic hits), and of the others."""
    served: list[float] = []
    refused: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        rng = random.Random(1)
        for _ in range(n):
            q = question(rng.randrange(entries))[:-1] + " ?"
            started = time.perf_counter()
            r = await stub.Lookup(pb.LookupRequest(messages=msg(q)))
            ms = (time.perf_counter() - started) * 1000
            (served if r.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC else refused).append(ms)
    return served, refused


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


Runs = dict[str, tuple[list[float], list[float]]]


def over_grpc(entries: int, n: int, model_dir: Path) -> tuple[Runs, float]:
    """Lookups with the verifier off and on, and the model's mean ms per verified lookup."""
    out: Runs = {}
    model_ms = 0.0
    for mode, enabled in (("off", False), ("on", True)):
        verifier = {"enabled": enabled, "model_dir": str(model_dir)}
        daemon = Daemon({"cache": {"verifier": verifier}, "logging": {"level": "warning"}})
        daemon.start()
        try:
            asyncio.run(fill(daemon.address, entries))
            out[mode] = asyncio.run(l2_hits(daemon.address, entries, n))
            if enabled:
                text = daemon.metrics()
                count = _metric(text, "sluice_cache_verifier_seconds_count")
                total = _metric(text, "sluice_cache_verifier_seconds_sum")
                model_ms = 1000 * total / count if count else 0.0
        finally:
            daemon.cleanup()
    return out, model_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--model-dir", type=Path, default=default_verifier_dir())
    parser.add_argument(
        "--compare", type=Path, help="another verifier folder, measured alone in the same run"
    )
    parser.add_argument("--no-grpc", action="store_true", help="the model alone only")
    args = parser.parse_args()
    model = OnnxVerifier(args.model_dir)
    model.score("warm-up", ["warm-up"])
    alone = {name: model_alone(sample, model) for name, sample in samples(args.pairs).items()}
    if args.compare:
        other = OnnxVerifier(args.compare)
        other.score("warm-up", ["warm-up"])
        for name, sample in samples(args.pairs).items():
            alone[f"{name} [{other.version}]"] = model_alone(sample, other)
    grpc_runs, model_ms = (
        ({}, 0.0) if args.no_grpc else over_grpc(args.entries, args.pairs, args.model_dir)
    )

    def ms(values: list[float]) -> str:
        return f"{pct(values, 50):6.2f} / {pct(values, 99):6.2f} ms"

    rows = []
    for name, r in alone.items():
        rows += [
            (f"{name}: pairs, median tokens per pair",
             f"{len(r['one'])}, {pct(r['tokens'], 50):.0f}"),
            (f"{name}: model alone, 1 candidate, p50 / p99", ms(r["one"])),
            (f"{name}: model alone, 4 candidates (1, then 3), p50 / p99", ms(r["four"])),
        ]  # fmt: skip
    if grpc_runs:
        off, off_refused = grpc_runs["off"]
        on, on_refused = grpc_runs["on"]
        every_off, every_on = off + off_refused, on + on_refused
        rows += [
            (f"gRPC L2 lookup, verifier off ({len(off)}/{len(every_off)} served), p50 / p99",
             ms(every_off)),
            (f"gRPC L2 lookup, verifier on ({len(on)}/{len(every_on)} served), p50 / p99",
             ms(every_on)),
            ("  of which served by the verifier (nearest passed), p50 / p99",
             ms(on) if on else "—"),
            ("  of which refused (all candidates scored), p50 / p99",
             ms(on_refused) if on_refused else "—"),
            ("  model time inside the daemon, mean per verified lookup", f"{model_ms:6.2f} ms"),
            ("extra per served L2 hit (p50 served on − p50 off)",
             f"{pct(on, 50) - pct(every_off, 50):6.2f} ms" if on else "—"),
        ]  # fmt: skip
    table(
        f"Verifier cost ({os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, 1 intra-op thread),"
        f" model {model.version}",
        rows,
    )


if __name__ == "__main__":
    main()
