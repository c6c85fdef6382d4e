"""The thin async driver: performs the state machine's actions against real providers.

Everything that decides lives in `machine.py`; this module only calls
providers (under a timeout), asks the breakers, sleeps, reads the clock,
draws the jitter, scores, prices and charges.

Before each provider call: the breaker, then the provider's rate limits (a call
held back becomes a 429 that was never sent), then the namespace budget
(`reserve` the call's estimate: the prompt and its output cap at the
deployment's price; a refused reservation is `Denied`). After it the
reservation is settled with the real cost, 0 when the call failed, and a 429's
Retry-After holds that model off (for the fleet, through the rate gate).

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
from dataclasses import dataclass, replace

from sluice.cascade.budget import BudgetGuard, Hold, shape_tiers
from sluice.cascade.confidence import Scorer
from sluice.cascade.machine import (
    Answered,
    Call,
    Denied,
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
from sluice.errors import ProviderError, ProviderErrorKind, ProviderTimeout, RateLimited
from sluice.providers.base import Provider
from sluice.resilience.breaker import BreakerRegistry
from sluice.resilience.ratelimit import NoRateLimits, RateGate
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


@dataclass(frozen=True, slots=True)
class _Ticket:
    """A call let through by the rate limits and the budget: what to settle afterwards."""

    hold: Hold
    tokens: int  # taken from the provider's token bucket


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
        limits: RateGate | None = None,
    ) -> None:
        self.plan, self.params = plan, params
        self.limits: RateGate = limits or NoRateLimits()
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

    def estimate(self, call: Call) -> tuple[int, float]:
        """The most a call may cost, in tokens and USD: its prompt and its output cap."""
        output = self.request(call).params.max_tokens or 0
        usd = self.prices.cost(Usage(self.input_tokens, output), call.deployment)
        return self.input_tokens + output, usd

    async def admit(self, call: Call) -> tuple[Provider, _Ticket] | Event:
        """Breaker, provider, rate limits, budget: what the call needs to start, or the event.

        A `Refused` or `Denied` call (or one cancelled here) hands its breaker slot back;
        a `Failed` one is reported to the breaker by the machine.
        """
        breaker = self.breakers.get(call.deployment.provider)
        if not self.breakers.admit(call.deployment.provider, panic=call.panic):
            return Refused(self.clock(), breaker.failure_rate)
        provider = self.provider(call)
        if isinstance(provider, ProviderError):
            return self.failed(provider, self.clock())
        try:
            cleared = await self.clear(call)
        except BaseException:  # cancelled while Redis answered: hand the slot back
            breaker.release(panic=call.panic)
            raise
        if isinstance(cleared, Denied):
            breaker.release(panic=call.panic)
        return (provider, cleared) if isinstance(cleared, _Ticket) else cleared

    async def clear(self, call: Call) -> _Ticket | Event:
        """The provider's rate limits, then the budget: the call's ticket, or the event instead.

        A call held back by a rate limit comes back as a 429 that was never sent (the
        machine retries after the wait when it fits, else moves on); a call the budget
        refuses as `Denied`.
        """
        dep = call.deployment
        tokens, usd = self.estimate(call)
        wait = await self.limits.acquire(dep.provider, dep.model, tokens)
        if wait > 0:
            error = RateLimited(
                f"skipped: {dep.provider}/{dep.model} is held back {wait:.3g} s by its rate "
                "limit or a recent 429 (not sent)",
                provider=dep.provider, retry_after=wait,
            )  # fmt: skip
            return self.failed(error, self.clock())
        hold = await self.budget.reserve(self.plan.namespace, usd)
        if not hold.granted:
            self.limits.settle(dep.provider, dep.model, tokens, 0)
            return Denied(self.clock(), hold.reason)
        return _Ticket(hold, tokens)

    def settle(self, call: Call, ticket: _Ticket, usage: Usage, cost: float) -> None:
        dep = call.deployment
        self.budget.settle(ticket.hold, cost)
        used = usage.input_tokens + usage.output_tokens
        self.limits.settle(dep.provider, dep.model, ticket.tokens, used)

    def provider_failed(
        self,
        call: Call,
        ticket: _Ticket,
        error: ProviderError,
        started: float,
        *,
        committed: bool = False,
    ) -> Failed:
        """A provider's error: the call costs nothing, and a 429's Retry-After holds it off."""
        self.settle(call, ticket, Usage(), 0.0)
        if error.status == 429 and error.retry_after is not None:
            self.limits.hold(call.deployment.provider, call.deployment.model, error.retry_after)
        return self.failed(error, started, committed=committed)

    def answered(
        self,
        call: Call,
        ticket: _Ticket,
        request: ProviderRequest,
        completion: Completion,
        started: float,
        *,
        committed: bool = False,
    ) -> Answered:
        confidence = min(max(self.scorer.score(completion, request), 0.0), 1.0)
        cost = self.prices.cost(completion.usage, call.deployment)
        self.settle(call, ticket, completion.usage, cost)
        now = self.clock()
        return Answered(now, completion, confidence, now - started, cost, committed=committed)

    def abandoned(
        self, call: Call, ticket: _Ticket, received: _Collector | None, started: float
    ) -> None:
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
        self.settle(call, ticket, usage, cost)
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
        self, call: Call, ticket: _Ticket, received: _Collector | None, started: float
    ) -> Iterator[None]:
        """Charge the call (`abandoned`) if the caller cuts it off inside the block."""
        try:
            yield
        except (asyncio.CancelledError, GeneratorExit):
            self.abandoned(call, ticket, received, started)
            raise
        except (ProviderError, TimeoutError):
            raise  # the caller settles it (provider_failed)
        except Exception:
            # A bug below: the call's outcome is unknown; hand its reservation back rather
            # than hold it (and the budget) until the window ends.
            self.settle(call, ticket, Usage(), 0.0)
            raise

    def report_cancel(self) -> None:
        if self.on_cancel is not None:
            self.on_cancel((*self.state.attempts, *self.cancelled))

    def failed(self, error: ProviderError, started: float, *, committed: bool = False) -> Failed:
        now = self.clock()
        return Failed(now, error, now - started, jitter=self.rng.random(), committed=committed)

    async def complete(self, call: Call) -> Event:
        admitted = await self.admit(call)
        if not isinstance(admitted, tuple):
            return admitted
        provider, ticket = admitted
        breaker = self.breakers.get(call.deployment.provider)
        started = self.clock()
        settled = False
        try:
            request = self.request(call)
            try:
                with self.billed_if_cut(call, ticket, None, started):
                    async with asyncio.timeout(call.timeout_s):
                        completion = await provider.complete(request)
            except TimeoutError:
                settled = True
                return self.provider_failed(call, ticket, _timeout(call), started)
            except ProviderError as exc:
                settled = True
                return self.provider_failed(call, ticket, exc, started)
            settled = True
            return self.answered(call, ticket, request, completion, started)
        finally:
            if not settled:  # cancelled, or a provider bug: hand back a half-open probe slot
                breaker.release(panic=call.panic)

    async def buffered(self, call: Call) -> Event:
        """A streamed call collected whole before anything is released."""
        admitted = await self.admit(call)
        if not isinstance(admitted, tuple):
            return admitted
        provider, ticket = admitted
        breaker = self.breakers.get(call.deployment.provider)
        started = self.clock()
        settled = False
        collector = _Collector(call.deployment.model)
        try:
            request = self.request(call)
            stream = provider.stream(request)
            try:
                with self.billed_if_cut(call, ticket, collector, started):
                    async with asyncio.timeout(call.timeout_s):
                        async for event in stream:
                            if collector.add(event):
                                break
            except TimeoutError:
                settled = True
                return self.provider_failed(call, ticket, _timeout(call), started)
            except ProviderError as exc:
                settled = True
                return self.provider_failed(call, ticket, exc, started)
            finally:
                await _aclose(stream)
            settled = True
            return self.answered(call, ticket, request, collector.completion(), started)
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
    limits: RateGate | None = None,
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
        limits=limits,
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
    admitted = await run.admit(call)
    if not isinstance(admitted, tuple):
        yield admitted
        return
    provider, ticket = admitted
    breaker = run.breakers.get(call.deployment.provider)
    started = run.clock()
    request = run.request(call)
    collector = _Collector(call.deployment.model)
    released = False
    error: ProviderError | None = None
    settled = False
    stream = provider.stream(request)
    iterator = aiter(stream)
    try:
        with run.billed_if_cut(call, ticket, collector, started):
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
        yield run.provider_failed(call, ticket, error, started, committed=released)
    else:
        yield run.answered(
            call, ticket, request, collector.completion(), started, committed=released
        )


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
    limits: RateGate | None = None,
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
        limits=limits,
    )
    return CascadeStream(run, sleep)
