"""Domain errors in OpenAI's JSON error shape, with the matching HTTP status.

The class of a failure is decided once, by `errors.grpc_code`; this table only
gives each gRPC status code its HTTP face, so the two fronts always agree:

    gRPC code            HTTP  type                   code
    INVALID_ARGUMENT     400   invalid_request_error  invalid_value (param = the field)
    UNAUTHENTICATED      401   authentication_error   invalid_api_key
    NOT_FOUND            404   invalid_request_error  not_found (model_not_found for models)
    RESOURCE_EXHAUSTED   429   rate_limit_error       resource_exhausted (a cost budget)
    UNIMPLEMENTED        501   not_implemented_error  unimplemented
    UNAVAILABLE          503   service_unavailable    unavailable (every provider failed)
    DEADLINE_EXCEEDED    504   timeout_error          deadline_exceeded
    anything else        500   server_error           internal_error

A few classes share a gRPC code but need another HTTP face, because the OpenAI SDKs
decide from the status (and `x-should-retry`, `Retry-After`) whether to send the same
request again (openai-python `_should_retry`: 408, 409, 429 and 5xx are retried up to
twice unless `x-should-retry: false`). Looked up by class, most derived first:

    TooLarge             413   invalid_request_error  request_too_large  (a retry cannot help)
    Overloaded           429   rate_limit_error       overloaded  + Retry-After
    NotReady             503   service_unavailable    not_ready   + Retry-After (starting, draining)
    Unavailable          503   service_unavailable    unavailable + x-should-retry: false
                               (Sluice has already retried and fallen back across every provider)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import grpc
from aiohttp import web

from sluice.errors import NotFound, Overloaded, SluiceError, TooLarge, Unavailable, grpc_code


@dataclass(frozen=True, slots=True)
class HttpFace:
    status: int
    type: str
    code: str
    # Sent as `x-should-retry`; None: let the client decide from the status.
    should_retry: bool | None = None
    # Send `Retry-After` from the error's `retry_after` (seconds, default 1).
    retry_after: bool = False


class NotReady(Unavailable):
    """The sidecar is starting or draining: the same request will succeed soon."""

    retry_after = 1.0


_BY_GRPC_CODE: Final[Mapping[grpc.StatusCode, HttpFace]] = {
    grpc.StatusCode.INVALID_ARGUMENT: HttpFace(400, "invalid_request_error", "invalid_value"),
    grpc.StatusCode.UNAUTHENTICATED: HttpFace(401, "authentication_error", "invalid_api_key"),
    grpc.StatusCode.NOT_FOUND: HttpFace(404, "invalid_request_error", "not_found"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: HttpFace(429, "rate_limit_error", "resource_exhausted"),
    grpc.StatusCode.UNIMPLEMENTED: HttpFace(501, "not_implemented_error", "unimplemented"),
    grpc.StatusCode.UNAVAILABLE: HttpFace(503, "service_unavailable", "unavailable"),
    # 504, not 408: the client sent its request in time; the models did not answer in time.
    grpc.StatusCode.DEADLINE_EXCEEDED: HttpFace(504, "timeout_error", "deadline_exceeded"),
}
INTERNAL: Final = HttpFace(500, "server_error", "internal_error")
_BY_CLASS: Final[Mapping[type[SluiceError], HttpFace]] = {
    TooLarge: HttpFace(413, "invalid_request_error", "request_too_large"),
    Overloaded: HttpFace(429, "rate_limit_error", "overloaded", retry_after=True),
    NotReady: HttpFace(503, "service_unavailable", "not_ready", retry_after=True),
    Unavailable: HttpFace(503, "service_unavailable", "unavailable", should_retry=False),
}


class UnknownModel(NotFound):
    """A model name that is neither `sluice-auto` nor configured in a tier."""

    error_code = "model_not_found"

    def __init__(self, field: str, model: str, known: list[str]) -> None:
        super().__init__(f"{field}: the model {model[:128]!r} does not exist here; known: {known}")
        self.field = field


def http_face(exc: BaseException) -> HttpFace:
    for cls in type(exc).__mro__:  # the most derived class with its own face wins
        face = _BY_CLASS.get(cls)
        if face is not None:
            return face
    return _BY_GRPC_CODE.get(grpc_code(exc), INTERNAL)


def retry_headers(exc: BaseException) -> dict[str, str]:
    """What tells an OpenAI SDK whether, and when, to send the same request again."""
    face = http_face(exc)
    headers: dict[str, str] = {}
    if face.should_retry is not None:
        headers["x-should-retry"] = "true" if face.should_retry else "false"
    if face.retry_after:
        seconds = float(getattr(exc, "retry_after", None) or 1.0)
        if not math.isfinite(seconds):
            seconds = 1.0
        # Whole seconds (RFC 9110 delay-seconds); at least 1, so "0" never means "hammer".
        headers["retry-after"] = str(max(1, math.ceil(seconds)))
    return headers


def error_body(exc: SluiceError) -> dict[str, object]:
    face = http_face(exc)
    return {
        "error": {
            "message": exc.message,
            "type": face.type,
            "param": getattr(exc, "field", None),
            "code": getattr(exc, "error_code", face.code),
        }
    }


def error_response(exc: SluiceError, headers: Mapping[str, str] | None = None) -> web.Response:
    headers = {**retry_headers(exc), **(headers or {})}
    return web.json_response(error_body(exc), status=http_face(exc).status, headers=headers)


def internal_error_body(incident: str) -> dict[str, object]:
    """An unexpected failure: never a stack trace on the wire, an id to find in the log."""
    return {
        "error": {
            "message": f"internal error (incident {incident} in the sidecar's log)",
            "type": INTERNAL.type,
            "param": None,
            "code": INTERNAL.code,
        }
    }
