"""Rules: first match wins, every condition must hold, the decision names the rule."""

from __future__ import annotations

import re

from sluice.routing.policy import RouteContext
from sluice.routing.rules import Rule, RulesPolicy
from sluice.routing_config import RulesPolicySettings
from tests.unit.routing.helpers import catalogue


def ctx(text: str, tags: tuple[str, ...] = ()) -> RouteContext:
    return RouteContext("default", text, tags)


def test_first_matching_rule_wins_and_is_named() -> None:
    policy = RulesPolicy([
        Rule("code", 2, pattern=re.compile(r"```|def \w+\(")),
        Rule("maths", 1, keywords=("integral", "prove")),
        Rule("long", 2, min_chars=200),
    ])  # fmt: skip
    assert policy.choose(ctx("Please prove this and def f(x): pass")).reason == "rule code"
    choice = policy.choose(ctx("Compute the INTEGRAL of x"))
    assert (choice.tier, choice.reason, choice.score) == (1, "rule maths", 1.0)
    assert policy.choose(ctx("x" * 250)).reason == "rule long"
    fallback = policy.choose(ctx("hello"))
    assert (fallback.tier, fallback.reason) == (0, "no rule matched")


def test_all_conditions_of_a_rule_must_hold() -> None:
    rule = Rule("tagged-short", 1, keywords=("sql",), max_chars=40, task_tags=frozenset({"db"}))
    policy = RulesPolicy([rule])
    assert policy.choose(ctx("write sql for this", ("db",))).tier == 1
    assert policy.choose(ctx("write sql for this", ("chat",))).tier == 0
    assert policy.choose(ctx("write sql for this " + "x" * 40, ("db",))).tier == 0


def test_from_settings_resolves_tiers_and_models() -> None:
    cat = catalogue()
    settings = RulesPolicySettings.model_validate({
        "kind": "rules", "fallback_tier": "medium",
        "rules": [{"name": "pin", "keywords": ["gpt"], "model": "gpt-4o"},
                  {"name": "short", "max_chars": 10, "tier": "cheap"}],
    })  # fmt: skip
    policy = RulesPolicy.from_settings(
        settings,
        lambda t: cat.tier_index(t, "x"),
        lambda m: cat.tier_index(cat.pinned(m, "x")[0].name, "x"),
    )
    pinned = policy.choose(ctx("ask gpt something long enough"))
    assert (pinned.tier, pinned.pinned_model) == (2, "gpt-4o")
    assert policy.choose(ctx("hi")).tier == 0
    assert policy.choose(ctx("nothing matches this one")).tier == 1
