"""`sluice demo`: five calls that show a miss, an exact hit, a semantic hit, an escalation
and what they saved, against `sluice serve --demo` (started here unless --address is given).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import grpc

from sluice.v1 import sluice_pb2, sluice_pb2_grpc

SYSTEM: Final = "Answer in one or two sentences."
# How long `sluice demo --address` waits for the daemon there before it says so.
_CONNECT_S: Final = 5.0
# (what the step shows, the question). The paraphrase shares no exact text with the first
# question; the shipped verifier accepts it (tests/integration/test_demo.py checks that).
STEPS: Final = (
    ("a new question: MISS, the cheap tier answers", "How do I delete a file in Linux?"),
    ("the same question: EXACT hit, no model call", "How do I delete a file in Linux?"),
    ("a paraphrase: SEMANTIC hit (vector + verifier)", "How can I remove a file in Linux?"),
    (
        "a hard question: the cheap and medium tiers are unsure, it escalates",
        "Prove step by step that there are infinitely many primes.",
    ),
)
_OUTCOMES: Final = {
    sluice_pb2.CACHE_OUTCOME_MISS: "MISS",
    sluice_pb2.CACHE_OUTCOME_EXACT: "EXACT",
    sluice_pb2.CACHE_OUTCOME_SEMANTIC: "SEMANTIC",
    sluice_pb2.CACHE_OUTCOME_SKIPPED: "SKIPPED",
}


@dataclass(frozen=True, slots=True)
class Row:
    what: str
    outcome: str  # MISS, EXACT, SEMANTIC, SKIPPED
    served_by: str  # the tier, or "cache"
    attempts: tuple[str, ...]  # "model confidence outcome" per provider call
    answer: str
    cost_usd: float
    baseline_usd: float
    similarity: float
    ms: float


def tour(channel: grpc.Channel, namespace: str | None = None) -> list[Row]:
    """Send the four questions; a fresh namespace each run, so a rerun starts with a miss."""
    stub = sluice_pb2_grpc.SluiceStub(channel)
    namespace = namespace or f"demo-{secrets.token_hex(4)}"
    rows = []
    for what, question in STEPS:
        request = sluice_pb2.CompleteRequest(
            namespace=namespace,
            messages=[
                sluice_pb2.Message(role=sluice_pb2.ROLE_SYSTEM, content=SYSTEM),
                sluice_pb2.Message(role=sluice_pb2.ROLE_USER, content=question),
            ],
        )
        start = time.perf_counter()
        r = stub.Complete(request, timeout=60)
        ms = (time.perf_counter() - start) * 1000
        outcome = _OUTCOMES.get(r.cache.outcome, "UNSPECIFIED")
        hit = outcome in ("EXACT", "SEMANTIC")
        attempts = tuple(
            f"{a.model} {a.confidence:.2f} {sluice_pb2.AttemptOutcome.Name(a.outcome)[16:].lower()}"
            for a in r.attempts
        )
        rows.append(
            Row(
                what=what, outcome=outcome, served_by="cache" if hit else r.served_by.tier,
                attempts=attempts, answer=r.message.content, cost_usd=r.cost_usd,
                baseline_usd=r.baseline_cost_usd, similarity=r.cache.similarity, ms=ms,
            )
        )  # fmt: skip
    return rows


def render(rows: Sequence[Row]) -> str:
    lines = []
    for i, row in enumerate(rows, 1):
        lines.append(f"{i}. {row.what}")
        lines.append(f"   cache {row.outcome}" + (
            f" (cosine {row.similarity:.3f})" if row.outcome == "SEMANTIC" else ""
        ) + f", served by {row.served_by}, {row.ms:.0f} ms")  # fmt: skip
        if row.attempts:
            lines.append("   calls: " + " → ".join(row.attempts))
        lines.append(f"   cost ${row.cost_usd:.6f} (always-premium: ${row.baseline_usd:.6f})")
        lines.append(f"   answer: {row.answer[:90]}")
    cost = sum(r.cost_usd for r in rows)
    baseline = sum(r.baseline_usd for r in rows)
    saved = 1 - cost / baseline if baseline else 0.0
    lines.append(
        f"5. savings: ${cost:.6f} spent against ${baseline:.6f} for always-premium "
        f"({saved:.0%} saved; the escalation cost more than premium alone, the hits nothing)"
    )
    return "\n".join(lines)


@contextlib.contextmanager
def demo_daemon(timeout_s: float = 120.0) -> Iterator[str]:
    """`sluice serve --demo` as a child on a private socket; its address until the block ends."""
    with tempfile.TemporaryDirectory(prefix="sluice-demo-") as tmp:
        ready, log = Path(tmp) / "ready.json", Path(tmp) / "daemon.log"
        address = f"unix://{tmp}/s.sock"
        cmd = [sys.executable, "-m", "sluice", "serve", "--demo", "--listen", address,
               "--http", "127.0.0.1:0", "--openai", "127.0.0.1:0",
               "--ready-file", str(ready)]  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=out)  # noqa: S603 - our own CLI
        try:
            deadline = time.monotonic() + timeout_s
            while not ready.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the demo daemon did not start:\n{log.read_text()}")
                time.sleep(0.05)
            json.loads(ready.read_text())  # written atomically once SERVING
            yield address
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(address: str | None) -> int:
    if address is None:
        print("starting `sluice serve --demo` (loads the embedding model and the verifier)…")
        with demo_daemon() as started, grpc.insecure_channel(started) as channel:
            print(render(tour(channel)))
        return 0
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=_CONNECT_S)
            print(render(tour(channel)))
    except grpc.FutureTimeoutError:
        print(f"sluice: nothing answered at {address} within {_CONNECT_S:.0f} s; start "
              "`sluice serve --demo` there, or leave out --address", file=sys.stderr)  # fmt: skip
        return 2
    except grpc.RpcError as exc:
        print(f"sluice: the daemon at {address} answered {exc.code().name}: {exc.details()} "
              "(the tour needs `sluice serve --demo`)", file=sys.stderr)  # fmt: skip
        return 2
    return 0
