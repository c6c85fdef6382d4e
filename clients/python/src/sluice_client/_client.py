"""A thin, synchronous wrapper over the generated sluice.v1 stubs.

It adds what every caller would otherwise write: target parsing (unix socket or host:port),
a default deadline, message helpers and one exception type per status code. Everything the
daemon decides (caching, routing, validation) stays in the daemon.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice_client._errors import from_rpc_error
from sluice_client.v1 import sluice_pb2, sluice_pb2_grpc

T = TypeVar("T")
MessageLike = sluice_pb2.Message | tuple[str, str]

SERVICE_NAME = "sluice.v1.Sluice"
_ROLES = {
    "system": sluice_pb2.ROLE_SYSTEM,
    "user": sluice_pb2.ROLE_USER,
    "assistant": sluice_pb2.ROLE_ASSISTANT,
    "tool": sluice_pb2.ROLE_TOOL,
}


def message(role: str, content: str, name: str = "") -> sluice_pb2.Message:
    """Build a chat message; role is "system", "user", "assistant" or "tool"."""
    return sluice_pb2.Message(role=_ROLES[role], content=content, name=name)


def _messages(items: Iterable[MessageLike]) -> list[sluice_pb2.Message]:
    return [m if isinstance(m, sluice_pb2.Message) else message(*m) for m in items]


def _duration(ttl: datetime.timedelta | None) -> duration_pb2.Duration | None:
    if ttl is None:
        return None
    out = duration_pb2.Duration()
    out.FromTimedelta(ttl)
    return out


def normalize_target(target: str) -> str:
    """'/run/s.sock' and 'unix:///run/s.sock' mean a unix socket; anything else is host:port."""
    if target.startswith("/"):
        return "unix://" + target
    return target


def _complete_request(
    messages: Iterable[MessageLike],
    namespace: str,
    params: sluice_pb2.Params | None,
    cache: sluice_pb2.CachePolicy | None,
    routing: sluice_pb2.RoutingHints | None,
    request_id: str,
    user_id: str,
) -> sluice_pb2.CompleteRequest:
    """The one request Complete and StreamComplete share."""
    return sluice_pb2.CompleteRequest(
        messages=_messages(messages),
        namespace=namespace,
        params=params,
        cache=cache,
        routing=routing,
        request_id=request_id,
        user_id=user_id,
    )


def _store_request(
    messages: Iterable[MessageLike],
    answer: str | sluice_pb2.Message,
    namespace: str,
    params: sluice_pb2.Params | None,
    finish_reason: str,
    usage: sluice_pb2.Usage | None,
    model: str,
    ttl: datetime.timedelta | None,
) -> sluice_pb2.StoreRequest:
    """The Store request of both clients (a plain-string answer is the assistant's)."""
    if isinstance(answer, str):
        answer = message("assistant", answer)
    return sluice_pb2.StoreRequest(
        messages=_messages(messages),
        namespace=namespace,
        params=params,
        answer=answer,
        finish_reason=finish_reason,
        usage=usage,
        model=model,
        ttl=_duration(ttl),
    )


def _invalidate_request(
    entry_id: str | None, namespace: str | None, all: bool
) -> sluice_pb2.InvalidateRequest:
    """The Invalidate request of both clients: the first target given wins."""
    if entry_id is not None:
        return sluice_pb2.InvalidateRequest(entry_id=entry_id)
    if namespace is not None:
        return sluice_pb2.InvalidateRequest(namespace=namespace)
    return sluice_pb2.InvalidateRequest(all=all)


class Client:
    """Connection to one Sluice daemon. Thread-safe; use as a context manager or call close().

    `timeout` is the default deadline in seconds for each call; every method takes `timeout=`
    to override it (None there means the default, not "no deadline").
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 30.0,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        target = normalize_target(target)
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=list(options))
        else:
            self._channel = grpc.secure_channel(target, credentials, options=list(options))
        self._stub = sluice_pb2_grpc.SluiceStub(self._channel)
        # grpc_health ships no type hints, hence Any.
        self._health: Any = health_pb2_grpc.HealthStub(self._channel)
        self.timeout = timeout

    # ---- lifecycle
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stub(self) -> sluice_pb2_grpc.SluiceStub:
        """The generated stub, for options this wrapper does not cover (errors are not mapped)."""
        return self._stub

    def _call(self, fn: Callable[..., T], request: Any, timeout: float | None) -> T:
        try:
            return fn(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    # ---- RPCs
    def complete(
        self,
        messages: Iterable[MessageLike],
        *,
        namespace: str = "",
        params: sluice_pb2.Params | None = None,
        cache: sluice_pb2.CachePolicy | None = None,
        routing: sluice_pb2.RoutingHints | None = None,
        request_id: str = "",
        user_id: str = "",
        timeout: float | None = None,
    ) -> sluice_pb2.CompleteResponse:
        """Answer a conversation (cache, then routing and cascade)."""
        req = _complete_request(
            messages, namespace, params, cache, routing, request_id, user_id
        )
        return self._call(self._stub.Complete, req, timeout)

    def stream_complete(
        self,
        messages: Iterable[MessageLike],
        *,
        namespace: str = "",
        params: sluice_pb2.Params | None = None,
        cache: sluice_pb2.CachePolicy | None = None,
        routing: sluice_pb2.RoutingHints | None = None,
        request_id: str = "",
        user_id: str = "",
        timeout: float | None = None,
    ) -> Iterator[sluice_pb2.CompleteChunk]:
        """Yield the answer as chunks; the last one carries `summary`. The deadline covers
        the whole stream. Breaking out of the loop cancels the call."""
        req = _complete_request(
            messages, namespace, params, cache, routing, request_id, user_id
        )
        call = self._stub.StreamComplete(req, timeout=self.timeout if timeout is None else timeout)
        try:
            yield from call
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    def route(
        self,
        messages: Iterable[MessageLike],
        *,
        namespace: str = "",
        routing: sluice_pb2.RoutingHints | None = None,
        request_id: str = "",
        user_id: str = "",
        timeout: float | None = None,
    ) -> sluice_pb2.RouteDecision:
        """The routing decision alone; nothing is called or cached."""
        req = sluice_pb2.RouteRequest(
            messages=_messages(messages),
            namespace=namespace,
            routing=routing,
            request_id=request_id,
            user_id=user_id,
        )
        return self._call(self._stub.Route, req, timeout)

    def lookup(
        self,
        messages: Iterable[MessageLike],
        *,
        namespace: str = "",
        params: sluice_pb2.Params | None = None,
        threshold: float | None = None,
        timeout: float | None = None,
    ) -> sluice_pb2.LookupResponse:
        """Query the cache only; a miss is `hit == False`, not an error."""
        req = sluice_pb2.LookupRequest(
            messages=_messages(messages), namespace=namespace, params=params, threshold=threshold
        )
        return self._call(self._stub.Lookup, req, timeout)

    def store(
        self,
        messages: Iterable[MessageLike],
        answer: str | sluice_pb2.Message,
        *,
        namespace: str = "",
        params: sluice_pb2.Params | None = None,
        finish_reason: str = "stop",
        usage: sluice_pb2.Usage | None = None,
        model: str = "",
        ttl: datetime.timedelta | None = None,
        timeout: float | None = None,
    ) -> sluice_pb2.StoreResponse:
        """Put an answer into the cache for this conversation."""
        req = _store_request(
            messages, answer, namespace, params, finish_reason, usage, model, ttl
        )
        return self._call(self._stub.Store, req, timeout)

    def invalidate(
        self,
        *,
        entry_id: str | None = None,
        namespace: str | None = None,
        all: bool = False,
        timeout: float | None = None,
    ) -> int:
        """Remove cache entries (exactly one target); returns how many were removed."""
        req = _invalidate_request(entry_id, namespace, all)
        return self._call(self._stub.Invalidate, req, timeout).removed

    def feedback(
        self,
        request_id: str,
        kind: sluice_pb2.FeedbackKind.ValueType,
        *,
        score: float = 0.0,
        timeout: float | None = None,
    ) -> sluice_pb2.FeedbackResponse:
        """Report the user's judgement of an earlier answer."""
        req = sluice_pb2.FeedbackRequest(request_id=request_id, kind=kind, score=score)
        return self._call(self._stub.Feedback, req, timeout)

    def embed(
        self, texts: Sequence[str], *, timeout: float | None = None
    ) -> sluice_pb2.EmbedResponse:
        """Embeddings of 1..256 texts with the daemon's model."""
        return self._call(self._stub.Embed, sluice_pb2.EmbedRequest(texts=list(texts)), timeout)

    def stats(self, namespace: str = "", *, timeout: float | None = None) -> sluice_pb2.Stats:
        """Cache and request counters since start."""
        req = sluice_pb2.GetStatsRequest(namespace=namespace)
        return self._call(self._stub.GetStats, req, timeout)

    def health(self, service: str = SERVICE_NAME, *, timeout: float | None = None) -> bool:
        """True when the daemon reports SERVING for `service` ("" is the whole server)."""
        req = health_pb2.HealthCheckRequest(service=service)
        resp = self._call(self._health.Check, req, timeout)
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)
