"""The thin async driver: performs the state machine's actions against real providers.

Everything that decides lives in `machine.py`; this module only calls
providers (under a timeout), asks the breakers, sleeps, reads the clock,
draws the jitter, scores, prices and charges.

Provider calls are awaited in the caller's task (no background tasks), so
cancelling the caller cancels the call in flight, and a timeout cancels it too.
A call cut off that way is still paid for (the provider billed what it had
processed): it is charged to the budget as a CANCELLED attempt, and `on_cancel`
hands every attempt of the run to the caller for its metrics and log line.

Streaming (`run_cascade_stream`): a call that may still be escalated (not the
last tier, escalations left) is buffered whole, scored, then released or
escalated. A call that cannot be escalated streams straight through. Until its
first byte is released it can still be retried or fall back; after that the
model never changes, and a failure raises `Unavailable` (the caller must not
cache the partial answer). A buffered answer is released as one delta.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import replace

from sluice.cascade.budget import BudgetGuard, shape_tiers
from sluice.cascade.confidence import Scorer
from sluice.cascade.machine import (
    Answered,
    Call,
    Event,
    Fail,
    Failed,
    MachineConfig,
    Refused,
    ReportToBreaker,
    Serve,
    Sleep,
    Slept,
    Start,
    initial_state,
    transition,
)
from sluice.cascade.pricing import DEFAULT_PRICE_TABLE, PriceTable
from sluice.cascade.types import (
    Attempt,
    AttemptOutcome,
    CascadePlan,
    CascadeResult,
    ServedBy,
    Tier,
)
from sluice.errors import ProviderError, ProviderErrorKind, ProviderTimeout
from sluice.providers.base import Provider
from sluice.resilience.breaker import BreakerRegistry, CircuitBreaker
from sluice.resilience.retry import RetryPolicy
from sluice.types import ChatMessage, Completion, GenParams, ProviderRequest, StreamEvent, Usage

Clock = Callable[[], float]
SleepFn = Callable[[float], Awaitable[None]]
Main = Call | Sleep | Serve | Fail
# Called once with every attempt so far (the cut-off one included) when the caller cancels.
CancelListener = Callable[[tuple[Attempt, ...]], None]


def estimate_input_tokens(messages: Sequence[ChatMessage]) -> int:
    """A rough prompt size (≈ 4 characters a token) for cost estimates before a call."""
    return sum(len(m.content) for m in messages) // 4 + 4 * len(messages)


class _Run:
    """One cascade: the machine's state plus everything needed to perform its actions."""

    def __init__(
        self,
        *,
        plan: CascadePlan,
        messages: Sequence[ChatMessage],
        params: GenParams,
        providers: Mapping[str, Provider],
        breakers: BreakerRegistry,
        retry_policy: RetryPolicy,
        scorer: Scorer,
        deadline: float,
        budget: BudgetGuard,
        clock: Clock,
        rng: random.Random,
        prices: PriceTable,
        min_call_s: float,
        on_cancel: CancelListener | None = None,
    ) -> None:
        self.plan, self.params = plan, params
        self.messages = tuple(messages)
        self.providers, self.breakers = providers, breakers
        self.scorer, self.budget, self.clock, self.rng = scorer, budget, clock, rng
        self.prices = prices
        self.on_cancel = on_cancel
        self.cancelled: list[Attempt] = []
        tokens = self.input_tokens = estimate_input_tokens(messages)

        def estimate(tier: Tier) -> float:
            usage = Usage(tokens, tier.max_output_tokens or params.max_tokens or 0)
            return min(prices.cost(usage, d) for d in tier.deployments)

        shaped = shape_tiers(
            plan.tiers, plan.start, budget.check(plan.namespace), estimate, plan.namespace
        )
        config = MachineConfig(
            tiers=shaped.tiers,
            deadline=deadline,
            retry=retry_policy,
            max_escalations=plan.max_escalations,
            min_call_s=min_call_s,
            cost_cap_usd=plan.max_cost_usd,
            estimated_input_tokens=tokens,
            truncated=shaped.truncated,
            degraded_reason=shaped.degraded_reason,
        )
        self.state = initial_state(config)

    def step(self, event: Event) -> Main:
        """Feed one event; apply the breaker reports; return the one action left to perform."""
        self.state, actions = transition(self.state, event)
        main: Main | None = None
        for action in actions:
            if isinstance(action, ReportToBreaker):
                breaker = self.breakers.get(action.provider)
                if not action.counted:  # a 429, or our own deadline: no verdict either way
                    breaker.release(panic=action.panic)
                elif action.success:
                    breaker.record_success(panic=action.panic)
                else:
                    breaker.record_failure(panic=action.panic)
            else:
                main = action
        if main is None:  # the machine always ends a step with exactly one of these
            raise RuntimeError("the cascade machine returned no action")
        return main

    def request(self, call: Call) -> ProviderRequest:
        limits = [n for n in (self.params.max_tokens, call.max_output_tokens) if n is not None]
        params = replace(self.params, max_tokens=min(limits) if limits else None)
        return ProviderRequest(
            model=call.deployment.model,
            messages=self.messages,
            params=params,
            logprobs=True,
            timeout_s=call.timeout_s,
        )

    def provider(self, call: Call) -> Provider | ProviderError:
        provider = self.providers.get(call.deployment.provider)
        if provider is None:
            return ProviderError(
                f"provider {call.deployment.provider!r} is not configured",
                kind=ProviderErrorKind.PROVIDER_WIDE,
                provider=call.deployment.provider,
            )
        return provider

    def answered(
        self,
        call: Call,
        request: ProviderRequest,
        completion: Completion,
        started: float,
        *,
        committed: bool = False,
    ) -> Answered:
        confidence = min(max(self.scorer.score(completion, request), 0.0), 1.0)
        cost = self.prices.cost(completion.usage, call.deployment)
        self.budget.charge(self.plan.namespace, cost)
        now = self.clock()
        return Answered(now, completion, confidence, now - started, cost, committed=committed)

    def abandoned(self, call: Call, received: _Collector | None, started: float) -> None:
        """A call the caller cut off: charge what the provider billed, keep it as an attempt.

        A stream is charged the tokens it had sent (its reported usage, else about 4
        characters a token); a plain call the estimate it was admitted on: the prompt
        (about 4 characters a token) and its output cap (0 when it has none).
        """
        if received is not None and received.usage.input_tokens:
            usage = received.usage
        elif received is not None:
            usage = Usage(self.input_tokens, len("".join(received.parts)) // 4)
        else:
            usage = Usage(self.input_tokens, self.request(call).params.max_tokens or 0)
        cost = self.prices.cost(usage, call.deployment)
        self.budget.charge(self.plan.namespace, cost)
        dep = call.deployment
        self.cancelled.append(
            Attempt(
                dep.provider, dep.model, call.tier_name, AttemptOutcome.CANCELLED,
                latency_s=self.clock() - started, usage=usage, cost_usd=cost,
                error="cancelled by the caller during the call", retry=call.retry,
            )
        )  # fmt: skip

    @contextlib.contextmanager
    def billed_if_cut(
        self, call: Call, received: _Collector | None, started: float
    ) -> Iterator[None]:
        """Charge the call (`abandoned`) if the caller cuts it off inside the block."""
        try:
            yield
        except (asyncio.CancelledError, GeneratorExit):
            self.abandoned(call, received, started)
            raise

    def report_cancel(self) -> None:
        if self.on_cancel is not None:
            self.on_cancel((*self.state.attempts, *self.cancelled))

    def failed(self, error: ProviderError, started: float, *, committed: bool = False) -> Failed:
        now = self.clock()
        return Failed(now, error, now - started, jitter=self.rng.random(), committed=committed)

    async def complete(self, call: Call) -> Event:
        breaker = self.breakers.get(call.deployment.provider)
        if not _admit(breaker, call):
            return Refused(self.clock(), breaker.failure_rate)
        started = self.clock()
        settled = False
        try:
            provider = self.provider(call)
            if isinstance(provider, ProviderError):
                settled = True
                return self.failed(provider, started)
            request = self.request(call)
            try:
                with self.billed_if_cut(call, None, started):
                    async with asyncio.timeout(call.timeout_s):
                        completion = await provider.complete(request)
            except TimeoutError:
                settled = True
                return self.failed(_timeout(call), started)
            except ProviderError as exc:
                settled = True
                return self.failed(exc, started)
            settled = True
            return self.answered(call, request, completion, started)
        finally:
            if not settled:  # cancelled, or a provider bug: hand back a half-open probe slot
                breaker.release(panic=call.panic)

    async def buffered(self, call: Call) -> Event:
        """A streamed call collected whole before anything is released."""
        breaker = self.breakers.get(call.deployment.provider)
        if not _admit(breaker, call):
            return Refused(self.clock(), breaker.failure_rate)
        started = self.clock()
        settled = False
        collector = _Collector(call.deployment.model)
        try:
            provider = self.provider(call)
            if isinstance(provider, ProviderError):
                settled = True
                return self.failed(provider, started)
            request = self.request(call)
            stream = provider.stream(request)
            try:
                with self.billed_if_cut(call, collector, started):
                    async with asyncio.timeout(call.timeout_s):
                        async for event in stream:
                            if collector.add(event):
                                break
            except TimeoutError:
                settled = True
                return self.failed(_timeout(call), started)
            except ProviderError as exc:
                settled = True
                return self.failed(exc, started)
            finally:
                await _aclose(stream)
            settled = True
            return self.answered(call, request, collector.completion(), started)
        finally:
            if not settled:
                breaker.release(panic=call.panic)

    def result(self, serve: Serve) -> CascadeResult:
        attempts = self.state.attempts
        dep = serve.deployment
        return CascadeResult(
            completion=serve.completion,
            served_by=ServedBy(dep.provider, dep.model, serve.tier_name),
            attempts=attempts,
            cost_usd=sum(a.cost_usd for a in attempts),
            baseline_cost_usd=self.prices.baseline_cost(
                serve.completion.usage, self.plan.baseline_deployment
            ),
            confidence=serve.confidence,
            degraded=serve.degraded,
            degraded_reason=serve.degraded_reason,
        )


def _admit(breaker: CircuitBreaker, call: Call) -> bool:
    """Ask the breaker; a panic call (every breaker refused) asks for its bounded exception."""
    return breaker.allow_panic() if call.panic else breaker.allow()


def _timeout(call: Call) -> ProviderTimeout:
    return ProviderTimeout(
        f"no answer within {call.timeout_s:.3g} s", provider=call.deployment.provider
    )


async def _aclose(stream: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


class _Collector:
    """Assembles a Completion from stream events."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[str] = []
        self.logprobs: list[float] = []
        self.finish_reason = ""
        self.usage = Usage()

    def add(self, event: StreamEvent) -> bool:
        """Take one event; True when it was the last."""
        self.parts.append(event.delta)
        self.logprobs.extend(event.logprobs)
        if event.finish_reason is not None:
            self.finish_reason = event.finish_reason
        if event.usage is not None:
            self.usage = event.usage
        return event.done

    def completion(self) -> Completion:
        return Completion(
            text="".join(self.parts),
            finish_reason=self.finish_reason or "stop",
            usage=self.usage,
            model=self.model,
            logprobs=tuple(self.logprobs) or None,
        )


async def run_cascade(
    plan: CascadePlan,
    request_messages: Sequence[ChatMessage],
    params: GenParams,
    *,
    providers: Mapping[str, Provider],
    breakers: BreakerRegistry,
    retry_policy: RetryPolicy,
    scorer: Scorer,
    deadline: float,
    budget: BudgetGuard,
    clock: Clock = time.monotonic,
    sleep: SleepFn = asyncio.sleep,
    rng: random.Random | None = None,
    prices: PriceTable = DEFAULT_PRICE_TABLE,
    min_call_s: float = 0.05,
    on_cancel: CancelListener | None = None,
) -> CascadeResult:
    """Serve one request through the cascade; `deadline` is absolute on `clock`.

    Raises ResourceExhausted (budget), InvalidArgument (a provider rejected the
    request as bad), DeadlineExceeded, or Unavailable (with every attempt).
    """
    run = _Run(
        plan=plan,
        messages=request_messages,
        params=params,
        providers=providers,
        breakers=breakers,
        retry_policy=retry_policy,
        scorer=scorer,
        deadline=deadline,
        budget=budget,
        clock=clock,
        rng=rng or random.Random(),  # noqa: S311 - jitter for backoff, not cryptography
        prices=prices,
        min_call_s=min_call_s,
        on_cancel=on_cancel,
    )
    action = run.step(Start(clock()))
    try:
        while True:
            match action:
                case Call():
                    action = run.step(await run.complete(action))
                case Sleep():
                    await sleep(action.delay_s)
                    action = run.step(Slept(clock()))
                case Serve():
                    return run.result(action)
                case Fail():
                    raise action.error
    except asyncio.CancelledError:
        run.report_cancel()
        raise


class CascadeStream:
    """Text deltas of the served answer; `result` is set once the stream is exhausted.

    Close it (`aclose`) if you stop reading early: that closes the provider stream.
    """

    def __init__(self, run: _Run, sleep: SleepFn) -> None:
        self.result: CascadeResult | None = None
        self._gen = self._drive(run, sleep)

    def __aiter__(self) -> CascadeStream:
        return self

    async def __anext__(self) -> str:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()

    async def _drive(self, run: _Run, sleep: SleepFn) -> AsyncGenerator[str]:
        steps = self._steps(run, sleep)
        try:
            async for delta in steps:
                yield delta
        except (asyncio.CancelledError, GeneratorExit):  # the reader went away mid-stream
            await steps.aclose()  # closes the provider stream and charges the cut-off call
            run.report_cancel()
            raise

    async def _steps(self, run: _Run, sleep: SleepFn) -> AsyncGenerator[str]:
        released = False
        action = run.step(Start(run.clock()))
        while True:
            match action:
                case Call(final=True):
                    event: Event | None = None
                    passing = _pass_through(run, action)
                    try:
                        async for item in passing:
                            if isinstance(item, str):
                                released = True
                                yield item
                            else:
                                event = item
                    finally:
                        await passing.aclose()
                    if event is None:  # _pass_through always ends with an event
                        raise RuntimeError("the stream ended without an outcome")
                    action = run.step(event)
                case Call():
                    action = run.step(await run.buffered(action))
                case Sleep():
                    await sleep(action.delay_s)
                    action = run.step(Slept(run.clock()))
                case Serve():
                    if not released and action.completion.text:
                        yield action.completion.text
                    self.result = run.result(action)
                    return
                case Fail():
                    raise action.error


async def _pass_through(run: _Run, call: Call) -> AsyncGenerator[str | Event]:
    """Stream one call to the client: its deltas, then exactly one event for the machine."""
    breaker = run.breakers.get(call.deployment.provider)
    if not _admit(breaker, call):
        yield Refused(run.clock(), breaker.failure_rate)
        return
    started = run.clock()
    provider = run.provider(call)
    if isinstance(provider, ProviderError):
        yield run.failed(provider, started)
        return
    request = run.request(call)
    collector = _Collector(call.deployment.model)
    released = False
    error: ProviderError | None = None
    settled = False
    stream = provider.stream(request)
    iterator = aiter(stream)
    try:
        with run.billed_if_cut(call, collector, started):
            while True:
                try:
                    left = max(started + call.timeout_s - run.clock(), 0.0)
                    async with asyncio.timeout(left):
                        event = await anext(iterator)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    error = _timeout(call)
                    break
                except ProviderError as exc:
                    error = exc
                    break
                last = collector.add(event)
                if event.delta:
                    released = True
                    yield event.delta
                if last:
                    break
        settled = True
    finally:
        if not settled:
            breaker.release(panic=call.panic)
        await _aclose(stream)
    if error is not None:
        yield run.failed(error, started, committed=released)
    else:
        yield run.answered(call, request, collector.completion(), started, committed=released)


def run_cascade_stream(
    plan: CascadePlan,
    request_messages: Sequence[ChatMessage],
    params: GenParams,
    *,
    providers: Mapping[str, Provider],
    breakers: BreakerRegistry,
    retry_policy: RetryPolicy,
    scorer: Scorer,
    deadline: float,
    budget: BudgetGuard,
    clock: Clock = time.monotonic,
    sleep: SleepFn = asyncio.sleep,
    rng: random.Random | None = None,
    prices: PriceTable = DEFAULT_PRICE_TABLE,
    min_call_s: float = 0.05,
    on_cancel: CancelListener | None = None,
) -> CascadeStream:
    """Like `run_cascade`, streamed. Budget errors raise here, before any byte."""
    run = _Run(
        plan=plan,
        messages=request_messages,
        params=params,
        providers=providers,
        breakers=breakers,
        retry_policy=retry_policy,
        scorer=scorer,
        deadline=deadline,
        budget=budget,
        clock=clock,
        rng=rng or random.Random(),  # noqa: S311 - jitter for backoff, not cryptography
        prices=prices,
        min_call_s=min_call_s,
        on_cancel=on_cancel,
    )
    return CascadeStream(run, sleep)
