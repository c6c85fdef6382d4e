"""The verifier reads no more of a text than its max_tokens can use (issue #17)."""

from __future__ import annotations

from typing import Any

from tokenizers import Encoding, Tokenizer

from sluice.cli import default_verifier_dir
from sluice.onnx_session import prefix
from sluice.verifier.model import OnnxVerifier

SENTENCE = "how long does the cache keep an answer when the provider is slow to reply "


class _CountingTokenizer:
    """The real tokenizer, counting the characters it is given (a seam, not a mock)."""

    def __init__(self, inner: Tokenizer) -> None:
        self.inner = inner
        self.chars = 0

    def encode(self, *texts: str, **kwargs: Any) -> Encoding:
        self.chars += sum(len(t) for t in texts)
        return self.inner.encode(*texts, **kwargs)


def test_a_1_mib_query_is_cut_before_tokenizing_and_scores_as_its_prefix() -> None:
    model = OnnxVerifier(default_verifier_dir())
    query = SENTENCE * (1024 * 1024 // len(SENTENCE))
    cached = "How long does the cache keep an answer?"
    counting = _CountingTokenizer(model.tokenizer)
    model.tokenizer = counting  # type: ignore[assignment]  # the seam: same encode
    (huge,) = model.logits(query, [cached])
    # Before: the whole 1 MiB was tokenized for 128 tokens.
    assert counting.chars <= 2 * 128 * 256
    # A 20 KB prefix is tokenized whole, and longest-first truncation keeps the same tokens.
    (short,) = model.logits(prefix(query, 20_000), [cached])
    assert abs(float(huge) - float(short)) < 1e-5
