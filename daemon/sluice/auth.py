"""Bearer-token authentication for calls that arrive over TCP (gRPC and the OpenAI front).

Who may call, by how the call arrived:

    unix socket          the socket's owner, mode and group decide (server.socket_*); no token
    TCP, no token set    only loopback addresses may be configured (config.py refuses others)
    TCP, token set       every call sends `authorization: Bearer <token>`, else UNAUTHENTICATED
                         (gRPC) or 401 in OpenAI's error shape (the front, `sluice.http`)
    grpc.health.v1       never needs the token: kubelet's gRPC probes cannot send metadata,
                         and the answer (SERVING or not) discloses nothing
    /metrics, /healthz   never need it: their own listener (server.http), for Prometheus

Loopback peers are not exempt once a token is set: a service mesh's inbound proxy
(Istio, Linkerd) hands remote calls to the pod from 127.0.0.x.
"""

from __future__ import annotations

import hmac
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

from sluice.errors import ConfigError
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.auth")
if TYPE_CHECKING:  # the stubs make it generic; at run time it is not subscriptable
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
_MISSING = "this listener requires a bearer token: send metadata 'authorization: Bearer <token>'"
_WRONG = "the bearer token is not valid for this sidecar"


def read_token(path: Path) -> str:
    """The token in `path` (white space stripped); a ConfigError names the key."""
    key = "server.auth_token_file"
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(key, f"{path} is not UTF-8 text") from None
    if len(token) < 16:
        raise ConfigError(key, f"{path}: the token must be at least 16 characters")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("auth_token_file_readable_by_others", path=str(path), mode=oct(mode & 0o777))
    return token


def _is_unix(peer: str) -> bool:
    return peer.startswith("unix:")


class BearerToken:
    """The configured token; one constant-time check for both fronts. Never logged or echoed."""

    def __init__(self, token: str) -> None:
        self._expected = f"bearer {token}".encode()

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"

    def verdict(self, header: bytes | str | None) -> bool | None:
        """An `authorization` value → True: the right token; False: a wrong one; None: none."""
        if header is None:
            return None
        # gRPC metadata may arrive as str or bytes; a header that cannot be UTF-8 is just wrong.
        raw = header if isinstance(header, bytes) else header.encode("utf-8", "replace")
        scheme, _, token = raw.partition(b" ")
        return hmac.compare_digest(scheme.lower() + b" " + token.strip(), self._expected)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """UNAUTHENTICATED for a TCP call without the right token (see the module's table)."""

    def __init__(self, token: str, metrics: Metrics | None = None) -> None:
        self._token = BearerToken(token)
        self._metrics = metrics

    def _authorized(self, metadata: Any) -> bool | None:
        """True: right token; False: a wrong one; None: none sent."""
        for key, value in metadata or ():
            if key == "authorization":
                return self._token.verdict(value)
        return None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method in HEALTH_METHODS:
            return handler
        verdict = self._authorized(handler_call_details.invocation_metadata)
        if verdict:
            return handler
        # The peer is only known to the call's context: decide there (unix peers pass).
        return _guarded(handler, method, _MISSING if verdict is None else _WRONG, self._metrics)


def _guarded(handler: Handler, method: str, reason: str, metrics: Metrics | None) -> Handler:
    async def check(context: grpc.aio.ServicerContext[Any, Any]) -> None:
        peer = context.peer()
        if _is_unix(peer):
            return
        log.warning("unauthenticated", method=method, peer=peer, reason=reason)
        if metrics is not None:
            metrics.rpc_requests.labels(method.rpartition("/")[2], "UNAUTHENTICATED").inc()
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        inner_uu: Any = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await check(context)
            return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)
    if handler.unary_stream is not None:
        inner_us: Any = handler.unary_stream

        async def unary_stream(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            await check(context)
            async for item in inner_us(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)
    if handler.stream_unary is not None:
        inner_su: Any = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await check(context)
            return await inner_su(requests, context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, **kwargs)
    inner_ss: Any = handler.stream_stream

    async def stream_stream(
        requests: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        await check(context)
        async for item in inner_ss(requests, context):
            yield item

    return grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs)
