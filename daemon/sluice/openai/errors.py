"""Domain errors in OpenAI's JSON error shape, with the matching HTTP status.

The HTTP edge of the exception tree in `errors.py` (grpc_errors.py is the gRPC
one; the two tables list the same classes, so the two fronts always agree).
Looked up by class, most derived first:

    domain error         HTTP  type                   code
    InvalidArgument      400   invalid_request_error  invalid_value (param = the field)
    Unauthenticated      401   authentication_error   invalid_api_key
    NotFound             404   invalid_request_error  not_found (model_not_found for models)
    ResourceExhausted    429   rate_limit_error       resource_exhausted (a cost budget)
    Unavailable          503   service_unavailable    unavailable (every provider failed)
    ProviderError        503   service_unavailable    unavailable
    DeadlineExceeded     504   timeout_error          deadline_exceeded (and TimeoutError)
    ConfigError          500   server_error           internal_error
    anything else        500   server_error           internal_error

A few subclasses need another HTTP face than their parent, because the OpenAI SDKs
decide from the status (and `x-should-retry`, `Retry-After`) whether to send the same
request again (openai-python `_should_retry`: 408, 409, 429 and 5xx are retried up to
twice unless `x-should-retry: false`):

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

from aiohttp import web

from sluice.errors import (
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    NotReady,
    Overloaded,
    ProviderError,
    ResourceExhausted,
    SluiceError,
    TooLarge,
    Unauthenticated,
    Unavailable,
)

# NotReady lives in errors.py (the gRPC front raises it too); re-exported for this front.
__all__ = [
    "INTERNAL",
    "HttpFace",
    "NotReady",
    "UnknownModel",
    "error_body",
    "error_response",
    "http_face",
    "internal_error_body",
    "retry_headers",
]


@dataclass(frozen=True, slots=True)
class HttpFace:
    status: int
    type: str
    code: str
    # Sent as `x-should-retry`; None: let the client decide from the status.
    should_retry: bool | None = None
    # Send `Retry-After` from the error's `retry_after` (seconds, default 1).
    retry_after: bool = False


_DEADLINE: Final = HttpFace(504, "timeout_error", "deadline_exceeded")
INTERNAL: Final = HttpFace(500, "server_error", "internal_error")
_BY_CLASS: Final[Mapping[type[BaseException], HttpFace]] = {
    InvalidArgument: HttpFace(400, "invalid_request_error", "invalid_value"),
    Unauthenticated: HttpFace(401, "authentication_error", "invalid_api_key"),
    NotFound: HttpFace(404, "invalid_request_error", "not_found"),
    ResourceExhausted: HttpFace(429, "rate_limit_error", "resource_exhausted"),
    ProviderError: HttpFace(503, "service_unavailable", "unavailable"),
    # 504, not 408: the client sent its request in time; the models did not answer in time.
    DeadlineExceeded: _DEADLINE,
    TimeoutError: _DEADLINE,
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
    return INTERNAL


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
            "param": exc.field or None,
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
