"""Routing vectors of an evaluation's prompts, computed once and kept on disk.

Embedding 14k MMLU prompts takes minutes on two cores; every policy of the
routing evaluation reuses them. The vectors are the live router's representation
(`OnnxEmbedder.embed(tail=True)`: a long prompt's last tokens, issue #21), so the
models fitted on them see what the daemon's router sees. The file is keyed by the
model id, the representation and the texts, so a changed model, representation or
data set never reads stale vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sluice.embedding.model import Embedded, OnnxEmbedder

Vector = npt.NDArray[np.float32]


# In the file name and digest: files of head vectors (before issue #21) are never read.
REPRESENTATION = "tail"


def _digest(model_id: str, texts: Sequence[str]) -> str:
    h = hashlib.sha256(f"{model_id}\0{REPRESENTATION}".encode())
    for t in texts:
        h.update(b"\0" + t.encode("utf-8"))
    return h.hexdigest()[:20]


def embed_cached(
    embedder: OnnxEmbedder, texts: Sequence[str], cache_dir: Path | None, *, chunk: int = 512
) -> dict[str, Vector]:
    """text → routing vector for every distinct text, read from `cache_dir` when there."""
    ordered = sorted(set(texts))
    path = None
    if cache_dir is not None:
        safe_id = embedder.model_id.replace("/", "_").replace("@", "-")
        digest = _digest(embedder.model_id, ordered)
        path = cache_dir / f"emb-{safe_id}-{REPRESENTATION}-{digest}.npy"
        if path.is_file():
            matrix = np.load(path)
            if matrix.shape[0] == len(ordered):
                return dict(zip(ordered, matrix, strict=True))
    rows: list[Vector] = []
    for start in range(0, len(ordered), chunk):
        rows += [e.vector for e in embedder.embed(ordered[start : start + chunk], tail=True)]
    matrix = np.stack(rows) if rows else np.zeros((0, embedder.dimensions), np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, matrix)
        tmp.replace(path)
    return dict(zip(ordered, matrix, strict=True))


class TableEmbedder(OnnxEmbedder):
    """The real embedder, answering routing-vector requests (`tail`) from a table of
    `embed_cached` vectors when it can; any other request is computed. A table answer
    says nothing of truncation or coverage: the replay runs with the cache off."""

    def __init__(
        self, model_dir: Path, table: Mapping[str, Vector], *, threads: int, max_tokens: int
    ) -> None:
        super().__init__(model_dir, threads=threads, max_tokens=max_tokens)
        self.table = table

    def embed(
        self,
        texts: Sequence[str],
        max_batch: int = 64,
        max_batch_tokens: int = 1024,
        *,
        tail: bool = False,
    ) -> list[Embedded]:
        if not tail:
            return super().embed(texts, max_batch, max_batch_tokens)
        missing = [t for t in texts if t not in self.table]
        computed = dict(
            zip(
                missing, super().embed(missing, max_batch, max_batch_tokens, tail=True), strict=True
            )
        )
        return [
            computed[t] if t in computed else Embedded(self.table[t], 0, False, 1.0) for t in texts
        ]
