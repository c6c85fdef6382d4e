"""The pure cascade state machine: every transition, table-driven, plus properties."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sluice.cascade.machine import (
    Action,
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
    State,
    initial_state,
    transition,
)
from sluice.cascade.types import AttemptOutcome as O
from sluice.cascade.types import Tier
from sluice.errors import (
    DeadlineExceeded,
    InvalidArgument,
    ProviderError,
    ProviderErrorKind,
    ProviderTimeout,
    RateLimited,
    Unavailable,
)
from sluice.resilience.retry import RetryPolicy
from tests.unit.cascade.fakes import completion, dep, tier

T0 = 0.0
CHEAP = tier("cheap", dep("a", "a-small"), dep("b", "b-small"), timeout_s=5.0)
MEDIUM = tier("medium", dep("a", "a-mid"), dep("c", "c-mid"))
PREMIUM = tier("premium", dep("b", "b-large"), dep("c", "c-large"))
TIERS = (CHEAP, MEDIUM, PREMIUM)


def retryable(message: str = "503") -> ProviderError:
    return ProviderError(message, kind=ProviderErrorKind.RETRYABLE, status=503)


def err(kind: ProviderErrorKind) -> ProviderError:
    return ProviderError(kind.value, kind=kind)


def answered(now: float, confidence: float, *, committed: bool = False) -> Answered:
    return Answered(now, completion(f"c={confidence}"), confidence, 0.1, 0.001, committed)


def failed(now: float, error: ProviderError, jitter: float = 0.5, **kw: bool) -> Failed:
    return Failed(now, error, 0.1, jitter, **kw)  # type: ignore[arg-type]


def config(*tiers: Tier, **kw: object) -> MachineConfig:
    kw.setdefault("deadline", 100.0)
    return MachineConfig(tiers or TIERS, **kw)  # type: ignore[arg-type]


def run(cfg: MachineConfig, events: Sequence[Event]) -> tuple[State, list[tuple[Action, ...]]]:
    state = initial_state(cfg)
    steps = []
    for event in events:
        state, actions = transition(state, event)
        steps.append(actions)
    return state, steps


def main(actions: tuple[Action, ...]) -> Action:
    (action,) = [a for a in actions if not isinstance(a, ReportToBreaker)]
    return action


def reports(steps: list[tuple[Action, ...]]) -> list[tuple[str, bool]]:
    return [(a.provider, a.success) for s in steps for a in s if isinstance(a, ReportToBreaker)]


def called(action: Action) -> tuple[str, str, int]:
    assert isinstance(action, Call), action
    return action.deployment.model, action.tier_name, action.retry


@dataclass
class Case:
    name: str
    events: Sequence[Event]
    last: object  # expected (model, tier, retry) of a Call, a Sleep, or an error/serve check
    outcomes: list[O]
    cfg: MachineConfig = field(default_factory=config)


CASES = [
    Case("start calls the first deployment", [Start(T0)], ("a-small", "cheap", 0), []),
    Case("confident answer is served", [Start(T0), answered(1, 0.9)], "serve", [O.ACCEPTED]),
    Case(
        "low confidence escalates",
        [Start(T0), answered(1, 0.5)],
        ("a-mid", "medium", 0),
        [O.LOW_CONFIDENCE],
    ),
    Case(
        "retryable error sleeps for the backoff",
        [Start(T0), failed(1, retryable(), jitter=0.5)],
        Sleep(0.05),
        [O.PROVIDER_ERROR],
    ),
    Case(
        "after the sleep the same deployment is called again",
        [Start(T0), failed(1, retryable()), Slept(2)],
        ("a-small", "cheap", 1),
        [O.PROVIDER_ERROR],
    ),
    Case(
        "retries exhausted fall back to the next provider in the tier",
        [
            Start(T0),
            failed(1, retryable()),
            Slept(1),
            failed(2, retryable()),
            Slept(2),
            failed(3, retryable()),
        ],
        ("b-small", "cheap", 0),
        [O.PROVIDER_ERROR] * 3,
    ),
    Case(
        "429 with a Retry-After that fits waits for it",
        [Start(T0), failed(1, RateLimited("slow down", retry_after=3.0))],
        Sleep(3.0),
        [O.RATE_LIMITED],
    ),
    Case(
        "429 with a Retry-After past the deadline falls back at once",
        [Start(T0), failed(1, RateLimited("slow down", retry_after=3.0))],
        ("b-small", "cheap", 0),
        [O.RATE_LIMITED],
        config(deadline=3.5),
    ),
    Case(
        "timeout is recorded as TIMEOUT and retried",
        [Start(T0), failed(5, ProviderTimeout("slow"))],
        Sleep(0.05),
        [O.TIMEOUT],
    ),
    Case(
        "provider-wide error skips every deployment of that provider",
        [Start(T0), failed(1, err(ProviderErrorKind.PROVIDER_WIDE)), answered(2, 0.1)],
        ("c-mid", "medium", 0),
        [O.PROVIDER_ERROR, O.LOW_CONFIDENCE, O.PROVIDER_ERROR],
    ),
    Case(
        "final error without an answer is InvalidArgument",
        [Start(T0), failed(1, err(ProviderErrorKind.FINAL))],
        InvalidArgument,
        [O.REJECTED],
    ),
    Case(
        "final error after an answer serves the best so far",
        [Start(T0), answered(1, 0.5), failed(2, err(ProviderErrorKind.FINAL))],
        "serve-degraded",
        [O.LOW_CONFIDENCE, O.REJECTED],
    ),
    Case(
        "context length skips deployments whose context is not larger",
        [Start(T0), failed(1, err(ProviderErrorKind.CONTEXT_LENGTH))],
        ("big", "t2", 0),
        [O.REJECTED, O.REJECTED, O.REJECTED],
        config(
            tier("t1", dep("a", "small", ctx=8000), dep("b", "same", ctx=8000)),
            tier("t2", dep("c", "unknown"), dep("c", "big", ctx=128000)),
        ),
    ),
    Case(
        "breaker refusal skips the provider for the rest of the request",
        [Start(T0), Refused(0), answered(1, 0.2)],
        ("c-mid", "medium", 0),
        [O.CIRCUIT_OPEN, O.LOW_CONFIDENCE, O.CIRCUIT_OPEN],
    ),
    Case(
        "a failed tier falls back to the next tier without an escalation",
        [
            Start(T0),
            failed(1, err(ProviderErrorKind.PROVIDER_WIDE)),
            failed(2, err(ProviderErrorKind.PROVIDER_WIDE)),
            answered(3, 0.9),
        ],
        "serve",
        [O.PROVIDER_ERROR, O.PROVIDER_ERROR, O.ACCEPTED],
        config(CHEAP, tier("next", dep("c"))),
    ),
    Case(
        "everything down is Unavailable with every attempt",
        [Start(T0), *[failed(i, err(ProviderErrorKind.PROVIDER_WIDE)) for i in (1, 2, 3)]],
        Unavailable,
        [O.PROVIDER_ERROR] * 6,
    ),
    Case("no time for a call is DeadlineExceeded", [Start(99.97)], DeadlineExceeded, []),
    Case(
        "running out of time with an answer serves it degraded",
        [Start(T0), answered(99.99, 0.5)],
        "serve-degraded",
        [O.LOW_CONFIDENCE],
    ),
    Case(
        "a deployment over the per-request cost cap is skipped",
        [Start(T0)],
        ("cheap-one", "t", 0),
        [O.OVER_BUDGET],
        config(
            tier("t", dep("a", "pricey", price=(100.0, 100.0)), dep("b", "cheap-one")),
            cost_cap_usd=0.01,
            estimated_input_tokens=1000,
        ),
    ),
    Case(
        "low confidence at the last tier serves the best answer, degraded",
        [Start(T0), answered(1, 0.6), answered(2, 0.4), answered(3, 0.5)],
        "serve-degraded",
        [O.LOW_CONFIDENCE] * 3,
    ),
    Case(
        "escalation limit serves the best answer, degraded",
        [Start(T0), answered(1, 0.5)],
        "serve-degraded",
        [O.LOW_CONFIDENCE],
        config(max_escalations=0),
    ),
    Case(
        "a committed (streamed) answer is served even below the threshold",
        [Start(T0), answered(1, 0.3, committed=True)],
        "serve-degraded",
        [O.LOW_CONFIDENCE],
        config(CHEAP),
    ),
    Case(
        "a failure after the first byte is Unavailable, no retry",
        [Start(T0), failed(1, retryable(), committed=True)],
        Unavailable,
        [O.PROVIDER_ERROR],
        config(CHEAP),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_transition(case: Case) -> None:
    state, steps = run(case.cfg, case.events)
    action = main(steps[-1])
    assert [a.outcome for a in state.attempts] == case.outcomes
    if isinstance(case.last, tuple):
        assert called(action) == case.last
        assert state.phase == "calling"
    elif isinstance(case.last, Sleep):
        assert action == case.last
        assert state.phase == "sleeping"
    elif isinstance(case.last, type):
        assert isinstance(action, Fail)
        assert type(action.error) is case.last
        assert state.phase == "done"
    else:
        assert isinstance(action, Serve)
        assert action.degraded is (case.last == "serve-degraded")
        assert state.phase == "done"


def test_a_cost_cap_below_every_model_names_the_setting_not_unavailable() -> None:
    # It was UNAVAILABLE "no deployment could serve the request (2 attempts)": retryable to
    # a client, though the same request can never be served.
    cfg = config(
        tier("t", dep("a", "pricey", price=(100.0, 100.0)), dep("b", "dear", price=(50.0, 50.0))),
        cost_cap_usd=1e-9,
        estimated_input_tokens=1000,
    )
    state, steps = run(cfg, [Start(T0)])
    action = main(steps[-1])
    assert isinstance(action, Fail)
    assert isinstance(action.error, InvalidArgument)
    assert action.error.field == "routing.max_cost_usd"
    assert "raise it" in str(action.error)
    assert "the cheapest: $0.050000" in str(action.error)  # dear: 1,000 tokens at $50 / M
    assert [a.outcome for a in state.attempts] == [O.OVER_BUDGET, O.OVER_BUDGET]
    # A call that failed before the cap ruled out the rest: Unavailable, as before (the
    # failed deployment may recover).
    cfg = config(
        tier("t", dep("a", "cheap-one"), dep("b", "pricey", price=(100.0, 100.0))),
        cost_cap_usd=0.01,
        estimated_input_tokens=1000,
    )
    _, steps = run(cfg, [Start(T0), failed(1, err(ProviderErrorKind.PROVIDER_WIDE))])
    action = main(steps[-1])
    assert isinstance(action, Fail)
    assert type(action.error) is Unavailable


def test_call_timeout_is_clipped_to_the_deadline() -> None:
    _, steps = run(config(deadline=3.0), [Start(1.0)])
    action = main(steps[0])
    assert isinstance(action, Call)
    assert action.timeout_s == pytest.approx(2.0)
    _, steps = run(config(), [Start(1.0)])
    assert main(steps[0]).timeout_s == 5.0  # type: ignore[union-attr]


def test_best_answer_is_the_most_confident() -> None:
    state, steps = run(config(), [Start(T0), answered(1, 0.6), answered(2, 0.4), answered(3, 0.5)])
    serve = main(steps[-1])
    assert isinstance(serve, Serve)
    assert (serve.tier_name, serve.confidence) == ("cheap", 0.6)
    assert serve.degraded_reason == "low confidence at last tier"
    assert state.escalations == 2


def test_final_flag_marks_calls_that_cannot_escalate() -> None:
    _, steps = run(config(), [Start(T0), answered(1, 0.5), answered(2, 0.5)])
    calls = [main(s) for s in steps]
    assert [c.final for c in calls if isinstance(c, Call)] == [False, False, True]
    _, steps = run(config(max_escalations=1), [Start(T0), answered(1, 0.5)])
    assert main(steps[-1]).final is True  # type: ignore[union-attr]


def test_breaker_reports() -> None:
    cfg = config(tier("t", dep("a"), dep("b", ctx=8000)))
    events: list[Event] = [Start(T0), failed(1, retryable()), Slept(1)]
    events += [failed(2, err(ProviderErrorKind.CONTEXT_LENGTH)), answered(3, 0.9)]
    _, steps = run(cfg, events)
    # retryable counts against the provider; a rejected prompt and an answer prove it is up
    assert reports(steps) == [("a", False), ("a", True), ("b", True)]


def test_skips_are_attempts_in_order() -> None:
    state, _ = run(config(), [Start(T0), Refused(0), answered(1, 0.2)])
    assert [(a.model, a.outcome, a.error.startswith("skipped")) for a in state.attempts] == [
        ("a-small", O.CIRCUIT_OPEN, True),
        ("b-small", O.LOW_CONFIDENCE, False),
        ("a-mid", O.CIRCUIT_OPEN, True),
    ]


def test_degraded_reason_from_the_budget_marks_every_answer() -> None:
    cfg = config(CHEAP, degraded_reason="budget near its limit", truncated=True)
    _, steps = run(cfg, [Start(T0), answered(1, 0.9)])
    serve = main(steps[-1])
    assert isinstance(serve, Serve)
    assert (serve.degraded, serve.degraded_reason) == (True, "budget near its limit")
    _, steps = run(replace(cfg, degraded_reason=""), [Start(T0), answered(1, 0.3)])
    assert main(steps[-1]).degraded_reason == (  # type: ignore[union-attr]
        "low confidence; higher tiers dropped by the budget"
    )


def test_unexpected_event_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not expected"):
        run(config(), [Start(T0), Slept(1)])
    with pytest.raises(ValueError, match="not expected"):
        run(config(), [answered(1, 0.9)])


# ---- properties

PROVIDERS = ["a", "b", "c"]


@st.composite
def configs(draw: st.DrawFn) -> MachineConfig:
    n_tiers = draw(st.integers(1, 4))
    tiers = []
    for t in range(n_tiers):
        deps = [
            dep(
                draw(st.sampled_from(PROVIDERS)),
                f"m{t}{d}",
                ctx=draw(st.one_of(st.none(), st.sampled_from([4000, 8000, 128000]))),
            )
            for d in range(draw(st.integers(1, 3)))
        ]
        tiers.append(tier(f"t{t}", *deps, threshold=draw(st.sampled_from([0.5, 0.75, 0.9]))))
    return MachineConfig(
        tuple(tiers),
        deadline=draw(st.floats(0.0, 30.0)),
        retry=RetryPolicy(max_retries=draw(st.integers(0, 3))),
        max_escalations=draw(st.integers(0, 4)),
    )


OUTCOMES = st.one_of(
    st.tuples(st.just("answer"), st.floats(0.0, 1.0)),
    st.tuples(st.just("error"), st.sampled_from(list(ProviderErrorKind))),
    st.tuples(st.just("429"), st.floats(0.0, 20.0)),
    st.tuples(st.just("refused"), st.just(0.0)),
)


@settings(max_examples=300, deadline=None)
@given(cfg=configs(), script=st.lists(st.tuples(OUTCOMES, st.floats(0.0, 5.0)), max_size=60))
def test_properties(cfg: MachineConfig, script: list[tuple[tuple[str, object], float]]) -> None:
    now = 0.0
    state, actions = transition(initial_state(cfg), Start(now))
    calls = sleeps = 0
    answers = []
    step = 0
    while not any(isinstance(a, Serve | Fail) for a in actions):
        action = main(actions)
        (kind, value), elapsed = script[step % len(script)] if script else (("answer", 1.0), 0.0)
        step += 1
        assert step < 500, "the machine must terminate"
        if isinstance(action, Sleep):
            sleeps += 1
            now += action.delay_s
            state, actions = transition(state, Slept(now))
            continue
        assert isinstance(action, Call)
        calls += 1
        # Never a call after the deadline, never one that could outlast it.
        assert now + cfg.min_call_s <= cfg.deadline
        assert action.timeout_s <= cfg.deadline - now + 1e-9
        now += min(elapsed, action.timeout_s)
        if kind == "answer":
            answer = completion()
            answers.append(answer)
            event: Event = Answered(now, answer, float(value), elapsed, 0.0)  # type: ignore[arg-type]
        elif kind == "error":
            event = failed(now, err(value))  # type: ignore[arg-type]
        elif kind == "429":
            event = failed(now, RateLimited("429", retry_after=float(value)))  # type: ignore[arg-type]
        else:
            event = Refused(now)
        state, actions = transition(state, event)
    terminal = [a for a in actions if isinstance(a, Serve | Fail)]
    assert len(terminal) == 1, "exactly one answer or one error"
    # Escalations, counted from the record: a low-confidence answer followed by
    # an attempt (call or skip) in a higher tier.
    index = {t.name: i for i, t in enumerate(cfg.tiers)}
    pairs = zip(state.attempts, state.attempts[1:], strict=False)
    escalations = sum(
        1 for x, y in pairs if x.outcome is O.LOW_CONFIDENCE and index[y.tier] > index[x.tier]
    )
    # (An escalation cut short by the deadline leaves no attempt in the higher tier.)
    assert escalations <= state.escalations <= cfg.max_escalations
    assert state.phase == "done"
    # Every call (not sleep) is one attempt; skips add more, never fewer.
    assert len(state.attempts) >= calls
    (end,) = terminal
    if isinstance(end, Serve):
        assert any(end.completion is c for c in answers)
        threshold = next(t.threshold for t in cfg.tiers if t.name == end.tier_name)
        assert end.degraded or end.confidence >= threshold
    else:
        assert isinstance(end.error, Unavailable | DeadlineExceeded | InvalidArgument)
        if isinstance(end.error, Unavailable):
            assert end.error.attempts == state.attempts


# ---- breaker verdicts and panic (issue #17: breakers must not turn partial faults into outages)


def full_reports(steps: list[tuple[Action, ...]]) -> list[tuple[str, bool, bool, bool]]:
    return [
        (a.provider, a.success, a.counted, a.panic)
        for s in steps
        for a in s
        if isinstance(a, ReportToBreaker)
    ]


def test_a_429_and_our_own_deadline_are_no_verdict_on_the_provider() -> None:
    cfg = config(
        tier("t", dep("a"), dep("b"), dep("c"), timeout_s=5.0), deadline=10.0, retry=RetryPolicy(1)
    )
    events: list[Event] = [Start(T0), failed(1, RateLimited("429", retry_after=None))]
    events += [Slept(1), failed(6, ProviderTimeout("no answer in 5 s"))]  # full 5 s: counted
    events += [failed(10, ProviderTimeout("no answer in 4 s"))]  # the deadline cut it to 4 s
    _, steps = run(cfg, events)
    assert full_reports(steps) == [
        ("a", False, False, False),
        ("a", False, True, False),
        ("b", False, False, False),
    ]


def test_every_breaker_open_panics_into_the_least_bad_deployment() -> None:
    cfg = config(CHEAP, MEDIUM)
    _, steps = run(cfg, [Start(T0), Refused(0, 0.9), Refused(0, 0.6), Refused(0, 0.7)])
    call = main(steps[-1])
    assert isinstance(call, Call)
    assert (call.deployment.model, call.panic, call.final) == ("b-small", True, True)
    state, steps = run(
        cfg, [Start(T0), Refused(0, 0.9), Refused(0, 0.6), Refused(0, 0.7), answered(1, 0.3)]
    )
    serve = main(steps[-1])
    assert isinstance(serve, Serve)
    assert serve.deployment.model == "b-small"
    assert serve.degraded  # said, and not cached
    assert serve.degraded_reason == (
        "every breaker that could serve was open (a, b, c); b was called anyway (panic)"
    )
    assert full_reports(steps) == [("b", True, True, True)]
    assert [a.outcome for a in state.attempts] == [
        O.CIRCUIT_OPEN, O.CIRCUIT_OPEN, O.CIRCUIT_OPEN, O.CIRCUIT_OPEN, O.LOW_CONFIDENCE,
    ]  # fmt: skip


def test_panic_calls_retry_then_fall_back_through_the_refused_deployments() -> None:
    cfg = config(CHEAP, retry=RetryPolicy(1))
    events: list[Event] = [Start(T0), Refused(0, 0.6), Refused(0, 0.3)]
    events += [failed(1, retryable()), Slept(1), failed(2, retryable())]  # b, least bad
    state, steps = run(cfg, events)
    assert called(main(steps[-1])) == ("a-small", "cheap", 0)
    assert main(steps[-1]).panic  # type: ignore[union-attr]
    state, steps = run(cfg, [*events, failed(3, retryable()), Slept(3), failed(4, retryable())])
    fail = main(steps[-1])
    assert isinstance(fail, Fail)
    assert isinstance(fail.error, Unavailable)
    assert "calls made anyway failed too" in fail.error.message
    assert full_reports(steps) == [("b", False, True, True)] * 2 + [("a", False, True, True)] * 2
    assert [a.model for a in state.attempts] == ["a-small", "b-small", "b-small", "b-small",
                                                 "a-small", "a-small"]  # fmt: skip


def test_a_provider_wide_failure_in_panic_drops_that_provider() -> None:
    cfg = config(CHEAP, MEDIUM)
    events: list[Event] = [Start(T0), Refused(0, 0.5), Refused(0, 0.6), Refused(0, 0.7)]
    events += [failed(1, err(ProviderErrorKind.PROVIDER_WIDE))]  # a: its a-mid is dropped too
    _, steps = run(cfg, events)
    assert called(main(steps[-1])) == ("b-small", "cheap", 0)


def test_a_refused_panic_call_moves_on_then_is_unavailable() -> None:
    _, steps = run(config(CHEAP), [Start(T0), Refused(0), Refused(0), Refused(0)])
    assert called(main(steps[-1])) == ("b-small", "cheap", 0)
    state, steps = run(config(CHEAP), [Start(T0), Refused(0), Refused(0), Refused(0), Refused(0)])
    fail = main(steps[-1])
    assert isinstance(fail, Fail)
    assert isinstance(fail.error, Unavailable)
    assert "answered none of its recent panic calls" in state.attempts[-1].error


def test_no_panic_while_another_deployment_can_answer_or_an_answer_is_in_hand() -> None:
    # One open breaker among working providers: the next deployment serves, no panic.
    _, steps = run(config(CHEAP), [Start(T0), Refused(0), answered(1, 0.9)])
    serve = main(steps[-1])
    assert isinstance(serve, Serve)
    assert not serve.degraded
    # A low-confidence answer in hand and the higher tier refused: served, no panic call.
    _, steps = run(config(CHEAP, MEDIUM), [Start(T0), answered(1, 0.3), Refused(1), Refused(1)])
    serve = main(steps[-1])
    assert isinstance(serve, Serve)
    assert serve.degraded_reason == "low confidence; every higher tier failed"
    # A deployment that failed for real is not a panic candidate: only refused ones are.
    _, steps = run(
        config(tier("t", dep("a"))), [Start(T0), failed(1, err(ProviderErrorKind.PROVIDER_WIDE))]
    )
    assert isinstance(main(steps[-1]), Fail)
