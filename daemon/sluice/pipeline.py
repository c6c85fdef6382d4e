"""The request path (DESIGN.md §1) as plain async code.

Built so far: embedding and the cache (exact, then semantic). Routing and the
cascade plug in here as they land.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sluice.cache.entry import Entry
from sluice.cache.keys import CacheKey, make_key
from sluice.cache.store import CacheCounts, LookupResult, SemanticCache
from sluice.config import Settings
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import Embedded
from sluice.types import ChatMessage, GenParams, Usage


class Pipeline:
    def __init__(self, settings: Settings, batcher: MicroBatcher, cache: SemanticCache) -> None:
        self.settings = settings
        self.batcher = batcher
        self.cache = cache
        embedder = batcher.embedder
        self.model_id = embedder.model_id
        self.dimensions = embedder.dimensions
        self.max_tokens = embedder.max_tokens

    async def embed(self, texts: Sequence[str]) -> list[Embedded]:
        return await self.batcher.embed(texts)

    async def question_vector(self, key: CacheKey) -> tuple[npt.NDArray[np.float32] | None, str]:
        """The question's vector, or None and why the vector layer must not be used."""
        (embedded,) = await self.batcher.embed([key.question])
        if embedded.truncated:
            return None, (
                f"question longer than the model's {self.max_tokens} tokens: "
                "exact layer only (the cut-off part would not count)"
            )
        if embedded.coverage < self.settings.embedding.coverage_min:
            return None, (
                f"text not covered by the embedding model ({embedded.coverage:.0%} of words "
                "known): exact layer only"
            )
        return embedded.vector, ""

    async def lookup(
        self,
        namespace: str,
        messages: tuple[ChatMessage, ...],
        params: GenParams,
        threshold: float | None = None,
    ) -> LookupResult:
        threshold = self.cache.threshold_for(namespace, threshold, "threshold")
        key = make_key(namespace, messages, params)
        entry = self.cache.lookup_exact(key)
        if entry is not None:
            return LookupResult("exact", entry, 1.0, threshold)
        vector, reason = await self.question_vector(key)
        if vector is None:
            self.cache.record_unsupported(namespace)
            return LookupResult("skipped", None, 0.0, threshold, reason)
        return await self.cache.lookup_semantic(key, vector, threshold)

    async def store(
        self,
        namespace: str,
        messages: tuple[ChatMessage, ...],
        params: GenParams,
        *,
        answer: str,
        finish_reason: str,
        usage: Usage,
        model: str,
        ttl_s: float | None,
    ) -> tuple[Entry, bool]:
        key = make_key(namespace, messages, params)
        vector, _ = await self.question_vector(key)
        return await self.cache.store(
            key, vector, answer=answer, finish_reason=finish_reason, usage=usage, model=model,
            ttl_s=ttl_s,
        )  # fmt: skip

    def invalidate(self, entry_id: str | None, namespace: str | None) -> int:
        if entry_id is not None:
            return self.cache.invalidate_id(entry_id)
        return self.cache.invalidate_namespace(namespace)

    def cache_stats(self, namespace: str | None) -> CacheCounts:
        return self.cache.stats(namespace)
