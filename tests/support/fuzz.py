"""Hypothesis strategies for any protobuf request, built from its descriptor.

Values go past what the API allows on purpose: huge and odd-unicode strings, unknown enum
numbers, negative and extreme integers, NaN and infinities, deep and long repeated fields.
`plausible` keeps the request shaped so it gets past the first check (the last message is
the user's question), so fuzzing reaches the cache, the router and the providers too.
"""

from __future__ import annotations

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
