"""Which fault, if any, the next call to a model gets: scripted rules first, then seeded chaos.

Pure state, no I/O: the server asks `FaultPlan.pick(model)` once per call.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class FaultKind(enum.StrEnum):
    LATENCY = "latency"  # wait latency_ms, then answer normally
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After (and retry-after-ms when set)
    SERVER_ERROR = "server_error"  # `status` (500, 502, 503, 529, …) with the protocol's error body
    HANG = "hang"  # accept the request, never answer
    MALFORMED_JSON = "malformed_json"  # 200 whose JSON (or one stream chunk) does not parse
    CUT_STREAM = "cut_stream"  # send after_chunks chunks, then drop the connection
    SLOW_DRIP = "slow_drip"  # answer normally, one chunk every interval_ms
    WRONG_CONTENT_TYPE = "wrong_content_type"  # 200 text/html, like a captive proxy
    UNAUTHORIZED = "unauthorized"  # the protocol's bad-key error (Gemini: 400 API_KEY_INVALID)
    CONTEXT_LENGTH = "context_length"  # the protocol's prompt-too-long error (400)
    # `status` whose error message quotes the request body it got, encoded as `echo` says:
    # a hostile provider for the redaction tests (prompts must not come back, escaped or not).
    ECHO_REQUEST = "echo_request"


class Echo(enum.StrEnum):
    """How ECHO_REQUEST quotes the request body (from its messages on) in its error message."""

    RAW = "raw"  # as received: JSON with \uXXXX escapes (what aiohttp and httpx send)
    UNICODE = "unicode"  # JSON re-encoded with ensure_ascii=False: raw UTF-8, \" and \n escapes
    DOUBLE = "double"  # the body as a JSON string once more: \\u043f, \\"
    URL = "url"  # percent-encoded, as in a query string
    URL_PLUS = "url_plus"  # percent-encoded with + for spaces (form encoding)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault rule. JSON: the same field names, `kind` as its string value."""

    kind: FaultKind
    model: str | None = None  # None: every model
    times: int | None = None  # None: always; N: the next N matching calls
    status: int = 500  # server_error
    retry_after_s: float | None = 1.0  # rate_limit: Retry-After in seconds (None: no header)
    retry_after_ms: int | None = None  # rate_limit: also send retry-after-ms
    retry_after_http_date: bool = False  # rate_limit: send Retry-After as an HTTP-date
    latency_ms: int = 0  # latency
    interval_ms: int = 100  # slow_drip: gap between chunks
    after_chunks: int = 2  # cut_stream: content chunks sent before the cut
    clean_close: bool = False  # cut_stream: end the body cleanly, just without the terminal event
    message: str | None = None  # error kinds: replaces the provider's error message
    echo: Echo = Echo.RAW  # echo_request: how the body is quoted

    def __post_init__(self) -> None:
        if not isinstance(self.kind, FaultKind):
            object.__setattr__(self, "kind", FaultKind(self.kind))
        if not isinstance(self.echo, Echo):
            object.__setattr__(self, "echo", Echo(self.echo))
        # JSON from other languages reaches here unchecked: validate what the types promise.
        if self.times is not None:
            _require_int("times", self.times, minimum=1)
        _require_int("status", self.status, minimum=400, maximum=599)
        for name in ("latency_ms", "interval_ms", "after_chunks"):
            _require_int(name, getattr(self, name), minimum=0)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        unknown = set(data) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        if "kind" not in data:
            raise ValueError(f"fault needs a kind, one of {[kind.value for kind in FaultKind]}")
        return cls(**{**data, "kind": FaultKind(data["kind"])})

    def to_json(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def matches(self, model: str) -> bool:
        return self.model is None or self.model == model


def _require_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be in [{minimum}, {maximum or '∞'}]")


@dataclass(frozen=True, slots=True)
class Chaos:
    """Random faults for load tests, reproducible from `seed`.

    JSON: {"seed": 7, "faults": [{"probability": 0.1, "kind": "server_error", "status": 503}]}
    """

    seed: int
    faults: tuple[tuple[float, Fault], ...]

    def __post_init__(self) -> None:
        total = sum(probability for probability, _ in self.faults)
        if any(probability < 0 for probability, _ in self.faults) or total > 1:
            raise ValueError("chaos probabilities must be non-negative and sum to at most 1")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Chaos:
        entries = []
        for entry in data.get("faults", ()):
            fields = dict(entry)
            probability = float(fields.pop("probability"))
            entries.append((probability, Fault.from_json(fields)))
        return cls(seed=int(data["seed"]), faults=tuple(entries))


@dataclass(slots=True)
class _Rule:
    fault: Fault
    left: int | None  # calls left; None: always


class FaultPlan:
    """Scripted faults (model-specific before global, oldest first), else a chaos draw."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._chaos: Chaos | None = None
        self._rng = random.Random()  # noqa: S311 - fault injection, not cryptography

    def add(self, fault: Fault) -> None:
        self._rules.append(_Rule(fault, fault.times))

    def set_chaos(self, chaos: Chaos | None) -> None:
        self._chaos = chaos
        if chaos is not None:
            self._rng.seed(chaos.seed)

    def clear(self) -> None:
        self._rules.clear()
        self._chaos = None

    def pick(self, model: str) -> Fault | None:
        rules = [rule for rule in self._rules if rule.fault.model == model] or [
            rule for rule in self._rules if rule.fault.model is None
        ]
        if not rules:
            return self._draw(model)
        rule = rules[0]
        if rule.left is not None:
            rule.left -= 1
            if rule.left == 0:
                self._rules.remove(rule)
        return rule.fault

    def _draw(self, model: str) -> Fault | None:
        if self._chaos is None:
            return None
        roll = self._rng.random()  # one draw per call, so a seed replays the same sequence
        for probability, fault in self._chaos.faults:
            if roll < probability:
                return fault if fault.matches(model) else None
            roll -= probability
        return None
