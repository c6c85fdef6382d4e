"""hnswlib recall@1 against brute force on real MiniLM vectors, for the cache's ef choice.

    .venv/bin/python -m bench.recall [--n 20000] [--queries 1000]

Embeds distinct sentences from $SLUICE_DATA_DIR/cache (PAWS, CANNOT, GPTCache) with the
shipped model, indexes all but the queries with the cache's own VectorGroup (M 16,
ef_construction 200), and compares each query's nearest neighbour with brute force at
several ef. The queries are paraphrases and near-duplicates of indexed sentences, the case
a semantic cache meets. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import table
from sluice.cache.vectors import HnswParams, VectorGroup
from sluice.cli import default_data_dir, default_model_dir
from sluice.embedding.model import OnnxEmbedder
from sluice.evaluation import datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    root = default_data_dir() / "cache"
    pairs = datasets.paws(root) + datasets.cannot_antonyms(root) + datasets.gptcache(root)
    texts = list(dict.fromkeys(t for p in pairs for t in (p.a, p.b)))[: args.n]
    embedder = OnnxEmbedder(default_model_dir())
    started = time.perf_counter()
    vectors = np.stack([e.vector for e in embedder.embed(texts, max_batch=64)])
    embed_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    queries, base = vectors[order[: args.queries]], vectors[order[args.queries :]]
    truth = np.argmax(queries @ base.T, axis=1)
    rows = [("vectors", f"{len(base):,} indexed, {len(queries):,} queries "
                        f"(embedded in {embed_s:.0f} s)")]  # fmt: skip
    for ef in (16, 32, 64, 128, 256):
        group = VectorGroup(base.shape[1], HnswParams(ef_search=ef, hnsw_min=1))
        group.load_items(list(range(len(base))), base, force_index=True)
        started = time.perf_counter()
        found = [group.search(q, 1)[0][0] for q in queries]
        per_query_us = (time.perf_counter() - started) / len(queries) * 1e6
        recall = float(np.mean(np.asarray(found) == truth))
        rows.append((f"ef {ef}", f"recall@1 {recall:.4f}   {per_query_us:.0f} µs per query"))
    table("hnswlib recall@1 vs brute force, real all-MiniLM-L6-v2 vectors", rows)


if __name__ == "__main__":
    main()
