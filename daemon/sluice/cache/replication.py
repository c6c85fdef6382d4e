"""Where the pipeline reports its cache writes beyond this pod: the replication seam.

The pipeline calls these after each local write; an implementation must return at once
(queue the work) and never raise, so a Store or Invalidate costs the same with replication
on, and a lookup never reaches it at all. Standalone is `LocalOnly`; fleet mode
(sluice.fleet.cache_sync) writes the events to Redis and applies other pods' events through
the tier's `import_entry`, `invalidate_id` and `invalidate_namespace` (`CacheTier`).

It is the pipeline, not the cache, that reports: the cache also removes entries for its
own reasons (eviction, expiry, a snapshot that failed to load), which must stay local.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from sluice.cache.entry import Entry


class CacheReplica(Protocol):
    def stored(self, entry: Entry, vector: npt.NDArray[np.float32] | None) -> None:
        """`entry` was stored here (its vector: None when exact-only); share it."""
        ...

    def invalidated(self, entry: Entry) -> None:
        """`entry` was invalidated by id here; remove it everywhere."""
        ...

    def dropped(self, namespace: str | None) -> None:
        """Every entry of `namespace` (None: of all) was invalidated here; everywhere too."""
        ...


class LocalOnly:
    """Standalone: nothing leaves the pod."""

    def stored(self, entry: Entry, vector: npt.NDArray[np.float32] | None) -> None:
        return None

    def invalidated(self, entry: Entry) -> None:
        return None

    def dropped(self, namespace: str | None) -> None:
        return None
