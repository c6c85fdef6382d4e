"""Sidecar overhead on a cache miss against an instant fake provider, beside LiteLLM's Router.

    .venv/bin/python -m bench.overhead [--n 300]      (LiteLLM needs `make bench-peers`)

overhead = Complete through the daemon − a direct aiohttp call to the same provider, both
measured here, in this run, alternating call by call. LiteLLM's Router is measured the same
way in its own virtualenv against the same fake provider. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.common import REPO, Daemon, pct, table
from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc
from tests.support.fake import FakeProvider

PEERS_PYTHON = REPO / ".venv" / "peers" / "bin" / "python"


async def measure(address: str, base_url: str, n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"direct": [], "skip": [], "miss": [], "floor": []}
    async with aiohttp.ClientSession() as session, grpc.aio.insecure_channel(address) as channel:
        stub = sluice_pb2_grpc.SluiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        for i in range(n + 20):
            text = f"overhead question {i}"
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}],
                    "logprobs": True}  # fmt: skip
            started = time.perf_counter()
            async with session.post(f"{base_url}/chat/completions", json=body) as r:
                await r.json()
            direct = (time.perf_counter() - started) * 1000
            messages = [pb.Message(role=pb.ROLE_USER, content=text)]
            started = time.perf_counter()
            await stub.Complete(
                pb.CompleteRequest(
                    messages=messages, cache=pb.CachePolicy(skip_read=True, skip_write=True)
                )
            )
            skip = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            await stub.Complete(
                pb.CompleteRequest(
                    messages=[pb.Message(role=pb.ROLE_USER, content=f"{text} (cached path)")]
                )
            )
            miss = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            await health.Check(health_pb2.HealthCheckRequest())
            floor = (time.perf_counter() - started) * 1000
            if i >= 20:  # warm-up excluded
                out["floor"].append(floor)
                out["direct"].append(direct)
                out["skip"].append(skip)
                out["miss"].append(miss)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    fake = FakeProvider()
    base_url = f"{fake.url}/v1"
    daemon = Daemon({
        "providers": {"oa": {"kind": "openai", "base_url": base_url}},
        "tiers": [{"name": "cheap", "deployments": [{"provider": "oa", "model": "gpt-4o-mini"}]}],
        "logging": {"level": "warning"},
    })  # fmt: skip
    daemon.start()
    try:
        ours = asyncio.run(measure(daemon.address, base_url, args.n))
        peer = None
        if (REPO / ".venv" / "peers" / ".installed").exists():
            done = subprocess.run(
                [str(PEERS_PYTHON), str(REPO / "bench" / "peers" / "litellm_router.py"),
                 "--base-url", base_url, "--n", str(args.n)],
                capture_output=True, text=True, timeout=600, check=True,
            )  # fmt: skip
            peer = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        daemon.cleanup()
        fake.stop()
    d50, d99 = pct(ours["direct"], 50), pct(ours["direct"], 99)
    rows = [
        ("direct aiohttp call to the fake provider, p50 / p99", f"{d50:.2f} / {d99:.2f} ms"),
        ("Sluice Complete, cache skipped, p50 / p99",
         f"{pct(ours['skip'], 50):.2f} / {pct(ours['skip'], 99):.2f} ms"),
        ("  overhead excluding embedding (p50 − p50)", f"{pct(ours['skip'], 50) - d50:.2f} ms"),
        ("  of which the gRPC round trip itself (health Check p50)",
         f"{pct(ours['floor'], 50):.2f} ms"),
        ("Sluice Complete, cache miss (embed + lookup + store), p50 / p99",
         f"{pct(ours['miss'], 50):.2f} / {pct(ours['miss'], 99):.2f} ms"),
        ("  overhead including embedding (p50 − p50)", f"{pct(ours['miss'], 50) - d50:.2f} ms"),
    ]  # fmt: skip
    if peer is not None:
        rows += [
            ("LiteLLM: direct aiohttp call, p50 / p99",
             f"{peer['direct_p50']:.2f} / {peer['direct_p99']:.2f} ms"),
            ("LiteLLM Router.acompletion, p50 / p99",
             f"{peer['router_p50']:.2f} / {peer['router_p99']:.2f} ms"),
            ("  LiteLLM overhead (p50 − p50)",
             f"{peer['router_p50'] - peer['direct_p50']:.2f} ms"),
        ]  # fmt: skip
    else:
        rows.append(("LiteLLM", "not measured: run `make bench-peers` first"))
    table(f"Sidecar overhead, {args.n} calls each, same fake provider, one run", rows)


if __name__ == "__main__":
    main()
