"""The routing: config section: errors name the key."""

from __future__ import annotations

from typing import Any

import pytest

from sluice.config import parse_settings
from sluice.errors import ConfigError
from tests.unit.routing.helpers import CONFIG


def settings(routing: dict[str, Any]) -> None:
    parse_settings({**CONFIG, "routing": routing})


def key_of(routing: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ConfigError) as info:
        settings(routing)
    return info.value.key, info.value.message


RULES = {"kind": "rules", "rules": [{"name": "r", "keywords": ["x"], "tier": "premium"}]}


def test_a_valid_section_loads() -> None:
    settings({
        "policies": {"r": RULES, "b": {"kind": "bandit"}},
        "default": {"policy": "r", "shadow": ["b"]},
        "namespaces": {"ab": {"split": {"r": 60, "b": 40}},
                       "ramp": {"policy": "r", "rollout": {"policy": "b", "percent": 5}}},
    })  # fmt: skip


def test_a_regex_that_does_not_compile_names_its_key() -> None:
    bad = {"kind": "rules", "rules": [{"name": "r", "regex": "(unclosed", "tier": "cheap"}]}
    key, message = key_of({"policies": {"bad": bad}})
    assert key.startswith("routing.policies.bad")
    assert key.endswith("regex")
    assert "does not compile" in message


def test_a_split_that_does_not_sum_to_100_is_an_error() -> None:
    key, message = key_of({"policies": {"r": RULES}, "default": {"split": {"r": 60}}})
    assert key == "routing.default.split"
    assert "60" in message
    assert "100" in message


def test_unknown_policy_and_unknown_tier_are_named() -> None:
    key, message = key_of({"default": {"policy": "nope"}})
    assert key == "routing.default"
    assert "nope" in message
    bad_tier = {"kind": "rules", "rules": [{"name": "r", "keywords": ["x"], "tier": "gold"}]}
    key, message = key_of({"policies": {"r": bad_tier}})
    assert key == "routing.policies.r.rules[0].tier"
    assert "gold" in message


def test_unknown_keys_are_rejected() -> None:
    key, _ = key_of({"policies": {"b": {"kind": "bandit", "gamma": 1}}})
    assert key.startswith("routing.policies.b")
    assert key.endswith("gamma")
