"""One exception tree for the daemon, free of transport types.

    SluiceError                     every error the daemon raises on purpose
    ├── InvalidArgument             the caller's input is wrong; `field` names what to fix
    ├── NotFound                    an id is unknown or expired
    ├── ResourceExhausted           a cost budget was hit
    │   ├── TooLarge                a request is over a documented size limit (HTTP 413)
    │   └── Overloaded              the daemon is at a configured capacity; retry later (HTTP 429)
    ├── Unauthenticated             a listener that requires a token got none or a wrong one
    ├── DeadlineExceeded            the request's deadline passed
    ├── Unavailable                 no provider could serve; carries the attempts made
    │   └── NotReady                the sidecar is starting or draining; retry shortly
    ├── ConfigError                 the configuration is invalid; `key` names the setting
    └── ProviderError               one provider call failed; `kind` says what may follow
        ├── ProviderTimeout
        └── RateLimited             429; `retry_after` in seconds when the provider sent one

A `ProviderError` is classified once, where the wire protocol is parsed
(`providers/`), so the cascade never inspects status codes or messages itself.

Each front maps this tree once, at its edge: `grpc_errors.py` to gRPC status
codes and google.rpc details, `openai/errors.py` to HTTP statuses and OpenAI's
JSON error shape. What both need is here as plain attributes: `reason` (a
stable UPPER_SNAKE_CASE cause for machines), `field` (what to fix),
`retry_after` (seconds until the same request may succeed) and `attempts`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any


class SluiceError(Exception):
    """Base of every error the daemon raises on purpose."""

    # A stable cause for machines (google.rpc.ErrorInfo.reason), UPPER_SNAKE_CASE.
    reason: str = "INTERNAL"
    # The input to fix, as a dotted path ("messages[2].role"); "" when not the caller's input.
    field: str = ""
    # Seconds until the same request may succeed; None when waiting does not help.
    retry_after: float | None = None
    # Domain `Attempt` values (cascade.types) made before the failure; kept untyped here
    # so errors stays at the bottom of the import graph.
    attempts: tuple[Any, ...] = ()

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(SluiceError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(SluiceError):
    reason = "NOT_FOUND"


class ResourceExhausted(SluiceError):
    """A namespace's cost budget is spent (budget.on_exhausted: reject)."""

    reason = "BUDGET_EXHAUSTED"


class TooLarge(ResourceExhausted):
    """Over a documented size limit: retrying the same request cannot help (HTTP 413)."""

    reason = "TOO_LARGE"


class Overloaded(ResourceExhausted):
    """A queue or connection limit is full right now; the same request may succeed later."""

    reason = "OVERLOADED"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthenticated(SluiceError):
    reason = "UNAUTHENTICATED"


class DeadlineExceeded(SluiceError):
    reason = "DEADLINE_EXCEEDED"


class Unavailable(SluiceError):
    """Every deployment that could serve the request failed or was skipped."""

    reason = "PROVIDERS_UNAVAILABLE"

    def __init__(self, message: str, attempts: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)


class NotReady(Unavailable):
    """The sidecar is starting (loading the model) or draining: the same request succeeds soon."""

    reason = "NOT_READY"
    retry_after = 1.0


class ConfigError(SluiceError):
    """The configuration is invalid. Raised at start or reload, never per request."""

    reason = "CONFIG_INVALID"

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
    reason = "PROVIDER_ERROR"

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
