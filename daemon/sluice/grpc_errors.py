"""The gRPC edge of the exception tree: one table to status codes, and the rich status.

    domain error        gRPC code             google.rpc details (after sluice.v1.ErrorDetails)
    InvalidArgument     INVALID_ARGUMENT      ErrorInfo, BadRequest (the field to fix)
    NotFound            NOT_FOUND             ErrorInfo
    ResourceExhausted   RESOURCE_EXHAUSTED    ErrorInfo (+ RetryInfo for Overloaded)
    Unauthenticated     UNAUTHENTICATED       ErrorInfo
    DeadlineExceeded    DEADLINE_EXCEEDED     ErrorInfo
    Unavailable         UNAVAILABLE           ErrorInfo (+ RetryInfo for NotReady)
    ConfigError         FAILED_PRECONDITION   ErrorInfo
    ProviderError       UNAVAILABLE           ErrorInfo (+ RetryInfo when the provider sent one)
    anything else       INTERNAL              none: a bug, with an incident id in the message

RetryInfo goes with an error whose `retry_after` is set, i.e. only when waiting
helps. `sluice.v1.ErrorDetails` stays the first detail (clients built before the
standard details read `details[0]`); it is attached, as before, when there are
attempts or a field to report. Generic gRPC tooling (grpc-gateway, Envoy, the
`grpc_status` helpers of each language) reads the standard ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from sluice import convert
from sluice.errors import (
    ConfigError,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    ProviderError,
    ResourceExhausted,
    SluiceError,
    Unauthenticated,
    Unavailable,
)
from sluice.v1 import sluice_pb2 as pb

# ErrorInfo.domain: names the service that produced the reason (google.rpc's convention is
# the service's DNS name; "sluice.dev" is this project's, whatever host the sidecar runs on).
DOMAIN: Final = "sluice.dev"

_CODES: Final[Mapping[type[BaseException], grpc.StatusCode]] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
    ProviderError: grpc.StatusCode.UNAVAILABLE,
    TimeoutError: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def grpc_code(exc: BaseException) -> grpc.StatusCode:
    """The one translation table: domain error → gRPC status code (most derived class wins)."""
    for cls in type(exc).__mro__:
        code = _CODES.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def rich_status(exc: SluiceError, request_id: str = "") -> grpc.Status:
    """The status to abort with: code, message and every detail, in grpc-status-details-bin."""
    code = grpc_code(exc)
    details = [_pack(d) for d in _details(exc, request_id)]
    status = status_pb2.Status(code=code.value[0], message=exc.message, details=details)
    return rpc_status.to_status(status)


def _details(exc: SluiceError, request_id: str) -> Sequence[Message]:
    out: list[Message] = []
    if exc.attempts or exc.field:
        out.append(
            pb.ErrorDetails(
                request_id=request_id, attempts=convert.attempts_to_pb(exc.attempts),
                field=exc.field,
            )
        )  # fmt: skip
    metadata = {"request_id": request_id, "field": exc.field}
    out.append(
        error_details_pb2.ErrorInfo(
            reason=exc.reason, domain=DOMAIN, metadata={k: v for k, v in metadata.items() if v}
        )
    )
    if exc.field and grpc_code(exc) is grpc.StatusCode.INVALID_ARGUMENT:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=exc.field, description=_description(exc)
        )
        out.append(error_details_pb2.BadRequest(field_violations=[violation]))
    delay = _retry_delay(exc.retry_after)
    if delay is not None:
        info = error_details_pb2.RetryInfo()
        info.retry_delay.FromNanoseconds(round(delay * 1e9))
        out.append(info)
    return out


def _description(exc: SluiceError) -> str:
    """The message without its "field: " prefix (the violation names the field already)."""
    prefix = f"{exc.field}: "
    return exc.message.removeprefix(prefix)


def _retry_delay(seconds: float | None) -> float | None:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    # At least a millisecond, so a delay of 0 never reads as "retry in a tight loop".
    return max(seconds, 0.001)


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
