"""Partial provider faults under many concurrent callers: scenarios and a load driver.

Shared by tests/integration/test_chaos.py (asserts) and bench/chaos.py (prints the
before/after of the breaker change side by side). One tier, two providers over their
real wire protocols (OpenAI and Anthropic, one fake server); any answer is accepted,
so every failure is a resilience failure, not a confidence escalation.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import status_pb2

from sluice.v1 import sluice_pb2 as pb
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

ANSWER = "The complete answer has exactly these twelve words and then it ends."
FAULTY, OTHER = "gpt-4o-mini", "claude-3-haiku"  # providers "oa" and "an"
TIMEOUT_S = 1.0  # the tier's timeout
DEADLINE_S = 5.0  # each caller's gRPC deadline: room for 2 timeouts, a retry and the fallback


def faults(model: str | None) -> list[dict[str, Any]]:
    """Issue #17's partial fault: 20 % 5xx and 20 % slow replies.

    Half the slow ones answer in time (0.5 s), half only after the tier's timeout
    (1.5 s): those take the timeout path, as a stuck upstream does.
    """
    return [
        {"probability": 0.10, "kind": "server_error", "status": 503, "model": model},
        {"probability": 0.10, "kind": "server_error", "status": 500, "model": model},
        {"probability": 0.10, "kind": "latency", "latency_ms": 500, "model": model},
        {"probability": 0.10, "kind": "latency", "latency_ms": 1500, "model": model},
    ]


# name → the chaos faults. One chaos draw per call: a fault for another model is no fault.
SCENARIOS: dict[str, list[dict[str, Any]]] = {
    # The target: one provider of two is partly down, the other is healthy.
    "one-of-two": faults(FAULTY),
    # The same, while the "healthy" one has a 2 % background error rate, as real ones do.
    "one-of-two+2%": [
        *faults(FAULTY),
        {"probability": 0.02, "kind": "server_error", "status": 503, "model": OTHER},
    ],
    # Both providers partly down (the measurement faulted every provider).
    "both": faults(None),
    # Both mostly down (40 % 5xx, 20 % past the timeout): every breaker opens, and only
    # the panic calls (machine.py) still answer what the providers can.
    "both-60%": [
        {"probability": 0.40, "kind": "server_error", "status": 503},
        {"probability": 0.20, "kind": "latency", "latency_ms": 1500},
    ],
}


def config(fake: FakeProvider, breaker: dict[str, Any] | None = None) -> dict[str, Any]:
    """Breaker defaults unless `breaker` is given; no cache: every call reaches a provider."""
    cascade: dict[str, Any] = {"retry": {"max_retries": 1, "base_s": 0.01, "cap_s": 0.05}}
    if breaker is not None:
        cascade["breaker"] = breaker
    return {
        "providers": fake.providers(),
        "tiers": [
            {"name": "main", "threshold": 0.01, "timeout_s": TIMEOUT_S,
             "deployments": [{"provider": "oa", "model": FAULTY},
                             {"provider": "an", "model": OTHER}]},
        ],
        "cascade": cascade,
        "cache": {"enabled": False},
    }  # fmt: skip


@dataclass
class Tally:
    """What the callers saw."""

    codes: Counter[str] = field(default_factory=Counter)
    # Why UNAVAILABLE calls failed: "circuit open" when a skip by an open breaker was in it.
    why: Counter[str] = field(default_factory=Counter)
    incomplete: int = 0  # OK answers that were not the whole answer
    panic: int = 0  # unary answers served while every breaker was open (degraded, "panic")
    slowest_s: float = 0.0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def calls(self) -> int:
        return sum(self.codes.values())

    @property
    def availability(self) -> float:
        return self.codes["OK"] / self.calls if self.calls else 0.0

    def line(self) -> str:
        return (
            f"{self.calls} calls in {self.seconds:.0f} s, availability "
            f"{100 * self.availability:.2f} %, {dict(sorted(self.codes.items()))}, "
            f"UNAVAILABLE because {dict(self.why)}, {self.panic} unary answers in panic, "
            f"slowest {self.slowest_s:.2f} s"
        )


def _one(stub: Any, rng: random.Random, tally: Tally) -> None:
    stream = rng.random() < 0.5
    request = pb.CompleteRequest(
        messages=[pb.Message(role=pb.ROLE_USER, content=f"chaos question {rng.random()}")]
    )
    started = time.monotonic()
    text, code, why, panic = "", "OK", "", False
    try:
        if stream:
            for chunk in stub.StreamComplete(request, timeout=DEADLINE_S):
                text += chunk.delta
        else:
            response = stub.Complete(request, timeout=DEADLINE_S)
            text, panic = response.message.content, "panic" in response.degraded_reason
    except grpc.RpcError as exc:
        code = exc.code().name
        why = "circuit open" if _circuit_open(exc) else "provider errors"
    elapsed = time.monotonic() - started
    with tally.lock:
        tally.codes[code] += 1
        if code == "UNAVAILABLE":
            tally.why[why] += 1
        tally.incomplete += code == "OK" and text != ANSWER
        tally.slowest_s = max(tally.slowest_s, elapsed)
        tally.panic += panic


def _circuit_open(exc: grpc.RpcError) -> bool:
    """Did an open breaker skip a deployment in this failed call (its attempts say)?"""
    metadata: Any = exc.trailing_metadata()  # a sequence of (key, value) at run time
    for key, value in metadata or ():
        if key == "grpc-status-details-bin":
            details = pb.ErrorDetails()
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Unpack(details):
                    return any(
                        a.outcome == pb.ATTEMPT_OUTCOME_CIRCUIT_OPEN for a in details.attempts
                    )
    return False


def drive(daemon: Daemon, *, clients: int, seconds: float, seed: int = 0) -> Tally:
    """`clients` callers in threads, each calling back-to-back for `seconds`."""
    tally = Tally(seconds=seconds)
    end = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        stub = daemon.stub()
        while time.monotonic() < end:
            _one(stub, rng, tally)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 3 * DEADLINE_S)
    if any(t.is_alive() for t in threads):
        raise AssertionError("a client hung past its deadline")
    return tally


def run(
    fake: FakeProvider,
    scenario: str,
    *,
    clients: int,
    seconds: float,
    breaker: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    daemon_class: type[Daemon] = Daemon,
) -> tuple[Tally, list[tuple[str, str, float]]]:
    """Start a daemon, run one scenario; the tally and the breaker transitions it logged."""
    fake.reset()
    fake.model(FAULTY, answer=ANSWER)
    fake.model(OTHER, answer=ANSWER)
    daemon = daemon_class(config(fake, breaker), env=env).start()
    try:
        fake.chaos(seed=7, faults=SCENARIOS[scenario])
        tally = drive(daemon, clients=clients, seconds=seconds)
        fake.chaos()
        transitions = [(str(line.get("provider")), str(line.get("new")),
                        float(line.get("failure_rate", -1)))
                       for line in daemon.log_lines()
                       if line.get("event") == "circuit_breaker"]  # fmt: skip
    finally:
        daemon.cleanup()
    return tally, transitions
