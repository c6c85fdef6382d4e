"""The routing evaluation embeds prompts as the live router does (issue #21): by their tail."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sluice.cli import default_model_dir
from sluice.evaluation.embed_cache import REPRESENTATION, TableEmbedder, embed_cached
from tests.unit.embedding.test_bounds import embedder
from tests.unit.embedding.test_tail import words

LONG = words(400, seed=11) + " which planet is the largest"
SHORT = "How do I delete a file in Linux?"


def test_embed_cached_holds_routing_vectors_and_keeps_them_apart_on_disk(tmp_path: Path) -> None:
    emb = embedder()
    vectors = embed_cached(emb, [LONG, SHORT, LONG], tmp_path)
    assert set(vectors) == {LONG, SHORT}
    assert np.array_equal(vectors[LONG], emb.embed([LONG], tail=True)[0].vector)
    assert not np.array_equal(vectors[LONG], emb.embed([LONG])[0].vector)
    assert np.array_equal(vectors[SHORT], emb.embed([SHORT])[0].vector)
    (path,) = tmp_path.iterdir()
    assert f"-{REPRESENTATION}-" in path.name  # a file of head vectors is never read back
    again = embed_cached(emb, [SHORT, LONG], tmp_path)
    assert np.array_equal(again[LONG], vectors[LONG])


def test_the_table_answers_routing_requests_only() -> None:
    emb = embedder()
    table = {LONG: np.zeros(emb.dimensions, np.float32)}
    replay = TableEmbedder(default_model_dir(), table, threads=1, max_tokens=emb.max_tokens)
    assert not replay.embed([LONG], tail=True)[0].vector.any()
    # A head request is the model's: the table holds another representation.
    assert np.array_equal(replay.embed([LONG])[0].vector, emb.embed([LONG])[0].vector)
    assert np.array_equal(replay.embed([SHORT], tail=True)[0].vector, emb.embed([SHORT])[0].vector)
