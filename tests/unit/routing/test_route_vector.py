"""The pipeline routes a long question on its tail (issue #21), through the real request path.

Two long prompts behind the same few-shot prefix were one vector to the router (the first 256
tokens: prefix only); they must now reach the policy as their tails' vectors. A question that
fits is embedded once for the cache and the router alike (also when the cache may not use
its vector), and the cache still refuses a truncated question's vector.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from sluice.cache.store import SemanticCache
from sluice.embedding.batcher import MicroBatcher
from sluice.models_path import build_model_path
from sluice.pipeline import CompletionRequest, Pipeline
from sluice.routing.policy import Choice, RouteContext, Stateless, Vector
from sluice.routing.router import Router
from sluice.routing_config import NamespaceRouting, RoutingSettings
from sluice.types import ChatMessage, Completion, GenParams, Usage
from tests.unit.cascade.fakes import FakeProvider
from tests.unit.embedding.test_bounds import embedder
from tests.unit.embedding.test_tail import words
from tests.unit.test_pipeline_runtime import settings

# ~300 tokens of shared few-shot prefix, then what each prompt asks.
PREFIX = words(300, seed=7) + "\n\n"
LONG_A = PREFIX + "Question: what is the capital of france?"
LONG_B = PREFIX + "Question: how do i sort a list of numbers in python?"
SHORT = "How do I delete a file in Linux?"


@dataclass
class Recording(Stateless):
    """A policy that needs the vector and keeps what it was shown."""

    kind: str = "classifier"
    needs_vector: bool = True
    seen: list[Vector | None] = field(default_factory=list)

    def choose(self, context: RouteContext) -> Choice:
        self.seen.append(context.vector)
        return Choice(0, "recorded")


def pipeline_with(
    batcher: MicroBatcher, policy: Recording, *, cache_enabled: bool
) -> Pipeline[SemanticCache]:
    config = settings(cache_enabled=cache_enabled)
    metrics = batcher.metrics
    answer = Completion("an answer", "stop", Usage(10, 3), "gpt-4o-mini", (-0.01,) * 3)
    models = build_model_path(config, {"p": FakeProvider("p", [answer])}, metrics)
    routing = RoutingSettings.model_construct(
        policies={}, default=NamespaceRouting(policy="rec"), namespaces={}
    )
    router = Router(models.catalogue, {"rec": policy}, routing)
    cache = SemanticCache(config.cache, batcher.embedder.dimensions, metrics)
    return Pipeline(config, batcher, cache, models, metrics, router=router)


def request(question: str) -> CompletionRequest:
    return CompletionRequest(
        "ns", (ChatMessage("user", question),), GenParams(), deadline=time.monotonic() + 30
    )


def embedded_texts(batcher: MicroBatcher) -> float:
    return float(batcher.metrics.embed_texts._value.get())


def seen(policy: Recording) -> list[Any]:
    assert all(v is not None for v in policy.seen)
    return policy.seen


async def routed(
    batcher: MicroBatcher, call: Callable[[Pipeline[Any]], Awaitable[Any]], *, cache: bool
) -> tuple[list[Any], Any, float]:
    """`call` on a pipeline routed by a Recording policy: the vectors the policy saw, what
    `call` returned, and how many texts the batcher embedded meanwhile."""
    policy = Recording()
    pipeline = pipeline_with(batcher, policy, cache_enabled=cache)
    before = embedded_texts(batcher)
    try:
        result = await call(pipeline)
    finally:
        pipeline.cache.close()
    return seen(policy), result, embedded_texts(batcher) - before


async def test_long_prompts_with_a_shared_prefix_route_on_their_tails(
    batcher: MicroBatcher,
) -> None:
    async def both(pipeline: Pipeline[Any]) -> list[Any]:
        return [await pipeline.complete(request(q)) for q in (LONG_A, LONG_B)]

    (a, b), results, _ = await routed(batcher, both, cache=True)
    # Before issue #21 both were the vector of the prefix alone: identical.
    assert float(a @ b) < 0.95
    emb = embedder()
    assert np.array_equal(a, emb.embed([LONG_A], tail=True)[0].vector)
    assert np.array_equal(b, emb.embed([LONG_B], tail=True)[0].vector)
    # The cache is unchanged: a truncated question is exact-only.
    for result in results:
        assert result.lookup.outcome == "skipped"
        assert "longer than the model's" in result.lookup.reason
        assert result.stored


async def test_a_short_question_is_embedded_once_for_the_cache_and_the_router(
    batcher: MicroBatcher,
) -> None:
    (vector,), result, embedded = await routed(
        batcher, lambda p: p.complete(request(SHORT)), cache=True
    )
    assert np.array_equal(vector, embedder().embed([SHORT])[0].vector)
    assert result.stored
    assert embedded == 1


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("Wie viele Einwohner hat die Stadt Berlin im Jahr 2020?", "reads as language 'de'"),
        ("Как удалить файл в Linux?", "not covered"),
    ],
)
async def test_a_question_the_cache_refuses_is_still_embedded_once(
    batcher: MicroBatcher, question: str, why: str
) -> None:
    # The cache may not use its vector (another language, a script the model only spells),
    # but the router may: it was embedded a second time for the router before.
    (vector,), result, embedded = await routed(
        batcher, lambda p: p.complete(request(question)), cache=True
    )
    assert result.lookup.outcome == "skipped"
    assert why in result.lookup.reason
    assert np.array_equal(vector, embedder().embed([question])[0].vector)
    assert embedded == 1


@pytest.mark.parametrize("question", [SHORT, LONG_A])
async def test_the_route_rpc_without_a_cache_embeds_the_tail_once(
    batcher: MicroBatcher, question: str
) -> None:
    (vector,), _, embedded = await routed(
        batcher, lambda p: p.route(request(question)), cache=False
    )
    assert np.array_equal(vector, embedder().embed([question], tail=True)[0].vector)
    assert embedded == 1
