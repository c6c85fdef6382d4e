"""Complete and StreamComplete through the real daemon against fake providers (issue #5)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc
import pytest
from google.rpc import status_pb2

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration
O = pb.AttemptOutcome  # noqa: E741 - reads as a table below


def ask(
    daemon: Daemon, text: str | None = None, timeout: float = 15, **kw: Any
) -> pb.CompleteResponse:
    question = text or f"question {uuid.uuid4().int % 10**8:08d}"
    return daemon.stub().Complete(
        pb.CompleteRequest(messages=[pb.Message(role=pb.ROLE_USER, content=question)], **kw),
        timeout=timeout,
    )


def outcomes(response: pb.CompleteResponse) -> list[tuple[str, int]]:
    return [(a.model, a.outcome) for a in response.attempts]


def error_attempts(exc: grpc.RpcError) -> list[tuple[str, int]]:
    for key, value in exc.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            details = pb.ErrorDetails()
            assert status.details[0].Unpack(details)
            return [(a.model, a.outcome) for a in details.attempts]
    return []


@pytest.fixture
def daemon(start_daemon, fake_provider: FakeProvider) -> Daemon:  # type: ignore[no-untyped-def]
    return start_daemon(cascade_config(fake_provider))  # type: ignore[no-any-return]


def test_confident_cheap_answer_is_one_call_with_costs(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    response = ask(daemon, "What is the capital of France?")
    assert response.message.content == "echo: What is the capital of France?"
    assert response.served_by.tier == "cheap"
    assert response.served_by.model == "gpt-4o-mini"
    assert outcomes(response) == [("gpt-4o-mini", O.ATTEMPT_OUTCOME_ACCEPTED)]
    assert len(fake_provider.calls("gpt-4o-mini")) == 1
    assert response.route.policy == "default"
    assert response.cache.outcome == pb.CACHE_OUTCOME_MISS
    assert 0 < response.cost_usd < response.baseline_cost_usd
    assert not response.degraded
    again = ask(daemon, "What is the capital of France?")
    assert again.cache.outcome == pb.CACHE_OUTCOME_EXACT
    assert again.cost_usd == 0
    assert again.baseline_cost_usd > 0, "a hit saves what the premium model would have cost"
    assert len(fake_provider.calls("gpt-4o-mini")) == 1


def test_low_confidence_escalates_and_records_attempts(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.model("gpt-4o-mini", logprob=-3.0)
    response = ask(daemon)
    assert outcomes(response) == [
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_LOW_CONFIDENCE),
        ("gemini-1.5-flash", O.ATTEMPT_OUTCOME_ACCEPTED),
    ]
    assert response.served_by.tier == "medium"
    assert response.attempts[0].confidence < 0.75 <= response.attempts[1].confidence
    assert response.cost_usd == pytest.approx(sum(a.cost_usd for a in response.attempts))


def test_last_tier_low_confidence_is_served_degraded_and_not_cached(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    for model in ("gpt-4o-mini", "gemini-1.5-flash", "gpt-4o"):
        fake_provider.model(model, logprob=-3.0)
    question = f"hard question {uuid.uuid4().int % 10**6:06d}"
    response = ask(daemon, question)
    assert response.degraded
    assert "confidence" in response.degraded_reason
    assert len(response.attempts) == 3
    lookup = daemon.stub().Lookup(
        pb.LookupRequest(messages=[pb.Message(role=pb.ROLE_USER, content=question)]), timeout=5
    )
    assert not lookup.hit


def test_503_falls_back_across_providers_and_the_breaker_opens_then_half_opens(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.fault(kind="server_error", status=503, model="gpt-4o-mini")
    first = ask(daemon)
    assert outcomes(first) == [
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_PROVIDER_ERROR),
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_PROVIDER_ERROR),
        ("claude-3-haiku", O.ATTEMPT_OUTCOME_ACCEPTED),
    ]
    assert first.attempts[1].retry == 1
    assert first.served_by.provider == "an"
    assert not first.degraded, "a sibling deployment of the same tier is not a downgrade"
    ask(daemon)  # the third failure of provider "oa" within the window opens its breaker
    calls_before = len(fake_provider.calls("gpt-4o-mini"))
    skipped = ask(daemon)
    assert outcomes(skipped)[0] == ("gpt-4o-mini", O.ATTEMPT_OUTCOME_CIRCUIT_OPEN)
    assert len(fake_provider.calls("gpt-4o-mini")) == calls_before, "an open breaker sends nothing"
    with __import__("urllib.request").request.urlopen(f"{daemon.http}/metrics", timeout=5) as r:
        assert 'sluice_circuit_state{provider="oa"} 2.0' in r.read().decode()
    fake_provider.reset()
    time.sleep(1.2)  # the cooldown: the breaker lets a probe through
    probe = ask(daemon)
    assert outcomes(probe) == [("gpt-4o-mini", O.ATTEMPT_OUTCOME_ACCEPTED)]


def test_429_retry_after_is_honoured(daemon: Daemon, fake_provider: FakeProvider) -> None:
    fake_provider.fault(kind="rate_limit", retry_after_s=0.6, model="gpt-4o-mini", times=1)
    started = time.monotonic()
    response = ask(daemon)
    assert time.monotonic() - started >= 0.6
    assert outcomes(response) == [
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_RATE_LIMITED),
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_ACCEPTED),
    ]


def test_429_longer_than_the_deadline_falls_back_at_once(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.fault(kind="rate_limit", retry_after_s=20, model="gpt-4o-mini")
    started = time.monotonic()
    response = ask(daemon, timeout=5)
    assert time.monotonic() - started < 3
    assert outcomes(response) == [
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_RATE_LIMITED),
        ("claude-3-haiku", O.ATTEMPT_OUTCOME_ACCEPTED),
    ]


def test_hung_provider_times_out_then_falls_back(start_daemon, fake_provider: FakeProvider) -> None:  # type: ignore[no-untyped-def]
    config = cascade_config(fake_provider)
    config["tiers"][0]["timeout_s"] = 0.4
    daemon = start_daemon(config)
    fake_provider.fault(kind="hang", model="gpt-4o-mini")
    response = ask(daemon)
    assert outcomes(response) == [
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_TIMEOUT),
        ("gpt-4o-mini", O.ATTEMPT_OUTCOME_TIMEOUT),
        ("claude-3-haiku", O.ATTEMPT_OUTCOME_ACCEPTED),
    ]


def test_every_provider_down_is_unavailable_with_the_attempts(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.fault(kind="server_error", status=503)
    with pytest.raises(grpc.RpcError) as info:
        ask(daemon)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    attempts = error_attempts(info.value)
    models = {m for m, _ in attempts}
    assert models == {"gpt-4o-mini", "claude-3-haiku", "gemini-1.5-flash", "gpt-4o"}
    assert all(o in (O.ATTEMPT_OUTCOME_PROVIDER_ERROR, O.ATTEMPT_OUTCOME_CIRCUIT_OPEN)
               for _, o in attempts)  # fmt: skip


def test_auth_failure_skips_every_model_of_that_provider(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.fault(kind="unauthorized", model="gpt-4o-mini")
    # Anthropic sends no logprobs: a hedging answer is what makes it unsure.
    fake_provider.model("claude-3-haiku", answer="I'm not sure, maybe.")
    fake_provider.model("gemini-1.5-flash", logprob=-3.0)
    response = ask(daemon)
    # oa's 401 marks the provider unusable: its premium model gpt-4o is skipped, not called.
    assert ("gpt-4o", O.ATTEMPT_OUTCOME_PROVIDER_ERROR) in outcomes(response)
    assert not fake_provider.calls("gpt-4o")


def test_budget_exhausted_rejects(start_daemon, fake_provider: FakeProvider) -> None:  # type: ignore[no-untyped-def]
    config = cascade_config(fake_provider, budgets={
        "namespaces": {"poor": {"limit_usd": 0.000001, "window_s": 3600}}})  # fmt: skip
    daemon = start_daemon(config)
    ask(daemon, namespace="poor")  # spends past the limit
    with pytest.raises(grpc.RpcError) as info:
        ask(daemon, namespace="poor")
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "budget" in info.value.details()
    assert ask(daemon, namespace="rich").served_by.tier == "cheap"


def test_budget_exhausted_serves_the_cheapest_tier_when_configured(
    start_daemon, fake_provider: FakeProvider
) -> None:  # type: ignore[no-untyped-def]
    config = cascade_config(fake_provider, budgets={
        "namespaces": {"poor": {"limit_usd": 0.000001}}, "on_exhausted": "cheapest"})  # fmt: skip
    daemon = start_daemon(config)
    ask(daemon, namespace="poor")
    response = ask(daemon, namespace="poor", routing=pb.RoutingHints(start_tier="premium"))
    assert response.served_by.tier == "cheap"
    assert response.degraded
    assert "budget" in response.degraded_reason


def test_stream_cut_mid_way_is_an_error_and_nothing_is_cached(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.fault(kind="cut_stream", after_chunks=2, model="gpt-4o")
    question = "Tell me a long story about a lighthouse keeper and the sea"
    request = pb.CompleteRequest(
        messages=[pb.Message(role=pb.ROLE_USER, content=question)],
        routing=pb.RoutingHints(pinned_model="gpt-4o"),
    )
    received: list[str] = []

    def consume() -> None:
        for chunk in daemon.stub().StreamComplete(request, timeout=15):
            received.append(chunk.delta)

    with pytest.raises(grpc.RpcError) as info:
        consume()
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "".join(received), "bytes had reached the client before the cut"
    lookup = daemon.stub().Lookup(pb.LookupRequest(messages=request.messages), timeout=5)
    assert not lookup.hit


def test_stream_escalates_before_the_first_byte(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.model("gpt-4o-mini", logprob=-3.0)
    request = pb.CompleteRequest(messages=[pb.Message(role=pb.ROLE_USER, content="stream me")])
    chunks = list(daemon.stub().StreamComplete(request, timeout=15))
    text = "".join(c.delta for c in chunks)
    summary = chunks[-1].summary
    assert text == "echo: stream me" == summary.message.content
    assert summary.served_by.model == "gemini-1.5-flash"
    assert summary.attempts[0].outcome == O.ATTEMPT_OUTCOME_LOW_CONFIDENCE
    # The same question again streams from the cache.
    again = list(daemon.stub().StreamComplete(request, timeout=15))
    assert "".join(c.delta for c in again) == text
    assert again[-1].summary.cache.outcome == pb.CACHE_OUTCOME_EXACT


def test_deadline_shorter_than_the_chain_leaves_no_call_running(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.fault(kind="hang")
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        ask(daemon, timeout=1.0)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 2.0
    deadline = time.monotonic() + 3
    while fake_provider.state()["inflight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_provider.state()["inflight"] == 0, "the daemon closed every provider call"


def test_no_tiers_configured_is_a_clear_unavailable(shared_daemon: Daemon) -> None:
    with pytest.raises(grpc.RpcError) as info:
        ask(shared_daemon)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "no model tiers are configured" in info.value.details()


def test_complete_bad_input(daemon: Daemon) -> None:
    cases = [
        ({"routing": pb.RoutingHints(pinned_model="no-such-model")}, "routing.pinned_model"),
        ({"routing": pb.RoutingHints(start_tier="gold")}, "routing.start_tier"),
        ({"params": pb.Params(temperature=3)}, "params.temperature"),
        ({"cache": pb.CachePolicy(threshold=0.2)}, "cache.threshold"),
        ({"request_id": "x" * 200}, "request_id"),
        # A cap below every model's estimate was UNAVAILABLE (retryable) before.
        ({"routing": pb.RoutingHints(max_cost_usd=1e-12)}, "routing.max_cost_usd"),
    ]
    for kwargs, field in cases:
        with pytest.raises(grpc.RpcError) as info:
            ask(daemon, **kwargs)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in info.value.details()
