"""The cascade as a pure state machine: `transition(state, event) → (state, actions)`.

No I/O, no clock, no randomness: the driver puts the time (`now`) and the
jitter draw into each event and performs the actions. The rules:

* Call the first usable deployment of the current tier. Usable: its provider
  is not marked down for this request (PROVIDER_WIDE error, or breaker open),
  its context is larger than any that already failed with CONTEXT_LENGTH,
  and its estimated cost fits the per-request cost cap. Each skipped
  deployment becomes an `Attempt` (latency 0, error "skipped: …").
* An answer with confidence ≥ the tier's threshold is served. Below it, the
  cascade escalates to the next tier while tiers and escalations remain
  (only these confidence escalations count against `max_escalations`; a move
  up because a whole tier failed is a fallback, bounded by the number of
  tiers). Otherwise the best answer so far (highest confidence; later wins
  ties) is served, degraded.
* RETRYABLE error: retry the same deployment per the RetryPolicy (Retry-After
  honoured when it fits), then fall back to the next deployment of the tier,
  then to the next tier up. PROVIDER_WIDE: skip the provider for the rest of
  the request. FINAL: stop; serve the best answer so far (degraded) or raise
  InvalidArgument. CONTEXT_LENGTH: only larger contexts are tried after it.
* Degraded means a weaker answer than planned was served: one below its
  tier's threshold (for whatever reason: last tier, escalation limit, every
  higher tier failed, deadline), or one from a tier below the routed one
  (the budget moved it). Falling back to a sibling deployment or to a
  stronger tier is not degraded.
* No call starts with less than `min_call_s` before the deadline; a call's
  timeout never outlasts it. Out of time: the best answer so far (degraded),
  or DeadlineExceeded.
* Nothing left to try: the best answer so far (degraded), or Unavailable
  with every attempt.
* Streaming: an answer whose bytes already reached the client (`committed`)
  is served whatever its score; a failure after that point is Unavailable,
  never a retry or a fallback (the model must not change mid-answer).
* Breaker reports: an answer, a FINAL or a CONTEXT_LENGTH error count as the
  provider being healthy; RETRYABLE and PROVIDER_WIDE errors as failures. Not
  counted either way: a 429 (the provider is up and metering a quota; its
  Retry-After is honoured, and opening the breaker on a burst of 429s would
  push the whole load onto the other providers' quotas), and a timeout cut
  short by the request's own deadline (the provider never had its full tier
  timeout).
* Budget: each call reserves its estimate first (budget.py); a refused
  reservation (`Denied`: the namespace's budget was spent by other requests
  meanwhile) ends the request: the best answer so far (degraded), or
  ResourceExhausted.
* Rate limits: a call the provider's RPM/TPM bucket or a 429's Retry-After
  holds back (resilience/ratelimit.py) comes back as a 429 that was never sent,
  and is handled as one (retried after the wait when it fits, else the next
  deployment).
* Panic: when nothing is left to try, no answer is in hand, and some
  deployments were skipped only because their breaker refused, those are
  tried anyway, least bad first (lowest failure rate by its breaker), with
  the usual retries (Envoy's panic threshold: a partial fault must not become
  a total outage). Each breaker bounds it (CircuitBreaker.allow_panic): one
  whose provider answered none of its panic calls refuses again after a few,
  so a dead provider costs a few calls per cooldown, not one per request. The
  first answer is served, degraded, saying so (no escalation after it); when
  every panic call fails or is refused, Unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from sluice.cascade.pricing import estimate_cost
from sluice.cascade.types import Attempt, AttemptOutcome, Deployment, Tier
from sluice.errors import (
    DeadlineExceeded,
    InvalidArgument,
    ProviderError,
    ProviderErrorKind,
    ProviderTimeout,
    ResourceExhausted,
    SluiceError,
    Unavailable,
)
from sluice.resilience.retry import Retry, RetryPolicy
from sluice.types import Completion, Usage


@dataclass(frozen=True, slots=True)
class MachineConfig:
    tiers: tuple[Tier, ...]  # starting at the (possibly budget-shifted) routed tier
    deadline: float  # absolute, on the driver's monotonic clock
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_escalations: int = 3
    # A call with less time than this left is not worth starting.
    min_call_s: float = 0.05
    # Per-request cap on the summed cost; a deployment whose estimate would
    # cross it is skipped (OVER_BUDGET).
    cost_cap_usd: float | None = None
    estimated_input_tokens: int = 0
    # The budget dropped the tiers above the last one here.
    truncated: bool = False
    # Set when the budget moved the start below the routed tier: every answer is degraded.
    degraded_reason: str = ""


# ---- events (driver → machine)


@dataclass(frozen=True, slots=True)
class Start:
    now: float


@dataclass(frozen=True, slots=True)
class Answered:
    now: float
    completion: Completion
    confidence: float
    latency_s: float
    cost_usd: float
    # The answer already reached the client (streamed through): it must be served.
    committed: bool = False


@dataclass(frozen=True, slots=True)
class Failed:
    now: float
    error: ProviderError
    latency_s: float
    jitter: float = 0.5  # uniform in [0, 1), for the backoff
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    # Part of the answer already reached the client: no retry, no fallback.
    committed: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """The provider's circuit breaker did not let the call start."""

    now: float
    # The provider's failure rate by its breaker: the least-bad one is tried in a panic.
    failure_rate: float = 1.0


@dataclass(frozen=True, slots=True)
class Denied:
    """The namespace budget refused the call's reservation: spent while this request ran."""

    now: float
    reason: str


@dataclass(frozen=True, slots=True)
class Slept:
    now: float


Event = Start | Answered | Failed | Refused | Denied | Slept


# ---- actions (machine → driver)


@dataclass(frozen=True, slots=True)
class Call:
    deployment: Deployment
    tier: int
    tier_name: str
    timeout_s: float
    retry: int
    max_output_tokens: int | None
    # No escalation can follow this call's answer (a stream may pass straight through).
    final: bool
    # Every breaker refused; call anyway (CircuitBreaker.allow_panic), report with panic=True.
    panic: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    delay_s: float


@dataclass(frozen=True, slots=True)
class ReportToBreaker:
    provider: str
    success: bool
    # False: the outcome says nothing about the provider's health (hand the slot back).
    counted: bool = True
    panic: bool = False


@dataclass(frozen=True, slots=True)
class Serve:
    completion: Completion
    deployment: Deployment
    tier_name: str
    confidence: float
    degraded: bool
    degraded_reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    error: SluiceError


Action = Call | Sleep | ReportToBreaker | Serve | Fail
Terminal = Serve | Fail


# ---- state


@dataclass(frozen=True, slots=True)
class Candidate:
    completion: Completion
    deployment: Deployment
    tier: int
    confidence: float


Phase = Literal["start", "calling", "sleeping", "done"]


@dataclass(frozen=True, slots=True)
class State:
    config: MachineConfig
    phase: Phase = "start"
    tier: int = 0
    index: int = 0  # deployment within the tier
    retry: int = 0
    escalations: int = 0
    attempts: tuple[Attempt, ...] = ()
    # provider → (outcome, reason) for skipping its remaining deployments
    down: Mapping[str, tuple[AttemptOutcome, str]] = field(default_factory=dict)
    # Deployments with a context ≤ this are skipped (set by a CONTEXT_LENGTH error).
    context_floor: int | None = None
    best: Candidate | None = None
    spent_usd: float = 0.0
    # (tier, index, failure rate) of each deployment its breaker refused: panic candidates.
    refused: tuple[tuple[int, int, float], ...] = ()
    # In panic: every call now bypasses its open breaker, through `panic_queue` (tier, index).
    panic: bool = False
    panic_queue: tuple[tuple[int, int], ...] = ()
    # The current call's timeout was cut short by the request's deadline.
    clipped: bool = False

    @property
    def current(self) -> Deployment:
        return self.config.tiers[self.tier].deployments[self.index]


def initial_state(config: MachineConfig) -> State:
    return State(config)


Step = tuple[State, tuple[Action, ...]]


def transition(state: State, event: Event) -> Step:
    """The one entry point: the next state and what the driver must do."""
    match event:
        case Start() if state.phase == "start":
            return _seek(state, event.now, 0, 0, ())
        case Answered() if state.phase == "calling":
            return _answered(state, event)
        case Failed() if state.phase == "calling":
            return _failed(state, event)
        case Refused() if state.phase == "calling":
            return _refused(state, event)
        case Denied() if state.phase == "calling":
            return _denied(state, event)
        case Slept() if state.phase == "sleeping":
            return _call(state, event.now, state.tier, state.index, retry=state.retry + 1, pre=())
    raise ValueError(f"event {type(event).__name__} is not expected in phase {state.phase!r}")


# ---- handlers


def _answered(state: State, event: Answered) -> Step:
    cfg, tier, dep = state.config, state.config.tiers[state.tier], state.current
    confident = event.confidence >= tier.threshold
    attempt = _attempt(
        state,
        AttemptOutcome.ACCEPTED if confident else AttemptOutcome.LOW_CONFIDENCE,
        confidence=event.confidence,
        latency_s=event.latency_s,
        usage=event.completion.usage,
        cost_usd=event.cost_usd,
    )
    report = (ReportToBreaker(dep.provider, success=True, panic=state.panic),)
    this = Candidate(event.completion, dep, state.tier, event.confidence)
    best = this if state.best is None or this.confidence >= state.best.confidence else state.best
    state = replace(
        state,
        attempts=(*state.attempts, attempt),
        spent_usd=state.spent_usd + event.cost_usd,
        best=best,
    )
    if state.panic:
        return _serve(state, this, _panic_reason(state, dep), report, always=True)
    if confident or event.committed:
        reason = "" if confident else _low_reason(state)
        return _serve(state, this, reason, report)
    if state.tier + 1 < len(cfg.tiers) and state.escalations < cfg.max_escalations:
        state = replace(state, escalations=state.escalations + 1)
        return _seek(state, event.now, state.tier + 1, 0, report)
    return _serve(state, best, _low_reason(state), report)


def _low_reason(state: State) -> str:
    cfg = state.config
    if state.tier + 1 < len(cfg.tiers):
        return "low confidence; escalation limit reached"
    if cfg.truncated:
        return "low confidence; higher tiers dropped by the budget"
    return "low confidence at last tier"


def _failed(state: State, event: Failed) -> Step:
    cfg, dep, error = state.config, state.current, event.error
    attempt = _attempt(
        state,
        _outcome_of(error),
        latency_s=event.latency_s,
        usage=event.usage,
        cost_usd=event.cost_usd,
        error=error.message,
    )
    state = replace(
        state, attempts=(*state.attempts, attempt), spent_usd=state.spent_usd + event.cost_usd
    )
    # The breaker counts what says the provider is unwell; a rejected request
    # proves it is up and answering.
    healthy = error.kind in (ProviderErrorKind.FINAL, ProviderErrorKind.CONTEXT_LENGTH)
    counted = not (error.status == 429 or (isinstance(error, ProviderTimeout) and state.clipped))
    report = (ReportToBreaker(dep.provider, healthy, counted=counted, panic=state.panic),)
    if event.committed:
        message = f"the answer broke off after it started streaming: {error.message}"
        return _finish(state, Fail(Unavailable(message, state.attempts)), report)
    match error.kind:
        case ProviderErrorKind.RETRYABLE:
            decision = cfg.retry.decide(
                state.retry,
                retry_after=error.retry_after,
                remaining_s=cfg.deadline - event.now,
                jitter=event.jitter,
                min_call_s=cfg.min_call_s,
            )
            if isinstance(decision, Retry):
                return replace(state, phase="sleeping"), (*report, Sleep(decision.delay_s))
        case ProviderErrorKind.PROVIDER_WIDE:
            why = (AttemptOutcome.PROVIDER_ERROR, f"skipped: {dep.provider} failed provider-wide")
            queue = tuple(
                (t, i)
                for t, i in state.panic_queue
                if cfg.tiers[t].deployments[i].provider != dep.provider
            )
            state = replace(state, down={**state.down, dep.provider: why}, panic_queue=queue)
        case ProviderErrorKind.FINAL:
            if state.best is not None:
                reason = f"a higher tier rejected the request ({error.message})"
                return _serve(state, state.best, reason, report)
            return _finish(
                state,
                Fail(InvalidArgument("request", f"{dep.provider} rejected it: {error.message}")),
                report,
            )
        case ProviderErrorKind.CONTEXT_LENGTH:
            floor = max(state.context_floor or 0, dep.context_tokens or 0)
            state = replace(state, context_floor=floor)
    if state.panic:
        return _panic_next(state, event.now, report)
    return _seek(state, event.now, state.tier, state.index + 1, report)


def _refused(state: State, event: Refused) -> Step:
    dep = state.current
    if state.panic:
        why = (
            f"skipped: circuit breaker open for {dep.provider}, which answered none of its "
            "recent panic calls"
        )
        attempt = _attempt(state, AttemptOutcome.CIRCUIT_OPEN, error=why)
        return _panic_next(replace(state, attempts=(*state.attempts, attempt)), event.now, ())
    skip = (AttemptOutcome.CIRCUIT_OPEN, f"skipped: circuit breaker open for {dep.provider}")
    state = replace(
        state,
        attempts=(*state.attempts, _attempt(state, skip[0], error=skip[1])),
        down={**state.down, dep.provider: skip},
        refused=(*state.refused, (state.tier, state.index, event.failure_rate)),
    )
    return _seek(state, event.now, state.tier, state.index + 1, ())


def _denied(state: State, event: Denied) -> Step:
    """The budget ran out mid-request (other requests spent it): stop calling.

    Nothing else is tried: every call of the namespace is refused alike, and the
    driver already handed the breaker's slot back.
    """
    error = f"skipped: {event.reason}"
    state = replace(
        state, attempts=(*state.attempts, _attempt(state, AttemptOutcome.OVER_BUDGET, error=error))
    )
    if state.best is not None:
        return _serve(state, state.best, "budget exhausted during the request", ())
    return _finish(state, Fail(ResourceExhausted(event.reason)), ())


def _panic(state: State, now: float, pre: tuple[Action, ...]) -> Step | None:
    """Start the panic over the refused deployments, least bad first; None: nothing to panic on."""
    if state.panic or not state.refused:
        return None
    # sorted() is stable: among equals, the cheapest tier and the configured order first.
    queue = tuple((t, i) for t, i, _ in sorted(state.refused, key=lambda r: r[2]))
    return _panic_next(replace(state, panic=True, panic_queue=queue), now, pre)


def _panic_next(state: State, now: float, pre: tuple[Action, ...]) -> Step:
    if not state.panic_queue:
        error = Unavailable(
            "every deployment that could serve was refused by its circuit breaker, and the "
            f"calls made anyway failed too ({len(state.attempts)} attempts)",
            state.attempts,
        )
        return _finish(state, Fail(error), pre)
    (tier, index), rest = state.panic_queue[0], state.panic_queue[1:]
    return _call(replace(state, panic_queue=rest), now, tier, index, retry=0, pre=pre)


def _panic_reason(state: State, dep: Deployment) -> str:
    refused = sorted({state.config.tiers[t].deployments[i].provider for t, i, _ in state.refused})
    return (
        f"every breaker that could serve was open ({', '.join(refused)}); "
        f"{dep.provider} was called anyway (panic)"
    )


def _outcome_of(error: ProviderError) -> AttemptOutcome:
    if isinstance(error, ProviderTimeout):
        return AttemptOutcome.TIMEOUT
    if error.status == 429:
        return AttemptOutcome.RATE_LIMITED
    if error.kind in (ProviderErrorKind.FINAL, ProviderErrorKind.CONTEXT_LENGTH):
        return AttemptOutcome.REJECTED
    return AttemptOutcome.PROVIDER_ERROR


# ---- moving on


def _skip_reason(state: State, tier: Tier, dep: Deployment) -> tuple[AttemptOutcome, str] | None:
    cfg = state.config
    if dep.provider in state.down:
        return state.down[dep.provider]
    floor = state.context_floor
    if floor is not None and (dep.context_tokens is None or dep.context_tokens <= floor):
        return AttemptOutcome.REJECTED, f"skipped: context not larger than {floor} tokens"
    if cfg.cost_cap_usd is not None:
        estimate = _estimate(cfg, tier, dep)
        if state.spent_usd + estimate > cfg.cost_cap_usd:
            return AttemptOutcome.OVER_BUDGET, (
                f"skipped: estimated ${estimate:.6f} exceeds the ${cfg.cost_cap_usd:.6f} cap"
            )
    return None


def _estimate(cfg: MachineConfig, tier: Tier, dep: Deployment) -> float:
    """What a call to `dep` is estimated to cost before it is made (the cost cap's measure)."""
    return estimate_cost(dep, cfg.estimated_input_tokens, tier.max_output_tokens or 0)


def _seek(state: State, now: float, tier: int, index: int, pre: tuple[Action, ...]) -> Step:
    """Call the first usable deployment at or after (tier, index); record the skips."""
    tiers = state.config.tiers
    while tier < len(tiers):
        deployments = tiers[tier].deployments
        while index < len(deployments):
            dep = deployments[index]
            skip = _skip_reason(state, tiers[tier], dep)
            if skip is None:
                return _call(state, now, tier, index, retry=0, pre=pre)
            at = replace(state, tier=tier, index=index, retry=0)
            state = replace(at, attempts=(*at.attempts, _attempt(at, skip[0], error=skip[1])))
            index += 1
        tier, index = tier + 1, 0
    if state.best is not None:
        return _serve(state, state.best, "low confidence; every higher tier failed", pre)
    panic = _panic(state, now, pre)
    if panic is not None:
        return panic
    error = _priced_out(state) or Unavailable(
        f"no deployment could serve the request ({len(state.attempts)} attempts)", state.attempts
    )
    return _finish(state, Fail(error), pre)


def _priced_out(state: State) -> InvalidArgument | None:
    """The request's own cost cap ruled out every deployment before any call: the same
    request can never be served, so say which setting to change (UNAVAILABLE would invite
    the client's retries)."""
    cfg = state.config
    cap = cfg.cost_cap_usd
    if cap is None or not state.attempts:
        return None
    skips = [a.outcome is AttemptOutcome.OVER_BUDGET and a.error.startswith("skipped:")
             for a in state.attempts]  # fmt: skip
    if not all(skips):
        return None
    cheapest = min(_estimate(cfg, tier, dep) for tier in cfg.tiers for dep in tier.deployments)
    return InvalidArgument(
        "routing.max_cost_usd",
        f"${cap:.6f} is below the estimated cost of every model this request may use (the "
        f"cheapest: ${cheapest:.6f} for about {cfg.estimated_input_tokens} input tokens); "
        "raise it, or leave it 0 for no limit",
    )


def _call(
    state: State, now: float, tier: int, index: int, *, retry: int, pre: tuple[Action, ...]
) -> Step:
    cfg = state.config
    remaining = cfg.deadline - now
    t = cfg.tiers[tier]
    state = replace(state, tier=tier, index=index, retry=retry, clipped=remaining < t.timeout_s)
    if remaining < cfg.min_call_s:
        return _out_of_time(state, pre)
    final = tier + 1 >= len(cfg.tiers) or state.escalations >= cfg.max_escalations
    call = Call(
        t.deployments[index],
        tier,
        t.name,
        min(t.timeout_s, remaining),
        retry,
        t.max_output_tokens,
        final or state.panic,
        panic=state.panic,
    )
    return replace(state, phase="calling"), (*pre, call)


def _out_of_time(state: State, pre: tuple[Action, ...]) -> Step:
    if state.best is not None:
        return _serve(state, state.best, "deadline reached before a confident answer", pre)
    error = DeadlineExceeded(
        f"the deadline passed after {len(state.attempts)} attempts without an answer"
    )
    return _finish(state, Fail(error), pre)


def _serve(
    state: State,
    chosen: Candidate,
    reason: str,
    pre: tuple[Action, ...],
    *,
    always: bool = False,
) -> Step:
    """Serve `chosen`; `reason` is dropped if it met its threshold, unless `always`."""
    threshold = state.config.tiers[chosen.tier].threshold
    if chosen.confidence >= threshold and not always:
        reason = ""  # e.g. the best answer so far was a confident one after all
    reasons = [r for r in (state.config.degraded_reason, reason) if r]
    serve = Serve(
        chosen.completion,
        chosen.deployment,
        state.config.tiers[chosen.tier].name,
        chosen.confidence,
        degraded=bool(reasons),
        degraded_reason="; ".join(reasons),
    )
    return _finish(state, serve, pre)


def _finish(state: State, terminal: Terminal, pre: tuple[Action, ...]) -> Step:
    return replace(state, phase="done"), (*pre, terminal)


def _attempt(
    state: State,
    outcome: AttemptOutcome,
    *,
    confidence: float | None = None,
    latency_s: float = 0.0,
    usage: Usage | None = None,
    cost_usd: float = 0.0,
    error: str = "",
) -> Attempt:
    dep = state.current
    return Attempt(
        dep.provider,
        dep.model,
        state.config.tiers[state.tier].name,
        outcome,
        confidence,
        latency_s,
        usage or Usage(),
        cost_usd,
        error,
        state.retry,
    )
