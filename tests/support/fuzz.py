"""Hypothesis strategies for any protobuf request (built from its descriptor) and any body or
header the OpenAI HTTP front may get.

Values go past what the API allows on purpose: huge and odd-unicode strings, unknown enum
numbers, negative and extreme integers, NaN and infinities, deep and long repeated fields.
`plausible` keeps the request shaped so it gets past the first check (the last message is
the user's question), so fuzzing reaches the cache, the router and the providers too.
"""

from __future__ import annotations

import json
import os
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

from sluice.v1 import sluice_pb2 as pb

NIGHTLY = os.environ.get("SLUICE_NIGHTLY") == "1"

_ODD = [
    "", " ", "\t\n", "\x00", "\x00" * 64, "\u202e\u200b\ufeff", "🙂" * 100, "e\u0301" * 50,
    "ﬁ" * 100, "İ" * 50, "𝕏" * 80, "\U0010ffff", "a\u0000b", "../../etc/passwd", "%s%n{0}",
    "default", "-" * 64, "." * 65, "x" * 65, "a" * 256,
]  # fmt: skip
_CHARS = st.characters(exclude_categories=("Cs",))  # protobuf strings cannot hold surrogates


def _huge() -> st.SearchStrategy[str]:
    # Built by repetition: drawing megabytes character by character would take minutes.
    sizes = st.sampled_from([1_000, 65_536, 65_537, 300_000, 1_100_000])
    return st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "🙂", " ", "\x00"]), sizes)


TEXT = st.one_of(
    st.text(_CHARS, max_size=40), st.sampled_from(_ODD), _huge(), st.text(max_size=3, alphabet="ab")
)
_INT32 = st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, -1, 1, 2**31 - 1, -(2**31)])
)
_INT64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 1, 2**63 - 1]))
_UINT32 = st.integers(0, 2**32 - 1)
_UINT64 = st.integers(0, 2**64 - 1)
_FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 0.97, 2.0, 1e-320, float("nan"), float("inf")]),
)
_FLOAT32 = st.floats(allow_nan=True, allow_infinity=True, width=32)

_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    FieldDescriptor.TYPE_STRING: TEXT,
    FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
    FieldDescriptor.TYPE_BOOL: st.booleans(),
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_DOUBLE: _FLOAT,
    FieldDescriptor.TYPE_FLOAT: _FLOAT32,
    # Open enums: any int32 is a legal value on the wire, known or not.
    FieldDescriptor.TYPE_ENUM: st.one_of(st.integers(0, 6), _INT32),
}


def _cls(descriptor: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(descriptor)


@st.composite
def message(draw: st.DrawFn, cls: type[Message], depth: int = 0) -> Message:
    """Any value of `cls`: each field set or not, nested messages down to depth 3."""
    out = cls()
    for field in cls.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        nested = field.message_type
        if nested is not None and nested.GetOptions().map_entry:
            continue  # no map fields in the API today
        if field.is_repeated:
            size = draw(st.one_of(st.integers(0, 4), st.sampled_from([0, 257, 300])))
            if nested is not None:
                if depth >= 3:
                    continue
                # A few drawn items, repeated to `size` (hundreds of draws are slow).
                items = [draw(message(_cls(nested), depth + 1)) for _ in range(min(size, 3))]
                if items and size * max(m.ByteSize() for m in items) > 2_000_000:
                    size = len(items)  # hundreds of copies of a megabyte: too slow to send
                target = getattr(out, field.name)
                for i in range(size):
                    target.add().CopyFrom(items[i % len(items)])
            else:
                getattr(out, field.name).extend(
                    draw(st.lists(_SCALARS[field.type], min_size=min(size, 4), max_size=4))
                )
        elif nested is not None:
            if depth < 3:
                getattr(out, field.name).CopyFrom(draw(message(_cls(nested), depth + 1)))
        else:
            setattr(out, field.name, draw(_SCALARS[field.type]))
    return out


@st.composite
def plausible(draw: st.DrawFn, cls: type[Message]) -> Message:
    """Random fields, but a conversation that ends in a user question, in a sane namespace."""
    out = draw(message(cls))
    if "messages" in cls.DESCRIPTOR.fields_by_name:
        out.messages.append(pb.Message(role=pb.ROLE_USER, content=draw(TEXT) or "question?"))
    if "answer" in cls.DESCRIPTOR.fields_by_name:
        out.answer.content = draw(TEXT) or "an answer"
        out.answer.role = draw(st.sampled_from([pb.ROLE_ASSISTANT, pb.ROLE_UNSPECIFIED]))
    if "namespace" in cls.DESCRIPTOR.fields_by_name:
        out.namespace = draw(st.sampled_from(["", "fuzz", "fuzz-b"]))
    return out


def request(cls: type[Message]) -> st.SearchStrategy[bytes]:
    """Serialized requests: random messages, plausible ones, and raw random bytes."""
    return st.one_of(
        message(cls).map(lambda m: m.SerializeToString()),
        plausible(cls).map(lambda m: m.SerializeToString()),
        st.binary(max_size=512),
    )


# ---- the OpenAI HTTP front: JSON bodies and headers, including what JSON parsers choke on

_JSON_ODD_TEXT = st.one_of(
    st.text(max_size=40),  # surrogates included: JSON can carry them as \ud800 escapes
    st.sampled_from(_ODD),
    st.sampled_from(["\ud800", "a\udfffb", "\udbff\udc00", "sluice-auto", "gpt-4o-mini",
                     "all-MiniLM-L6-v2", "user", "system", "assistant", "tool", "text",
                     "json_schema", "json_object", "float", "base64", "skip"]),
)  # fmt: skip
_JSON_NUMBER = st.one_of(
    st.integers(), st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e300, -1e300, 1e-320, 0.5]),
)  # fmt: skip
JSON_SCALAR = st.one_of(st.none(), st.booleans(), _JSON_NUMBER, _JSON_ODD_TEXT)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_JSON_ODD_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)


def _dumps(value: Any) -> bytes:
    # allow_nan: NaN/Infinity literals on purpose; surrogates as \ud800 escapes (ensure_ascii).
    return json.dumps(value, allow_nan=True).encode()


def _deep(depth: int, open_: bytes, close: bytes) -> bytes:
    return b'{"model": "sluice-auto", "messages": ' + open_ * depth + close * depth + b"}"


_RAW_BODIES = st.sampled_from([
    b"", b"null", b"[]", b"{", b"{}", b'"text"', b"\xff\xfe\x00", b"NaN", b"Infinity",
    b'{"model": "sluice-auto", "temperature": NaN}', b'{"model": 1e999}',
    b'{"model": "sluice-auto", "temperature": 1' + b"0" * 5000 + b"}",
    _deep(100_000, b"[", b"]"), _deep(900, b"[", b"]"), _deep(65, b"[", b"]"),
    b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "\\ud800"}]}',
    b'{"model": "\\udfff"}', b'{"\\ud800": 1}',
    b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
    b'"sluice": {"ttl_s": 1e300}}',
    b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
    b'"sluice": {"ttl_s": Infinity}}',
])  # fmt: skip


@st.composite
def _chat_body(draw: st.DrawFn) -> Any:
    """A chat request close to a real one, with some fields replaced by anything."""
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(["sluice-auto", "gpt-4o-mini", "gpt-5", ""])),
        "messages": [{"role": "user", "content": draw(TEXT | _JSON_ODD_TEXT) or "q?"}],
    }
    fields = ["model", "messages", "stream", "stream_options", "n", "temperature", "top_p",
              "max_tokens", "max_completion_tokens", "stop", "seed", "response_format", "user",
              "sluice", "tools", "logprobs", "metadata", "bogus"]  # fmt: skip
    for name in draw(st.lists(st.sampled_from(fields), max_size=4, unique=True)):
        body[name] = draw(JSON_VALUE)
    if draw(st.booleans()):
        controls = [
            "namespace",
            "cache",
            "pinned_model",
            "task_tags",
            "request_id",
            "timeout_ms",
            "threshold",
            "ttl_s",
            "store_nondeterministic",
            "start_tier",
            "max_cost_usd",
        ]
        keys = draw(st.lists(st.sampled_from(controls), max_size=3, unique=True))
        body["sluice"] = {key: draw(JSON_VALUE) for key in keys}
    if draw(st.booleans()):
        schema = draw(JSON_VALUE)
        body["response_format"] = {"type": "json_schema", "json_schema": {"schema": schema}}
    return body


@st.composite
def _embed_body(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(["all-MiniLM-L6-v2", "text-embedding-3-small"])),
        "input": draw(st.one_of(TEXT, _JSON_ODD_TEXT, st.lists(TEXT, max_size=3), JSON_VALUE)),
    }
    for name in draw(st.lists(st.sampled_from(["encoding_format", "dimensions", "user", "x"]),
                              max_size=2, unique=True)):  # fmt: skip
        body[name] = draw(JSON_VALUE)
    return body


# Header values travel as latin-1 on the wire: text beyond it cannot be sent, bytes that are
# not UTF-8 can (aiohttp then hands the front lone surrogates).
_HEADER_TEXT = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
            max_size=40),
    st.sampled_from(["", " ", "skip", "skip-read", "default", "fuzz", "gpt-4o-mini", "1", "-5",
                     "99999999999999999999", "a" * 200, "é".encode().decode("latin-1"),
                     "\xff\xfe", "ns\xed\xa0\x80"]),
)  # fmt: skip
_SLUICE_HEADERS = ["x-sluice-namespace", "x-sluice-cache", "x-sluice-pinned-model",
                   "x-sluice-task-tags", "x-sluice-request-id", "x-sluice-timeout-ms",
                   "authorization", "content-type"]  # fmt: skip
HEADERS = st.dictionaries(st.sampled_from(_SLUICE_HEADERS), _HEADER_TEXT, max_size=3)


def http_body(route: str) -> st.SearchStrategy[bytes]:
    """Bodies for one POST route: plausible ones, any JSON value, and raw hostile bytes."""
    plausible_body = _chat_body() if route == "chat" else _embed_body()
    return st.one_of(
        plausible_body.map(_dumps), JSON_VALUE.map(_dumps), _RAW_BODIES, st.binary(max_size=256)
    )


MODEL_PATHS = st.one_of(
    st.sampled_from(["gpt-4o-mini", "sluice-auto", "gpt-5", "%ED%A0%80", "%FF", "..%2F..",
                     "a" * 300, "%00", "x%20y"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
            min_size=1, max_size=40),
)  # fmt: skip
