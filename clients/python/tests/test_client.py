"""The Python client against the real daemon on a unix socket.

RPCs that this daemon build does not have yet answer UNIMPLEMENTED. For each such group there
are two tests: one checks that the wrapper maps UNIMPLEMENTED to UnimplementedError (skipped
once the RPC is live), the other uses the RPC for real (skipped, naming the issue, until then).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable

import grpc
import pytest
import sluice_client
from sluice_client import pb

Q = [("system", "You are terse."), ("user", "What is the capital of France?")]


def _needs(err: sluice_client.UnimplementedError, fallback: str) -> str:
    """The issue that builds the missing RPC, read from the daemon's UNIMPLEMENTED message."""
    text = err.message.lower()
    if "#3" in text or "cache" in text or "lookup" in text or "store" in text:
        return "needs issue #3 (cache)"
    if "#5" in text or "complete" in text or "route" in text or "feedback" in text:
        return "needs issue #5 (Complete)"
    return fallback


def _live_or_skip(call: Callable[[], object], fallback: str) -> None:
    try:
        call()
    except sluice_client.UnimplementedError as err:
        pytest.skip(_needs(err, fallback))


def _assert_unimplemented_or_skip(call: Callable[[], object]) -> None:
    try:
        call()
    except sluice_client.UnimplementedError as err:
        assert isinstance(err, sluice_client.SluiceError)
        assert err.code == grpc.StatusCode.UNIMPLEMENTED
        assert err.message
        return
    pytest.skip("the RPC is live; the real test covers it")


# ---- live now
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


# ---- cache: Lookup / Store / Invalidate / GetStats (issue #3)
def test_cache_unimplemented_is_mapped(client: sluice_client.Client) -> None:
    _assert_unimplemented_or_skip(lambda: client.lookup(Q))


def test_store_then_lookup(client: sluice_client.Client) -> None:
    ns = f"py-{uuid.uuid4().hex[:8]}"
    conv = [("user", "How tall is the Eiffel tower?")]
    _live_or_skip(lambda: client.lookup(conv, namespace=ns), "needs issue #3 (cache)")
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


# ---- request path: Complete / StreamComplete / Route / Feedback (issue #5)
def test_complete_unimplemented_is_mapped(client: sluice_client.Client) -> None:
    _assert_unimplemented_or_skip(lambda: client.complete(Q))


def test_stream_unimplemented_is_mapped(client: sluice_client.Client) -> None:
    _assert_unimplemented_or_skip(lambda: list(client.stream_complete(Q)))


def test_complete_against_fake_provider(client: sluice_client.Client) -> None:
    _live_or_skip(lambda: client.route(Q), "needs issue #5 (Complete)")
    resp = client.complete(Q, cache=pb.CachePolicy(skip_read=True), request_id="py-complete-1")
    assert resp.request_id == "py-complete-1"
    assert resp.message.content
    assert resp.served_by.tier == "cheap"
    assert client.feedback(resp.request_id, pb.FEEDBACK_KIND_THUMBS_UP) is not None


def test_stream_complete(client: sluice_client.Client) -> None:
    _live_or_skip(lambda: list(client.stream_complete(Q)), "needs issue #5 (Complete)")
    chunks = list(client.stream_complete(Q, cache=pb.CachePolicy(skip_read=True)))
    assert chunks[-1].HasField("summary")
    assert "".join(c.delta for c in chunks) == chunks[-1].summary.message.content
