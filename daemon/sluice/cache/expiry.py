"""How long a cache entry may live: one check for every front, one bound for every layer.

An entry's expiry travels as a protobuf Timestamp (Lookup, Store, snapshots read back), which
holds years 1 to 9999 only. A time to live past `MAX_TTL_S`, or one that is not a finite
number, would store an entry that no later call could describe (gRPC INTERNAL on every
Lookup of it, surviving restarts in the snapshot), so the fronts refuse it, the store clamps
what reaches it anyway, and a snapshot drops what it cannot trust.
"""

from __future__ import annotations

import math
from typing import Final

from sluice.config import MAX_TTL_S
from sluice.errors import InvalidArgument

# 9999-12-31T23:59:59Z and 0001-01-01T00:00:00Z, the range of google.protobuf.Timestamp.
MAX_TIMESTAMP_S: Final = 253_402_300_799.0
MIN_TIMESTAMP_S: Final = -62_135_596_800.0


def ttl_seconds(value: float, field: str) -> float | None:
    """A requested time to live, or None for the namespace default (unset or zero)."""
    if not math.isfinite(value):
        raise InvalidArgument(field, f"{value} is not a finite number of seconds")
    if value < 0:
        raise InvalidArgument(field, "must not be negative")
    if value > MAX_TTL_S:
        raise InvalidArgument(field, f"at most {MAX_TTL_S} seconds (ten years)")
    return value or None


def bounded_ttl(value: float) -> float:
    """`value` within [0, MAX_TTL_S]; NaN as 0 (expire now rather than never)."""
    if math.isnan(value):
        return 0.0
    return min(max(value, 0.0), float(MAX_TTL_S))


def trusted_time(value: float) -> bool:
    """A stored wall-clock time that a protobuf Timestamp can carry."""
    return math.isfinite(value) and MIN_TIMESTAMP_S <= value <= MAX_TIMESTAMP_S


def timestamp_seconds(value: float) -> float:
    """`value` clamped into the Timestamp range (NaN as 0): describing an entry never fails."""
    if math.isnan(value):
        return 0.0
    return min(max(value, MIN_TIMESTAMP_S), MAX_TIMESTAMP_S)
