"""Typed reads of decoded JSON, with errors that name the OpenAI field to fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TypeVar

from sluice.errors import InvalidArgument

T = TypeVar("T")

_NAMES: dict[type, str] = {
    str: "a string", int: "an integer", float: "a number", bool: "a boolean",
    dict: "an object", list: "an array",
}  # fmt: skip


def typed(value: object, field: str, kind: type[T]) -> T:
    if value is None:  # absent, or JSON null
        raise InvalidArgument(field, f"is required ({_NAMES[kind]})")
    # JSON true/false decode to bool, which Python counts as an int: never a number here.
    if kind in (int, float) and isinstance(value, bool):
        raise InvalidArgument(field, f"must be {_NAMES[kind]}")
    if kind is float and isinstance(value, int):
        try:
            return float(value)  # type: ignore[return-value]  # T is float in this branch
        except OverflowError:  # JSON integers have no size limit; floats stop near 1.8e308
            raise InvalidArgument(field, "is out of range for a number") from None
    if not isinstance(value, kind):
        raise InvalidArgument(field, f"must be {_NAMES[kind]}")
    return value


def optional(body: Mapping[str, object], key: str, kind: type[T], prefix: str = "") -> T | None:
    value = body.get(key)
    return None if value is None else typed(value, prefix + key, kind)


def str_list(value: object, field: str) -> list[str]:
    items = typed(value, field, list)
    return [typed(item, f"{field}[{i}]", str) for i, item in enumerate(items)]


@contextlib.contextmanager
def renamed(old: str, new: str) -> Iterator[None]:
    """Reuse validate.py's checks, which name gRPC fields, and name the OpenAI field instead."""
    try:
        yield
    except InvalidArgument as exc:
        if not exc.field.startswith(old):
            raise
        field = new + exc.field.removeprefix(old)
        raise InvalidArgument(field, exc.message.removeprefix(f"{exc.field}: ")) from None
