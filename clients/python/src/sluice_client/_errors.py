"""Errors raised by the client.

    SluiceError                 any failed call; .code is the grpc.StatusCode
    ├── InvalidArgumentError    a field is missing or out of range (.details.field names it)
    ├── ResourceExhaustedError  a size limit or a cost budget was hit
    ├── NotFoundError           an entry or request id is unknown or expired
    ├── UnavailableError        every provider failed, or the daemon is unreachable
    ├── DeadlineExceededError   the call's deadline passed
    ├── UnimplementedError      the RPC or option is not built in this daemon version
    └── UnauthenticatedError    a non-loopback listener wants a bearer token

`from_rpc_error` is the one translation table from grpc.RpcError.
"""

from __future__ import annotations

import grpc
from grpc_status import rpc_status

from sluice_client.v1 import sluice_pb2


class SluiceError(Exception):
    """A call to the daemon failed. `code` is the gRPC status, `details` the attempts made."""

    def __init__(
        self, code: grpc.StatusCode, message: str, details: sluice_pb2.ErrorDetails | None = None
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.details = details


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


def _error_details(err: grpc.RpcError) -> sluice_pb2.ErrorDetails | None:
    if not hasattr(err, "trailing_metadata"):
        return None
    status = rpc_status.from_call(err)  # type: ignore[arg-type]  # RpcErrors from calls are grpc.Call
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(sluice_pb2.ErrorDetails.DESCRIPTOR):
            out = sluice_pb2.ErrorDetails()
            detail.Unpack(out)
            return out
    return None


def from_rpc_error(err: grpc.RpcError) -> SluiceError:
    """Translate a grpc.RpcError into the matching SluiceError subclass."""
    # Errors raised by calls are also grpc.Call (code/details); others fall back to UNKNOWN.
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code: grpc.StatusCode = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    message: str = (details_fn() if callable(details_fn) else None) or str(err)
    cls = _BY_CODE.get(code, SluiceError)
    return cls(code, message, _error_details(err))
