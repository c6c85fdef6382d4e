"""Shared bandit learning (fleet/learning.py): what it costs a pod. Prints figures.

    .venv/bin/python -m bench.fleet_learning [--arms 4] [--dim 385] [--pods 1 5 19]

1. The bytes of one pod's entry in Redis.
2. One Feedback's update on the event loop: LinUCB as it is (Sherman–Morrison plus the
   sums that pods pool) against the update before shared learning (Sherman–Morrison only).
3. Encoding this pod's entry, and one merge of N other pods' entries (decode, sum, one
   inverse per arm), both run off the event loop; best of three.

In-process, no Redis: the Redis side is bounded by the link (a GET or SET of one entry).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from sluice.fleet.learning import FleetLearning, encode, entry_bytes
from sluice.routing import bandit
from sluice.routing.bandit import LinUCB

TAG = "bench|tiers"


def _contexts(n: int, dim: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = rng.normal(size=dim - 1)
        out.append(np.append(v / np.linalg.norm(v), 1.0))
    return out


def _update_before(model: LinUCB, arm: int, x: np.ndarray, reward: float) -> None:
    """LinUCB.update before shared learning: Sherman–Morrison and a running offset."""
    with model._lock:
        bandit._sherman_morrison(model.a_inv, arm, x)
        model.b[arm] += (reward - model.offset) * x
        model.pulls[arm] += 1
        model.offset += (reward - model.offset) / int(model.pulls.sum())


def _median_ms(
    update: Callable[[LinUCB, int, np.ndarray, float], None], arms: int, dim: int
) -> float:
    model, xs, times = LinUCB(arms, dim, tag=TAG), _contexts(300, dim), []
    for i, x in enumerate(xs):
        started = time.perf_counter()
        update(model, i % arms, x, 0.5)
        times.append(time.perf_counter() - started)
    return statistics.median(times[50:]) * 1000  # the first ones fault the arrays in


def _best_ms(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--arms", type=int, default=4)
    parser.add_argument("--dim", type=int, default=385, help="embedding dimensions + 1")
    parser.add_argument("--pods", type=int, nargs="+", default=[1, 5, 19])
    args = parser.parse_args()
    arms, dim = args.arms, args.dim
    print(f"entry: {entry_bytes(arms, dim):,} bytes ({arms} arms, context dimension {dim})")
    _median_ms(_update_before, arms, dim)  # warm-up: whichever runs first pays numpy's start
    print(f"update per Feedback: {_median_ms(LinUCB.update, arms, dim):.2f} ms median; "
          f"before shared learning {_median_ms(_update_before, arms, dim):.2f} ms")  # fmt: skip
    model = LinUCB(arms, dim, tag=TAG)
    for i, x in enumerate(_contexts(200, dim, seed=1)):
        model.update(i % arms, x, 0.5)
    own = model.contribution()
    print(f"encode own entry: {_best_ms(lambda: encode(own, TAG)):.1f} ms (off the loop)")
    data = encode(own, TAG)
    for pods in args.pods:
        entries = {f"pod{i}": data for i in range(pods)}
        ms = _best_ms(lambda e=entries: FleetLearning._merge(model, e, None))
        print(f"merge of {pods:3d} other pods: {ms:.0f} ms (off the loop)")


if __name__ == "__main__":
    main()
