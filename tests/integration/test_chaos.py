"""Provider chaos during concurrent Complete / StreamComplete calls.

The fake provider answers with random 5xx, 429, hangs, cut streams, slow drips and
malformed bodies. Every call must end in an answer or a precise status before its
deadline; breakers must open and close again; no half-written answer may be cached.
About 10 s in the normal suite; `SLUICE_NIGHTLY=1` runs 120 s.

And issue #17's partial fault (tests/support/chaos.py): one provider of two answers 20 % of
calls with a 5xx and 20 % slowly (half of those past the tier's timeout), with ~100 callers
and the default breaker settings. A breaker that counts failures instead of a rate opened
both providers there and answered ~2 % of calls (bench/chaos.py prints the before/after).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter

import grpc
import pytest

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support import chaos
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration

SECONDS = 120.0 if os.environ.get("SLUICE_NIGHTLY") == "1" else 10.0
CLIENTS = 24
DEADLINE_S = 5.0
ANSWER = "The complete answer has exactly these twelve words and then it ends."
MODELS = ("gpt-4o-mini", "claude-3-haiku", "gemini-1.5-flash", "gpt-4o")
CHAOS = [
    {"probability": 0.10, "kind": "server_error", "status": 503},
    {"probability": 0.05, "kind": "server_error", "status": 500},
    {"probability": 0.10, "kind": "rate_limit", "retry_after_s": 0.05},
    {"probability": 0.04, "kind": "hang"},
    {"probability": 0.10, "kind": "cut_stream", "after_chunks": 2},
    {"probability": 0.04, "kind": "slow_drip", "interval_ms": 40},
    {"probability": 0.05, "kind": "malformed_json"},
]
# A status that says what happened; never INTERNAL or UNKNOWN.
PRECISE = {
    grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
}  # fmt: skip
PROMPTS = [f"chaos question number {i} about reliability" for i in range(40)]


def _one(stub, rng: random.Random, results: list[tuple[str, str, float, bool]]) -> None:  # type: ignore[no-untyped-def]
    stream = rng.random() < 0.5
    request = pb.CompleteRequest(
        messages=[pb.Message(role=pb.ROLE_USER, content=rng.choice(PROMPTS))],
        cache=pb.CachePolicy(skip_read=rng.random() < 0.5),
    )
    started = time.monotonic()
    text, code = "", grpc.StatusCode.OK
    try:
        if stream:
            for chunk in stub.StreamComplete(request, timeout=DEADLINE_S):
                text += chunk.delta
        else:
            text = stub.Complete(request, timeout=DEADLINE_S).message.content
    except grpc.RpcError as exc:
        code = exc.code()
    elapsed = time.monotonic() - started
    complete = code != grpc.StatusCode.OK or text == ANSWER
    results.append(("stream" if stream else "unary", code.name, elapsed, complete))


def test_chaos_under_concurrent_load(start_daemon, fake_provider: FakeProvider) -> None:  # type: ignore[no-untyped-def]
    for model in MODELS:
        fake_provider.model(model, answer=ANSWER)
    daemon = start_daemon(cascade_config(fake_provider))
    fake_provider.chaos(seed=7, faults=CHAOS)
    results: list[tuple[str, str, float, bool]] = []
    end = time.monotonic() + SECONDS

    def client(seed: int) -> None:
        rng = random.Random(seed)
        stub = daemon.stub()
        while time.monotonic() < end:
            _one(stub, rng, results)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 3 * DEADLINE_S)
    assert not any(t.is_alive() for t in threads), "a client hung"
    # Calm: the breakers close again once providers answer.
    fake_provider.chaos()
    calm_end = time.monotonic() + 3.0
    rng = random.Random(99)
    while time.monotonic() < calm_end:
        _one(daemon.stub(), rng, [])
        time.sleep(0.05)
    # Nothing half-written was cached: every cached answer is the whole answer.
    cached = 0
    for prompt in PROMPTS:
        found = daemon.stub().Lookup(
            pb.LookupRequest(messages=[pb.Message(role=pb.ROLE_USER, content=prompt)]), timeout=5
        )
        if found.hit:
            cached += 1
            assert found.entry.answer.content == ANSWER
    codes = Counter(code for _, code, _, _ in results)
    slowest = max(elapsed for _, _, elapsed, _ in results)
    print(f"chaos: {len(results)} calls in {SECONDS:.0f} s, {dict(codes)}, slowest "
          f"{slowest:.2f} s (deadline {DEADLINE_S} s), {cached} prompts cached")  # fmt: skip
    assert set(codes) <= {c.name for c in PRECISE}, codes
    assert slowest < DEADLINE_S + 0.5, "a call ran past its deadline"
    assert all(complete for *_, complete in results), "an OK answer was not the whole answer"
    # Fallback still answers under chaos. No share is asserted: calls refused while every
    # breaker is open fail in microseconds, so their count grows with the machine's speed.
    assert codes["OK"] > 0
    transitions = [(line.get("provider"), line.get("new")) for line in daemon.log_lines()
                   if line.get("event") == "circuit_breaker"]  # fmt: skip
    assert any(new == "open" for _, new in transitions), transitions
    assert any(new == "closed" for _, new in transitions), transitions


NIGHTLY = os.environ.get("SLUICE_NIGHTLY") == "1"
# The normal suite runs the scenario the old breaker failed; nightly adds the others, longer.
PARTIAL = ["one-of-two", "one-of-two+2%", "both"] if NIGHTLY else ["one-of-two+2%"]
# Issue #17's target is 99.5 %; expected here is ~99.99 % (a call fails only if both tries on
# each provider fail). The assertion leaves room for a starved 2-core runner (a deadline
# missed for CPU, not for the breakers); the exact figure is printed.
FLOOR = {"one-of-two": 0.99, "one-of-two+2%": 0.99, "both": 0.97}


@pytest.mark.parametrize("scenario", PARTIAL)
def test_a_partial_fault_does_not_become_an_outage(
    scenario: str, fake_provider: FakeProvider
) -> None:
    tally, transitions = chaos.run(
        fake_provider, scenario, clients=100, seconds=60.0 if NIGHTLY else 10.0
    )
    opened = Counter(provider for provider, new, _ in transitions if new == "open")
    print(f"partial fault {scenario}: {tally.line()}; breaker openings {dict(opened)}")
    assert set(tally.codes) <= {c.name for c in PRECISE}, tally.codes
    assert tally.incomplete == 0, "an OK answer was not the whole answer"
    assert tally.slowest_s < chaos.DEADLINE_S + 0.5, "a call ran past its deadline"
    if scenario != "both":
        # The defect itself: no call may fail because breakers were open while a provider
        # answered; a 2 % error rate opens nothing.
        assert tally.why["circuit open"] == 0, tally.why
        assert opened["an"] == 0, transitions
    assert tally.availability >= FLOOR[scenario], tally.line()
