"""JSON that callers send, decoded within limits every later step can live with.

Python's decoder accepts what the rest of the daemon cannot: nesting deep enough to raise
RecursionError (in the decoder itself, or later in json.dumps, the key digest, a provider's
schema), `NaN`/`Infinity` literals, and `"\\ud800"` — a lone UTF-16 surrogate, which decodes
to a Python str that cannot be encoded to UTF-8 (the cache key, the tokenizer, a log line or
a reply header then fail). Each is refused here as the caller's error, naming the field.
"""

from __future__ import annotations

import json
from typing import Any, Final

from sluice.errors import InvalidArgument

# Far deeper than any real request or JSON schema (OpenAI allows 10 levels of schema), far
# below Python's recursion limit, which json.dumps and friends must stay under afterwards.
MAX_DEPTH: Final = 64


def loads(raw: bytes | str, field: str) -> Any:
    """Decoded JSON, or InvalidArgument naming `field` (or the nested field at fault)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidArgument(field, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the constants below
        raise InvalidArgument(field, f"not valid JSON ({_reason(exc)})") from None
    check(value, field)
    return value


def check(value: object, field: str) -> None:
    """No deeper than MAX_DEPTH, every string (keys too) encodable as UTF-8.

    Iterative, so a value too deep for recursion is reported instead of crashing the walk.
    """
    stack: list[tuple[object, int, str]] = [(value, 1, field)]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidArgument(path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(item))
            continue
        for key, v in item.items():
            _check_text(key, path)
            stack.append((v, depth + 1, _join(path, key)))


def valid_text(text: str) -> bool:
    """Encodable as UTF-8: no lone surrogate (what `"\\ud800"` in JSON decodes to)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(text: str, path: str) -> None:
    if not valid_text(text):
        raise InvalidArgument(
            path, "holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode text"
        )


def _join(path: str, key: str) -> str:
    if not valid_text(key):
        return path  # reported with its parent's path when its own turn comes
    key = key[:64]  # a field name, not a place for a megabyte of text in our error
    return key if path in ("", "body") else f"{path}.{key}"


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _reason(exc: ValueError) -> str:
    # A JSONDecodeError says where (line, column) and never quotes the document: keep it.
    # A UnicodeDecodeError quotes a few raw bytes at most.
    return str(exc)[:200]
