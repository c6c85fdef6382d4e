"""Fleet mode (issue #20): what sharing the cache through Redis costs and buys. Prints figures.

    .venv/bin/python -m bench.fleet [--samples 200] [--pods 1 3 10] [--skip-replay]

1. Cross-pod fill latency: Store on daemon A → the entry is in daemon B (GetStats polled
   every ~1 ms; no lookups, which would embed), p50 / p99.
2. The local hit path, fleet on vs off, side by side: Lookup exact and semantic hits on a
   standalone daemon and on a fleet daemon that is importing another pod's stores meanwhile.
3. Redis commands and bytes per Store and per Lookup (INFO commandstats / INFO stats deltas).
4. Redis memory per cached entry (MEMORY USAGE of the entry, its index member, its event).
5. Hit rate of N pods with and without the fleet on GPTCache's questions (an origin, later its
   paraphrase and a verbatim repeat, spread round-robin over the pods): in-process caches with
   the daemon's embedder and verifier, each with its own Redis link and follower.

Starts its own redis-server (tests/support/redis.py) and daemons; needs $SLUICE_DATA_DIR (or
data/) with cache/gptcache_mock_data.json for part 5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis as redis_sync

from bench.common import Daemon, pct, table
from sluice.app import load_verifier
from sluice.cache.keys import make_key
from sluice.cache.store import SemanticCache
from sluice.cli import default_data_dir, default_model_dir, default_verifier_dir
from sluice.config import FleetSettings, Settings
from sluice.embedding.model import OnnxEmbedder
from sluice.fleet.cache_sync import FleetCache
from sluice.fleet.link import FleetLink
from sluice.telemetry.metrics import Metrics
from sluice.types import ChatMessage, GenParams, Usage
from sluice.v1 import sluice_pb2 as pb
from tests.support.redis import RedisServer

QUESTION = "How do I delete a file in Linux?"
PARAPHRASE = "How can I remove a file on Linux?"


def user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=text)


def store(d: Daemon, q: str, a: str, ns: str) -> pb.StoreResponse:
    return d.stub().Store(
        pb.StoreRequest(messages=[user(q)], namespace=ns, model="m",
                        answer=pb.Message(role=pb.ROLE_ASSISTANT, content=a)),
        timeout=10,
    )  # fmt: skip


def lookup(d: Daemon, q: str, ns: str) -> pb.LookupResponse:
    return d.stub().Lookup(pb.LookupRequest(messages=[user(q)], namespace=ns), timeout=10)


def entries(d: Daemon, ns: str) -> int:
    return int(d.stub().GetStats(pb.GetStatsRequest(namespace=ns), timeout=5).cache.entries)


def fleet_config(server: RedisServer, prefix: str) -> dict[str, Any]:
    return {"fleet": {"enabled": True, "redis_url": server.url, "key_prefix": prefix}}


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50):.3f} ms  p99 {pct(values, 99):.3f} ms  (n={len(values)})"


# ---- 1. fill latency
def fill_latency(a: Daemon, b: Daemon, samples: int) -> list[float]:
    out = []
    for i in range(samples):
        before = entries(b, "fill")
        store(a, f"fill question number {i} {uuid.uuid4().hex[:6]}", "answer", "fill")
        started = time.perf_counter()
        while entries(b, "fill") == before:
            if time.perf_counter() - started > 5:
                raise TimeoutError("entry not filled within 5 s")
            time.sleep(0.0005)
        out.append((time.perf_counter() - started) * 1000)
    return out


# ---- 2. hit path side by side
def hit_path(standalone: Daemon, fleet: Daemon, writer: Daemon, samples: int) -> dict[str, Any]:
    for d in (standalone, fleet):
        store(d if d is standalone else writer, QUESTION, "Use rm FILE.", "hits")
    deadline = time.monotonic() + 5
    while not lookup(fleet, QUESTION, "hits").hit:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    results: dict[str, dict[str, list[float]]] = {"exact": {}, "semantic": {}}
    stop = False

    def background() -> None:
        # Another pod keeps storing: the fleet daemon imports those entries meanwhile. The
        # standalone daemon gets the same stores itself, so both hold the same write load
        # and the difference is the fleet's own.
        i = 0
        while not stop:
            store(writer, f"background store {i}", "x", "bg")
            store(standalone, f"background store {i}", "x", "bg")
            i += 1
            time.sleep(0.05)

    import threading  # noqa: PLC0415 - only this part needs it

    thread = threading.Thread(target=background, daemon=True)
    thread.start()
    try:
        for kind, text in (("exact", QUESTION.upper()), ("semantic", PARAPHRASE)):
            for d in (standalone, fleet):  # warm-up
                for _ in range(20):
                    assert lookup(d, text, "hits").hit
            side = {"standalone": [], "fleet": []}
            for _ in range(samples):
                for name, d in (("standalone", standalone), ("fleet", fleet)):
                    started = time.perf_counter()
                    assert lookup(d, text, "hits").hit
                    side[name].append((time.perf_counter() - started) * 1000)
            results[kind] = side
    finally:
        stop = True
        thread.join()
    return results


# ---- 3. commands and bytes
def _counts(r: redis_sync.Redis) -> tuple[int, int, int]:
    stats = r.info("commandstats")
    calls = sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")
    net = r.info("stats")
    return calls, int(net["total_net_input_bytes"]), int(net["total_net_output_bytes"])


def per_request(r: redis_sync.Redis, run: Callable[[], None], n: int) -> str:
    before = _counts(r)
    t0 = time.monotonic()
    run()
    elapsed = time.monotonic() - t0
    time.sleep(0.5)  # let the followers fetch what the last stores announced
    after = _counts(r)
    calls, into, out = (x - y for x, y in zip(after, before, strict=True))
    return (
        f"{calls / n:.2f} commands, {into / n:.0f} B in, {out / n:.0f} B out per request "
        f"({n} requests in {elapsed:.1f} s, idle XREADs included)"
    )


def commandstats(r: redis_sync.Redis) -> str:
    stats = r.info("commandstats")
    return ", ".join(f"{k.removeprefix('cmdstat_')}={v['calls']}" for k, v in stats.items())


# ---- 4. memory per entry
def memory(r: redis_sync.Redis, prefix: str) -> list[tuple[str, str]]:
    tag = "{" + prefix + "}"
    keys = list(r.scan_iter(f"{tag}:cache:e:*", count=1000))
    sizes = [int(r.memory_usage(k, samples=0) or 0) for k in keys[:200]]
    payload = [len(r.get(k) or b"") for k in keys[:200]]
    idx, events = f"{tag}:cache:idx", f"{tag}:cache:events"
    n_idx, n_ev = int(r.zcard(idx)), int(r.xlen(events))
    idx_b = int(r.memory_usage(idx, samples=0) or 0)
    ev_b = int(r.memory_usage(events, samples=0) or 0)
    per_entry = float(np.median(sizes)) + idx_b / max(n_idx, 1) + ev_b / max(n_ev, 1)
    return [
        ("entries sampled", str(len(sizes))),
        ("entry key (MEMORY USAGE, median)", f"{np.median(sizes):.0f} B "
         f"(payload {np.median(payload):.0f} B: 384 float32 = 1536 B + text + header)"),
        ("index member", f"{idx_b / max(n_idx, 1):.0f} B ({n_idx} members, {idx_b} B)"),
        ("stream event", f"{ev_b / max(n_ev, 1):.0f} B ({n_ev} events, {ev_b} B)"),
        ("per cached entry, all in", f"{per_entry:.0f} B ≈ {per_entry / 1024:.1f} KiB "
         f"→ 100k entries ≈ {per_entry * 100_000 / 2**20:.0f} MiB"),
    ]  # fmt: skip


# ---- 5. hit rate over N pods
@dataclass
class Pod:
    cache: SemanticCache
    fleet: FleetCache | None
    link: FleetLink | None


async def replay(server: RedisServer, pods_n: int, fleet_on: bool, stream: list[tuple[str, str]],
                 vectors: dict[str, np.ndarray], model_id: str, verifier: Any,
                 gap_s: float) -> dict[str, int]:  # fmt: skip
    settings = Settings()
    prefix = f"hr{uuid.uuid4().hex[:8]}"
    fs = FleetSettings(enabled=True, redis_url=server.url, key_prefix=prefix)
    pods: list[Pod] = []
    for _ in range(pods_n):
        cache = SemanticCache(settings.cache, 384, Metrics(), verifier=verifier)
        link = fleet = None
        if fleet_on:
            link = FleetLink(fs, Metrics(), password=None)
            fleet = FleetCache(link, cache, fs, model_id=model_id, metrics=Metrics())
            fleet.start()
            await link.start()
            await fleet.catch_up()
        pods.append(Pod(cache, fleet, link))
    counts = {"exact": 0, "semantic": 0, "miss": 0, "wrong": 0}
    threshold = settings.cache.verifier.recall_threshold
    try:
        for i, (text, origin) in enumerate(stream):
            pod = pods[i % pods_n]
            key = make_key("bench", (ChatMessage("user", text),), GenParams())
            entry = await pod.cache.lookup_exact(key)
            kind = "exact"
            if entry is None:
                result = await pod.cache.lookup_semantic(key, vectors[text], threshold)
                entry, kind = result.entry, "semantic"
            if entry is None:
                counts["miss"] += 1
                stored, _ = await pod.cache.store(
                    key, vectors[text], answer=origin, finish_reason="stop", usage=Usage(),
                    model="m",
                )  # fmt: skip
                if pod.fleet is not None:
                    pod.fleet.stored(stored, vectors[text])
            elif entry.answer != origin:
                counts["wrong"] += 1
            else:
                counts[kind] += 1
            await asyncio.sleep(gap_s)
    finally:
        for pod in pods:
            if pod.fleet is not None and pod.link is not None:
                await pod.fleet.close(flush_s=0.1)
                await pod.link.close()
            pod.cache.close()
    return counts


def replay_stream(seed: int = 0) -> list[tuple[str, str]]:
    """Each origin, later its paraphrase, later the origin again verbatim; (text, origin)."""
    pairs = json.loads((default_data_dir() / "cache" / "gptcache_mock_data.json").read_text())
    rng = random.Random(seed)
    events: list[tuple[float, str, str]] = []
    for p in pairs:
        t = rng.random()
        events.append((t, p["origin"], p["origin"]))
        events.append((t + rng.random() * (1 - t), p["similar"], p["origin"]))
        events.append((t + rng.random() * (1 - t), p["origin"].upper(), p["origin"]))
    events.sort()
    return [(text, origin) for _, text, origin in events]


async def hit_rates(server: RedisServer, pods: list[int], gap_s: float) -> list[tuple[str, str]]:
    stream = replay_stream()
    embedder = OnnxEmbedder(default_model_dir(), threads=2)
    texts = sorted({t for t, _ in stream})
    vectors: dict[str, np.ndarray] = {}
    for i in range(0, len(texts), 64):
        chunk = texts[i : i + 64]
        for t, e in zip(chunk, await asyncio.to_thread(embedder.embed, chunk), strict=True):
            vectors[t] = e.vector
    verifier = await load_verifier(default_verifier_dir())
    rows = []
    for n in pods:
        for on in (False, True):
            c = await replay(server, n, on, stream, vectors, embedder.model_id, verifier,
                             gap_s)  # fmt: skip
            total = len(stream)
            hits = c["exact"] + c["semantic"]
            rows.append((
                f"N={n:<2} {'fleet' if on else 'standalone':<10}",
                f"hit rate {hits / total:6.1%} (exact {c['exact']}, semantic "
                f"{c['semantic']}, another origin's answer {c['wrong']}, miss "
                f"{c['miss']}; {total} requests)",
            ))  # fmt: skip
            print("  " + "  ".join(rows[-1]), flush=True)
    return rows


def show_hit_path(paths: dict[str, Any]) -> None:
    rows = []
    for kind, side in paths.items():
        d50 = pct(side["fleet"], 50) - pct(side["standalone"], 50)
        rows += [(f"{kind} standalone", ms(side["standalone"])),
                 (f"{kind} fleet", ms(side["fleet"])),
                 (f"{kind} fleet − standalone p50", f"{d50:+.3f} ms")]  # fmt: skip
    table("2. Lookup hit over gRPC, side by side (same store load; the fleet pod's by fill)",
          rows)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--pods", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--gap-ms", type=float, default=2.0, help="between replayed requests")
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--hit-path-only", action="store_true", help="part 2 alone")
    args = parser.parse_args()
    server = RedisServer().start()
    r = redis_sync.Redis.from_url(server.url)
    try:
        daemon_parts(server, r, args)
        if not args.skip_replay and not args.hit_path_only:
            print(f"\n5. hit rate on GPTCache's questions, N pods, round-robin, "
                  f"{args.gap_ms} ms between requests")  # fmt: skip
            asyncio.run(hit_rates(server, args.pods, args.gap_ms / 1000))
    finally:  # whatever failed: no redis-server or daemon outlives the benchmark
        r.close()
        server.cleanup()


def daemon_parts(server: RedisServer, r: redis_sync.Redis, args: argparse.Namespace) -> None:
    """Parts 1–4 (part 2 alone with --hit-path-only), on 3 fleet daemons and a standalone one."""
    prefix = f"b{uuid.uuid4().hex[:8]}"
    daemons: list[Daemon] = []
    try:
        a, b, c = (Daemon(fleet_config(server, prefix)) for _ in range(3))
        solo = Daemon()
        daemons = [a, b, c, solo]
        for d in daemons:
            d.start(wait=False)
        for d in daemons:
            d.wait_ready()
        if args.hit_path_only:
            show_hit_path(hit_path(solo, b, a, args.samples * 5))
            return
        fill = fill_latency(a, b, args.samples)
        table("1. cross-pod fill (Store on A returned → entry in B; 3 pods)", [
            ("fill latency", ms(fill))])  # fmt: skip
        show_hit_path(hit_path(solo, b, a, args.samples * 5))
        r.config_resetstat()
        stores = per_request(r, lambda: [store(a, f"count store {i}", "answer", "count")
                                         for i in range(args.samples)], args.samples)  # fmt: skip
        stats_after_stores = commandstats(r)
        r.config_resetstat()
        lookups = per_request(r, lambda: [lookup(b, f"count store {i}", "count")
                                          for i in range(args.samples)], args.samples)  # fmt: skip
        table("3. Redis traffic (3 pods following)", [
            ("per Store (on A)", stores), ("commands seen", stats_after_stores),
            ("per Lookup (on B)", lookups), ("commands seen", commandstats(r))])  # fmt: skip
        table("4. Redis memory per cached entry", memory(r, prefix))
    finally:
        for d in daemons:
            d.cleanup()


if __name__ == "__main__":
    main()
