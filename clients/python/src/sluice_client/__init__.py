"""Python client for the Sluice sidecar.

with sluice_client.Client("unix:///run/sluice/sluice.sock") as client:
    answer = client.complete([("user", "What is a sluice?")])

asyncio code uses `sluice_client.aio.Client`, with the same methods awaited.
"""

from sluice_client._client import SERVICE_NAME, Client, message, normalize_target
from sluice_client import aio
from sluice_client._errors import (
    DeadlineExceededError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    SluiceError,
    StatusDetails,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    decode_status,
    from_rpc_error,
)
from sluice_client.v1 import sluice_pb2 as pb

__all__ = [
    "SERVICE_NAME",
    "Client",
    "DeadlineExceededError",
    "FieldViolation",
    "InvalidArgumentError",
    "NotFoundError",
    "ResourceExhaustedError",
    "SluiceError",
    "StatusDetails",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "aio",
    "decode_status",
    "from_rpc_error",
    "message",
    "normalize_target",
    "pb",
]
