"""The vector layer: one group of vectors per (namespace, scope).

A lookup only ever searches its own group, so tenants and conversations are
isolated by construction, not by a filter. A small group is searched exactly
(one matrix product); past `hnsw_min` vectors it moves into an hnswlib index
(inner product on L2-normalised vectors = cosine).

Changes run on one executor thread, in order (`call`, `submit`), so the event loop
never blocks on them. Searches run on whichever thread asks (the embedding lane that
just embedded the question: no hop of their own, issue #19), under the store's lock,
which every change holds too: hnswlib's `knn_query` is safe beside another
`knn_query`, not beside `add_items`, `mark_deleted` or `resize_index` (its README).
A search takes ~0.2 ms of a ~5 ms lookup, so one plain lock costs no measurable
waiting; searches also waited behind changes when they ran on the executor.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import hnswlib
import numpy as np
import numpy.typing as npt

T = TypeVar("T")
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class HnswParams:
    m: int = 16
    ef_construction: int = 200
    ef_search: int = 128
    # Groups smaller than this are searched exactly.
    hnsw_min: int = 1024
    # Rebuild an index whose share of deleted elements passes this.
    compact_fraction: float = 0.3


class VectorGroup:
    """Vectors of one (namespace, scope), each under an int label."""

    def __init__(self, dims: int, params: HnswParams) -> None:
        self.dims = dims
        self.params = params
        self._next_label = 0
        # Exact mode: rows of `_matrix`, row r holds `_row_label[r]` (-1 = free).
        self._matrix: Matrix = np.zeros((8, dims), dtype=np.float32)
        self._row_label: list[int] = []
        self._label_row: dict[int, int] = {}
        self._free_rows: list[int] = []
        # Index mode.
        self.index: Any = None
        self._index_live: set[int] = set()
        self._index_deleted = 0

    def __len__(self) -> int:
        return len(self._index_live) if self.index is not None else len(self._label_row)

    # ---- writes
    def add(self, vector: Matrix) -> int:
        label = self._next_label
        self._next_label += 1
        if self.index is not None:
            self._index_add(vector, label)
            return label
        if self._free_rows:
            row = self._free_rows.pop()
            self._row_label[row] = label
        else:
            row = len(self._row_label)
            if row == self._matrix.shape[0]:
                grown = np.zeros((row * 2, self.dims), dtype=np.float32)
                grown[:row] = self._matrix
                self._matrix = grown
            self._row_label.append(label)
        self._matrix[row] = vector
        self._label_row[label] = row
        if len(self._label_row) >= self.params.hnsw_min:
            self._to_index()
        return label

    def remove(self, label: int) -> None:
        if self.index is not None:
            if label in self._index_live:
                self._index_live.discard(label)
                self.index.mark_deleted(label)
                self._index_deleted += 1
                if self._index_deleted > self.params.compact_fraction * max(
                    1, self.index.get_current_count()
                ):
                    self.compact()
            return
        row = self._label_row.pop(label, None)
        if row is not None:
            self._row_label[row] = -1
            self._free_rows.append(row)

    # ---- reads
    def search(self, vector: Matrix, k: int) -> list[tuple[int, float]]:
        """Up to k (label, cosine similarity), best first."""
        live = len(self)
        if live == 0:
            return []
        k = min(k, live)
        if self.index is not None:
            labels, distances = self.index.knn_query(vector.reshape(1, -1), k=k)
            return [
                (int(label), 1.0 - float(dist))
                for label, dist in zip(labels[0], distances[0], strict=True)
            ]
        used = len(self._row_label)
        sims = self._matrix[:used] @ vector
        if self._free_rows:
            sims[np.asarray(self._free_rows, dtype=np.int64)] = -2.0
        top = np.argpartition(-sims, k - 1)[:k] if k < used else np.arange(used)
        top = top[np.argsort(-sims[top])]
        return [(self._row_label[r], float(sims[r])) for r in top if self._row_label[r] >= 0]

    def vector(self, label: int) -> Matrix | None:
        """The vector under `label`, or None when it is not live."""
        if self.index is not None:
            if label not in self._index_live:
                return None
            items = np.asarray(self.index.get_items([label], return_type="numpy"), np.float32)
            vector: Matrix = items[0]
            return vector
        row = self._label_row.get(label)
        return None if row is None else self._matrix[row].copy()

    def items(self) -> tuple[list[int], Matrix]:
        """Every live (label, vector), for snapshots and rebuilds."""
        if self.index is not None:
            labels = sorted(self._index_live)
            if not labels:
                return [], np.zeros((0, self.dims), dtype=np.float32)
            vecs = np.asarray(self.index.get_items(labels, return_type="numpy"), dtype=np.float32)
            return labels, vecs
        labels = sorted(self._label_row)
        rows = [self._label_row[label] for label in labels]
        return labels, self._matrix[rows].copy()

    # ---- index management
    def _new_index(self, capacity: int) -> Any:
        p = self.params
        index = hnswlib.Index(space="ip", dim=self.dims)
        index.init_index(
            max_elements=capacity, ef_construction=p.ef_construction, M=p.m,
            random_seed=42, allow_replace_deleted=True,
        )  # fmt: skip
        index.set_ef(p.ef_search)
        index.set_num_threads(1)
        return index

    def _index_add(self, vector: Matrix, label: int) -> None:
        index = self.index
        if self._index_deleted == 0 and index.get_current_count() >= index.get_max_elements():
            index.resize_index(index.get_max_elements() * 2)
        replace = self._index_deleted > 0
        index.add_items(vector.reshape(1, -1), [label], replace_deleted=replace)
        if replace:
            self._index_deleted -= 1
        self._index_live.add(label)

    def _to_index(self) -> None:
        labels, vecs = self.items()
        self.load_items(labels, vecs, force_index=True)

    def load_items(self, labels: list[int], vecs: Matrix, *, force_index: bool = False) -> None:
        """Replace the group's content (restore, compaction, growth into an index)."""
        self._next_label = max(labels, default=-1) + 1
        self._index_live = set()
        self._index_deleted = 0
        self._row_label, self._label_row, self._free_rows = [], {}, []
        if force_index or len(labels) >= self.params.hnsw_min:
            self.index = self._new_index(max(2 * len(labels), 64))
            if labels:
                self.index.add_items(vecs, labels)
            self._index_live = set(labels)
            return
        self.index = None
        self._matrix = np.zeros((max(8, 2 * len(labels)), self.dims), dtype=np.float32)
        self._matrix[: len(labels)] = vecs
        self._row_label = list(labels)
        self._label_row = {label: row for row, label in enumerate(labels)}

    def compact(self) -> None:
        """Rebuild without the deleted elements (after mass expiry or invalidation)."""
        labels, vecs = self.items()
        next_label = self._next_label
        self.load_items(labels, vecs)
        self._next_label = next_label


class VectorStore:
    """All groups: changes on one dedicated thread, searches on any (module docstring)."""

    def __init__(self, dims: int, params: HnswParams) -> None:
        self.dims = dims
        self.params = params
        self.groups: dict[tuple[str, str], VectorGroup] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vectors")
        # Held by every change and every search (see the module docstring).
        self._lock = threading.Lock()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Fire and forget, in order with every other call (used for removals)."""
        self._executor.submit(fn, *args)

    def group(self, namespace: str, scope: str) -> VectorGroup:
        key = (namespace, scope)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = VectorGroup(self.dims, self.params)
        return group

    def search(self, namespace: str, scope: str, vector: Matrix, k: int) -> list[tuple[int, float]]:
        """Up to k (label, cosine), best first; from any thread but the event loop's."""
        with self._lock:
            group = self.groups.get((namespace, scope))
            return [] if group is None else group.search(vector, k)

    # Changes (run on the executor thread; at start, before serving, on any).
    def add_sync(self, namespace: str, scope: str, vector: Matrix) -> int:
        with self._lock:
            return self.group(namespace, scope).add(vector)

    def remove_sync(self, namespace: str, scope: str, label: int) -> None:
        with self._lock:
            group = self.groups.get((namespace, scope))
            if group is not None:
                group.remove(label)
                if len(group) == 0:
                    del self.groups[(namespace, scope)]

    def vector_sync(self, namespace: str, scope: str, label: int) -> Matrix | None:
        with self._lock:
            group = self.groups.get((namespace, scope))
            return None if group is None else group.vector(label)

    def drop_namespace_sync(self, namespace: str | None) -> None:
        with self._lock:
            for key in [k for k in self.groups if namespace is None or k[0] == namespace]:
                del self.groups[key]

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def save_group(group: VectorGroup, directory: str, name: str) -> dict[str, Any]:
    """Write one group's vectors; returns its description for the snapshot's meta."""
    if group.index is not None:
        path = f"{directory}/{name}.hnsw"
        group.index.save_index(path)
        labels = sorted(group._index_live)
        np.save(f"{directory}/{name}.labels.npy", np.asarray(labels, dtype=np.int64))
        return {"mode": "hnsw", "files": [f"{name}.hnsw", f"{name}.labels.npy"],
                "next_label": group._next_label}  # fmt: skip
    labels, vecs = group.items()
    np.save(f"{directory}/{name}.labels.npy", np.asarray(labels, dtype=np.int64))
    np.save(f"{directory}/{name}.vectors.npy", vecs)
    return {"mode": "exact", "files": [f"{name}.labels.npy", f"{name}.vectors.npy"],
            "next_label": group._next_label}  # fmt: skip


def load_group(dims: int, params: HnswParams, directory: str, meta: dict[str, Any]) -> VectorGroup:
    group = VectorGroup(dims, params)
    files = meta["files"]
    if meta["mode"] == "hnsw":
        labels = np.load(f"{directory}/{files[1]}", allow_pickle=False).tolist()
        index = hnswlib.Index(space="ip", dim=dims)
        index.load_index(f"{directory}/{files[0]}", allow_replace_deleted=True)
        index.set_ef(params.ef_search)
        index.set_num_threads(1)
        group.index = index
        group._index_live = set(labels)
        group._index_deleted = index.get_current_count() - len(labels)
    else:
        labels = np.load(f"{directory}/{files[0]}", allow_pickle=False).tolist()
        vecs = np.load(f"{directory}/{files[1]}", allow_pickle=False)
        if vecs.shape != (len(labels), dims):
            raise ValueError(f"vectors of shape {vecs.shape}, expected ({len(labels)}, {dims})")
        group.load_items(labels, vecs.astype(np.float32))
    group._next_label = int(meta["next_label"])
    return group
