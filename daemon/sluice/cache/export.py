"""A cache tier's content at one moment, as a snapshot takes it (`CacheTier.export_snapshot`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CacheExport:
    # Every entry as the snapshot's encoder wrote it, as it was when the export began.
    rows: list[str]
    # One description per vector group saved into the export's folder (files, namespace,
    # scope, …): `import_snapshot` takes them back as they are.
    groups: tuple[Mapping[str, Any], ...]
    dims: int
