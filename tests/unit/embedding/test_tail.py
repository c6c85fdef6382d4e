"""The routing representation (issue #21): a long text's last `max_tokens` tokens, not its first.

A text that fits gets the very vector it gets today (the cache's); a longer one the vector of
its tail alone, so a shared few-shot prefix no longer hides what each prompt asks.
"""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest
from tokenizers import Tokenizer

from sluice.embedding.batcher import MicroBatcher
from sluice.onnx_session import suffix
from sluice.telemetry.metrics import Metrics
from tests.support.worst_cases import prose
from tests.unit.embedding.test_bounds import REALISTIC, embedder

# Words that are one WordPiece token each, so every token of a text starts a word.
WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "and",
    "then",
    "it",
    "ran",
    "to",
    "see",
    "my",
    "dog",
    "who",
    "was",
    "in",
    "our",
    "big",
    "red",
    "house",
]


def words(count: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(count))


def _untruncated() -> Tokenizer:
    whole = Tokenizer.from_str(embedder().tokenizer.to_str())
    whole.no_truncation()
    return whole


def test_a_long_texts_routing_vector_is_that_of_its_tail_alone() -> None:
    emb = embedder()
    text = words(300, seed=1) + " how many eggs does she sell at the market"
    (tok,) = emb.tokenize([text], tail=True)
    assert tok.truncated
    assert len(tok.encoding.ids) == emb.max_tokens
    assert tok.encoding.tokens[0] == "[CLS]"
    assert tok.encoding.tokens[-1] == "[SEP]"
    assert tok.encoding.tokens[-3:-1] == ["the", "market"]
    # The tail alone: the text from the first token the model reads.
    start = tok.encoding.offsets[1][0]
    tail = text[start:]
    (routed,) = emb.embed([text], tail=True)
    (alone,) = emb.embed([tail])
    assert routed.truncated
    assert not alone.truncated
    assert np.allclose(routed.vector, alone.vector, atol=1e-6)
    # Its head is another text altogether.
    (head,) = emb.embed([text])
    assert float(head.vector @ routed.vector) < 0.99


def test_a_shared_prefix_no_longer_hides_the_question() -> None:
    emb = embedder()
    prefix = words(400, seed=2) + " "
    a, b = prefix + "what is the capital of france", prefix + "how do i sort a list in python"
    heads = emb.embed([a, b])
    tails = emb.embed([a, b], tail=True)
    # Before: both prompts were the same 256 tokens of prefix.
    assert np.array_equal(heads[0].vector, heads[1].vector)
    assert float(tails[0].vector @ tails[1].vector) < 0.95


@pytest.mark.parametrize(
    "text",
    [
        "How do I delete a file in Linux?",
        words(250, seed=3),  # 252 tokens with [CLS] and [SEP]: fits
        "如何删除文件并且保留目录结构",
        "",
        REALISTIC["short"],
    ],
)
def test_a_text_that_fits_gets_the_same_vector_as_before(text: str) -> None:
    emb = embedder()
    (head,) = emb.embed([text])
    (tail,) = emb.embed([text], tail=True)
    assert not head.truncated
    assert not tail.truncated
    assert head.tokens == tail.tokens
    assert np.array_equal(head.vector, tail.vector)
    assert head.coverage == tail.coverage


@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_the_tail_cut_keeps_the_last_tokens_the_whole_text_would_give(name: str) -> None:
    text = REALISTIC[name]
    (tok,) = embedder().tokenize([text], tail=True)
    whole = _untruncated().encode(text)
    if len(whole.ids) <= embedder().max_tokens:
        assert tok.encoding.ids == whole.ids
        return
    keep = embedder().max_tokens - 2
    assert tok.truncated
    assert tok.encoding.ids[1:-1] == whole.ids[-1 - keep : -1]


@pytest.mark.parametrize(
    "text",
    [
        "如何删除文件并且保留目录结构" * 400,  # CJK: no white space at all
        "a" * 200_000,  # one endless word
        "x" * 300 + " end",  # a long word, then a short one
        "word " + " " * 50_000,  # trailing white space
        prose(1024 * 1024, seed=4),  # 1 MiB
        "🙂" * 5_000,
    ],
)
def test_edge_cases_embed_their_tail_without_error(text: str) -> None:
    emb = embedder()
    (tok,) = emb.tokenize([text], tail=True)
    assert 2 <= len(tok.encoding.ids) <= emb.max_tokens
    (routed,) = emb.embed([text], tail=True)
    assert routed.vector.shape == (emb.dimensions,)
    assert np.isfinite(routed.vector).all()
    assert abs(float(np.linalg.norm(routed.vector)) - 1.0) < 1e-4


def test_a_1_mib_questions_tail_is_not_tokenized_whole() -> None:
    emb = embedder()
    seen: list[int] = []
    inner = emb.tail_tokenizer

    class Counting:
        def encode_batch(self, texts: list[str]) -> list[object]:
            seen.extend(len(t) for t in texts)
            return list(inner.encode_batch(texts))

    emb.tail_tokenizer = Counting()  # type: ignore[assignment]  # the seam: same encode_batch
    try:
        (tok,) = emb.tokenize([prose(1024 * 1024, seed=0)], tail=True)
    finally:
        emb.tail_tokenizer = inner
    assert sum(seen) <= 256 * 8
    assert tok.truncated


def test_suffix_starts_between_two_words() -> None:
    text = "alpha beta gamma delta"
    assert suffix(text, 100) == text
    assert suffix(text, 8) == "delta"  # "ma delta" starts inside "gamma"
    assert suffix("x" * 600, 10) == "x" * 10  # no white space near the cut


async def test_the_question_lane_answers_head_and_tail_callers_side_by_side() -> None:
    emb = embedder()
    batcher = MicroBatcher(emb, Metrics())
    await batcher.start()
    try:
        long = words(400, seed=5) + " what is the capital of france"
        short = "How do I delete a file in Linux?"
        got = await asyncio.gather(
            batcher.embed([long]), batcher.embed([long], tail=True),
            batcher.embed([short], tail=True), batcher.embed([short]),
        )  # fmt: skip
        with pytest.raises(ValueError, match="bulk"):
            await batcher.embed([long], bulk=True, tail=True)
    finally:
        await batcher.stop()
    (head,), (tail,), (short_tail,), (short_head,) = got
    assert np.array_equal(head.vector, emb.embed([long])[0].vector)
    assert np.array_equal(tail.vector, emb.embed([long], tail=True)[0].vector)
    assert not np.array_equal(head.vector, tail.vector)
    assert np.array_equal(short_tail.vector, short_head.vector)
