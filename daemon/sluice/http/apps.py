"""The two aiohttp applications: metrics/health, and the OpenAI-compatible front.

They are served on separate listeners (server.http, server.openai) so that the port
Prometheus must reach from outside the pod never serves the front, which spends
provider money. The front's handlers live in `sluice.openai`; this module adds what
a listener needs in front of them:

    require_token     with server.auth_token_file, every front request on TCP sends
                      `Authorization: Bearer <token>` (what the OpenAI SDKs send as api_key),
                      else 401 in OpenAI's error shape; what was sent is never echoed
    read_body_in_time the request body must arrive within server.http_body_timeout_s,
                      else 408 and the connection closes (a slow upload holds nothing)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sluice.auth import BearerToken
from sluice.errors import Overloaded, TooLarge, Unauthenticated
from sluice.openai import PipelineGetter, add_routes
from sluice.openai.errors import error_body, error_response, http_face
from sluice.telemetry.logging import get_logger
from sluice.telemetry.metrics import Metrics

log = get_logger("sluice.http")


_MISSING = (
    "this endpoint requires a bearer token: send 'Authorization: Bearer <token>' "
    "(the OpenAI SDKs send their api_key so: OpenAI(api_key=<token>, base_url=...))"
)
_WRONG = "the bearer token is not valid for this sidecar"


def build_metrics_app(metrics: Metrics, is_serving: Callable[[], bool]) -> web.Application:
    """`/metrics` and `/healthz`: nothing here spends money or discloses a prompt."""

    async def metrics_handler(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        if is_serving():
            return web.json_response({"status": "SERVING"})
        return web.json_response({"status": "NOT_SERVING"}, status=503)

    # Requests here carry no body: a small cap keeps a flood of uploads cheap.
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    return app


def build_front_app(
    pipeline: PipelineGetter = lambda: None,
    *,
    max_body_bytes: int = 1024**2,
    token: BearerToken | None = None,
    body_timeout_s: float = 30.0,
) -> web.Application:
    """The OpenAI-compatible front. `pipeline` is None while loading or draining (503).

    `token` None: no token is asked for (a loopback or unix-socket listener without
    server.auth_token_file; config.py refuses an exposed one).
    """
    middlewares: list[Middleware] = []
    if token is not None:
        middlewares.append(_require_token(token))  # outermost: nothing runs before it
    middlewares.append(_read_body_in_time(body_timeout_s))
    app = web.Application(client_max_size=max_body_bytes, middlewares=middlewares)
    add_routes(app, pipeline)
    return app


def _require_token(token: BearerToken) -> Middleware:
    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        verdict = token.verdict(request.headers.get("Authorization"))
        if verdict:
            return await handler(request)
        reason = _MISSING if verdict is None else _WRONG
        log.warning("unauthenticated", path=request.path[:128], peer=request.remote, reason=reason)
        return error_response(Unauthenticated(reason), {"WWW-Authenticate": "Bearer"})

    return require_token


def _read_body_in_time(timeout_s: float) -> Middleware:
    @web.middleware
    async def read_body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                await request.read()  # kept by aiohttp: the handler's read() returns it
        except TimeoutError:
            return _early_reply(request, started, _timed_out(timeout_s))
        except web.HTTPRequestEntityTooLarge as exc:  # as the handlers word it (routes.py)
            return _early_reply(request, started, error_response(TooLarge(f"body: {exc.text}")))
        return await handler(request)

    return read_body_in_time


def _timed_out(timeout_s: float) -> web.Response:
    body = {
        "error": {
            "message": f"the request body did not arrive within {timeout_s:g} s "
            "(server.http_body_timeout_s)",
            "type": "invalid_request_error", "param": None, "code": "request_timeout",
        }
    }  # fmt: skip
    response = web.json_response(body, status=408)
    response.force_close()  # the rest of the body is never read: no next request on it
    return response


def _early_reply(request: web.Request, started: float, response: web.Response) -> web.Response:
    """A reply before any handler ran still gets the front's one log line per request."""
    log.info(
        "http", method=request.method, path=request.path[:128], status=response.status,
        ms=round((time.perf_counter() - started) * 1000, 3),
    )  # fmt: skip
    return response


def overloaded_reply(limit: int, key: str) -> bytes:
    """The raw HTTP reply for a connection over a listener's cap (nothing of it was read)."""
    exc = Overloaded(
        f"this listener ({key}) has {limit} open connections, its limit "
        "(server.http_max_connections); retry shortly", retry_after=1.0,
    )  # fmt: skip
    body = json.dumps(error_body(exc)).encode()
    status = http_face(exc).status
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
