"""RouteDecision.provider names the deployment the cascade will try first (issue #22)."""

from __future__ import annotations

import uuid

import pytest

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration


def _request(text: str) -> list[pb.Message]:
    return [pb.Message(role=pb.ROLE_USER, content=text)]


def test_route_skips_a_deployment_whose_breaker_is_open(
    start_daemon, fake_provider: FakeProvider
) -> None:  # type: ignore[no-untyped-def]
    breaker = {"failure_rate": 0.5, "minimum_calls": 3, "window_s": 60, "cooldown_s": 60}
    daemon: Daemon = start_daemon(cascade_config(fake_provider, cascade={"breaker": breaker}))
    stub = daemon.stub()
    before = stub.Route(pb.RouteRequest(messages=_request("hello")), timeout=10)
    assert (before.tier, before.provider, before.model) == ("cheap", "oa", "gpt-4o-mini")

    fake_provider.fault(kind="server_error", status=503, model="gpt-4o-mini")
    for _ in range(2):  # three failures of provider "oa" open its breaker
        stub.Complete(pb.CompleteRequest(messages=_request(uuid.uuid4().hex)), timeout=20)
    skipped = stub.Complete(pb.CompleteRequest(messages=_request(uuid.uuid4().hex)), timeout=20)
    assert skipped.attempts[0].outcome == pb.ATTEMPT_OUTCOME_CIRCUIT_OPEN

    after = stub.Route(pb.RouteRequest(messages=_request("hello")), timeout=10)
    assert (after.tier, after.provider, after.model) == ("cheap", "an", "claude-3-haiku")
    assert (skipped.route.provider, skipped.served_by.provider) == ("an", "an")
    pinned = stub.Route(
        pb.RouteRequest(messages=_request("hello"), routing=pb.RoutingHints(start_tier="premium")),
        timeout=10,
    )
    # Every deployment of the tier is behind an open breaker: the first is named (the
    # cascade tries it anyway, in panic).
    assert (pinned.provider, pinned.model) == ("oa", "gpt-4o")
