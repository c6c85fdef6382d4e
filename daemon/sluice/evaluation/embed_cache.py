"""Embeddings of an evaluation's prompts, computed once and kept on disk.

Embedding 14k MMLU prompts takes minutes on two cores; every policy of the
routing evaluation reuses them. The file is keyed by the model id and the
texts, so a changed model or data set never reads stale vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sluice.embedding.model import Embedded, OnnxEmbedder

Vector = npt.NDArray[np.float32]


def _digest(model_id: str, texts: Sequence[str]) -> str:
    h = hashlib.sha256(model_id.encode())
    for t in texts:
        h.update(b"\0" + t.encode("utf-8"))
    return h.hexdigest()[:20]


def embed_cached(
    embedder: OnnxEmbedder, texts: Sequence[str], cache_dir: Path | None, *, chunk: int = 512
) -> dict[str, Vector]:
    """text → vector for every distinct text, read from `cache_dir` when there."""
    ordered = sorted(set(texts))
    path = None
    if cache_dir is not None:
        safe_id = embedder.model_id.replace("/", "_").replace("@", "-")
        path = cache_dir / f"emb-{safe_id}-{_digest(embedder.model_id, ordered)}.npy"
        if path.is_file():
            matrix = np.load(path)
            if matrix.shape[0] == len(ordered):
                return dict(zip(ordered, matrix, strict=True))
    rows: list[Vector] = []
    for start in range(0, len(ordered), chunk):
        rows += [e.vector for e in embedder.embed(ordered[start : start + chunk])]
    matrix = np.stack(rows) if rows else np.zeros((0, embedder.dimensions), np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, matrix)
        tmp.replace(path)
    return dict(zip(ordered, matrix, strict=True))


class TableEmbedder(OnnxEmbedder):
    """The real embedder, answering from a table of precomputed vectors when it can."""

    def __init__(
        self, model_dir: Path, table: Mapping[str, Vector], *, threads: int, max_tokens: int
    ) -> None:
        super().__init__(model_dir, threads=threads, max_tokens=max_tokens)
        self.table = table

    def embed(
        self, texts: Sequence[str], max_batch: int = 64, max_batch_tokens: int = 1024
    ) -> list[Embedded]:
        missing = [t for t in texts if t not in self.table]
        computed = dict(
            zip(missing, super().embed(missing, max_batch, max_batch_tokens), strict=True)
        )
        return [
            computed[t] if t in computed else Embedded(self.table[t], 0, False, 1.0) for t in texts
        ]
