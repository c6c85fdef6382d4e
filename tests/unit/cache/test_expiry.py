"""TTL bounds (issue #17): an expiry no protobuf Timestamp can carry never gets in, or out.

Before, `sluice.ttl_s: 1e300` over HTTP stored an entry whose every Lookup was INTERNAL,
restart after restart (the snapshot kept it).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sluice import convert
from sluice.cache.expiry import MAX_TIMESTAMP_S, MIN_TIMESTAMP_S, ttl_seconds
from sluice.cache.snapshot import Snapshotter
from sluice.config import MAX_TTL_S, parse_settings
from sluice.errors import ConfigError, InvalidArgument
from sluice.types import Usage
from tests.unit.cache.test_store import Clock, cache, key, unit


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e300, MAX_TTL_S + 1, -1.0])
def test_ttl_check_refuses_what_no_timestamp_can_carry(value: float) -> None:
    with pytest.raises(InvalidArgument) as caught:
        ttl_seconds(value, "sluice.ttl_s")
    assert caught.value.field == "sluice.ttl_s"


def test_ttl_check_passes_sane_values() -> None:
    assert ttl_seconds(0.0, "f") is None
    assert ttl_seconds(60.0, "f") == 60.0
    assert ttl_seconds(float(MAX_TTL_S), "f") == MAX_TTL_S


@pytest.mark.parametrize("ttl", [math.inf, 1e300, math.nan])
async def test_the_store_clamps_a_ttl_that_got_past_the_fronts(ttl: float) -> None:
    clock = Clock()
    c = cache(clock)
    entry, _ = await c.store(
        key("q"), unit(1), answer="a", finish_reason="stop", usage=Usage(1, 1), model="m",
        ttl_s=ttl,
    )  # fmt: skip
    assert math.isfinite(entry.expires)
    assert clock.now <= entry.expires <= clock.now + MAX_TTL_S
    convert.entry_to_pb(entry)  # describable: no ValueError from Timestamp
    c.close()


@pytest.mark.parametrize("seconds", [math.inf, -math.inf, math.nan, 1e300, -1e300])
def test_timestamp_never_raises_on_a_stored_value(seconds: float) -> None:
    stamp = convert.timestamp(seconds)
    assert MIN_TIMESTAMP_S <= stamp.seconds <= MAX_TIMESTAMP_S


async def test_restore_drops_entries_whose_expiry_cannot_be_trusted(tmp_path: Path) -> None:
    clock = Clock()
    c = cache(clock)
    for i in range(4):
        await c.store(
            key(f"q{i}"), unit(i), answer=f"a{i}", finish_reason="stop", usage=Usage(1, 1),
            model="m",
        )  # fmt: skip
    folder = await Snapshotter(c, tmp_path, "m").write()
    c.close()
    # As an older version wrote them: expiries of 1e300, Infinity and NaN.
    entries = folder / "entries.jsonl"
    rows = [json.loads(line) for line in entries.read_text().splitlines()]
    for row, bad in zip(rows, [1e300, math.inf, math.nan], strict=False):
        row[10] = bad
    entries.write_text("\n".join(json.dumps(row) for row in rows))
    meta = json.loads((folder / "meta.json").read_text())
    meta["sha256"]["entries.jsonl"] = hashlib.sha256(entries.read_bytes()).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta))
    fresh = cache(clock)
    with capture_logs() as logs:
        assert Snapshotter(fresh, tmp_path, "m").restore() == 1
    warnings = [e for e in logs if e["event"] == "snapshot_entries_skipped"]
    assert len(warnings) == 1
    assert warnings[0]["entries"] == 3
    assert warnings[0]["log_level"] == "warning"
    for entry in fresh.entries.values():
        convert.entry_to_pb(entry)
    fresh.close()


def test_the_config_bounds_ttls_as_requests_are_bounded() -> None:
    for bad in (float("inf"), 1e300):
        with pytest.raises(ConfigError, match=r"cache\.ttl_s"):
            parse_settings({"cache": {"ttl_s": bad}})
