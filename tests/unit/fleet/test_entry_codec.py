"""The Redis payload of an entry, its keys, and import into another pod's cache (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sluice.cache.store import SemanticCache
from sluice.fleet.entry_codec import Keys, decode, encode, member, namespace_digest
from tests.unit.cache.test_store import DIMS, Clock, cache, key, put, unit


async def test_round_trip_keeps_id_times_vector_and_drops_question_without_verifier() -> None:
    clock = Clock()
    here = cache(clock)
    entry = await put(here, "How do I delete a file?", unit(1))
    vector = unit(1)
    shared = decode(encode(entry, vector, "model@abc", keep_question=False), clock.now)
    assert shared.model_id == "model@abc"
    assert shared.entry.id == entry.id
    assert shared.entry.expires == entry.expires
    assert shared.entry.question == ""  # as snapshots: the prompt stays on its pod
    assert shared.vector is not None
    assert np.array_equal(shared.vector, vector)
    kept = decode(encode(entry, None, "m", keep_question=True), clock.now)
    assert kept.entry.question == entry.question
    assert kept.vector is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b"XXXX" + b[4:],  # not ours
        lambda b: b[:-3],  # truncated vector
        lambda b: b.replace(b'"c":', b'"c":1e400,"_":'),  # a time no Timestamp carries
    ],
)
async def test_damaged_payloads_are_refused(damage) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    entry = await put(cache(clock), "q", unit(1))
    with pytest.raises(ValueError):  # noqa: PT011 - each damage has its own message
        decode(damage(encode(entry, unit(1), "m", keep_question=True)), clock.now)


async def test_an_id_the_daemon_did_not_make_is_refused() -> None:
    clock = Clock()
    entry = await put(cache(clock), "q", None)
    forged = replace(entry, id="../../other-tenant")
    with pytest.raises(ValueError, match="daemon-made"):
        decode(encode(forged, None, "m", keep_question=True), clock.now)


def test_keys_come_from_namespace_digest_and_id_under_one_hash_tag() -> None:
    keys = Keys("sluice")
    name = member("tenant-a", "0" * 32)
    assert name == f"{namespace_digest('tenant-a')}:{'0' * 32}"
    assert keys.entry(name).startswith("{sluice}:cache:e:")
    assert {keys.index, keys.events} == {"{sluice}:cache:idx", "{sluice}:cache:events"}
    assert namespace_digest("a") != namespace_digest("b")


async def test_import_is_a_hit_keeps_the_id_and_the_newest_answer_wins() -> None:
    clock = Clock()
    a, b = cache(clock), cache(clock)
    old = await put(a, "How do I delete a file?", unit(1))
    clock.now += 1
    new = await put(a, "How do I delete a file?", unit(1))
    # Arriving newest first (catch-up order): the older one is stale and stays out.
    assert await b.import_entry(replace(new), unit(1)) == "applied"
    assert await b.import_entry(replace(old), unit(1)) == "stale"
    assert await b.import_entry(replace(new), unit(1)) == "present"
    hit = await b.lookup_exact(key("how do i delete a file?"))
    assert hit is not None
    assert hit.id == new.id
    semantic = await b.lookup_semantic(key("delete a file how"), unit(1), 0.9)
    assert semantic.entry is not None
    assert semantic.entry.id == new.id
    assert b.stats().stores == 0, "an import is not a store of this pod"
    await b.invalidate_id(new.id)
    assert await b.lookup_exact(key("how do i delete a file?")) is None


async def test_an_expired_entry_is_not_imported() -> None:
    clock = Clock()
    entry = await put(cache(clock), "q", unit(2))
    later = Clock()
    later.now = entry.expires + 1
    b: SemanticCache = cache(later)
    assert await b.import_entry(replace(entry), unit(2)) == "expired"
    assert b.stats().entries == 0
    assert unit(2).shape[0] == DIMS
