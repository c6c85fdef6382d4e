"""Route and Feedback over gRPC with a bandit policy (issue #6)."""

from __future__ import annotations

import grpc
import pytest

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration


def feedback(
    daemon: Daemon, request_id: str, kind: pb.FeedbackKind.ValueType, score: float = 0.0
) -> pb.FeedbackResponse:
    request = pb.FeedbackRequest(request_id=request_id, kind=kind, score=score)
    return daemon.stub().Feedback(request, timeout=5)


def user(text: str) -> list[pb.Message]:
    return [pb.Message(role=pb.ROLE_USER, content=text)]


@pytest.fixture
def daemon(start_daemon, fake_provider: FakeProvider, tmp_path) -> Daemon:  # type: ignore[no-untyped-def]
    routing = {
        "policies": {
            "online": {"kind": "bandit", "alpha": 0.5, "cost_weight": 0.3},
            "by-rules": {"kind": "rules",
                         "rules": [{"name": "code", "regex": r"```", "tier": "premium"}]},
        },
        "default": {"policy": "online", "shadow": ["by-rules"]},
        "namespaces": {"rules": {"policy": "by-rules"}},
    }  # fmt: skip
    config = cascade_config(fake_provider, cache={"snapshot_dir": str(tmp_path / "snap")})
    config["routing"] = routing
    return start_daemon(config)  # type: ignore[no-any-return]


def test_feedback_updates_the_bandit_and_unknown_ids_are_not_found(daemon: Daemon) -> None:
    stub = daemon.stub()
    answer = stub.Complete(pb.CompleteRequest(messages=user("What is 2 + 2?")), timeout=15)
    assert answer.route.policy == "bandit"
    assert answer.route.reason.startswith("online: bandit: arm")
    reply = feedback(daemon, answer.request_id, pb.FEEDBACK_KIND_THUMBS_UP)
    assert reply.policy == "bandit"
    lines = [x for x in daemon.log_lines() if x.get("event") == "bandit_feedback"]
    assert lines
    assert lines[-1]["request_id"] == answer.request_id
    assert lines[-1]["reward"] <= 1.0
    with pytest.raises(grpc.RpcError) as missing:
        feedback(daemon, "no-such-request", pb.FEEDBACK_KIND_THUMBS_DOWN)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no recent completion" in str(missing.value.details())
    # A second judgement of the same answer is refused, and says why (it used to read as
    # an id never seen), and the bandit does not learn from it twice.
    with pytest.raises(grpc.RpcError) as twice:
        feedback(daemon, answer.request_id, pb.FEEDBACK_KIND_THUMBS_DOWN)
    assert twice.value.code() == grpc.StatusCode.NOT_FOUND
    assert "judged already" in str(twice.value.details())
    assert len([x for x in daemon.log_lines() if x.get("event") == "bandit_feedback"]) == len(lines)
    with pytest.raises(grpc.RpcError) as bad:
        feedback(daemon, answer.request_id, pb.FEEDBACK_KIND_SCORE, 2.0)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_route_returns_the_policy_decision_with_its_reason(daemon: Daemon) -> None:
    stub = daemon.stub()
    decision = stub.Route(
        pb.RouteRequest(messages=user("Fix this:\n```x = 1```"), namespace="rules"), timeout=5
    )
    assert (decision.policy, decision.tier, decision.model) == ("rules", "premium", "gpt-4o")
    assert decision.reason == "by-rules: rule code"
    assert decision.score == 1.0
    pinned = stub.Route(pb.RouteRequest(messages=user("hi"), routing=pb.RoutingHints(
        start_tier="medium")), timeout=5)  # fmt: skip
    assert (pinned.tier, pinned.policy) == ("medium", "default")
    shadowed = stub.Route(pb.RouteRequest(messages=user("```code```")), timeout=5)
    assert shadowed.policy == "bandit"
    shadow = [x for x in daemon.log_lines() if x.get("event") == "shadow_route"]
    assert shadow
    assert shadow[-1]["policy"] == "by-rules"
    assert shadow[-1]["tier"] == "premium"


def test_bandit_state_is_saved_beside_the_cache_snapshot(daemon: Daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stub = daemon.stub()
    answer = stub.Complete(pb.CompleteRequest(messages=user("Name a colour.")), timeout=15)
    feedback(daemon, answer.request_id, pb.FEEDBACK_KIND_SCORE, 0.5)
    assert daemon.stop() == 0
    assert (tmp_path / "snap" / "bandit-online.npz").is_file()
    daemon.start()
    assert any(x.get("event") == "bandit_restored" for x in daemon.log_lines())


def _ask(daemon: Daemon, text: str) -> pb.CompleteResponse:
    return daemon.stub().Complete(pb.CompleteRequest(messages=user(text)), timeout=15)


def test_thumbs_down_on_a_cache_answer_narrows_or_removes_it(
    daemon: Daemon, fake_provider: FakeProvider
) -> None:
    # Issue #18: Feedback on an answer the cache served was NOT_FOUND (only routed
    # completions were remembered), and the cache kept serving the rejected answer.
    stored = _ask(daemon, "How do I delete a file in Linux?")
    assert stored.cache.outcome == pb.CACHE_OUTCOME_MISS
    neighbour = _ask(daemon, "How can I remove a file on Linux?")
    assert neighbour.cache.outcome == pb.CACHE_OUTCOME_SEMANTIC
    calls = len(fake_provider.calls())
    assert feedback(daemon, neighbour.request_id, pb.FEEDBACK_KIND_THUMBS_DOWN).policy == "cache"
    # The neighbour is no longer served that entry (it goes to a model and is stored);
    # the entry still answers its own question.
    again = _ask(daemon, "How can I remove a file on Linux?")
    assert again.cache.outcome == pb.CACHE_OUTCOME_MISS
    assert "Feedback marked wrong" in again.cache.reason
    assert len(fake_provider.calls()) > calls
    assert _ask(daemon, "How do I delete a file in Linux?").cache.outcome == pb.CACHE_OUTCOME_EXACT
    # Judged wrong for its own question, the answer is removed: the next ask is a miss.
    _ask(daemon, "What is the capital of France?")
    own = _ask(daemon, "What is the capital of France?")
    assert own.cache.outcome == pb.CACHE_OUTCOME_EXACT
    assert feedback(daemon, own.request_id, pb.FEEDBACK_KIND_REGENERATE).policy == "cache"
    gone = _ask(daemon, "What is the capital of France?")
    assert gone.cache.outcome == pb.CACHE_OUTCOME_MISS
    # A good judgement of a cache answer is accepted and changes nothing.
    hit = _ask(daemon, "What is the capital of France?")
    assert hit.cache.outcome == pb.CACHE_OUTCOME_EXACT
    assert feedback(daemon, hit.request_id, pb.FEEDBACK_KIND_THUMBS_UP).policy == ""
    assert _ask(daemon, "What is the capital of France?").cache.outcome == pb.CACHE_OUTCOME_EXACT
    actions = [x["action"] for x in daemon.log_lines() if x.get("event") == "cache_feedback"]
    assert actions == ["narrowed", "removed", "kept"]
    logged = str(daemon.log_lines())
    assert "delete a file" not in logged
    assert "capital of France" not in logged
    metrics = daemon.metrics()
    assert 'sluice_cache_feedback_total{action="narrowed"} 1.0' in metrics
