"""Searches from the embedding lanes beside changes on the vector thread (issue #19).

hnswlib's `knn_query` must not run beside `add_items`, `mark_deleted` or `resize_index`;
the vector layer's lock keeps them apart while searches run on other threads.
"""

from __future__ import annotations

import threading

import numpy as np

from sluice.cache.vectors import HnswParams, VectorStore

DIMS = 16


def test_searches_on_other_threads_beside_adds_removals_and_compactions() -> None:
    # Small hnsw_min and a low compaction share: the group becomes an index, grows (resize)
    # and is rebuilt (compaction) several times while two threads search it.
    store = VectorStore(DIMS, HnswParams(m=8, ef_construction=32, ef_search=16, hnsw_min=32,
                                         compact_fraction=0.2))  # fmt: skip
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stop = threading.Event()
    errors: list[BaseException] = []
    found = 0

    def search(seed: int) -> None:
        nonlocal found
        r = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                hits = store.search("ns", "s", vectors[r.integers(len(vectors))], 4)
                found += len(hits)
                assert all(-1.01 <= sim <= 1.01 for _, sim in hits)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    searchers = [threading.Thread(target=search, args=(s,)) for s in (1, 2)]
    for t in searchers:
        t.start()
    try:
        labels = []
        for i, vector in enumerate(vectors):
            labels.append(store._executor.submit(store.add_sync, "ns", "s", vector).result())
            if i % 3 == 2:  # remove one of every three: deletions pile up, compactions run
                store._executor.submit(store.remove_sync, "ns", "s", labels.pop(0)).result()
    finally:
        stop.set()
        for t in searchers:
            t.join()
        store.close()
    assert not errors, errors
    assert found > 0
    assert len(store.groups[("ns", "s")]) == len(labels)
