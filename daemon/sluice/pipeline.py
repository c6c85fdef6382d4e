"""The request path (DESIGN.md §1) as plain async code.

Today: embedding. The cache, routing and the cascade plug in here as they land.
"""

from __future__ import annotations

from collections.abc import Sequence

from sluice.config import Settings
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import Embedded


class Pipeline:
    def __init__(self, settings: Settings, batcher: MicroBatcher) -> None:
        self.settings = settings
        self.batcher = batcher
        embedder = batcher.embedder
        self.model_id = embedder.model_id
        self.dimensions = embedder.dimensions
        self.max_tokens = embedder.max_tokens

    async def embed(self, texts: Sequence[str]) -> list[Embedded]:
        return await self.batcher.embed(texts)
