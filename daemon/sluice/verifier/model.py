"""The cache verifier: a cross-encoder that scores P(same meaning) of two questions.

The model folder (models/sluice-verifier, trained by
models/scripts/train_verifier.py) holds:

    model.onnx      int8 (models/scripts/quantize_verifier.py); inputs input_ids,
                    attention_mask, token_type_ids [batch, seq], guards [batch, 4]
                    (guards.FEATURES); output logit [batch]
    tokenizer.json  the MiniLM WordPiece tokenizer
    verifier.json   version, Platt calibration, default min_probability, max_tokens

Each pair is "[CLS] query [SEP] cached question [SEP]", truncated longest-first,
and runs alone (batch 1, no padding): the model quantizes its activations with
one scale per call, so inside a batch a pair's score would depend on the other
pairs. Alone, it depends on the pair only; the calibration and every published
figure were computed the same way, and tests/unit/verifier checks it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from sluice.errors import ConfigError
from sluice.onnx_session import MAX_CHARS_PER_TOKEN, cpu_session, model_files, prefix
from sluice.types import Guard
from sluice.verifier.guards import FEATURES, features, refusal

VERIFIER_KEY = "cache.verifier.model_dir"


@dataclass(frozen=True, slots=True)
class VerifierCard:
    version: str
    default_min_probability: float
    max_tokens: int
    platt_a: float
    platt_b: float


def _read_card(model_dir: Path, onnx_path: Path) -> VerifierCard:
    path = model_dir / "verifier.json"
    try:
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        card = VerifierCard(
            version=str(meta["version"]),
            default_min_probability=float(meta["default_min_probability"]),
            max_tokens=int(meta["max_tokens"]),
            platt_a=float(meta["platt"]["a"]),
            platt_b=float(meta["platt"]["b"]),
        )
        guards = list(meta["guards"])
        digest = str(meta["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(VERIFIER_KEY, f"{path} is missing or unreadable ({exc})") from exc
    if guards != list(FEATURES):
        raise ConfigError(
            VERIFIER_KEY, f"{path}: model trained on guards {guards}, daemon has {FEATURES}"
        )
    actual = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    if actual != digest:
        raise ConfigError(
            VERIFIER_KEY, f"{onnx_path} sha256 {actual[:12]} ≠ verifier.json's {digest[:12]}"
        )
    return card


def read_card(model_dir: Path) -> VerifierCard:
    """The model's card, once its files are there and its sha256 matches; else a ConfigError."""
    onnx_path, _ = model_files(model_dir, VERIFIER_KEY)
    return _read_card(model_dir, onnx_path)


def unknown_id(tokenizer: Tokenizer) -> int | None:
    """The id the tokenizer's model gives a piece it does not know, whatever its kind.

    WordPiece and BPE name an unknown token (MiniLM's "[UNK]"); a SentencePiece Unigram
    vocabulary (XLM-R's, a multilingual verifier's) gives its id instead. None when the
    model has none (byte-level vocabularies know every text).
    """
    model = json.loads(tokenizer.to_str())["model"]
    if model.get("unk_id") is not None:
        return int(model["unk_id"])
    token = model.get("unk_token")
    return tokenizer.token_to_id(token) if token else None


class OnnxVerifier:
    """Scores (query, cached question) pairs; synchronous, callable from several threads.

    Each call runs on the caller's thread alone (one intra-op thread, no spinning), so
    calls side by side never spin-wait for each other (issue #19).
    """

    def __init__(self, model_dir: Path) -> None:
        self.card = read_card(model_dir)
        onnx_path, tokenizer_path = model_files(model_dir, VERIFIER_KEY)
        self.version = self.card.version
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.card.max_tokens, strategy="longest_first")
        self._unknown = unknown_id(self.tokenizer)
        self.session = cpu_session(
            onnx_path, 1, VERIFIER_KEY, ("input_ids", "attention_mask", "token_type_ids", "guards")
        )

    def logits(self, query: str, cached: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """One model run per pair, never a batch (see the module's docstring)."""
        return np.asarray([self._logit(query, c) for c in cached], dtype=np.float32)

    def _logit(self, query: str, cached: str) -> float:
        # Longest-first truncation keeps at most max_tokens of either text; past 256
        # characters a token a prefix holds them all (onnx_session.prefix), so a 1 MiB
        # query is not tokenized whole for 128 tokens.
        chars = self.card.max_tokens * MAX_CHARS_PER_TOKEN
        enc = self.tokenizer.encode(prefix(query, chars), prefix(cached, chars))
        ids = np.asarray([enc.ids], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64),
            "guards": np.asarray([features(query, cached)], dtype=np.float32),
        }
        (out,) = self.session.run(["logit"], feed)
        return float(np.asarray(out).reshape(-1)[0])

    def probability(self, logit: float) -> float:
        z = self.card.platt_a * logit + self.card.platt_b
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0

    def score(self, query: str, cached: Sequence[str]) -> list[float]:
        """P(same meaning) of `query` with each cached question, in order."""
        if not cached:
            return []
        return [self.probability(float(z)) for z in self.logits(query, cached)]

    def same_pieces(self, query: str, cached: Sequence[str]) -> list[bool]:
        """Whether each cached question has `query`'s own word pieces (see `pieces`)."""
        mine = self.pieces(query)
        return [mine is not None and self.pieces(c) == mine for c in cached]

    def pieces(self, text: str) -> list[int] | None:
        """The text's word pieces, or None when they do not stand for all of it.

        The uncased WordPiece folds case, accents and white space, so two texts with the
        same pieces are the same input to both models. Not when a piece is unknown (two
        different emoji are both [UNK]) or the text is cut (it differs past the cut).
        """
        if len(text) > self.card.max_tokens * MAX_CHARS_PER_TOKEN:
            return None  # over max_tokens whatever it holds; not worth tokenizing
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        if enc.overflowing or self._unknown in enc.ids:
            return None
        return list(enc.ids)


class Verifier:
    """The cache's face of OnnxVerifier (cache.verdict.PairVerifier): timed scores.

    Synchronous: the cache calls it on the embedding lane that embedded the question,
    right after the vector search, so a lookup's model work is one hop off the event
    loop (issue #19). Several lanes call it at once; onnxruntime's Run is thread-safe.
    """

    def __init__(self, model: OnnxVerifier) -> None:
        self.model = model
        self.version = model.version
        self.default_min_probability = model.card.default_min_probability

    def score(self, query: str, cached: Sequence[str]) -> tuple[list[float], float]:
        """Probabilities and the seconds the model took."""
        started = time.perf_counter()
        scores = self.model.score(query, cached)
        return scores, time.perf_counter() - started

    def same_pieces(self, query: str, cached: Sequence[str]) -> list[bool]:
        return self.model.same_pieces(query, cached)

    def refusal(
        self, query: str, cached: str, guards: Collection[Guard]
    ) -> tuple[Guard, str] | None:
        """The guards' veto (guards.refusal), or None: the model decides."""
        return refusal(query, cached, guards)
