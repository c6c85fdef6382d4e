"""One onnxruntime session as the daemon runs its models: CPU, fixed threads, full graph fusions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding

from sluice.errors import ConfigError


def model_files(model_dir: Path, key: str, onnx_name: str = "model.onnx") -> tuple[Path, Path]:
    """`onnx_name` and `tokenizer.json` in `model_dir`; a ConfigError names `key` if one lacks."""
    files = (model_dir / onnx_name, model_dir / "tokenizer.json")
    for path in files:
        if not path.is_file():
            raise ConfigError(key, f"{path} does not exist")
    return files


def cpu_session(path: Path, threads: int, key: str, inputs: Iterable[str]) -> ort.InferenceSession:
    """A session on `path` whose graph has `inputs`; errors name the config `key`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # A pool thread that finds no work spins before it sleeps: with 2 intra-op threads that
    # was half of a served L2 hit's CPU (issue #19, docs/cpu.md). The daemon runs each call
    # on one thread and gets its parallelism from calls side by side; off in any case.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # The memory pattern plans buffers for the largest shape seen and the arena keeps them for
    # the life of the process: off, the peak of a 32×256-token run fell from 727 to 451 MB at the
    # same speed (docs/RELIABILITY.md, "Embedding memory and CPU"). The arena stays on: without
    # it RSS fell back after a run but peaked higher and runs were slower.
    options.enable_mem_pattern = False
    session = ort.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    missing = set(inputs) - {i.name for i in session.get_inputs()}
    if missing:
        raise ConfigError(key, f"{path} lacks the inputs {sorted(missing)}")
    return session


IdMatrix = npt.NDArray[np.int64]

# Past this many characters per token a text is not prose (padding, one endless "word"), and
# tokenizing further costs time for tokens the model never sees (WordPiece turns any word over
# 100 characters into a single [UNK], so no count of characters guarantees a count of tokens).
MAX_CHARS_PER_TOKEN = 256
# A cut looks this far back for white space, so it ends between two words.
_WORD_WINDOW = 256


def prefix(text: str, chars: int) -> str:
    """`text` cut to at most `chars` characters, between two words when one ends near the cut.

    Tokenizers split words at white space first and encode each word on its own, so the
    tokens of a cut that ends between words are the first tokens of the whole text. Without
    white space in the last 256 characters the cut falls inside a run of more than 256
    characters (one [UNK] when it is a single word); only the run's last piece may then differ.
    """
    if len(text) <= chars:
        return text
    for end in range(chars, max(chars - _WORD_WINDOW, 0), -1):
        if text[end].isspace():
            return text[:end]
    return text[:chars]


def suffix(text: str, chars: int) -> str:
    """`text`'s last `chars` characters at most, starting between two words when one starts
    near the cut: the tokens of such a cut are the last tokens of the whole text (see `prefix`).
    Without white space in the first 256 characters of the cut it falls inside a run of more
    than 256 characters; only the run's first piece may then differ.
    """
    if len(text) <= chars:
        return text
    start = len(text) - chars
    for begin in range(start, min(start + _WORD_WINDOW, len(text))):
        if text[begin - 1].isspace():
            return text[begin:]
    return text[start:]


def pad(encodings: Sequence[Encoding]) -> tuple[IdMatrix, IdMatrix, IdMatrix]:
    """input_ids, attention_mask and token_type_ids of a batch, zero-padded to its longest."""
    length = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), length), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        ids[row, :n] = enc.ids
        mask[row, :n] = enc.attention_mask
        types[row, :n] = enc.type_ids
    return ids, mask, types
