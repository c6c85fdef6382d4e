"""Tenant isolation in the cache: 10,000 lookups, identical and near-identical prompts.

Every prompt is stored in some namespaces (each with its own answer) and looked up in all
of them, word for word (exact layer) and as a near paraphrase (vector layer, cosine 0.99).
A namespace must only ever see its own answers; invalidation must only touch its own.
"""

from __future__ import annotations

import random

from sluice.cache.store import SemanticCache
from sluice.types import Usage
from tests.unit.cache.test_store import Clock, cache, key, near, unit

NAMESPACES = [f"tenant-{i}" for i in range(20)]
PROMPTS = 60
LOOKUPS = 10_000


async def _filled(rng: random.Random) -> tuple[SemanticCache, dict[tuple[str, int], str]]:
    c = cache(Clock(), max_entries=100_000)
    owners: dict[tuple[str, int], str] = {}
    for j in range(PROMPTS):
        for ns in rng.sample(NAMESPACES, rng.randint(1, 6)):
            entry, _ = await c.store(
                key(f"prompt {j}", ns=ns), unit(j), answer=f"{ns}:{j}", finish_reason="stop",
                usage=Usage(1, 1), model="m",
            )  # fmt: skip
            owners[(ns, j)] = entry.id
    # Two big namespaces with the same 1,100 vectors: both groups move into hnswlib.
    for ns in ("big-a", "big-b"):
        for j in range(1_100):
            await c.store(key(f"bulk {j}", ns=ns), unit(10_000 + j), answer=f"{ns}:bulk",
                          finish_reason="stop", usage=Usage(1, 1), model="m")  # fmt: skip
    assert all(g.index is not None for (ns, _), g in c.vectors.groups.items() if "big" in ns)
    return c, owners


async def test_ten_thousand_lookups_never_cross_namespaces() -> None:
    rng = random.Random(11)
    c, owners = await _filled(rng)
    hits = crossed = misses_own = 0
    for _ in range(LOOKUPS):
        if rng.random() < 0.2:
            ns, j = rng.choice(["big-a", "big-b"]), rng.randrange(1_100)
            k, vector, expect = key(f"bulk {j}", ns=ns), unit(10_000 + j), f"{ns}:bulk"
            own = True
        else:
            ns, j = rng.choice(NAMESPACES), rng.randrange(PROMPTS)
            k, vector, expect = key(f"prompt {j}", ns=ns), unit(j), f"{ns}:{j}"
            own = (ns, j) in owners
        identical = rng.random() < 0.5
        entry = await c.lookup_exact(k) if identical else None
        if not identical:
            result = await c.lookup_semantic(
                key(f"paraphrase {j}", ns=ns), near(vector, 0.99, seed=j + 77_777), 0.97
            )
            entry = result.entry
        if entry is not None:
            hits += 1
            if entry.namespace != ns or entry.answer != expect:
                crossed += 1
        elif own:
            misses_own += 1
    assert crossed == 0
    # Not vacuous: what a namespace owns, it finds.
    assert misses_own == 0
    assert hits > LOOKUPS // 4
    c.close()


async def test_invalidating_a_namespace_touches_no_other() -> None:
    rng = random.Random(5)
    c, owners = await _filled(rng)
    victim = "tenant-3"
    before = {ns: c.stats(ns).entries for ns in NAMESPACES}
    removed = await c.invalidate_namespace(victim)
    assert removed == before[victim] > 0
    for ns in NAMESPACES:
        assert c.stats(ns).entries == (0 if ns == victim else before[ns])
    for (ns, j), entry_id in owners.items():
        found = await c.lookup_semantic(key("x", ns=ns), unit(j), 0.97)
        if ns == victim:
            assert found.entry is None
            assert await c.lookup_exact(key(f"prompt {j}", ns=ns)) is None
        else:
            assert found.entry is not None
            assert found.entry.id == entry_id
    # One entry by id: only that entry goes.
    (ns, j), entry_id = next((k, v) for k, v in owners.items() if k[0] != victim)
    total = len(c.entries)
    assert await c.invalidate_id(entry_id) == 1
    assert len(c.entries) == total - 1
    assert await c.invalidate_namespace("big-a") == 1_100
    assert (await c.lookup_semantic(key("x", ns="big-b"), unit(10_005), 0.97)).entry is not None
    c.close()
