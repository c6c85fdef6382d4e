"""Runs in .venv/peers: GPTCache 0.1.44 on its own mock data, with Sluice's embedding model.

GPTCache is configured as its benchmark does (sqlite + a vector store + the
distance evaluation), with the hnswlib store and our ONNX model, at thresholds
mapped to cosine: its hnswlib store returns squared L2, its SearchDistanceEvaluation
scores 4 − d, so a GPTCache threshold t hits at cosine ≥ 2t − 1 on unit vectors.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "daemon"))

from gptcache import Cache, Config  # noqa: E402
from gptcache.adapter.api import get, put  # noqa: E402
from gptcache.manager import CacheBase, VectorBase, get_data_manager  # noqa: E402
from gptcache.processor.pre import get_prompt  # noqa: E402
from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation  # noqa: E402

from sluice.embedding.model import OnnxEmbedder  # noqa: E402


def _int_ids(search: Callable[..., list[Any]]) -> Callable[..., list[tuple[float, int]]]:
    def wrapped(data: Any, **kwargs: Any) -> list[tuple[float, int]]:
        return [(float(d), int(i)) for d, i in search(data, **kwargs)]

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--thresholds", default="0.90,0.95,0.97")
    args = parser.parse_args()
    pairs = json.loads(args.data.read_text())
    embedder = OnnxEmbedder(REPO / "models" / "all-MiniLM-L6-v2", threads=2)

    def embed(text: str, **_: object) -> object:
        return embedder.embed([text])[0].vector

    results = {}
    for cosine in (float(t) for t in args.thresholds.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            manager = get_data_manager(
                CacheBase("sqlite", sql_url=f"sqlite:///{tmp}/cache.db"),
                VectorBase("hnswlib", dimension=384, index_path=f"{tmp}/index.bin",
                           max_elements=len(pairs) + 10),
            )  # fmt: skip
            # GPTCache 0.1.44 predates numpy 2: its hnswlib store returns numpy.uint64 ids,
            # which its sqlite store then finds no row for. Hand it plain ints.
            manager.search = _int_ids(manager.search)  # type: ignore[method-assign]
            cache = Cache()
            cache.init(
                pre_embedding_func=get_prompt, embedding_func=embed, data_manager=manager,
                similarity_evaluation=SearchDistanceEvaluation(),
                config=Config(similarity_threshold=(1 + cosine) / 2),
            )  # fmt: skip
            for i, pair in enumerate(pairs):
                put(pair["origin"], str(i), cache_obj=cache)
            right = wrong = miss = 0
            latencies = []
            for i, pair in enumerate(pairs):
                started = time.perf_counter()
                answer = get(pair["similar"], cache_obj=cache)
                latencies.append((time.perf_counter() - started) * 1000)
                if answer is None:
                    miss += 1
                elif answer == str(i):
                    right += 1
                else:
                    wrong += 1
            q = statistics.quantiles(latencies, n=100)
            results[f"{cosine:.2f}"] = {"hits": right, "false_hits": wrong, "misses": miss,
                                        "p50_ms": q[49], "p99_ms": q[98]}  # fmt: skip
    print(json.dumps(results))


if __name__ == "__main__":
    main()
