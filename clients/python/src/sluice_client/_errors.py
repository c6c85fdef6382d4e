"""Errors raised by the client.

    SluiceError                 any failed call; .code is the grpc.StatusCode
    ├── InvalidArgumentError    a field is missing or out of range (.details.field names it)
    ├── ResourceExhaustedError  a size limit or a cost budget was hit
    ├── NotFoundError           an entry or request id is unknown or expired
    ├── UnavailableError        every provider failed, or the daemon is unreachable
    ├── DeadlineExceededError   the call's deadline passed
    ├── UnimplementedError      the RPC or option is not built in this daemon version
    └── UnauthenticatedError    a non-loopback listener wants a bearer token

`from_rpc_error` is the one translation table from grpc.RpcError (sync or grpc.aio).
Every error also carries what the daemon's standard google.rpc details say:

    .reason            google.rpc.ErrorInfo.reason, e.g. "OVERLOADED" ("" when absent)
    .metadata          google.rpc.ErrorInfo.metadata, e.g. {"request_id": ..., "field": ...}
    .field_violations  google.rpc.BadRequest: [FieldViolation(field, description), ...]
    .retry_delay       google.rpc.RetryInfo, in seconds; None when waiting does not help
    .details           sluice.v1.ErrorDetails: the attempts made, when providers were called
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

from sluice_client.v1 import sluice_pb2

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One input to fix: `field` is a dotted path such as "messages[0].role"."""

    field: str
    description: str


@dataclass(frozen=True)
class StatusDetails:
    """What the daemon attached to a failed call (grpc-status-details-bin)."""

    details: sluice_pb2.ErrorDetails | None = None
    reason: str = ""
    domain: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    field_violations: tuple[FieldViolation, ...] = ()
    retry_delay: float | None = None


class SluiceError(Exception):
    """A call to the daemon failed. `code` is the gRPC status; see the module for the rest."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: StatusDetails | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        details = details or StatusDetails()
        self.code = code
        self.message = message
        self.status_details = details
        self.details = details.details
        self.reason = details.reason
        self.metadata = details.metadata
        self.field_violations = details.field_violations
        self.retry_delay = details.retry_delay


class InvalidArgumentError(SluiceError):
    pass


class ResourceExhaustedError(SluiceError):
    pass


class NotFoundError(SluiceError):
    pass


class UnavailableError(SluiceError):
    pass


class DeadlineExceededError(SluiceError):
    pass


class UnimplementedError(SluiceError):
    pass


class UnauthenticatedError(SluiceError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[SluiceError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
}


def decode_status(status: status_pb2.Status) -> StatusDetails:
    """The typed details of a google.rpc.Status; unknown detail types are skipped."""
    ours: sluice_pb2.ErrorDetails | None = None
    info = error_details_pb2.ErrorInfo()
    violations: list[FieldViolation] = []
    delay: float | None = None
    for detail in status.details:
        if detail.Is(sluice_pb2.ErrorDetails.DESCRIPTOR):
            ours = sluice_pb2.ErrorDetails()
            detail.Unpack(ours)
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            detail.Unpack(retry)
            delay = retry.retry_delay.ToNanoseconds() / 1e9
    return StatusDetails(
        ours, info.reason, info.domain, dict(info.metadata), tuple(violations), delay
    )


def _status_details(err: grpc.RpcError) -> StatusDetails:
    # Read the trailer directly rather than through grpc_status.rpc_status.from_call: that
    # helper is sync-only (grpc.aio errors need its async twin) and raises on a mismatch.
    trailing = getattr(err, "trailing_metadata", None)
    metadata = trailing() if callable(trailing) else None
    for key, value in metadata or ():
        if key == _DETAILS_KEY and isinstance(value, bytes):
            try:
                return decode_status(status_pb2.Status.FromString(value))
            except Exception:  # noqa: BLE001 - a malformed trailer must not hide the error
                break
    return StatusDetails()


def from_rpc_error(err: grpc.RpcError) -> SluiceError:
    """Translate a grpc.RpcError into the matching SluiceError subclass."""
    # Errors raised by calls are also grpc.Call (code/details); others fall back to UNKNOWN.
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code: grpc.StatusCode = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    message: str = (details_fn() if callable(details_fn) else None) or str(err)
    cls = _BY_CODE.get(code, SluiceError)
    return cls(code, message, _status_details(err))
