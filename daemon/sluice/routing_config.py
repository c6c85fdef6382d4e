"""The `routing:` section of the config: named policies, and which one serves each namespace.

    routing:
      policies:
        by-rules: {kind: rules, rules: [{name: code, regex: "```", tier: premium}]}
        learned:  {kind: classifier, path: models/router/gsm8k.npz, threshold: 0.5}
        online:   {kind: bandit, cost_weight: 0.3}
      default:    {policy: by-rules, shadow: [online]}
      namespaces:
        search:   {split: {by-rules: 50, learned: 50}}        # A/B, sticky on user_id
        chat:     {policy: by-rules, rollout: {policy: online, percent: 10}}

Kept apart from config.py (which imports it) so that file stays readable;
from sluice it imports only the namespace rule.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sluice.namespaces import check_names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSettings(_Strict):
    """Matches when every condition given holds; the first matching rule wins."""

    name: str = Field(
        min_length=1,
        max_length=64,
        description="The rule's name, in the route's reason and the logs.",
    )
    keywords: tuple[str, ...] = ()  # any of them, case-insensitive, in the last user turn
    regex: str | None = None  # searched in the last user turn
    min_chars: int | None = Field(
        default=None, ge=0, description="The last user turn has at least this many characters."
    )
    max_chars: int | None = Field(
        default=None, ge=0, description="The last user turn has at most this many characters."
    )
    task_tags: tuple[str, ...] = ()  # any of the request's routing.task_tags
    tier: str | None = Field(default=None, description="Route to this tier (set tier or model).")
    model: str | None = Field(default=None, description="Pin this model (set tier or model).")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"the regex does not compile: {exc}") from None
        return value

    @model_validator(mode="after")
    def _target(self) -> RuleSettings:
        if (self.tier is None) == (self.model is None):
            raise ValueError(f"rule {self.name!r}: set exactly one of tier or model")
        return self


class RulesPolicySettings(_Strict):
    kind: Literal["rules"] = Field(description="The policy's type: rules, classifier or bandit.")
    rules: tuple[RuleSettings, ...] = Field(
        default=(), description="Tried in order; the first that matches decides."
    )
    # No rule matched: this tier (None: the cheapest).
    fallback_tier: str | None = None


class ClassifierPolicySettings(_Strict):
    kind: Literal["classifier"]
    # Written by `sluice train classifier --replay FILE --out PATH`.
    path: Path
    # Start above a tier when P(that tier is not enough) ≥ threshold; lower = more premium.
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)


class BanditPolicySettings(_Strict):
    kind: Literal["bandit"]
    # LinUCB exploration width.
    alpha: float = Field(default=0.5, ge=0.0)
    # reward = quality − cost_weight · cost / baseline cost (what always-premium would cost).
    cost_weight: float = Field(default=0.3, ge=0.0)
    ridge: float = Field(default=1.0, gt=0.0)
    # Recent completions remembered for Feedback (oldest forgotten first).
    feedback_capacity: int = Field(default=10_000, ge=1, le=1_000_000)


PolicySettings = Annotated[
    RulesPolicySettings | ClassifierPolicySettings | BanditPolicySettings,
    Field(discriminator="kind"),
]


class RolloutSettings(_Strict):
    policy: str = Field(description="The policy the rollout's share of users gets.")
    percent: float = Field(ge=0.0, le=100.0, description="That share, 0–100, sticky on user_id.")


class NamespaceRouting(_Strict):
    # "" → fixed routing (the caller's hints, else the cheapest tier).
    policy: str = ""
    # Decide and log only; the request is served by the primary.
    shadow: tuple[str, ...] = ()
    # A/B split by a sticky hash of user_id: policy name → percent (sums to 100).
    split: dict[str, float] = Field(default_factory=dict)
    # Gradual rollout: this share of users gets `rollout.policy`, the rest `policy`.
    rollout: RolloutSettings | None = None

    @field_validator("split")
    @classmethod
    def _sums_to_100(cls, value: dict[str, float]) -> dict[str, float]:
        if value:
            if any(v < 0 for v in value.values()):
                raise ValueError("percentages must not be negative")
            total = sum(value.values())
            if abs(total - 100.0) > 1e-6:
                raise ValueError(f"the split sums to {total:g} %, not 100 %")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> NamespaceRouting:
        if self.split and self.rollout is not None:
            raise ValueError("set split or rollout, not both")
        return self

    def policies(self) -> set[str]:
        names = {self.policy, *self.shadow, *self.split}
        if self.rollout is not None:
            names.add(self.rollout.policy)
        return names - {""}


class RoutingSettings(_Strict):
    policies: dict[str, PolicySettings] = Field(
        default_factory=dict, description="Routing policies by name."
    )
    default: NamespaceRouting = Field(
        default_factory=NamespaceRouting,
        description="The routing of every namespace without an entry under namespaces.",
    )
    namespaces: dict[str, NamespaceRouting] = Field(
        default_factory=dict, description="Routing by namespace."
    )

    @field_validator("namespaces")
    @classmethod
    def _check_ns(cls, value: dict[str, NamespaceRouting]) -> dict[str, NamespaceRouting]:
        check_names(value)
        return value

    @model_validator(mode="after")
    def _known(self) -> RoutingSettings:
        for where, ns in [("default", self.default)] + [
            (f"namespaces.{k}", v) for k, v in self.namespaces.items()
        ]:
            for name in sorted(ns.policies()):
                if name not in self.policies:
                    raise ValueError(
                        f"routing.{where}: policy {name!r} is not defined under "
                        f"routing.policies (known: {sorted(self.policies)})"
                    )
        return self

    def tier_references(self) -> list[tuple[str, str]]:
        """(config key, tier name) of every tier a rule names, for the cross-check."""
        out = []
        for pname, p in self.policies.items():
            if isinstance(p, RulesPolicySettings):
                if p.fallback_tier is not None:
                    out.append((f"routing.policies.{pname}.fallback_tier", p.fallback_tier))
                for i, rule in enumerate(p.rules):
                    if rule.tier is not None:
                        out.append((f"routing.policies.{pname}.rules[{i}].tier", rule.tier))
        return out
