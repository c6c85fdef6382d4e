"""A sentence-transformers-style ONNX embedder on CPU.

Tokenize (padding and truncation set here, not by tokenizer.json), run
onnxruntime, mean-pool over the attention mask, L2-normalise. A text gets the
same vector alone or inside any batch: fp32 graphs are row-independent, and a
graph whose activations are quantized per call (dynamic int8, whose metadata says
ONE_ROW_PER_RUN) runs each text alone. `tests/unit/embedding` checks both, and
the reference vectors of the fp32 model.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

from sluice.errors import ConfigError
from sluice.onnx_session import (
    MAX_CHARS_PER_TOKEN,
    IdMatrix,
    cpu_session,
    model_files,
    pad,
    prefix,
    suffix,
)

Vector = npt.NDArray[np.float32]

_SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>"})
_UNKNOWN = frozenset({"[UNK]", "<unk>"})
# Tokenize() cuts a text to this many characters per token first, then 4× more while
# the cut does not fill max_tokens: prose averages 4–6 characters per token.
_FIRST_CHARS_PER_TOKEN = 8
_GROWTH = 4
# Padded tokens (rows × longest) per onnxruntime call; EmbeddingSettings.max_batch_tokens.
DEFAULT_BATCH_TOKENS = 1024
MODEL_DIR_KEY = "embedding.model_dir"
PRECISION_KEY = "embedding.precision"
# The weights file of each precision in a model folder (EmbeddingSettings.precision).
MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
# ONNX metadata (models/scripts/export_minilm.py writes it): "1" when a row's output depends
# on the other rows of its call (activations quantized with one scale per call).
ONE_ROW_PER_RUN = "sluice.one_row_per_run"
# A script the vocabulary holds at least this many word pieces of is one it reads (see
# `read_scripts`). all-MiniLM-L6-v2's English WordPiece holds 26,461 Latin pieces of two or
# more letters but 86 Cyrillic, 54 Greek and 488 CJK pieces, nearly all single characters;
# a multilingual vocabulary holds thousands of each script it was trained on.
MIN_SCRIPT_PIECES = 1000


@dataclass(frozen=True, slots=True)
class Embedded:
    vector: Vector
    tokens: int
    truncated: bool
    # Share of the text's words the model's vocabulary covers (see `coverage`).
    coverage: float


@dataclass(frozen=True, slots=True)
class Tokenized:
    encoding: Encoding
    # The model sees a part only: the first (or, `tail`, the last) max_tokens tokens, or a
    # cut made before tokenizing (`tokenize`).
    truncated: bool


@lru_cache(maxsize=4096)
def script(char: str) -> str:
    """The Unicode script of a letter, as the first word of its name: LATIN, CYRILLIC, CJK…"""
    return unicodedata.name(char, "").split(" ", 1)[0]


def read_scripts(vocabulary: Sequence[str]) -> frozenset[str]:
    """The scripts a vocabulary reads: those it holds at least MIN_SCRIPT_PIECES pieces of.

    Counting pieces, not letters, tells reading from spelling: an English WordPiece
    vocabulary keeps each Cyrillic letter and a few two-letter endings (`##ка`, `##ии`,
    `##ов`), so Russian falls apart into letters the model never learned as words. All
    pieces count, single characters too: a Chinese vocabulary reads one character per piece.
    """
    counts: Counter[str] = Counter()
    for piece in vocabulary:
        # WordPiece marks continuations with ##, SentencePiece a word start with ▁.
        core = piece.removeprefix("##").removeprefix("\u2581")
        scripts = {script(ch) for ch in core if ch.isalpha()}
        if len(scripts) == 1 and all(ch.isalpha() for ch in core):
            counts[scripts.pop()] += 1
    return frozenset(s for s, n in counts.items() if n >= MIN_SCRIPT_PIECES)


def coverage(encoding: Encoding, text: str, scripts: frozenset[str]) -> float:
    """Share of words the vocabulary represents with real word pieces.

    A word counts as not covered when any of its pieces is unknown, when one of
    its letters is of a script outside `scripts` (read_scripts: the vocabulary
    only spells it, letter by letter or in two-letter pieces such as `##ии`), when
    a word of two or more characters falls apart into single characters, or when
    a one-character word is not ASCII (a CJK character standing alone). Words
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
        # NFKC first: a full-width "Ｌｉｎｕｘ" is Latin to the tokenizer's normaliser too.
        if any(script(ch) not in scripts for ch in unicodedata.normalize("NFKC", word)
               if ch.isalpha()):  # fmt: skip
            continue
        if len(word) >= 2 and all(len(p.removeprefix("##")) == 1 for p in pieces):
            continue
        if len(word) == 1 and not word.isascii():
            continue
        covered += 1
    return 1.0 if counted == 0 else covered / counted


def weights_file(model_dir: Path, precision: str = "auto") -> str:
    """The file of `model_dir` that runs at `precision` ("auto": int8 when the folder has it).

    An explicit precision whose file is missing is a ConfigError naming embedding.precision.
    """
    if precision == "auto":
        int8 = MODEL_FILES["int8"]
        return int8 if (model_dir / int8).is_file() else MODEL_FILES["fp32"]
    name = MODEL_FILES[precision]
    if not (model_dir / name).is_file():
        others = sorted(p for p, f in MODEL_FILES.items() if (model_dir / f).is_file())
        raise ConfigError(
            PRECISION_KEY,
            f"{precision}: {model_dir / name} does not exist; this folder has "
            f"{', '.join(others) or 'no model'} (or set auto)",
        )
    return name


def model_id(model_dir: Path, precision: str = "auto") -> str:
    """`<folder>@<sha256 prefix>` of the file that runs: what cached vectors and trained
    routers are tied to."""
    return _file_id(model_dir, weights_file(model_dir, precision))


def _file_id(model_dir: Path, weights: str) -> str:
    digest = hashlib.sha256((model_dir / weights).read_bytes()).hexdigest()
    return f"{model_dir.name}@{digest[:12]}"


class OnnxEmbedder:
    """Loads a model file (`precision`, see weights_file) and `tokenizer.json` from a folder."""

    def __init__(
        self, model_dir: Path, *, threads: int = 2, max_tokens: int = 256, precision: str = "auto"
    ) -> None:
        self.weights = weights_file(model_dir, precision)
        onnx_path, tokenizer_path = model_files(model_dir, MODEL_DIR_KEY, self.weights)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # tokenizer.json may pad to a fixed length: we pad per batch ourselves.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        # The same tokenizer keeping a long text's last tokens (`tokenize(tail=True)`):
        # [CLS] + the final max_tokens − 2 tokens + [SEP], as the model expects.
        self.tail_tokenizer = Tokenizer.from_str(self.tokenizer.to_str())
        self.tail_tokenizer.enable_truncation(max_length=max_tokens, direction="left")
        self.max_tokens = max_tokens
        # MicroBatcher runs this many question batches side by side on the one session, each
        # call on one thread of its own: no thread spin-waits for another (issue #19).
        self.threads = threads
        self.session = cpu_session(onnx_path, 1, MODEL_DIR_KEY, ("input_ids", "attention_mask"))
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._output = self.session.get_outputs()[0].name
        self.dimensions = int(self.session.get_outputs()[0].shape[-1])
        # Token states [batch, sequence, dim] are mean-pooled here; a graph that pools itself
        # returns [batch, dim] (USE-multilingual, docs/embedding-models.md) and is only normalised.
        self._pools_itself = len(self.session.get_outputs()[0].shape) == 2
        self.model_id = _file_id(model_dir, self.weights)
        # Activations quantized per call: a row's vector would depend on its batch-mates and
        # their padding (up to 0.03 of cosine), so every text runs alone (`run`).
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.one_row_per_run = metadata.get(ONE_ROW_PER_RUN) == "1"
        # The scripts whose words count as covered (`coverage`), read off the vocabulary so
        # that another model brings its own.
        self.scripts = read_scripts(list(self.tokenizer.get_vocab()))

    def tokenize(self, texts: Sequence[str], *, tail: bool = False) -> list[Tokenized]:
        """Encode texts, never more of a text than its first `max_tokens` tokens need.

        A text is cut to 8 characters per token before tokenizing (prose averages 4–6);
        one that does not fill `max_tokens` within its cut is tokenized again from a cut 4×
        longer, up to MAX_CHARS_PER_TOKEN. So a 1 MiB question costs ~2,000 characters of
        tokenizing, not a million, and the tokens are those of the whole text (see `prefix`).

        `tail`: its last `max_tokens` tokens instead, from cuts of its end (`suffix`). A text
        that fits gets the same encoding either way.
        """
        limit = self.max_tokens * MAX_CHARS_PER_TOKEN
        chars = min(self.max_tokens * _FIRST_CHARS_PER_TOKEN, limit)
        cut_at, tokenizer = (suffix, self.tail_tokenizer) if tail else (prefix, self.tokenizer)
        out: list[Tokenized | None] = [None] * len(texts)
        pending = list(range(len(texts)))
        while pending:
            cuts = [cut_at(texts[i], chars) for i in pending]
            again = []
            for i, cut, enc in zip(pending, cuts, tokenizer.encode_batch(cuts), strict=True):
                whole = len(cut) == len(texts[i])
                if whole or enc.overflowing or chars >= limit:
                    out[i] = Tokenized(enc, truncated=bool(enc.overflowing) or not whole)
                else:
                    again.append(i)
            pending = again
            chars = min(chars * _GROWTH, limit)
        return [t for t in out if t is not None]

    def run(self, encodings: Sequence[Encoding]) -> npt.NDArray[np.float32]:
        """Embed one padded batch, or each text alone when the graph's rows are not
        independent (`one_row_per_run`): a text gets the same vector in any batch."""
        if self.one_row_per_run and len(encodings) > 1:
            return np.vstack([self._run(encodings[i : i + 1]) for i in range(len(encodings))])
        return self._run(encodings)

    def _run(self, encodings: Sequence[Encoding]) -> npt.NDArray[np.float32]:
        ids, mask, types = pad(encodings)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = types
        (hidden,) = self.session.run([self._output], feed)
        hidden = np.asarray(hidden, dtype=np.float32)
        pooled = hidden if self._pools_itself else mean_pool(hidden, mask)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return out

    def embed(
        self,
        texts: Sequence[str],
        max_batch: int = 64,
        max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
        *,
        tail: bool = False,
    ) -> list[Embedded]:
        """Embed texts in as few onnxruntime calls as padding and `max_batch_tokens` allow.

        `tail`: the routing representation (issue #21): a text longer than `max_tokens` is
        embedded by its last tokens, not its first; one that fits gets the very vector it
        gets without `tail`.
        """
        tokenized = self.tokenize(texts, tail=tail)
        results: list[Embedded | None] = [None] * len(tokenized)
        for group in plan_batches(tokenized, max_batch, max_batch_tokens):
            for index, result in zip(group, self.embed_group(texts, tokenized, group), strict=True):
                results[index] = result
        return [r for r in results if r is not None]

    def embed_group(
        self, texts: Sequence[str], tokenized: Sequence[Tokenized], group: Sequence[int]
    ) -> list[Embedded]:
        """One onnxruntime call over `group` (indices into `texts`), pooled into results."""
        out = self.run([tokenized[i].encoding for i in group])
        return [
            embedded(texts[i], tokenized[i], out[row], self.scripts) for row, i in enumerate(group)
        ]


def mean_pool(hidden: npt.NDArray[np.float32], mask: IdMatrix) -> npt.NDArray[np.float32]:
    """Mean of each row's token states over its attention mask (sentence-transformers)."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled: npt.NDArray[np.float32] = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled


def plan_batches(
    tokenized: Sequence[Tokenized], max_batch: int, max_batch_tokens: int
) -> list[list[int]]:
    """Indices of `tokenized` in onnxruntime calls: short texts are not padded to long ones.

    Texts are sorted by token count and cut into groups of at most `max_batch` whose longest
    member is at most 1.5× (+8 tokens) the shortest and whose padded size (rows × longest)
    is at most `max_batch_tokens`: attention memory grows with rows × length², and one
    64×256 run took the daemon from 294 MB to 1.3 GB (docs/RELIABILITY.md). A single text
    longer than the cap still runs, alone.
    """
    lengths = [len(t.encoding.ids) for t in tokenized]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups = []
    start = 0
    while start < len(order):
        shortest = lengths[order[start]]
        end = start + 1
        while end < len(order) and end - start < max_batch:
            longest = lengths[order[end]]
            if longest > shortest * 1.5 + 8 or (end - start + 1) * longest > max_batch_tokens:
                break
            end += 1
        groups.append(order[start:end])
        start = end
    return groups


def embedded(text: str, tokenized: Tokenized, vector: Vector, scripts: frozenset[str]) -> Embedded:
    """The result for one text once its group has run."""
    enc = tokenized.encoding
    return Embedded(
        vector=vector,
        tokens=len(enc.ids),
        truncated=tokenized.truncated,
        coverage=coverage(enc, text, scripts),
    )
