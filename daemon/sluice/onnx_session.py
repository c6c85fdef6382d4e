"""One onnxruntime session as the daemon runs its models: CPU, fixed threads, full graph fusions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Encoding

from sluice.errors import ConfigError


def cpu_session(path: Path, threads: int, key: str, inputs: Iterable[str]) -> ort.InferenceSession:
    """A session on `path` whose graph has `inputs`; errors name the config `key`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    missing = set(inputs) - {i.name for i in session.get_inputs()}
    if missing:
        raise ConfigError(key, f"{path} lacks the inputs {sorted(missing)}")
    return session


IdMatrix = npt.NDArray[np.int64]


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
