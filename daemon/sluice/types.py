"""Values that cross module borders: frozen, typed, and free of wire formats.

The service translates protobuf messages into these; everything below the
service (pipeline, cache, routing, cascade, providers) speaks only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant", "tool"]
# The rules that may refuse a semantic cache candidate before the verifier's model runs
# (cache.verifier.order_guard, number_guard, substitution_guard); they only ever refuse.
Guard = Literal["order_guard", "number_guard", "substitution_guard"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class GenParams:
    """Model-visible generation parameters (part of the cache key)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    json_schema: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer from a provider (or assembled from a finished stream)."""

    text: str
    finish_reason: str
    usage: Usage
    model: str
    # Log-probabilities of the generated tokens, when the provider returned them.
    logprobs: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a streamed answer. The last event has `done=True`."""

    delta: str = ""
    logprobs: tuple[float, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    done: bool = False


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """One call to one model of one provider."""

    model: str
    messages: tuple[ChatMessage, ...]
    params: GenParams = field(default_factory=GenParams)
    # Ask for token log-probabilities (used by the confidence scorer) when the
    # provider supports them.
    logprobs: bool = False
    timeout_s: float = 30.0
