"""One cache entry as Redis holds it, and the keys it lives under (fleet mode).

    payload = b"SLC1" | u32 header length | JSON header | float32 vector (little-endian)

Keys are made by the daemon from (namespace, entry id) only, never from caller text: the
namespace goes in as a digest and the id is the daemon's own uuid4, checked on the way
back in. Every key shares one hash tag, `{<key_prefix>}`, so the Lua scripts' keys are in
one slot on Redis Cluster as well as on a single Redis.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sluice.cache.entry import Entry
from sluice.cache.expiry import trusted_time
from sluice.config import MAX_TTL_S
from sluice.types import Usage

MAGIC = b"SLC1"
_LENGTH = struct.Struct(">I")
_ENTRY_ID = re.compile(r"[0-9a-f]{32}")
Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Keys:
    """Every Redis key of the cache fill, under one prefix."""

    prefix: str

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

    @property
    def entry_base(self) -> str:
        return f"{self.tag}:cache:e:"

    @property
    def index(self) -> str:
        return f"{self.tag}:cache:idx"

    @property
    def events(self) -> str:
        return f"{self.tag}:cache:events"

    def entry(self, member: str) -> str:
        return self.entry_base + member


def namespace_digest(namespace: str) -> str:
    return hashlib.blake2b(namespace.encode("utf-8"), digest_size=8).hexdigest()


def member(namespace: str, entry_id: str) -> str:
    """An entry's name in the index and the stream: `<namespace digest>:<entry id>`."""
    return f"{namespace_digest(namespace)}:{entry_id}"


@dataclass(frozen=True, slots=True)
class SharedEntry:
    entry: Entry
    vector: Vector | None
    # The embedding model that made `vector`; another model's vector is not comparable.
    model_id: str


def encode(entry: Entry, vector: Vector | None, model_id: str, *, keep_question: bool) -> bytes:
    """The payload of one entry. Without a verifier the question text stays on its pod, as
    in snapshots (cache.snapshot): lookups need only its digest and vector."""
    header = {
        "id": entry.id, "ns": entry.namespace, "scope": entry.scope, "exact": entry.exact,
        "q": entry.question if keep_question else "", "a": entry.answer,
        "fr": entry.finish_reason,
        "u": [entry.usage.input_tokens, entry.usage.output_tokens,
              entry.usage.cached_input_tokens],
        "m": entry.model, "c": entry.created, "x": entry.expires, "mid": model_id,
        "d": 0 if vector is None else int(vector.shape[0]), "w": entry.wrong_at,
    }  # fmt: skip
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    body = b"" if vector is None else np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return MAGIC + _LENGTH.pack(len(head)) + head + body


def decode(data: bytes, now: float) -> SharedEntry:
    """The entry in a payload; ValueError when it is not one this daemon could have made."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _LENGTH.size:
        raise ValueError("not a sluice cache payload")
    (size,) = _LENGTH.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    h: dict[str, Any] = json.loads(data[start : start + size].decode("utf-8"))
    body = data[start + size :]
    dims = int(h["d"])
    if len(body) != dims * 4:
        raise ValueError(f"vector of {len(body)} bytes for {dims} dimensions")
    vector = np.frombuffer(body, dtype="<f4").astype(np.float32) if dims else None
    usage = [int(n) for n in h["u"]]
    entry = Entry(
        id=str(h["id"]), namespace=str(h["ns"]), scope=str(h["scope"]), exact=str(h["exact"]),
        question=str(h["q"]), answer=str(h["a"]), finish_reason=str(h["fr"]),
        usage=Usage(usage[0], usage[1], usage[2]), model=str(h["m"]),
        created=float(h["c"]), expires=float(h["x"]),
        # Payloads written before Feedback reached the cache have no "w".
        wrong_at=float(h.get("w", 0.0)),
    )  # fmt: skip
    if not _ENTRY_ID.fullmatch(entry.id):
        raise ValueError("entry id is not a daemon-made id")
    times_ok = trusted_time(entry.created) and trusted_time(entry.expires)
    if not times_ok or entry.expires > now + 2 * MAX_TTL_S:
        raise ValueError("a time not finite or out of range")
    if not -1.0 <= entry.wrong_at <= 1.0:  # NaN too
        raise ValueError("wrong_at is not a cosine")
    return SharedEntry(entry, vector, str(h["mid"]))
