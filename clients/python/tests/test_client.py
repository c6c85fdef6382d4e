"""The Python client against the real daemon on a unix socket (every RPC, for real)."""

from __future__ import annotations

import datetime
import uuid

import grpc
import pytest
import sluice_client
from sluice_client import pb

Q = [("system", "You are terse."), ("user", "What is the capital of France?")]


def test_health(client: sluice_client.Client) -> None:
    assert client.health() is True
    assert client.health("") is True


def test_embed(client: sluice_client.Client) -> None:
    resp = client.embed(["a sluice gate", "a water gate"])
    assert len(resp.embeddings) == 2
    assert resp.dimensions > 0
    assert len(resp.embeddings[0].values) == resp.dimensions
    assert resp.model


def test_invalid_argument_maps_to_exception(client: sluice_client.Client) -> None:
    with pytest.raises(sluice_client.InvalidArgumentError) as info:
        client.embed([])
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_deadline_maps_to_exception(client: sluice_client.Client) -> None:
    with pytest.raises(sluice_client.DeadlineExceededError):
        client.embed(["x" * 1000] * 64, timeout=0.000_001)


def test_unreachable_daemon_is_unavailable(tmp_path: object) -> None:
    with sluice_client.Client(f"unix://{tmp_path}/nothing.sock", timeout=1) as c:
        with pytest.raises(sluice_client.UnavailableError):
            c.embed(["x"])


# ---- cache: Lookup / Store / Invalidate / GetStats
def test_store_then_lookup(client: sluice_client.Client) -> None:
    ns = f"py-{uuid.uuid4().hex[:8]}"
    conv = [("user", "How tall is the Eiffel tower?")]
    params = pb.Params(temperature=0.0)
    assert client.lookup(conv, namespace=ns, params=params).hit is False
    stored = client.store(
        conv,
        "330 metres.",
        namespace=ns,
        params=params,
        model="fake-small",
        ttl=datetime.timedelta(minutes=5),
    )
    assert stored.entry_id
    found = client.lookup(conv, namespace=ns, params=params)
    assert found.hit is True
    assert found.entry.answer.content == "330 metres."
    assert client.stats(ns).cache.stores >= 1
    assert client.invalidate(namespace=ns) == 1
    assert client.lookup(conv, namespace=ns, params=params).hit is False


# ---- request path: Complete / StreamComplete / Route / Feedback
def test_complete_against_fake_provider(client: sluice_client.Client) -> None:
    assert client.route(Q).tier == "cheap"
    resp = client.complete(Q, cache=pb.CachePolicy(skip_read=True), request_id="py-complete-1")
    assert resp.request_id == "py-complete-1"
    assert resp.message.content
    assert resp.served_by.tier == "cheap"
    assert client.feedback(resp.request_id, pb.FEEDBACK_KIND_THUMBS_UP) is not None


def test_stream_complete(client: sluice_client.Client) -> None:
    chunks = list(client.stream_complete(Q, cache=pb.CachePolicy(skip_read=True)))
    assert chunks[-1].HasField("summary")
    assert "".join(c.delta for c in chunks) == chunks[-1].summary.message.content
