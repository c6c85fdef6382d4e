"""The asyncio client: the same methods as `sluice_client.Client`, awaited.

    async with sluice_client.aio.Client("unix:///run/sluice/sluice.sock") as client:
        answer = await client.complete([("user", "What is a sluice?")])
        async for chunk in client.stream_complete([("user", "And a weir?")]):
            ...

Built on grpc.aio: create it inside the event loop that uses it. Errors are the same
`SluiceError` subclasses as the sync client's, with the same decoded details.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluice_client._client import (
    SERVICE_NAME,
    MessageLike,
    _complete_request,
    _invalidate_request,
    _messages,
    _store_request,
    normalize_target,
)
from sluice_client._errors import from_rpc_error
from sluice_client.v1 import sluice_pb2, sluice_pb2_grpc

T = TypeVar("T")

__all__ = ["Client"]


class Client:
    """Connection to one Sluice daemon for asyncio code; `async with` it or await close().

    `timeout` is the default deadline in seconds for each call; every method takes `timeout=`
    to override it (None there means the default, not "no deadline"). Cancelling the awaiting
    task cancels the call on the daemon too.
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
            self._channel = grpc.aio.insecure_channel(target, options=list(options))
        else:
            self._channel = grpc.aio.secure_channel(target, credentials, options=list(options))
        self._stub = sluice_pb2_grpc.SluiceStub(self._channel)
        self._health: Any = health_pb2_grpc.HealthStub(self._channel)  # no type hints shipped
        self.timeout = timeout

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def stub(self) -> sluice_pb2_grpc.SluiceStub:
        """The generated (grpc.aio) stub, for options this wrapper does not cover."""
        return self._stub

    async def _call(
        self, fn: Callable[..., Awaitable[T]], request: Any, timeout: float | None
    ) -> T:
        try:
            return await fn(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    async def complete(
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
        req = _complete_request(messages, namespace, params, cache, routing, request_id, user_id)
        return await self._call(self._stub.Complete, req, timeout)

    async def stream_complete(
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
    ) -> AsyncIterator[sluice_pb2.CompleteChunk]:
        """Yield the answer as chunks; the last one carries `summary`. The deadline covers
        the whole stream; leaving the loop early cancels the call."""
        req = _complete_request(messages, namespace, params, cache, routing, request_id, user_id)
        call: Any = self._stub.StreamComplete(
            req, timeout=self.timeout if timeout is None else timeout
        )
        try:
            async for chunk in call:
                yield chunk
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        finally:
            call.cancel()

    async def route(
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
            messages=_messages(messages), namespace=namespace, routing=routing,
            request_id=request_id, user_id=user_id,
        )  # fmt: skip
        return await self._call(self._stub.Route, req, timeout)

    async def lookup(
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
        return await self._call(self._stub.Lookup, req, timeout)

    async def store(
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
        return await self._call(self._stub.Store, req, timeout)

    async def invalidate(
        self,
        *,
        entry_id: str | None = None,
        namespace: str | None = None,
        all: bool = False,
        timeout: float | None = None,
    ) -> int:
        """Remove cache entries (exactly one target); returns how many were removed."""
        req = _invalidate_request(entry_id, namespace, all)
        return (await self._call(self._stub.Invalidate, req, timeout)).removed

    async def feedback(
        self,
        request_id: str,
        kind: sluice_pb2.FeedbackKind.ValueType,
        *,
        score: float = 0.0,
        timeout: float | None = None,
    ) -> sluice_pb2.FeedbackResponse:
        """Report the user's judgement of an earlier answer."""
        req = sluice_pb2.FeedbackRequest(request_id=request_id, kind=kind, score=score)
        return await self._call(self._stub.Feedback, req, timeout)

    async def embed(
        self, texts: Sequence[str], *, timeout: float | None = None
    ) -> sluice_pb2.EmbedResponse:
        """Embeddings of the texts with the daemon's model."""
        req = sluice_pb2.EmbedRequest(texts=list(texts))
        return await self._call(self._stub.Embed, req, timeout)

    async def stats(self, namespace: str = "", *, timeout: float | None = None) -> sluice_pb2.Stats:
        """Cache and request counters since start."""
        req = sluice_pb2.GetStatsRequest(namespace=namespace)
        return await self._call(self._stub.GetStats, req, timeout)

    async def health(self, service: str = SERVICE_NAME, *, timeout: float | None = None) -> bool:
        """True when the daemon reports SERVING for `service` ("" is the whole server)."""
        req = health_pb2.HealthCheckRequest(service=service)
        resp = await self._call(self._health.Check, req, timeout)
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)
