"""The verifier's hand probes: every line of bench/verifier_probes.tsv, scored.

    .venv/bin/python -m bench.verifier_probes [--model-dir DIR] [--markdown]

Prints P(same meaning) for each (cached, asked) pair, whether the decision at
the model's default min_probability is right, and the count per probe set; with
the daemon's default guards (order and number: a vetoed pair is refused
whatever its P; `--no-guards` for the model alone).
Set B was written before the model it judges was trained; it is a small blind
check, not a benchmark (docs/cache-eval.md quotes it).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from sluice.cli import default_verifier_dir
from sluice.config import VerifierSettings
from sluice.types import Guard
from sluice.verifier.guards import refusal
from sluice.verifier.model import OnnxVerifier

# The daemon's default guards.
GUARDS = VerifierSettings().guards

PROBES = Path(__file__).with_name("verifier_probes.tsv")


@dataclass(frozen=True, slots=True)
class Probe:
    cached: str
    asked: str
    same: bool
    set: str


def load(path: Path = PROBES) -> list[Probe]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cached, asked, label, name = line.split("\t")
        out.append(Probe(cached, asked, label == "1", name))
    return out


def verdict(probe: Probe, accepted: bool) -> str:
    if accepted == probe.same:
        return "yes"
    return "**no: a wrong answer served**" if accepted else "**no: missed (a provider call)**"


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.verifier_probes", description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=default_verifier_dir())
    parser.add_argument("--markdown", action="store_true", help="a table for docs/")
    parser.add_argument("--no-guards", action="store_true", help="the model alone")
    parser.add_argument("--guard", action="append", choices=get_args(Guard), default=[],
                        help="switch on a guard that is off by default (repeatable)")  # fmt: skip
    args = parser.parse_args()
    guards = frozenset[Guard]() if args.no_guards else GUARDS | frozenset(args.guard)
    model = OnnxVerifier(args.model_dir)
    threshold = model.card.default_min_probability
    probes = load()
    right: dict[str, list[int]] = {}
    print(f"{model.version}, default min_probability {threshold}, guards: "
          f"{', '.join(sorted(guards)) or 'none'}")  # fmt: skip
    if args.markdown:
        print("\n| set | cached question | asked | P | right? |\n|---|---|---|---:|---|")
    for probe in probes:
        p = model.score(probe.asked, [probe.cached])[0]
        vetoed = refusal(probe.asked, probe.cached, guards)
        accepted = p >= threshold and vetoed is None
        ok = accepted == probe.same
        counts = right.setdefault(probe.set, [0, 0, 0, 0])  # right, total, wrong hits, misses
        counts[0] += ok
        counts[1] += 1
        counts[2] += (not ok) and not probe.same
        counts[3] += (not ok) and probe.same
        if args.markdown:
            note = f" ({vetoed[0].replace('_', ' ')})" if vetoed else ""
            print(f"| {probe.set} | {probe.cached} | {probe.asked} | {p:.3f}{note} | "
                  f"{verdict(probe, accepted)} |")  # fmt: skip
        else:
            mark = "ok " if ok else "BAD"
            note = f" [{vetoed[0]}]" if vetoed else ""
            print(f"{probe.set} {p:6.3f} {mark} {probe.cached!r} / {probe.asked!r}{note}")
    print()
    for name, (ok, total, wrong, missed) in sorted(right.items()):
        print(f"set {name}: {ok} of {total} right ({wrong} wrong answers served, {missed} missed)")


if __name__ == "__main__":
    main()
