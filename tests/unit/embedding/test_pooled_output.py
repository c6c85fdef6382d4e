"""A model whose graph pools itself ([batch, dim] output, as USE-multilingual's export) loads
and embeds through the same OnnxEmbedder as MiniLM (docs/embedding-models.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from sluice.embedding.model import OnnxEmbedder

REPO = Path(__file__).resolve().parents[3]
# tests/data/pooled_embedder.onnx (models/scripts/export_use.py --test-fixture): the sum over
# the attention mask of rows of a fixed 8×4 table picked by input_id mod 8.
TABLE = np.arange(32, dtype=np.float32).reshape(8, 4) % 5 - 2


def _model_dir(tmp_path: Path) -> Path:
    shutil.copy(REPO / "tests/data/pooled_embedder.onnx", tmp_path / "model.onnx")
    shutil.copy(REPO / "models/all-MiniLM-L6-v2/tokenizer.json", tmp_path / "tokenizer.json")
    return tmp_path


def test_a_pooled_output_is_normalised_not_pooled_again(tmp_path: Path) -> None:
    embedder = OnnxEmbedder(_model_dir(tmp_path), threads=1)
    assert embedder.dimensions == 4
    texts = ["How do I delete a file?", "a", "Which port does the daemon listen on by default?"]
    got = embedder.embed(texts)
    for text, result in zip(texts, got, strict=True):
        ids = embedder.tokenizer.encode(text).ids
        want = TABLE[np.asarray(ids) % 8].sum(axis=0)
        np.testing.assert_allclose(result.vector, want / np.linalg.norm(want), rtol=1e-6)


def test_a_pooled_output_is_the_same_alone_and_in_a_padded_batch(tmp_path: Path) -> None:
    embedder = OnnxEmbedder(_model_dir(tmp_path), threads=1)
    texts = ["short", "a much longer question that pads the short one in the same batch"]
    together = embedder.embed(texts)
    for text, result in zip(texts, together, strict=True):
        np.testing.assert_allclose(embedder.embed([text])[0].vector, result.vector, rtol=1e-6)
