"""A provider that answers from recorded replay data, so the real cascade runs unchanged."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable

from sluice.errors import ProviderError, ProviderErrorKind
from sluice.evaluation.replay_data import ReplayRow
from sluice.types import Completion, ProviderRequest, StreamEvent, Usage

# Served when the file has no answer text for a model (MMLU): the quality column still counts.
NO_TEXT = "[no recorded answer text]"


class ReplayProvider:
    """Implements `sluice.providers.base.Provider`: the recorded answer of `request.model`
    to the request's last user turn, with recorded (or estimated) token counts."""

    def __init__(self, name: str, rows: Iterable[ReplayRow]) -> None:
        self._name = name
        self.rows = {r.prompt: r for r in rows}
        self.calls: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return self._name

    def _answer(self, request: ProviderRequest) -> Completion:
        question = request.messages[-1].content if request.messages else ""
        row = self.rows.get(question)
        if row is None or request.model not in row.quality:
            raise ProviderError(
                f"no recorded answer of {request.model[:80]!r} to this prompt",
                kind=ProviderErrorKind.FINAL, provider=self._name,
            )  # fmt: skip
        self.calls[request.model] += 1
        inp, out = row.tokens(request.model)
        text = row.response.get(request.model, NO_TEXT)
        return Completion(text, "stop", Usage(inp, out), request.model)

    async def complete(self, request: ProviderRequest) -> Completion:
        return self._answer(request)

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        answer = self._answer(request)
        yield StreamEvent(delta=answer.text)
        yield StreamEvent(finish_reason=answer.finish_reason, usage=answer.usage, done=True)

    async def aclose(self) -> None:
        return None
