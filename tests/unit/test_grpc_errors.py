"""The gRPC edge of the exception tree (issue #22): codes, google.rpc details, no grpc below."""

from __future__ import annotations

import ast
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

import sluice.errors
from sluice.errors import (
    ConfigError,
    InvalidArgument,
    NotFound,
    NotReady,
    Overloaded,
    ResourceExhausted,
    SluiceError,
    TooLarge,
    Unavailable,
)
from sluice.grpc_errors import DOMAIN, grpc_code, rich_status


def _decode(status: grpc.Status) -> status_pb2.Status:
    ((key, value),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    return status_pb2.Status.FromString(value)


def _retry_delay(decoded: status_pb2.Status) -> float | None:
    for detail in decoded.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


@pytest.mark.parametrize(
    ("exc", "code", "reason", "delay"),
    [
        (InvalidArgument("ttl", "negative"), grpc.StatusCode.INVALID_ARGUMENT,
         "INVALID_ARGUMENT", None),
        (NotFound("entry x"), grpc.StatusCode.NOT_FOUND, "NOT_FOUND", None),
        (ResourceExhausted("budget of a"), grpc.StatusCode.RESOURCE_EXHAUSTED,
         "BUDGET_EXHAUSTED", None),
        (TooLarge("texts: 300 > 256"), grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_LARGE", None),
        (Overloaded("queue full", retry_after=2.5), grpc.StatusCode.RESOURCE_EXHAUSTED,
         "OVERLOADED", 2.5),
        (Unavailable("every provider failed"), grpc.StatusCode.UNAVAILABLE,
         "PROVIDERS_UNAVAILABLE", None),
        (NotReady("starting"), grpc.StatusCode.UNAVAILABLE, "NOT_READY", 1.0),
        (ConfigError("tiers", "empty"), grpc.StatusCode.FAILED_PRECONDITION,
         "CONFIG_INVALID", None),
    ],
)  # fmt: skip
def test_each_error_has_its_code_reason_and_retry_delay(
    exc: SluiceError, code: grpc.StatusCode, reason: str, delay: float | None
) -> None:
    status = rich_status(exc, "r-1")
    assert (status.code, status.details) == (code, exc.message)
    decoded = _decode(status)
    assert (decoded.code, decoded.message) == (code.value[0], exc.message)
    infos = [d for d in decoded.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    (packed,) = infos
    info = error_details_pb2.ErrorInfo()
    packed.Unpack(info)
    assert (info.reason, info.domain, info.metadata["request_id"]) == (reason, DOMAIN, "r-1")
    assert _retry_delay(decoded) == delay


def test_unexpected_exceptions_are_internal_and_timeouts_deadlines() -> None:
    assert grpc_code(RuntimeError("bug")) is grpc.StatusCode.INTERNAL
    assert grpc_code(TimeoutError()) is grpc.StatusCode.DEADLINE_EXCEEDED


def test_the_errors_module_knows_no_transport() -> None:
    tree = ast.parse(Path(sluice.errors.__file__).read_text(encoding="utf-8"))
    imported = {
        name.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not imported & {"grpc", "aiohttp", "google"}, imported
