"""A lookup decided on the embedding lane decides as `lookup_semantic` does (issue #19).

The daemon's lookups search and verify on the lane that embedded the question; `sluice eval
cache` embeds first, then calls `lookup_semantic`. Same models, same candidates: the same
decisions, so the evaluation's figures stay the daemon's.
"""

from __future__ import annotations

from sluice.cache.keys import make_key
from sluice.cache.store import LookupResult, SemanticCache
from sluice.cli import default_verifier_dir
from sluice.config import Settings
from sluice.embedding.batcher import MicroBatcher
from sluice.pipeline import Pipeline
from sluice.telemetry.metrics import Metrics
from sluice.types import ChatMessage, GenParams, Usage
from sluice.verifier.model import OnnxVerifier, Verifier
from tests.support.issue4_pairs import ISSUE_LOOK_ALIKES, ISSUE_PARAPHRASES
from tests.unit.embedding.test_model import embedder

STORED = sorted({c for c, _ in ISSUE_LOOK_ALIKES + ISSUE_PARAPHRASES})
ASKED = [
    *(a for _, a in ISSUE_LOOK_ALIKES + ISSUE_PARAPHRASES),
    "Who wrote War and Peace ?",  # the same word pieces as a stored question
    "who wrote war and peace",  # other pieces: the model decides
    "What is the capital of Australia?",  # nothing near it
]


def _seen(result: LookupResult) -> tuple[object, ...]:
    return (
        result.outcome, None if result.entry is None else result.entry.question,
        round(result.similarity, 6), result.reason, result.verifier_score, result.decided_by,
        tuple((e.question, round(p, 6)) for e, p in result.scored),
    )  # fmt: skip


async def _decisions(lane: bool) -> list[tuple[object, ...]]:
    settings = Settings()
    batcher = MicroBatcher(embedder(), Metrics())
    await batcher.start()
    verifier = Verifier(OnnxVerifier(default_verifier_dir()))
    cache = SemanticCache(settings.cache, batcher.embedder.dimensions, Metrics(), verifier=verifier)
    pipeline = Pipeline(settings, batcher, cache)
    params = GenParams()
    try:
        for text in STORED:
            asked = (ChatMessage("user", text),)
            await pipeline.store("ns", asked, params, answer="a", finish_reason="stop",
                                 usage=Usage(), model="m", ttl_s=None)  # fmt: skip
        out = []
        for text in ASKED:
            messages = (ChatMessage("user", text),)
            if lane:
                result = await pipeline.lookup("ns", messages, params)
            else:
                key = make_key("ns", messages, params)
                vector, _ = await pipeline.question_vector(key)
                assert vector is not None
                threshold = cache.threshold_for("ns", None, "threshold")
                result = await cache.lookup_semantic(key, vector, threshold)
            out.append(_seen(result))
        return out
    finally:
        cache.close()
        await batcher.stop()


async def test_the_lane_and_lookup_semantic_decide_alike() -> None:
    on_lane, off_lane = await _decisions(lane=True), await _decisions(lane=False)
    assert on_lane == off_lane
    outcomes = {d[0] for d in on_lane}
    assert outcomes == {"semantic", "miss"}
    assert {d[5] for d in on_lane} >= {"verifier", "word_pieces"}
