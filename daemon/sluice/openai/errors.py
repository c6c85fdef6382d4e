"""Domain errors in OpenAI's JSON error shape, with the matching HTTP status.

The class of a failure is decided once, by `errors.grpc_code`; this table only
gives each gRPC status code its HTTP face, so the two fronts always agree:

    gRPC code            HTTP  type                   code
    INVALID_ARGUMENT     400   invalid_request_error  invalid_value (param = the field)
    UNAUTHENTICATED      401   authentication_error   invalid_api_key
    NOT_FOUND            404   invalid_request_error  not_found (model_not_found for models)
    RESOURCE_EXHAUSTED   429   rate_limit_error       resource_exhausted (budget, size limits)
    UNIMPLEMENTED        501   not_implemented_error  unimplemented
    UNAVAILABLE          503   service_unavailable    unavailable (every provider failed; starting)
    DEADLINE_EXCEEDED    504   timeout_error          deadline_exceeded
    anything else        500   server_error           internal_error
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import grpc
from aiohttp import web

from sluice.errors import NotFound, SluiceError, grpc_code


@dataclass(frozen=True, slots=True)
class HttpFace:
    status: int
    type: str
    code: str


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


class UnknownModel(NotFound):
    """A model name that is neither `sluice-auto` nor configured in a tier."""

    error_code = "model_not_found"

    def __init__(self, field: str, model: str, known: list[str]) -> None:
        super().__init__(f"{field}: the model {model[:128]!r} does not exist here; known: {known}")
        self.field = field


def http_face(exc: BaseException) -> HttpFace:
    return _BY_GRPC_CODE.get(grpc_code(exc), INTERNAL)


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
