"""Availability under partial provider faults, the breaker of a past commit beside this tree's.

    .venv/bin/python -m bench.chaos                      # this tree only
    .venv/bin/python -m bench.chaos --before 586ff8c     # and the count-based breaker beside it

Each scenario (tests/support/chaos.py) starts the real daemon with the default breaker
settings, runs `--clients` concurrent callers for `--seconds` against the fake providers
(OpenAI and Anthropic wire protocols), and prints the availability (share of calls
answered OK), every status, why UNAVAILABLE calls failed, and the breaker transitions.
`--before REF` runs the same scenarios on the daemon of git commit REF (its `daemon/`
tree from `git archive`, the same venv), so one run shows before and after.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from bench.common import REPO, Daemon, table
from tests.support.chaos import SCENARIOS, run
from tests.support.fake import FakeProvider


def _tree(ref: str, into: Path) -> Path:
    """REF's daemon package under `into`, next to a link to this checkout's models."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "daemon"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "models").symlink_to(REPO / "models")  # the CLI finds models/ beside daemon/
    return into / "daemon"


class _PastDaemon(Daemon):
    """The command line a past commit's CLI understands: only the flags it always had."""

    def command(self) -> list[str]:
        cmd = super().command()
        if "--openai" in cmd:  # added after 586ff8c
            at = cmd.index("--openai")
            del cmd[at : at + 2]
        return cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--before", metavar="REF", help="also run the daemon of this commit")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    scenarios = args.scenario or list(SCENARIOS)
    fake = FakeProvider()
    with tempfile.TemporaryDirectory(prefix="sluice-before-") as tmp:
        variants: list[tuple[str, dict[str, str] | None, type[Daemon]]] = [
            ("this tree", None, Daemon)
        ]
        if args.before:
            old = _tree(args.before, Path(tmp))
            past = {"PYTHONPATH": str(old)}
            variants.insert(0, (f"before ({args.before})", past, _PastDaemon))
        try:
            for scenario in scenarios:
                rows = []
                for name, env, daemon_class in variants:
                    tally, transitions = run(
                        fake, scenario, clients=args.clients, seconds=args.seconds,
                        env=env, daemon_class=daemon_class,
                    )  # fmt: skip
                    opened = Counter(p for p, new, _ in transitions if new == "open")
                    rows.append((name, tally.line()))
                    rows.append(("", f"breaker openings {dict(opened) or 0}"))
                    if tally.incomplete:
                        rows.append(("", f"{tally.incomplete} OK answers were not whole (BUG)"))
                table(f"{scenario}: {args.clients} callers, {args.seconds:.0f} s", rows)
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
