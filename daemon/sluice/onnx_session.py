"""One onnxruntime session as the daemon runs its models: CPU, fixed threads, full graph fusions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import onnxruntime as ort

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
