"""Caller JSON within limits (issue #17): deep nesting, lone surrogates, NaN literals → 400."""

from __future__ import annotations

import pytest

from sluice import jsontext
from sluice.errors import InvalidArgument


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "body"),  # RecursionError in json.loads
        (b'{"a": ' + b"[" * 70 + b"]" * 70 + b"}", "a" + "[0]" * 63),
        (b'{"m": [{"content": "x \\ud800"}]}', "m[0].content"),
        (b'{"m": "\\udfff"}', "m"),
        (b'{"\\ud800": 1}', "body"),
        (b'{"t": NaN}', "body"),
        (b'{"t": Infinity}', "body"),
        (b"\xff\xfe{", "body"),
        (b"{nope", "body"),
    ],
)
def test_refused_with_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        jsontext.loads(raw, "body")
    assert caught.value.field == field


def test_valid_json_and_real_surrogate_pairs_pass() -> None:
    value = jsontext.loads('{"a": [1, 2.5, "\\ud83d\\ude42", {"b": null}]}', "body")
    assert value == {"a": [1, 2.5, "🙂", {"b": None}]}
    assert jsontext.loads(b"[" * 64 + b"]" * 64, "body") is not None


def test_a_long_key_is_cut_in_the_field_name() -> None:
    with pytest.raises(InvalidArgument) as caught:
        jsontext.loads('{"' + "k" * 1000 + '": "\\ud800"}', "body")
    assert caught.value.field == "k" * 64
