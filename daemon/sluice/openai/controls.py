"""Sluice's own request controls on the OpenAI front: `x-sluice-*` headers and a `sluice` object.

Headers suit client-wide defaults (the SDKs' `default_headers`); the `sluice`
body object (the SDKs' `extra_body`) is per call and wins over a header.

    header                  sluice.<key>             meaning
    x-sluice-namespace      namespace                tenant namespace (cache, budget, stats)
    x-sluice-cache          cache                    skip-read | skip-write | skip
    x-sluice-pinned-model   pinned_model             serve with this configured model only
    x-sluice-task-tags      task_tags (array)        comma-separated in the header
    x-sluice-request-id     request_id               echoed back; a new one when absent
    x-sluice-timeout-ms     timeout_ms               the deadline (else cascade.default_deadline_s)
                            threshold                semantic-hit threshold, (0, 1]
                            ttl_s                    time to live of the stored answer
                            store_nondeterministic   store answers of temperature > 0
                            start_tier               start the cascade at this tier
                            max_cost_usd             the most this request may cost
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TypeVar

from sluice import jsontext, validate
from sluice.cache import expiry
from sluice.errors import InvalidArgument
from sluice.openai.fields import renamed, str_list, typed
from sluice.routing.fixed import RoutingHints

T = TypeVar("T")

_HEADERS: Final = {
    "x-sluice-namespace": "namespace",
    "x-sluice-cache": "cache",
    "x-sluice-pinned-model": "pinned_model",
    "x-sluice-task-tags": "task_tags",
    "x-sluice-request-id": "request_id",
    "x-sluice-timeout-ms": "timeout_ms",
}
_KEYS: Final = frozenset(_HEADERS.values()) | {
    "threshold", "ttl_s", "store_nondeterministic", "start_tier", "max_cost_usd",
}  # fmt: skip
_CACHE_MODES: Final = {
    "skip-read": (True, False),
    "skip-write": (False, True),
    "skip": (True, True),
}
MAX_TIMEOUT_MS: Final = 3_600_000
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Controls:
    namespace: str
    request_id: str
    deadline: float  # absolute time.monotonic()
    skip_read: bool = False
    skip_write: bool = False
    routing: RoutingHints = field(default_factory=RoutingHints)
    threshold: float | None = None
    ttl_s: float | None = None
    store_nondeterministic: bool = False
    # Where `routing.pinned_model` came from, to name it in an error.
    pinned_field: str = "sluice.pinned_model"


class _Raw:
    """Control values by key, each with the field (header or body key) it came from."""

    def __init__(self, body_value: object, headers: Mapping[str, str]) -> None:
        self.values: dict[str, tuple[object, str]] = {}
        _refuse_unknown_headers(headers)
        for header, key in _HEADERS.items():
            value = headers.get(header)
            if value is not None:
                # aiohttp keeps bytes that are not UTF-8 as lone surrogates: refuse them here.
                if not jsontext.valid_text(value):
                    raise InvalidArgument(header, "is not valid UTF-8")
                self.values[key] = (_from_header(key, value, header), header)
        if body_value is None:
            return
        for key, value in typed(body_value, "sluice", dict).items():
            if key not in _KEYS:
                raise InvalidArgument(f"sluice.{key}", f"unknown control; known: {sorted(_KEYS)}")
            if value is not None:
                self.values[key] = (value, f"sluice.{key}")

    def get(self, key: str, kind: type[T]) -> tuple[T | None, str]:
        if key not in self.values:
            return None, f"sluice.{key}"
        value, source = self.values[key]
        return typed(value, source, kind), source


def _refuse_unknown_headers(headers: Mapping[str, str]) -> None:
    """A misspelt or body-only control sent as a header (x-sluice-max-cost-usd) would be
    dropped without a word: refuse it, and say where the control goes."""
    for name in headers:
        low = name.lower()
        if low.startswith("x-sluice-") and low not in _HEADERS:
            body_only = sorted(_KEYS - set(_HEADERS.values()))
            raise InvalidArgument(
                low[:64],
                f"not a Sluice request header; the headers are {sorted(_HEADERS)}, and "
                f"{body_only} go in the `sluice` object of the body",
            )


def header_safe(value: str) -> bool:
    """Can be echoed in a reply header: valid Unicode, no control characters."""
    return jsontext.valid_text(value) and not _CONTROL.search(value)


def _from_header(key: str, value: str, header: str) -> object:
    if key == "task_tags":
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    if key == "timeout_ms":
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(header, "must be an integer (milliseconds)") from None
    return value


def parse_controls(
    body_value: object, headers: Mapping[str, str], default_deadline_s: float, now: float
) -> Controls:
    raw = _Raw(body_value, headers)
    namespace, ns_field = raw.get("namespace", str)
    request_id, id_field = raw.get("request_id", str)
    if request_id and not header_safe(request_id):
        raise InvalidArgument(
            id_field, "must be text without control characters (it is echoed in a reply header)"
        )
    with renamed("request_id", id_field):
        rid = validate.request_id(request_id or "")
    skip_read, skip_write = _cache_mode(raw)
    threshold, threshold_field = raw.get("threshold", float)
    ttl_s, ttl_field = raw.get("ttl_s", float)
    store, _ = raw.get("store_nondeterministic", bool)
    routing, pinned_field = _routing(raw)
    return Controls(
        namespace=validate.namespace(namespace or "", ns_field),
        request_id=rid,
        deadline=now + _timeout_s(raw, default_deadline_s),
        skip_read=skip_read,
        skip_write=skip_write,
        routing=routing,
        threshold=None if threshold is None else validate.threshold(threshold, threshold_field),
        ttl_s=None if ttl_s is None else expiry.ttl_seconds(ttl_s, ttl_field),
        store_nondeterministic=bool(store),
        pinned_field=pinned_field,
    )


def _cache_mode(raw: _Raw) -> tuple[bool, bool]:
    mode, source = raw.get("cache", str)
    if mode is None:
        return False, False
    if mode not in _CACHE_MODES:
        raise InvalidArgument(source, f"{mode[:32]!r}: use skip-read, skip-write or skip")
    return _CACHE_MODES[mode]


def _timeout_s(raw: _Raw, default_s: float) -> float:
    timeout_ms, source = raw.get("timeout_ms", int)
    if timeout_ms is None:
        return default_s
    if not 0 < timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidArgument(source, f"{timeout_ms} is outside (0, {MAX_TIMEOUT_MS}] milliseconds")
    return timeout_ms / 1000


def _routing(raw: _Raw) -> tuple[RoutingHints, str]:
    pinned, pinned_field = raw.get("pinned_model", str)
    start_tier, _ = raw.get("start_tier", str)
    max_cost, _ = raw.get("max_cost_usd", float)
    tags: list[str] = []
    if "task_tags" in raw.values:
        value, source = raw.values["task_tags"]
        tags = str_list(value, source)
    with renamed("routing.", "sluice."):
        hints = validate.routing_hints(
            task_tags=tags, max_cost_usd=max_cost or 0.0, pinned_model=pinned or "",
            start_tier=start_tier or "",
        )  # fmt: skip
    return hints, pinned_field
