"""What the pipeline, the fronts and the snapshots need from a cache: the `CacheTier` seam.

`SemanticCache` (cache/store.py: exact layer, vector layer, verifier) is the one tier; the
pipeline, the fronts and `Snapshotter` see it only through this protocol, so another tier is
one class that satisfies it, built where the app builds the cache (`app.build_cache`).

What the pipeline awaits is async (a tier may need I/O to answer). A semantic lookup is two
calls by design (issue #19, docs/cpu.md): `decide` runs on the embedding lane, on the thread
that just embedded the question, and must not block on anything but CPU; `settle` counts
the decision on the event loop. `lookup_semantic` is both in one call, for callers that
bring their own vector. Snapshots go through `export_snapshot` / `import_snapshot`: the
snapshot's files and format are `Snapshotter`'s, the tier's content is the tier's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sluice.cache.entry import Entry
from sluice.cache.export import CacheExport
from sluice.cache.keys import CacheKey
from sluice.cache.store import CacheCounts, ImportOutcome, LookupResult, SemanticDecision
from sluice.config import CacheSettings
from sluice.types import Usage

Vector = npt.NDArray[np.float32]
__all__ = ["CacheExport", "CacheTier"]


class CacheTier(Protocol):
    # ---- policy
    def threshold_for(self, namespace: str, requested: float | None, field: str) -> float:
        """The similarity a candidate needs: `requested`, or the namespace's default.

        Raises InvalidArgument naming `field` when `requested` is below the floor."""
        ...

    def configure(self, settings: CacheSettings) -> None:
        """A reload's new `cache` settings (thresholds, TTLs, verifier policy), at once."""
        ...

    def clock(self) -> float:
        """The tier's wall clock (entries' times are on it)."""
        ...

    @property
    def dims(self) -> int:
        """The length of the vectors it takes."""
        ...

    @property
    def keeps_questions(self) -> bool:
        """Whether question texts may leave the process (snapshots, the fleet): only a
        verifier compares them; without one, what users asked is not written anywhere."""
        ...

    # ---- lookups
    async def lookup_exact(self, key: CacheKey) -> Entry | None: ...

    def decide(self, key: CacheKey, vector: Vector, threshold: float) -> SemanticDecision:
        """The semantic lookup's decision, on the embedding lane (off the event loop): reads
        only, changes nothing."""
        ...

    def settle(self, key: CacheKey, decision: SemanticDecision) -> LookupResult:
        """Count a decision on the event loop; a hit whose entry went meanwhile is a miss."""
        ...

    async def lookup_semantic(
        self, key: CacheKey, vector: Vector, threshold: float
    ) -> LookupResult:
        """`decide` then `settle`, for a caller that brings its own vector."""
        ...

    def record_unsupported(self, namespace: str) -> None:
        """A question the vector layer cannot take (too long, not covered, another language):
        count it."""
        ...

    # ---- writes
    async def store(
        self,
        key: CacheKey,
        vector: Vector | None,
        *,
        answer: str,
        finish_reason: str,
        usage: Usage,
        model: str,
        ttl_s: float | None = None,
    ) -> tuple[Entry, bool]:
        """Store an answer (None vector: exact layer only); the entry and whether it
        replaced one."""
        ...

    async def import_entry(self, entry: Entry, vector: Vector | None) -> ImportOutcome:
        """An entry made elsewhere (another pod), keeping its id and times."""
        ...

    def entry(self, entry_id: str) -> Entry | None:
        """The live entry with this id, if any."""
        ...

    def mark_wrong(self, entry_id: str, similarity: float) -> Entry | None:
        """A semantic hit on the entry at `similarity` was judged wrong (Feedback): it serves
        only questions closer than that from now on. The entry, or None when it is gone."""
        ...

    async def vector_of(self, entry: Entry) -> Vector | None:
        """The entry's vector (None: exact layer only, or gone), to share it again."""
        ...

    async def invalidate_id(self, entry_id: str) -> int:
        """Remove one entry; NotFound when it is not here."""
        ...

    async def invalidate_namespace(self, namespace: str | None) -> int:
        """Remove every entry of `namespace` (None: of all); how many."""
        ...

    # ---- figures and life cycle
    def stats(self, namespace: str | None = None) -> CacheCounts: ...

    def reap_expired(self) -> int:
        """Remove every expired entry (the app calls it every few seconds); how many."""
        ...

    async def export_snapshot(self, folder: Path, encode: Callable[[Entry], str]) -> CacheExport:
        """Every entry as `encode` writes it, as it is now, and the vector groups saved into
        `folder`, consistent with those entries."""
        ...

    def import_snapshot(
        self,
        folder: Path,
        groups: Sequence[Mapping[str, Any]],
        entries: Iterable[Entry],
        *,
        discard: Iterable[Entry] = (),
    ) -> int:
        """Load an export back into an empty tier, off the event loop before serving.

        Expired entries are left out; `discard` names entries whose vectors must go too.
        On any error the tier is left empty and the error raised. Returns how many entries
        were restored."""
        ...

    def close(self) -> None: ...
