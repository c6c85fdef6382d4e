"""The one small interface every wire protocol implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from sluice.types import Completion, ProviderRequest, StreamEvent


class Provider(Protocol):
    """A provider endpoint speaking one wire protocol.

    Implementations raise only `sluice.errors.ProviderError` (or a subclass) for
    anything that goes wrong on the wire, already classified by kind, and never
    put API keys or prompt text in error messages.
    """

    @property
    def name(self) -> str: ...

    async def complete(self, request: ProviderRequest) -> Completion: ...

    def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]: ...

    async def aclose(self) -> None: ...
