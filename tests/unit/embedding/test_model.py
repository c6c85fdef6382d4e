"""The shipped ONNX model against fp32 torch reference vectors (tests/data)."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from sluice.cli import default_model_dir
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import OnnxEmbedder
from sluice.telemetry.metrics import Metrics

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "embedding_reference.json"


@cache
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder(default_model_dir(), threads=2, max_tokens=256)


@cache
def reference() -> list[dict]:  # type: ignore[type-arg]
    items: list[dict] = json.loads(REFERENCE.read_text())["items"]  # type: ignore[type-arg]
    return items


def test_every_reference_sentence_matches_the_fp32_model() -> None:
    items = reference()
    assert len(items) >= 50
    results = embedder().embed([item["text"] for item in items])
    cosines = [
        float(r.vector @ np.asarray(item["vector"], dtype=np.float32))
        for r, item in zip(results, items, strict=True)
    ]
    worst = min(range(len(items)), key=cosines.__getitem__)
    assert cosines[worst] >= 0.99, f"{items[worst]['text'][:60]!r}: cosine {cosines[worst]}"
    assert [r.tokens for r in results] == [item["tokens"] for item in items]
    assert [r.truncated for r in results] == [item["truncated"] for item in items]


def test_a_text_gets_the_same_vector_alone_and_inside_a_mixed_batch() -> None:
    texts = [item["text"] for item in reference()][:32]
    batched = embedder().embed(texts, max_batch=64)
    for text, together in zip(texts, batched, strict=True):
        (alone,) = embedder().embed([text])
        assert float(alone.vector @ together.vector) >= 0.9999, text[:60]


def test_vectors_are_unit_length() -> None:
    for r in embedder().embed(["short", "a much longer sentence about many things " * 5]):
        assert float(np.linalg.norm(r.vector)) == pytest.approx(1.0, abs=1e-5)


def test_truncation_is_reported() -> None:
    (long,) = embedder().embed(["token " * 1000])
    assert long.truncated
    assert long.tokens == 256


@pytest.mark.parametrize(
    ("text", "covered"),
    [
        ("How do I delete a file in Linux?", True),
        ("I am a cat", True),
        ("Bonjour, comment ça va ?", True),  # Latin script: word pieces, not letters
        ("Как удалить файл в Linux?", False),
        ("Πώς διαγράφω ένα αρχείο;", False),
        ("如何删除文件", False),
        ("12345 + 678 = ?", True),  # no words to judge
    ],
)
def test_coverage_flags_text_the_vocabulary_spells_out_letter_by_letter(
    text: str, covered: bool
) -> None:
    (r,) = embedder().embed([text])
    assert (r.coverage >= 0.5) is covered, r.coverage


async def test_micro_batcher_answers_every_caller_with_its_own_vectors() -> None:
    batcher = MicroBatcher(embedder(), Metrics(), max_batch=16)
    await batcher.start()
    texts = [f"concurrent request number {i}" for i in range(40)]
    try:
        results = await asyncio.gather(*(batcher.embed([t]) for t in texts))
    finally:
        await batcher.stop()
    direct = embedder().embed(texts)
    for (got,), want in zip(results, direct, strict=True):
        assert float(got.vector @ want.vector) >= 0.9999
    sizes = batcher.metrics.embed_batch_size.collect()[0].samples
    count = next(s.value for s in sizes if s.name.endswith("_count"))
    assert count < len(texts), "concurrent callers shared onnxruntime calls"


async def test_micro_batcher_without_batching_still_answers() -> None:
    batcher = MicroBatcher(embedder(), Metrics(), batching=False)
    (result,) = await batcher.embed(["alone"])
    await batcher.stop()
    assert result.vector.shape == (384,)
