"""One exception tree for the daemon, and one table from it to gRPC status codes.

    SluiceError                     every error the daemon raises on purpose
    ├── InvalidArgument             the caller's input is wrong; `field` names what to fix
    ├── NotFound                    an id is unknown or expired
    ├── ResourceExhausted           a cost budget was hit
    │   ├── TooLarge                a request is over a documented size limit (HTTP 413)
    │   └── Overloaded              the daemon is at a configured capacity; retry later (HTTP 429)
    ├── Unauthenticated             a listener that requires a token got none or a wrong one
    ├── Unimplemented               the feature is not built in this version
    ├── DeadlineExceeded            the request's deadline passed
    ├── Unavailable                 no provider could serve; carries the attempts made
    ├── ConfigError                 the configuration is invalid; `key` names the setting
    └── ProviderError               one provider call failed; `kind` says what may follow
        ├── ProviderTimeout
        └── RateLimited             429; `retry_after` in seconds when the provider sent one

A `ProviderError` is classified once, where the wire protocol is parsed
(`providers/`), so the cascade never inspects status codes or messages itself.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import grpc


class SluiceError(Exception):
    """Base of every error the daemon raises on purpose."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(SluiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(SluiceError):
    code = grpc.StatusCode.NOT_FOUND


class ResourceExhausted(SluiceError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class TooLarge(ResourceExhausted):
    """Over a documented size limit: retrying the same request cannot help (HTTP 413)."""


class Overloaded(ResourceExhausted):
    """A queue or connection limit is full right now; the same request may succeed later."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthenticated(SluiceError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Unimplemented(SluiceError):
    code = grpc.StatusCode.UNIMPLEMENTED


class DeadlineExceeded(SluiceError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unavailable(SluiceError):
    """Every deployment that could serve the request failed or was skipped."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, attempts: Sequence[Any] = ()) -> None:
        super().__init__(message)
        # Domain `Attempt` values (cascade.types); kept untyped here so errors
        # stays at the bottom of the import graph.
        self.attempts = tuple(attempts)


class ConfigError(SluiceError):
    """The configuration is invalid. Raised at start or reload, never per request."""

    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key {key!r}: {message}")
        self.key = key


class ProviderErrorKind(enum.Enum):
    """What the cascade may do after a failed provider call."""

    RETRYABLE = (
        "retryable"  # timeout, 429, 5xx, connection reset, malformed reply: retry, then fall back
    )
    PROVIDER_WIDE = "provider_wide"  # auth failure, outage: skip every model of this provider
    FINAL = "final"  # bad request: no other deployment will do better
    CONTEXT_LENGTH = (
        "context_length"  # prompt too long: only a model with a longer context may help
    )


class ProviderError(SluiceError):
    code = grpc.StatusCode.UNAVAILABLE

    def __init__(
        self,
        message: str,
        *,
        kind: ProviderErrorKind,
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.provider = provider
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind is ProviderErrorKind.RETRYABLE


class ProviderTimeout(ProviderError):
    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message, kind=ProviderErrorKind.RETRYABLE, provider=provider)


class RateLimited(ProviderError):
    def __init__(
        self, message: str, *, provider: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(
            message,
            kind=ProviderErrorKind.RETRYABLE,
            provider=provider,
            status=429,
            retry_after=retry_after,
        )


def grpc_code(exc: BaseException) -> grpc.StatusCode:
    """The one translation table: domain error → gRPC status code."""
    if isinstance(exc, SluiceError):
        return exc.code
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.INTERNAL
