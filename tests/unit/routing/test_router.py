"""The router: hints win, shadow decides without acting, A/B and rollout stick to user_id."""

from __future__ import annotations

import numpy as np
import pytest
import structlog

from sluice.config import parse_settings
from sluice.errors import InvalidArgument, NotFound
from sluice.routing.fixed import RoutingHints
from sluice.routing.policy import RouteContext
from sluice.routing.router import Router, bucket, build_router
from tests.unit.routing.helpers import CONFIG, catalogue

LONG = {"kind": "rules", "rules": [{"name": "long", "min_chars": 20, "tier": "premium"}]}
SHORT = {"kind": "rules", "rules": [{"name": "any", "min_chars": 0, "tier": "medium"}]}


def router(routing: dict[str, object]) -> Router:
    settings = parse_settings({**CONFIG, "routing": routing})
    return build_router(settings.routing, catalogue(), dimensions=4, model_id="m")


def ctx(
    text: str = "a question that is long", user: str = "u1", ns: str = "default"
) -> RouteContext:
    vector = np.ones(4, dtype=np.float32) / 2
    return RouteContext(ns, text, (), user, "r1", vector)


def test_no_policy_is_fixed_routing() -> None:
    routed = Router(catalogue()).decide(RoutingHints(), ctx())
    assert (routed.start, routed.decision.policy) == (0, "default")


def test_hints_win_over_the_policy() -> None:
    r = router({"policies": {"long": LONG}, "default": {"policy": "long"}})
    assert r.decide(RoutingHints(start_tier="medium"), ctx()).decision.tier == "medium"
    pinned = r.decide(RoutingHints(pinned_model="gpt-4o-mini"), ctx())
    assert (pinned.decision.policy, pinned.pinned_model) == ("pinned", "gpt-4o-mini")
    acted = r.decide(RoutingHints(), ctx())
    assert (acted.decision.tier, acted.decision.policy) == ("premium", "rules")
    assert acted.decision.reason == "long: rule long"
    assert acted.decision.model == "gpt-4o"


def test_shadow_decides_and_logs_but_does_not_act() -> None:
    r = router({"policies": {"long": LONG}, "default": {"shadow": ["long"]}})
    with structlog.testing.capture_logs() as logs:
        routed = r.decide(RoutingHints(), ctx())
    assert routed.decision.tier == "cheap"
    assert routed.decision.policy == "default"
    (line,) = [entry for entry in logs if entry["event"] == "shadow_route"]
    assert line["policy"] == "long"
    assert line["tier"] == "premium"


def test_split_is_sticky_and_close_to_its_percentages() -> None:
    r = router({"policies": {"long": LONG, "short": SHORT},
                "default": {"split": {"long": 30, "short": 70}}})  # fmt: skip
    variants = [
        r.decide(RoutingHints(), ctx(user=f"user-{i}")).decision.variant for i in range(2000)
    ]
    share = variants.count("long") / len(variants)
    assert 0.26 < share < 0.34
    again = [r.decide(RoutingHints(), ctx(user=f"user-{i}")).decision.variant for i in range(50)]
    assert again == variants[:50], "the same user always gets the same variant"


def test_rollout_percent_gets_the_treatment() -> None:
    rollout = {"policy": "short", "rollout": {"policy": "long", "percent": 10}}
    r = router({"policies": {"long": LONG, "short": SHORT}, "default": rollout})
    decisions = [r.decide(RoutingHints(), ctx(user=f"u{i}")).decision for i in range(2000)]
    treated = [d for d in decisions if d.variant == "treatment"]
    assert 0.07 < len(treated) / 2000 < 0.13
    assert all(d.tier == "premium" for d in treated)
    assert all(d.tier == "medium" for d in decisions if d.variant == "control")
    assert all(bucket(f"u{i}") < 10 for i in range(2000) if decisions[i].variant == "treatment")


def test_feedback_teaches_the_bandit_that_acted_and_rejects_unknown_ids() -> None:
    r = router({"policies": {"b": {"kind": "bandit"}}, "default": {"policy": "b"}})
    context = ctx()
    routed = r.decide(RoutingHints(), context)
    assert routed.decision.policy == "bandit"
    r.record("req-1", context, routed, 0.01, 0.1)
    with pytest.raises(InvalidArgument):
        r.feedback("req-1", 1.5)
    assert r.feedback("req-1", 1.0) == "bandit"
    assert r.policies["b"].model.pulls.sum() == 1  # type: ignore[attr-defined]
    with pytest.raises(NotFound):
        r.feedback("req-1", 1.0)  # already used
    with pytest.raises(NotFound):
        r.feedback("never-seen", 0.0)


def test_feedback_for_a_rules_request_is_accepted_without_learning() -> None:
    r = router({"policies": {"long": LONG}, "default": {"policy": "long"}})
    context = ctx()
    r.record("req-2", context, r.decide(RoutingHints(), context), 0.0, 0.0)
    assert r.feedback("req-2", 0.0) == ""
