"""Budgets hold against another spelling of a namespace and against cancelled streams (#17).

Through the real daemon and the fake provider's real OpenAI wire protocol: a client that
cancels every stream after its first words, or that writes its namespace with a trailing
newline, must not spend past the namespace's limit by more than one request.
"""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from sluice.v1 import sluice_pb2 as pb
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration

LIMIT = 0.3
# USD per million tokens: high enough that one cut-off stream is a visible share of the limit.
PRICE = {"input": 1000.0, "output": 4000.0}
ANSWER = " ".join(["lighthouse"] * 300)


def config(fake: FakeProvider) -> dict[str, Any]:
    return {
        "providers": fake.providers(),
        "tiers": [{"name": "premium", "timeout_s": 10.0,
                   "deployments": [{"provider": "oa", "model": "gpt-4o"}]}],
        "prices": {"gpt-4o": PRICE},
        "cache": {"enabled": False},
        "budgets": {"namespaces": {"tight": {"limit_usd": LIMIT, "window_s": 3600}}},
    }  # fmt: skip


def request(namespace: str) -> pb.CompleteRequest:
    question = f"Tell me about lighthouses, please ({uuid.uuid4().int % 10**8:08d})"
    return pb.CompleteRequest(
        namespace=namespace, messages=[pb.Message(role=pb.ROLE_USER, content=question)]
    )


def test_cancelled_streams_are_billed_until_the_budget_closes(  # type: ignore[no-untyped-def]
    start_daemon, fake_provider: FakeProvider
) -> None:
    fake_provider.model("gpt-4o", answer=ANSWER)
    fake_provider.fault(kind="slow_drip", interval_ms=20)
    daemon = start_daemon(config(fake_provider))
    stub = daemon.stub()
    refused = None
    for _ in range(200):
        call = stub.StreamComplete(request("tight"), timeout=20)
        try:
            for _ in range(3):
                next(call)
        except grpc.RpcError as exc:
            refused = exc
            break
        call.cancel()
    assert refused is not None, "200 cancelled streams and the budget never closed"
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    lines = [x for x in daemon.log_lines() if x.get("event") == "request"]
    cancelled = [x for x in lines if x.get("error") == "Cancelled"]
    assert cancelled, "a cancelled stream left no log line"
    assert all(a["outcome"] == "cancelled" for x in cancelled for a in x["attempts"])
    spent = sum(x["cost_usd"] for x in cancelled)
    largest = max(x["cost_usd"] for x in cancelled)
    print(f"\n{len(cancelled)} cancelled streams billed ${spent:.4f} of a ${LIMIT} limit")
    assert LIMIT <= spent <= LIMIT + largest
    assert 'sluice_provider_calls_total{model="gpt-4o",outcome="cancelled"' in daemon.metrics()


def test_a_trailing_newline_is_not_another_namespace(  # type: ignore[no-untyped-def]
    start_daemon, fake_provider: FakeProvider
) -> None:
    daemon = start_daemon(config(fake_provider))
    with pytest.raises(grpc.RpcError) as info:
        daemon.stub().Complete(request("tight\n"), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "namespace" in (info.value.details() or "")
    assert fake_provider.calls() == []
