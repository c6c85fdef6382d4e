"""Standard google.rpc details next to ours, and Stats.requests, from a real daemon (issue #22)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration


def _user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=text)


def _status(exc: grpc.RpcError) -> status_pb2.Status:
    for key, value in exc.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("no grpc-status-details-bin in the trailers")


def _find(status: status_pb2.Status, message_type: type) -> list:  # type: ignore[type-arg]
    found = []
    for detail in status.details:
        message = message_type()
        if detail.Unpack(message):
            found.append(message)
    return found


@pytest.fixture
def daemon(start_daemon, fake_provider: FakeProvider) -> Daemon:  # type: ignore[no-untyped-def]
    return start_daemon(cascade_config(fake_provider))  # type: ignore[no-any-return]


def test_invalid_argument_carries_bad_request_and_error_info(daemon: Daemon) -> None:
    request = pb.CompleteRequest(
        messages=[pb.Message(role=pb.ROLE_UNSPECIFIED, content="hi")], request_id="bad-1"
    )
    with pytest.raises(grpc.RpcError) as info:
        daemon.stub().Complete(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = _status(info.value)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == info.value.details()
    # Ours first: clients built before the standard details read details[0].
    ours = pb.ErrorDetails()
    assert status.details[0].Unpack(ours)
    (bad,) = _find(status, error_details_pb2.BadRequest)
    (violation,) = bad.field_violations
    assert violation.field == ours.field == "messages[0].role"
    assert violation.description
    assert not violation.description.startswith("messages[0].role")
    (error_info,) = _find(status, error_details_pb2.ErrorInfo)
    assert error_info.reason == "INVALID_ARGUMENT"
    assert error_info.domain == "sluice.dev"
    assert error_info.metadata["field"] == "messages[0].role"
    assert error_info.metadata["request_id"] == "bad-1"
    assert not _find(status, error_details_pb2.RetryInfo), "a retry cannot fix bad input"


def test_unavailable_carries_attempts_and_a_reason_but_no_retry_delay(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.fault(kind="server_error", status=503)
    with pytest.raises(grpc.RpcError) as info:
        daemon.stub().Complete(pb.CompleteRequest(messages=[_user("down?")]), timeout=20)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    status = _status(info.value)
    ours = pb.ErrorDetails()
    assert status.details[0].Unpack(ours)
    assert len(ours.attempts) >= 3
    (error_info,) = _find(status, error_details_pb2.ErrorInfo)
    assert (error_info.reason, error_info.domain) == ("PROVIDERS_UNAVAILABLE", "sluice.dev")
    # The caller sent no id: the details carry the generated one, which the log line has too.
    assert ours.request_id
    assert error_info.metadata["request_id"] == ours.request_id
    logged = [x for x in daemon.log_lines() if x.get("request_id") == ours.request_id]
    assert logged, "the id in the details finds the request's log line"
    # Sluice already retried and fell back across every deployment: no RetryInfo.
    assert not _find(status, error_details_pb2.RetryInfo)
    assert not _find(status, error_details_pb2.BadRequest)


def test_not_found_has_error_info_only(daemon: Daemon) -> None:
    request = pb.FeedbackRequest(request_id="never-seen", kind=pb.FEEDBACK_KIND_THUMBS_UP)
    with pytest.raises(grpc.RpcError) as info:
        daemon.stub().Feedback(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    status = _status(info.value)
    assert [d.type_url.rsplit("/", 1)[-1] for d in status.details] == ["google.rpc.ErrorInfo"]


def test_stats_requests_counts_completions_per_namespace(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    stub = daemon.stub()
    question = f"capital of France {uuid.uuid4().int % 10**6:06d}"
    stub.Complete(pb.CompleteRequest(messages=[_user(question)], namespace="a"), timeout=15)
    hit = stub.Complete(pb.CompleteRequest(messages=[_user(question)], namespace="a"), timeout=15)
    assert hit.cache.outcome == pb.CACHE_OUTCOME_EXACT
    fake_provider.model("gpt-4o-mini", logprob=-3.0)  # low confidence: one escalation
    escalated = stub.Complete(pb.CompleteRequest(messages=[_user("other")], namespace="b"))
    assert escalated.served_by.tier == "medium"
    fake_provider.fault(kind="server_error", status=503)
    with pytest.raises(grpc.RpcError):
        stub.Complete(pb.CompleteRequest(messages=[_user("fails")], namespace="b"), timeout=20)
    # Rejected before the cache: not a request the path served, so not counted.
    with pytest.raises(grpc.RpcError):
        stub.Complete(pb.CompleteRequest(namespace="b"), timeout=10)

    a = stub.GetStats(pb.GetStatsRequest(namespace="a"), timeout=5).requests
    assert (a.requests, a.errors, a.escalations) == (2, 0, 0)
    assert a.cost_usd > 0
    assert a.baseline_cost_usd > a.cost_usd, "the hit saved a call"
    b = stub.GetStats(pb.GetStatsRequest(namespace="b"), timeout=5).requests
    assert (b.requests, b.errors, b.escalations) == (2, 1, 1)
    assert b.fallbacks >= 1, "the failing request moved across deployments"
    everything = stub.GetStats(pb.GetStatsRequest(), timeout=5).requests
    assert everything.requests == 4
    assert everything.errors == 1
    assert everything.cost_usd == pytest.approx(a.cost_usd + b.cost_usd)
