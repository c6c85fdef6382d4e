"""A sentence-transformers-style ONNX embedder on CPU.

Tokenize (padding and truncation set here, not by tokenizer.json), run
onnxruntime, mean-pool over the attention mask, L2-normalise. Every step is
row-independent, so a text gets the same vector alone or inside any batch;
`tests/unit/embedding` checks that, and the reference vectors of the fp32
model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

from sluice.errors import ConfigError
from sluice.onnx_session import cpu_session, pad

Vector = npt.NDArray[np.float32]

_SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>"})
_UNKNOWN = frozenset({"[UNK]", "<unk>"})


@dataclass(frozen=True, slots=True)
class Embedded:
    vector: Vector
    tokens: int
    truncated: bool
    # Share of the text's words the model's vocabulary covers (see `coverage`).
    coverage: float


def coverage(encoding: Encoding, text: str) -> float:
    """Share of words the vocabulary represents with real word pieces.

    A word counts as not covered when any of its pieces is unknown, when a
    word of two or more characters falls apart into single characters (how an
    English WordPiece vocabulary "reads" Cyrillic or Greek), or when a
    one-character word is not ASCII (a CJK character standing alone). Words
    without letters are not counted.
    """
    words: dict[int, list[int]] = {}
    for index, word_id in enumerate(encoding.word_ids):
        if word_id is not None and encoding.tokens[index] not in _SPECIAL:
            words.setdefault(word_id, []).append(index)
    counted = covered = 0
    for indices in words.values():
        start = encoding.offsets[indices[0]][0]
        end = encoding.offsets[indices[-1]][1]
        word = text[start:end]
        if not any(ch.isalpha() for ch in word):
            continue
        counted += 1
        pieces = [encoding.tokens[i] for i in indices]
        if any(p in _UNKNOWN for p in pieces):
            continue
        if len(word) >= 2 and all(len(p.removeprefix("##")) == 1 for p in pieces):
            continue
        if len(word) == 1 and not word.isascii():
            continue
        covered += 1
    return 1.0 if counted == 0 else covered / counted


class OnnxEmbedder:
    """Loads `model.onnx` and `tokenizer.json` from a directory."""

    def __init__(self, model_dir: Path, *, threads: int = 2, max_tokens: int = 256) -> None:
        onnx_path = model_dir / "model.onnx"
        tokenizer_path = model_dir / "tokenizer.json"
        for path in (onnx_path, tokenizer_path):
            if not path.is_file():
                raise ConfigError("embedding.model_dir", f"{path} does not exist")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # tokenizer.json may pad to a fixed length: we pad per batch ourselves.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.max_tokens = max_tokens
        self.session = cpu_session(
            onnx_path, threads, "embedding.model_dir", ("input_ids", "attention_mask")
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._output = self.session.get_outputs()[0].name
        self.dimensions = int(self.session.get_outputs()[0].shape[-1])
        digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
        self.model_id = f"{model_dir.name}@{digest[:12]}"

    def tokenize(self, texts: Sequence[str]) -> list[Encoding]:
        return list(self.tokenizer.encode_batch(list(texts)))

    def run(self, encodings: Sequence[Encoding]) -> npt.NDArray[np.float32]:
        """Embed one padded batch; rows are independent of each other."""
        ids, mask, types = pad(encodings)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = types
        (hidden,) = self.session.run([self._output], feed)
        hidden = np.asarray(hidden, dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return out

    def embed(self, texts: Sequence[str], max_batch: int = 64) -> list[Embedded]:
        """Embed texts in as few onnxruntime calls as padding allows.

        Texts are sorted by token count and cut into groups of at most
        `max_batch` whose longest member is at most 1.5× (+8 tokens) the
        shortest, so short texts are not padded to a long one's length.
        """
        encodings = self.tokenize(texts)
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        vectors: list[Vector | None] = [None] * len(encodings)
        start = 0
        while start < len(order):
            shortest = len(encodings[order[start]].ids)
            end = start + 1
            while (
                end < len(order)
                and end - start < max_batch
                and len(encodings[order[end]].ids) <= shortest * 1.5 + 8
            ):
                end += 1
            group = order[start:end]
            out = self.run([encodings[i] for i in group])
            for row, index in enumerate(group):
                vectors[index] = out[row]
            start = end
        results = []
        for vector, enc, text in zip(vectors, encodings, texts, strict=True):
            assert vector is not None
            results.append(
                Embedded(
                    vector=vector,
                    tokens=len(enc.ids),
                    truncated=bool(enc.overflowing),
                    coverage=coverage(enc, text),
                )
            )
        return results
