"""The cache's verifier stage with a scripted scorer: who is proposed, what is served, why not."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

import pytest

from sluice.cache.store import SemanticCache, served_candidate
from sluice.config import CacheSettings, NamespaceCacheSettings, VerifierSettings
from sluice.errors import InvalidArgument
from sluice.telemetry.metrics import Metrics
from sluice.types import Guard
from sluice.verifier.guards import refusal
from tests.unit.cache.test_store import DIMS, Clock, key, near, put, unit


class ScriptedVerifier:
    """P(same meaning) from a table keyed by (query, cached); records every call."""

    version = "scripted@1"
    default_min_probability = 0.9

    def __init__(
        self, table: dict[tuple[str, str], float], same: frozenset[tuple[str, str]] = frozenset()
    ) -> None:
        self.table = table
        # The (query, cached) pairs with the same word pieces.
        self.same = same
        self.calls: list[tuple[str, list[str]]] = []
        self.piece_calls: list[tuple[str, list[str]]] = []

    def score(self, query: str, cached: Sequence[str]) -> tuple[list[float], float]:
        self.calls.append((query, list(cached)))
        return [self.table.get((query, c), 0.0) for c in cached], 0.001

    def same_pieces(self, query: str, cached: Sequence[str]) -> list[bool]:
        self.piece_calls.append((query, list(cached)))
        return [(query, c) in self.same for c in cached]

    def refusal(
        self, query: str, cached: str, guards: Collection[Guard]
    ) -> tuple[Guard, str] | None:
        # The real rules (pure Python): the cache decides when to ask them.
        return refusal(query, cached, guards)


def verified_cache(scorer: ScriptedVerifier, **overrides: object) -> SemanticCache:
    settings = CacheSettings(**{"ttl_s": 100.0, **overrides})  # type: ignore[arg-type]
    return SemanticCache(
        settings, DIMS, Metrics(), clock=Clock(), rng=random.Random(1), verifier=scorer
    )


async def test_the_nearest_candidate_is_verified_alone_then_the_rest_in_one_call() -> None:
    base = unit(1)
    v = ScriptedVerifier({("q", "close"): 0.95, ("q", "closer"): 0.2, ("q", "near"): 0.5})
    c = verified_cache(v, verifier=VerifierSettings(max_pairs=4))
    await put(c, "close", near(base, 0.85, seed=2))
    await put(c, "closer", near(base, 0.99, seed=3))
    await put(c, "near", near(base, 0.90, seed=5))
    await put(c, "far", near(base, 0.5, seed=4))
    gate = c.threshold_for("ns", None, "threshold")
    assert gate == 0.80  # the recall threshold, not the cosine threshold 0.97
    result = await c.lookup_semantic(key("q"), base, gate)
    # The nearest (0.99) alone; it failed, so the others above 0.80 in one call, nearest
    # first; "far" (0.5) was never proposed.
    assert v.calls == [("q", ["closer"]), ("q", ["near", "close"])]
    # The verifier, not the cosine, decides: the 0.85 one is served.
    assert result.outcome == "semantic"
    assert result.entry is not None
    assert result.entry.question == "close"
    assert result.verifier_score == pytest.approx(0.95)
    assert result.verifier_version == "scripted@1"
    assert result.similarity == pytest.approx(0.85, abs=1e-3)
    assert [(e.question, p) for e, p in result.scored] == [
        ("closer", 0.2), ("near", 0.5), ("close", 0.95)]  # fmt: skip


async def test_when_the_nearest_passes_no_other_candidate_is_scored() -> None:
    base = unit(1)
    v = ScriptedVerifier({("q", "closer"): 0.92, ("q", "close"): 0.99})
    c = verified_cache(v)
    await put(c, "close", near(base, 0.85, seed=2))
    await put(c, "closer", near(base, 0.99, seed=3))
    result = await c.lookup_semantic(key("q"), base, 0.8)
    assert v.calls == [("q", ["closer"])]  # one pair: the cost of a typical hit
    assert result.entry is not None
    assert result.entry.question == "closer"
    # score_all (evaluations) scores every candidate in one call and serves the same one.
    v.calls.clear()
    again = await c.lookup_semantic(key("q"), base, 0.8, score_all=True)
    assert v.calls == [("q", ["closer", "close"])]
    assert again.entry is not None
    assert again.entry.question == "closer"
    assert [p for _, p in again.scored] == [0.92, 0.99]


@pytest.mark.parametrize(
    ("scores", "wanted", "served"),
    [([], 0.7, None), ([0.9], 0.7, 0), ([0.6], 0.7, None), ([0.8, 0.99], 0.7, 0),
     ([0.1, 0.8, 0.9], 0.7, 2), ([0.1, 0.6, 0.5], 0.7, None), ([0.0], 0.0, 0)],
)  # fmt: skip
def test_served_candidate(scores: list[float], wanted: float, served: int | None) -> None:
    assert served_candidate(scores, wanted) == served


async def test_a_look_alike_above_every_cosine_threshold_is_refused_with_the_reason() -> None:
    base = unit(1)
    v = ScriptedVerifier({("Flight from Paris to London", "Flight from London to Paris"): 0.03})
    # The order guard would refuse this swap before the model: off, to see the model's reason.
    c = verified_cache(v, verifier=VerifierSettings(order_guard=False))
    await put(c, "Flight from London to Paris", near(base, 0.997))
    result = await c.lookup_semantic(key("Flight from Paris to London"), base, 0.80)
    assert result.outcome == "miss"
    assert result.entry is None
    assert result.verifier_score == pytest.approx(0.03)
    assert "verifier" in result.reason
    assert "0.030 < 0.9" in result.reason
    assert c.stats("ns").misses == 1
    assert c.stats("ns").semantic_hits == 0


async def test_below_the_recall_threshold_the_verifier_is_not_called() -> None:
    base = unit(1)
    v = ScriptedVerifier({})
    c = verified_cache(v)
    await put(c, "x", near(base, 0.7))
    result = await c.lookup_semantic(key("q"), base, 0.80)
    assert result.outcome == "miss"
    assert v.calls == []
    assert "recall threshold" in result.reason


async def test_min_probability_comes_from_namespace_then_config_then_model() -> None:
    v = ScriptedVerifier({})
    c = verified_cache(
        v,
        verifier=VerifierSettings(min_probability=0.7),
        namespaces={"strict": NamespaceCacheSettings(min_probability=0.99)},
    )
    assert c.policy("strict").min_probability == 0.99
    assert c.policy("other").min_probability == 0.7
    assert verified_cache(v).policy("x").min_probability == 0.9  # the model's default


async def test_the_namespace_setting_decides_the_same_score_differently() -> None:
    base = unit(1)
    v = ScriptedVerifier({("q", "s"): 0.95})
    c = verified_cache(v, namespaces={"strict": NamespaceCacheSettings(min_probability=0.99)})
    await put(c, "s", near(base, 0.9), ns="strict")
    await put(c, "s", near(base, 0.9), ns="relaxed")
    assert (await c.lookup_semantic(key("q", ns="strict"), base, 0.8)).outcome == "miss"
    assert (await c.lookup_semantic(key("q", ns="relaxed"), base, 0.8)).outcome == "semantic"


async def test_a_namespace_switches_the_substitution_guard_on_or_off_for_itself() -> None:
    base = unit(1)
    asked, stored = "Best laptop for adults?", "Best laptop for kids?"
    v = ScriptedVerifier({(asked, stored): 0.999})
    on, off = (
        NamespaceCacheSettings(substitution_guard=True),
        NamespaceCacheSettings(substitution_guard=False),
    )
    c = verified_cache(v, namespaces={"health": on})
    for ns in ("health", "shop"):
        await put(c, stored, near(base, 0.9), ns=ns)
    health = await c.lookup_semantic(key(asked, ns="health"), base, 0.8)
    assert (health.outcome, health.decided_by) == ("miss", "substitution_guard")
    assert (await c.lookup_semantic(key(asked, ns="shop"), base, 0.8)).outcome == "semantic"
    # Globally on, a namespace may switch it off; the other guards stay on there.
    g = verified_cache(
        v, verifier=VerifierSettings(substitution_guard=True), namespaces={"shop": off}
    )
    for ns in ("health", "shop"):
        await put(g, stored, near(base, 0.9), ns=ns)
    assert (await g.lookup_semantic(key(asked, ns="health"), base, 0.8)).outcome == "miss"
    assert (await g.lookup_semantic(key(asked, ns="shop"), base, 0.8)).outcome == "semantic"
    assert g.policy("shop").guards == {"order_guard", "number_guard"}


async def test_a_request_threshold_raises_the_cosine_gate_and_the_floor_still_holds() -> None:
    base = unit(1)
    v = ScriptedVerifier({("q", "s"): 0.99})
    c = verified_cache(v)
    await put(c, "s", near(base, 0.9))
    assert c.threshold_for("ns", 0.96, "threshold") == 0.96
    assert (await c.lookup_semantic(key("q"), base, 0.96)).outcome == "miss"
    assert v.calls == []  # 0.9 < 0.96: nothing proposed
    # Above the recall threshold but below the cosine floor (0.95): still a raise, allowed.
    assert c.threshold_for("ns", 0.9, "threshold") == 0.9
    with pytest.raises(InvalidArgument, match=r"floor 0\.8"):
        c.threshold_for("ns", 0.5, "threshold")


async def test_entries_without_question_text_are_never_served_unverified() -> None:
    base = unit(1)
    v = ScriptedVerifier({})
    c = verified_cache(v)
    entry = await put(c, "s", near(base, 0.99))
    entry.question = ""  # as restored from a snapshot written without the verifier
    result = await c.lookup_semantic(key("q"), base, 0.8)
    assert result.outcome == "miss"
    assert "not verifiable" in result.reason
    assert v.calls == []


async def test_without_a_verifier_the_cosine_threshold_decides() -> None:
    base = unit(1)
    c = SemanticCache(CacheSettings(), DIMS, Metrics(), clock=Clock(), rng=random.Random(1))
    await put(c, "s", near(base, 0.98))
    assert c.threshold_for("ns", None, "threshold") == 0.97
    result = await c.lookup_semantic(key("q"), base, 0.97)
    assert result.outcome == "semantic"
    assert result.verifier_score is None


async def test_metrics_count_decisions_scores_and_time() -> None:
    base = unit(1)
    v = ScriptedVerifier({("yes", "s"): 0.97, ("no", "s"): 0.1})
    c = verified_cache(v)
    await put(c, "s", near(base, 0.95))
    await c.lookup_semantic(key("yes"), base, 0.8)
    await c.lookup_semantic(key("no"), base, 0.8)
    value = c.metrics.registry.get_sample_value
    assert value("sluice_cache_verifier_decisions_total", {"decision": "accept"}) == 1
    assert value("sluice_cache_verifier_decisions_total", {"decision": "reject"}) == 1
    assert value("sluice_cache_verifier_score_count") == 2
    assert value("sluice_cache_verifier_score_bucket", {"le": "0.2"}) == 1
    assert value("sluice_cache_verifier_seconds_count") == 2


async def test_the_same_word_pieces_are_served_without_a_model_run() -> None:
    base = unit(1)
    # The model refuses the question against itself (it does, 1 time in 2: issue #19).
    v = ScriptedVerifier(
        {("What is X ?", "What is X?"): 0.5}, same=frozenset({("What is X ?", "What is X?")})
    )
    c = verified_cache(v)
    await put(c, "What is X?", base)
    result = await c.lookup_semantic(key("What is X ?"), base, 0.8)
    assert v.calls == []  # no model run
    assert v.piece_calls == [("What is X ?", ["What is X?"])]
    assert result.outcome == "semantic"
    assert result.entry is not None
    assert result.entry.question == "What is X?"
    # Reported as what it is: no verifier score, decided by the word pieces.
    assert result.decided_by == "word_pieces"
    assert result.verifier_score is None
    assert "same word pieces" in result.reason
    assert [(e.question, p) for e, p in result.scored] == [("What is X?", 1.0)]
    value = c.metrics.registry.get_sample_value
    assert value("sluice_cache_verifier_decisions_total", {"decision": "same_pieces"}) == 1
    # Evaluations see the same decision (score_all).
    again = await c.lookup_semantic(key("What is X ?"), base, 0.8, score_all=True)
    assert again.decided_by == "word_pieces"
    assert v.calls == []


async def test_only_a_near_identical_vector_is_checked_for_the_same_pieces() -> None:
    base = unit(1)
    v = ScriptedVerifier({("q", "s"): 0.95}, same=frozenset({("q", "s")}))
    c = verified_cache(v)
    await put(c, "s", near(base, 0.99))  # not the same vector: cannot be the same pieces
    result = await c.lookup_semantic(key("q"), base, 0.8)
    assert v.piece_calls == []
    assert v.calls == [("q", ["s"])]
    assert result.decided_by == "verifier"


async def test_other_word_pieces_go_to_the_model() -> None:
    base = unit(1)
    v = ScriptedVerifier({("q", "s"): 0.95})
    c = verified_cache(v)
    await put(c, "s", base)
    result = await c.lookup_semantic(key("q"), base, 0.8)
    assert v.piece_calls == [("q", ["s"])]
    assert v.calls == [("q", ["s"])]
    assert result.outcome == "semantic"
    assert result.decided_by == "verifier"
    assert result.verifier_score == pytest.approx(0.95)


async def test_a_refused_lookup_costs_at_most_max_pairs_model_runs() -> None:
    base = unit(1)
    v = ScriptedVerifier({})  # every pair refused
    c = verified_cache(v, verifier=VerifierSettings(candidates=4, max_pairs=2))
    for i, cos in enumerate((0.99, 0.95, 0.9, 0.85)):  # no digits: the number guard passes
        await put(c, f"s{'abcd'[i]}", near(base, cos, seed=10 + i))
    result = await c.lookup_semantic(key("q"), base, 0.8)
    assert v.calls == [("q", ["sa"]), ("q", ["sb"])]
    assert result.outcome == "miss"
    assert "2 more not scored (cache.verifier.max_pairs 2)" in result.reason
    assert len(result.scored) == 2
    # score_all (evaluations) keeps to the same cap, so their figures are the daemon's.
    v.calls.clear()
    await c.lookup_semantic(key("q"), base, 0.8, score_all=True)
    assert v.calls == [("q", ["sa", "sb"])]


# (guard, asked, stored, the model's P, the reason): issue #18 — the model served the swap with
# P ≥ 0.999 and, retrained, another order number at 0.972 (bench/verifier_probes.tsv).
GUARDED = [
    ("order_guard", "Convert 100 euros to dollars", "Convert 100 dollars to euros", 0.9995,
     "order guard: 'euros' and 'dollars' exchanged"),
    ("number_guard", "Order #88214 has not arrived yet", "Order #88213 has not arrived yet", 0.972,
     "number guard: the two questions carry different numbers"),
    # Off by default (it refuses synonyms too): switched on here.
    ("substitution_guard", "What is the best laptop for adults?",
     "What is the best laptop for kids?", 0.999,
     "substitution guard: 'adults' stands where the cached question has another word"),
]  # fmt: skip


@pytest.mark.parametrize(("guard", "asked", "stored", "p", "reason"), GUARDED)
async def test_a_guard_refuses_what_the_model_would_serve_without_running_it(
    guard: str, asked: str, stored: str, p: float, reason: str
) -> None:
    base = unit(1)
    v = ScriptedVerifier({(asked, stored): p})
    c = verified_cache(v, verifier=VerifierSettings(**{guard: True}))  # type: ignore[arg-type]
    await put(c, stored, near(base, 0.96))
    result = await c.lookup_semantic(key(asked), base, 0.80)
    assert result.outcome == "miss"
    assert result.decided_by == guard
    assert reason in result.reason
    assert v.calls == []  # refused whatever the model says: it never ran
    assert c.stats("ns").misses == 1
    guarded = c.metrics.registry.get_sample_value(
        "sluice_cache_verifier_decisions_total", {"decision": guard}
    )
    assert guarded == 1.0
    # Switched off, the model decides (and serves it).
    off = verified_cache(v, verifier=VerifierSettings(**{guard: False}))  # type: ignore[arg-type]
    await put(off, stored, near(base, 0.96))
    served = await off.lookup_semantic(key(asked), base, 0.80)
    assert served.outcome == "semantic"
    assert served.decided_by == "verifier"


async def test_a_refused_swap_leaves_the_next_candidate_to_the_model() -> None:
    base = unit(1)
    asked = "Flight from Paris to London"
    v = ScriptedVerifier({(asked, "Flights from Paris to London"): 0.98})
    c = verified_cache(v)
    await put(c, "Flight from London to Paris", near(base, 0.99, seed=2))
    await put(c, "Flights from Paris to London", near(base, 0.95, seed=3))
    result = await c.lookup_semantic(key(asked), base, 0.80)
    assert v.calls == [(asked, ["Flights from Paris to London"])]
    assert result.entry is not None
    assert result.entry.question == "Flights from Paris to London"
    assert [e.question for e, _ in result.scored] == ["Flights from Paris to London"]
