"""Small in-process fakes for cascade tests: a Provider implementation, a clock, builders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from sluice.cascade.confidence import PromptBlind
from sluice.cascade.types import Deployment, Tier
from sluice.errors import ProviderError
from sluice.types import Completion, ProviderRequest, StreamEvent, Usage


def dep(
    provider: str,
    model: str = "",
    *,
    ctx: int | None = None,
    price: tuple[float, float] = (1.0, 2.0),
) -> Deployment:
    return Deployment(provider, model or f"{provider}-model", price[0], price[1], ctx)


def tier(
    name: str,
    *deployments: Deployment,
    threshold: float = 0.75,
    timeout_s: float = 10.0,
    max_output_tokens: int | None = None,
) -> Tier:
    return Tier(name, tuple(deployments), threshold, timeout_s, max_output_tokens)


def completion(text: str = "answer", *, model: str = "m", usage: Usage | None = None) -> Completion:
    return Completion(text, "stop", usage or Usage(100, 20), model)


class FakeClock:
    """A monotonic clock the test moves; `sleep` advances it instead of waiting."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


# What a fake provider does for one call: answer, raise, or hang.
Step = Completion | ProviderError | Callable[[], Completion] | str


@dataclass
class FakeProvider:
    """Implements the Provider protocol from a script of outcomes, one per call.

    A script item is a Completion (answered), a ProviderError (raised), "hang"
    (never answers until cancelled), or a callable producing a Completion.
    The last item repeats once the script runs out.
    """

    name: str
    script: Sequence[Step] = ()
    delay_s: float = 0.0
    # For streams: chunks per answer, and an error raised after this many chunks.
    chunk: int = 3
    fail_after_chunks: int | None = None
    stream_error: ProviderError | None = None
    requests: list[ProviderRequest] = field(default_factory=list)
    cancelled: int = 0
    closed_streams: int = 0

    def _next(self) -> Step:
        index = min(len(self.requests) - 1, len(self.script) - 1)
        return self.script[index]

    async def complete(self, request: ProviderRequest) -> Completion:
        self.requests.append(request)
        step = self._next()
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if step == "hang":
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(step, ProviderError):
            raise step
        if isinstance(step, Completion):
            return step
        assert callable(step)
        return step()

    async def _events(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        try:
            answer = await self.complete(request)
            text = answer.text
            pieces = [text[i : i + self.chunk] for i in range(0, len(text), self.chunk)]
            for i, piece in enumerate(pieces):
                if self.fail_after_chunks is not None and i == self.fail_after_chunks:
                    assert self.stream_error is not None
                    raise self.stream_error
                yield StreamEvent(delta=piece)
            yield StreamEvent(finish_reason="stop", usage=answer.usage, done=True)
        finally:
            self.closed_streams += 1

    def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        return self._events(request)

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class TextScorer(PromptBlind):
    """Confidence read from the answer: "…@0.4" scores 0.4; no marker scores 0.9."""

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        _, sep, value = completion.text.rpartition("@")
        return float(value) if sep else 0.9
