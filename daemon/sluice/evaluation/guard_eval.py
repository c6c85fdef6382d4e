"""How often a guard refuses, per set and label, on one part (no model runs).

    python -m sluice.evaluation.guard_eval --data data/cache --split calibration [--guard G]

The rules of sluice/verifier/order.py (`--guard order_guard`, the default), of the number
guard (`--guard number_guard`, verifier/guards.py) and of verifier/substitution.py (`--guard
substitution_guard`) were chosen on the calibration part with this report
(docs/cache-eval.md); `--examples N` prints the paraphrases it refuses.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

from sluice.evaluation.splits import Part
from sluice.evaluation.verifier_data import eval_sets
from sluice.types import Guard
from sluice.verifier.guards import refusal


def report(data: Path, part: Part, examples: int = 0, guard: Guard = "order_guard") -> list[str]:
    """One line per set: positives and negatives refused, with up to `examples` refusals."""
    lines = []
    for name, pairs in eval_sets(data, part).items():
        positives = [p for p in pairs if p.label == 1]
        refused = [p for p in positives if refusal(p.b, p.a, {guard})]
        negatives = sum(1 for p in pairs if p.label == 0)
        caught = sum(1 for p in pairs if p.label == 0 and refusal(p.b, p.a, {guard}))
        lines.append(
            f"{name:34s} positives refused {len(refused):5d} / {len(positives):5d}   "
            f"negatives refused {caught:5d} / {negatives:5d}"
        )
        lines += [f"    {p.a[:70]!r} / {p.b[:70]!r}" for p in refused[:examples]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the cache sets (data/cache)")
    parser.add_argument("--split", choices=("train", "calibration", "test"), default="calibration")
    parser.add_argument("--examples", type=int, default=0)
    parser.add_argument("--guard", choices=get_args(Guard), default="order_guard")
    args = parser.parse_args()
    print("\n".join(report(args.data, args.split, args.examples, args.guard)))


if __name__ == "__main__":
    main()
