"""Sluice's cache and GPTCache on GPTCache's own benchmark data, same model, one run.

    .venv/bin/python -m bench.gptcache_side_by_side      (needs `make bench-peers`)

Both store every `origin` and query every `similar` in-process (no network):
hits on the right entry, false hits (another entry), misses, and lookup latency
(embedding included). Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
from typing import Any

from bench.common import REPO, table
from sluice.app import offline_pipeline
from sluice.cli import default_data_dir, default_model_dir
from sluice.config import Settings
from sluice.types import ChatMessage, GenParams, Usage

DATA = default_data_dir() / "cache" / "gptcache_mock_data.json"
THRESHOLDS = (0.90, 0.95, 0.97)


async def ours() -> dict[str, dict[str, Any]]:
    pairs = json.loads(DATA.read_text())
    out = {}
    for t in THRESHOLDS:
        settings = Settings.model_validate({"cache": {"threshold": t, "floor": min(t, 0.9)}})
        async with offline_pipeline(settings, default_model_dir()) as p:
            for i, pair in enumerate(pairs):
                await p.store("bench", (ChatMessage("user", pair["origin"]),), GenParams(),
                              answer=str(i), finish_reason="stop", usage=Usage(), model="m",
                              ttl_s=None)  # fmt: skip
            right = wrong = miss = 0
            latencies = []
            for i, pair in enumerate(pairs):
                started = time.perf_counter()
                r = await p.lookup("bench", (ChatMessage("user", pair["similar"]),), GenParams())
                latencies.append((time.perf_counter() - started) * 1000)
                if r.entry is None:
                    miss += 1
                elif r.entry.answer == str(i):
                    right += 1
                else:
                    wrong += 1
        q = statistics.quantiles(latencies, n=100)
        out[f"{t:.2f}"] = {"hits": right, "false_hits": wrong, "misses": miss,
                           "p50_ms": q[49], "p99_ms": q[98]}  # fmt: skip
    return out


def main() -> None:
    mine = asyncio.run(ours())
    peer_python = REPO / ".venv" / "peers" / "bin" / "python"
    done = subprocess.run(
        [str(peer_python), str(REPO / "bench" / "peers" / "gptcache_run.py"), "--data", str(DATA),
         "--thresholds", ",".join(f"{t:.2f}" for t in THRESHOLDS)],
        capture_output=True, text=True, timeout=1800, check=True,
    )  # fmt: skip
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    rows = []
    for t in THRESHOLDS:
        a, b = mine[f"{t:.2f}"], theirs[f"{t:.2f}"]
        for name, r in (("Sluice  ", a), ("GPTCache", b)):
            rows.append((f"cosine ≥ {t:.2f}  {name}",
                         f"hits {r['hits']:4d}  false hits {r['false_hits']:3d}  "
                         f"misses {r['misses']:4d}  lookup p50 {r['p50_ms']:.2f} ms  "
                         f"p99 {r['p99_ms']:.2f} ms"))  # fmt: skip
    table("GPTCache's mock data (999 pairs), all-MiniLM-L6-v2 for both, in-process", rows)
    print(json.dumps({"sluice": mine, "gptcache": theirs}))


if __name__ == "__main__":
    main()
