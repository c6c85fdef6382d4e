"""A config reload while a request is in flight: the request keeps the runtime it started with.

The provider call below swaps the pipeline's runtime as `App._apply_settings` does, between
routing and the cache write. The request must decide whether to store with the settings it
started with, and record its route (what Feedback learns from) on the router that routed it.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from sluice.cache.keys import CacheKey, make_key
from sluice.cache.store import SemanticCache
from sluice.config import Settings
from sluice.embedding.batcher import MicroBatcher
from sluice.errors import NotFound
from sluice.models_path import build_model_path
from sluice.pipeline import CompletionRequest, CompletionResult, Pipeline, Runtime
from sluice.routing.router import Router
from sluice.telemetry.metrics import Metrics
from sluice.types import ChatMessage, Completion, GenParams, Usage
from tests.unit.cascade.fakes import FakeProvider

QUESTION = "How do I delete a file in Linux?"


def settings(*, cache_enabled: bool) -> Settings:
    return Settings.model_validate({
        "providers": {"p": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        "tiers": [{"name": "only", "threshold": 0.01,
                   "deployments": [{"provider": "p", "model": "gpt-4o-mini"}]}],
        "cache": {"enabled": cache_enabled},
    })  # fmt: skip


async def ask(pipeline: Pipeline[Any], *, stream: bool) -> CompletionResult:
    request = CompletionRequest(
        "ns", (ChatMessage("user", QUESTION),), GenParams(),
        deadline=time.monotonic() + 30,
    )  # fmt: skip
    if not stream:
        return await pipeline.complete(request)
    items = [item async for item in pipeline.stream_complete(request)]
    assert all(isinstance(item, str) for item in items[:-1])
    result = items[-1]
    assert isinstance(result, CompletionResult)
    return result


@pytest.mark.parametrize("stream", [False, True])
async def test_a_reload_mid_request_leaves_the_request_on_its_old_runtime(
    batcher: MicroBatcher, stream: bool
) -> None:
    metrics = Metrics()
    old, new = settings(cache_enabled=True), settings(cache_enabled=False)
    cache = SemanticCache(old.cache, batcher.embedder.dimensions, metrics)
    pipeline: Pipeline[SemanticCache] | None = None

    def reload_then_answer() -> Completion:
        # What App._apply_settings does on SIGHUP: new settings, model path and router,
        # swapped in one assignment while this call is in flight.
        assert pipeline is not None
        new_models = build_model_path(new, {"p": provider}, metrics)
        pipeline.runtime = Runtime(new, new_models, Router(new_models.catalogue))
        cache.configure(new.cache)
        return Completion("rm file", "stop", Usage(10, 3), "gpt-4o-mini", (-0.01,) * 3)

    provider = FakeProvider("p", [reload_then_answer])
    models = build_model_path(old, {"p": provider}, metrics)
    pipeline = Pipeline(old, batcher, cache, models, metrics, router=Router(models.catalogue))
    started_with = pipeline.runtime
    try:
        result = await ask(pipeline, stream=stream)
        assert pipeline.runtime is not started_with, "the reload happened mid-request"
        assert result.served_by is not None
        assert result.stored, "stored under the settings the request started with"
        assert (await cache.lookup_exact(_key())) is not None
        # Its route was recorded where it was decided: the router it started with learns.
        assert started_with.router is not None
        # Known there (the fixed default policy learns nothing: ""), unknown to the new one.
        assert started_with.router.feedback(result.request_id, 1.0) == ""
        assert pipeline.runtime.router is not None
        with pytest.raises(NotFound):
            pipeline.runtime.router.feedback(result.request_id, 1.0)
    finally:
        cache.close()


async def test_the_next_request_reads_the_new_runtime(batcher: MicroBatcher) -> None:
    metrics = Metrics()
    old, new = settings(cache_enabled=True), settings(cache_enabled=False)
    cache = SemanticCache(old.cache, batcher.embedder.dimensions, metrics)
    provider = FakeProvider(
        "p", [Completion("rm file", "stop", Usage(10, 3), "gpt-4o-mini", (-0.01,) * 3)]
    )
    models = build_model_path(old, {"p": provider}, metrics)
    pipeline = Pipeline(old, batcher, cache, models, metrics, router=Router(models.catalogue))
    try:
        pipeline.runtime = Runtime(new, models, pipeline.runtime.router)
        result = await ask(pipeline, stream=False)
        assert result.lookup.outcome == "skipped"
        assert not result.stored
        assert (await cache.lookup_exact(_key())) is None
    finally:
        cache.close()


def _key() -> CacheKey:
    return make_key("ns", (ChatMessage("user", QUESTION),), GenParams())
