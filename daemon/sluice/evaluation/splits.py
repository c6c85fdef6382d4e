"""A fixed train / calibration / test split of labelled pairs.

Pairs that share a sentence (PAWS and CANNOT reuse sentences across pairs)
always land in the same part: the split is over connected components of the
"appears in a pair with" graph, placed by a hash of the component's smallest
normalised sentence. It needs no seed and no stored file, so the verifier's
training script and `sluice eval cache` agree on which pairs training never
saw. Pure standard library (the training venv imports it).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from typing import Literal, Protocol

Part = Literal["train", "calibration", "test"]
# Percent of components per part: 0-69 train, 70-79 calibration, 80-99 test.
_TRAIN, _CALIBRATION = 70, 80


class _PairLike(Protocol):
    @property
    def a(self) -> str: ...
    @property
    def b(self) -> str: ...


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def part_of_text(set_name: str, text: str) -> Part:
    """The part of a component whose smallest normalised sentence is `text`."""
    digest = hashlib.sha256(f"{set_name}\0{_norm(text)}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 100
    if bucket < _TRAIN:
        return "train"
    return "calibration" if bucket < _CALIBRATION else "test"


def split(set_name: str, pairs: Sequence[_PairLike]) -> list[Part]:
    """The part of every pair, in order."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        ra, rb = find(_norm(p.a)), find(_norm(p.b))
        if ra != rb:
            # The smaller string becomes the root: the component's name is its minimum.
            parent[max(ra, rb)] = min(ra, rb)
    return [part_of_text(set_name, find(_norm(p.a))) for p in pairs]
