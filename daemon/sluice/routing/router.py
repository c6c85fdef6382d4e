"""The router: the caller's hints, else the namespace's policy — with shadow, A/B and rollout.

    hints (pinned model, start tier)  win, as in fixed routing
    split {a: 50, b: 50}             sticky hash of user_id picks the policy; variant = its name
    rollout {policy, percent}        the same hash; "treatment" below percent, else "control"
    shadow [..]                      decide and log only; the request is served by the primary
    no policy                        the cheapest tier (the cascade escalates)

Every routed request is remembered (bounded) for Feedback; the policy that
acted learns from it through its `feedback` hook, and its `snapshot`/`restore`
hooks keep what it learned across restarts. Policies are built from config
through POLICY_BUILDERS, one entry per `kind`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sluice.cascade.plan import Catalogue
from sluice.errors import ConfigError, InvalidArgument, NotFound
from sluice.recent import Recent, unknown_request
from sluice.routing.bandit import BanditPolicy, LinUCB
from sluice.routing.classifier import ClassifierPolicy, TierClassifier
from sluice.routing.fixed import (
    Available,
    FixedRouter,
    RouteDecision,
    RoutingHints,
    everyone,
    first_available,
)
from sluice.routing.policy import Choice, Policy, RouteContext, Served
from sluice.routing.rules import RulesPolicy
from sluice.routing.stats import Mergeable
from sluice.routing_config import (
    BanditPolicySettings,
    ClassifierPolicySettings,
    NamespaceRouting,
    RoutingSettings,
    RulesPolicySettings,
)
from sluice.telemetry.logging import get_logger

log = get_logger("sluice.routing")
_RECENT_DEFAULT = 10_000


@dataclass(frozen=True, slots=True)
class Routed:
    start: int
    decision: RouteDecision
    pinned_model: str = ""
    policy_name: str = ""  # the configured name of the policy that acted ("" for none)


def bucket(key: str) -> float:
    """A stable position in [0, 100) for sticky assignment."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


class Router:
    def __init__(
        self,
        catalogue: Catalogue,
        policies: Mapping[str, Policy] | None = None,
        settings: RoutingSettings | None = None,
        *,
        recent_capacity: int = _RECENT_DEFAULT,
    ) -> None:
        self.catalogue = catalogue
        self.fixed = FixedRouter(catalogue)
        self.policies = dict(policies or {})
        self.settings = settings or RoutingSettings()
        self.recent: Recent[Served] = Recent(recent_capacity)

    def namespace_settings(self, namespace: str) -> NamespaceRouting:
        return self.settings.namespaces.get(namespace, self.settings.default)

    def needs_vector(self, namespace: str) -> bool:
        ns = self.namespace_settings(namespace)
        return any(self.policies[n].needs_vector for n in ns.policies() if n in self.policies)

    def _decision(
        self, name: str, choice: Choice, variant: str, available: Available = everyone
    ) -> tuple[int, RouteDecision]:
        policy = self.policies[name]
        if choice.pinned_model:
            (tier,) = self.catalogue.pinned(choice.pinned_model, f"routing.policies.{name}")
        else:
            tier = self.catalogue.tiers[min(choice.tier, len(self.catalogue.tiers) - 1)]
        index = self.catalogue.tier_index(tier.name, f"routing.policies.{name}")
        first = first_available(tier.deployments, available)
        reason = f"{name}: {choice.reason}"
        return index, RouteDecision(
            tier.name, first.provider, first.model, policy.kind, reason, choice.score, variant
        )

    def _acting(self, ns: NamespaceRouting, context: RouteContext) -> tuple[str, str]:
        """(policy name, variant) that serves this request."""
        key = context.user_id or context.request_id
        if ns.split:
            point, total = bucket(key), 0.0
            for name, percent in ns.split.items():
                total += percent
                if point < total:
                    return name, name
            return next(reversed(ns.split)), next(reversed(ns.split))
        if ns.rollout is not None:
            if bucket(key) < ns.rollout.percent:
                return ns.rollout.policy, "treatment"
            return ns.policy, "control"
        return ns.policy, ""

    def decide(
        self, hints: RoutingHints, context: RouteContext, available: Available = everyone
    ) -> Routed:
        """`available`: whether a provider may be called now, so the decision names the
        deployment the cascade will try first (RouteDecision.provider)."""
        if hints.pinned_model or hints.start_tier:
            start, decision = self.fixed.decide(hints, available)
            return Routed(start, decision, hints.pinned_model)
        ns = self.namespace_settings(context.namespace)
        for name in ns.shadow:
            _, shadow = self._decision(name, self.policies[name].choose(context), "shadow")
            log.info(
                "shadow_route", request_id=context.request_id, namespace=context.namespace,
                policy=name, tier=shadow.tier, reason=shadow.reason, score=round(shadow.score, 4),
            )  # fmt: skip
        name, variant = self._acting(ns, context)
        if not name:
            start, decision = self.fixed.decide(hints, available)
            return Routed(start, decision)
        choice = self.policies[name].choose(context)
        start, decision = self._decision(name, choice, variant, available)
        return Routed(start, decision, choice.pinned_model, name)

    # ---- feedback
    def record(
        self,
        request_id: str,
        context: RouteContext,
        routed: Routed,
        cost_usd: float,
        baseline_cost_usd: float,
    ) -> None:
        vector = context.vector
        served = Served(
            context.namespace, routed.policy_name, routed.start,
            LinUCB.context(vector) if vector is not None else LinUCB.context([]),
            cost_usd, baseline_cost_usd,
        )  # fmt: skip
        self.recent.put(request_id, served)

    def feedback(self, request_id: str, quality: float) -> str:
        """Learn from the user's judgement of an earlier answer; the policy kind that learned."""
        if not 0.0 <= quality <= 1.0:
            raise InvalidArgument("score", f"{quality} is outside [0, 1]")
        served = self.recent.pop(request_id)
        if served is None:
            raise NotFound(unknown_request(request_id, self.recent.capacity))
        policy = self.policies.get(served.policy)
        learned = None if policy is None else policy.feedback(served, quality)
        if policy is None or learned is None:
            return ""
        log.info(
            f"{policy.kind}_feedback", request_id=request_id, arm=served.arm,
            reward=round(learned, 4),
        )  # fmt: skip
        return policy.kind

    def judged(self, request_id: str) -> bool:
        """Whether `request_id` was judged already (an answer takes one judgement)."""
        return self.recent.taken(request_id)

    # ---- shared learning (fleet mode pools these models across pods: fleet/learning.py)
    def shared(self) -> dict[str, Mergeable]:
        """The models of the policies that pool their learning, by configured name."""
        out: dict[str, Mergeable] = {}
        for name, policy in self.policies.items():
            model = policy.shared()
            if model is not None:
                out[name] = model
        return out

    # ---- persistence (beside the cache snapshot)
    def save(self, folder: Path) -> None:
        for name, policy in self.policies.items():
            policy.snapshot(folder, name)

    def restore(self, folder: Path) -> None:
        for name, policy in self.policies.items():
            try:
                loaded = policy.restore(folder, name)
            except (OSError, ValueError, KeyError) as exc:
                log.warning(f"{policy.kind}_restore_failed", policy=name, reason=str(exc))
                continue
            if loaded is not None:
                log.info(f"{policy.kind}_restored", policy=name, loaded=loaded)


def build_router(
    settings: RoutingSettings, catalogue: Catalogue, *, dimensions: int, model_id: str
) -> Router:
    """Policies from config; a classifier file that is missing or does not fit is a config error."""
    policies: dict[str, Policy] = {}
    capacity = _RECENT_DEFAULT
    build = _Build(catalogue, dimensions, model_id)
    for name, p in settings.policies.items():
        policy = POLICY_BUILDERS[p.kind](p, f"routing.policies.{name}", build)
        capacity = max(capacity, policy.feedback_capacity)
        policies[name] = policy
    if settings.policies and not catalogue.tiers:
        raise ConfigError("routing.policies", "routing policies need tiers: add tiers first")
    return Router(catalogue, policies, settings, recent_capacity=capacity)


@dataclass(frozen=True, slots=True)
class _Build:
    """What a policy builder may need besides its own settings."""

    catalogue: Catalogue
    dimensions: int  # of the embedding model
    model_id: str

    @property
    def tiers(self) -> list[str]:
        return [t.name for t in self.catalogue.tiers]


def _bandit(p: BanditPolicySettings, key: str, build: _Build) -> BanditPolicy:
    # The tag keeps pods on another embedding model or tier list from pooling with these.
    return BanditPolicy(
        max(len(build.tiers), 1), build.dimensions, alpha=p.alpha, cost_weight=p.cost_weight,
        ridge=p.ridge, feedback_capacity=p.feedback_capacity,
        tag=f"{build.model_id}|{'/'.join(build.tiers)}",
    )  # fmt: skip


def _rules(p: RulesPolicySettings, key: str, build: _Build) -> RulesPolicy:
    catalogue = build.catalogue

    def tier_index(tier: str) -> int:
        return catalogue.tier_index(tier, key)

    def model_tier(model: str) -> int:
        try:
            return catalogue.tier_index(catalogue.pinned(model, key)[0].name, key)
        except InvalidArgument as exc:
            raise ConfigError(key, exc.message) from None

    return RulesPolicy.from_settings(p, tier_index, model_tier)


def _classifier(p: ClassifierPolicySettings, key: str, build: _Build) -> ClassifierPolicy:
    tiers, model_id = build.tiers, build.model_id
    try:
        classifier = TierClassifier.load(p.path)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{key}.path", f"cannot load {p.path}: {exc}") from None
    if classifier.model_id and model_id and classifier.model_id != model_id:
        raise ConfigError(
            f"{key}.path",
            f"trained on embeddings of {classifier.model_id}, the daemon runs {model_id}",
        )
    names = classifier.tiers
    if all(n in tiers for n in names):
        mapping = {i: tiers.index(n) for i, n in enumerate(names)}
    elif len(names) == len(tiers):
        mapping = {i: i for i in range(len(names))}
    else:
        raise ConfigError(
            f"{key}.path", f"its classes {list(names)} match neither the tiers {tiers} "
            "by name nor by count"
        )  # fmt: skip
    return ClassifierPolicy(classifier, p.threshold, mapping)


# One registration per policy kind (the `kind` of its settings in routing_config.py). The
# settings type is checked by pydantic's discriminated union before a builder sees it.
POLICY_BUILDERS: Final[Mapping[str, Callable[[Any, str, _Build], Policy]]] = {
    "rules": _rules,
    "classifier": _classifier,
    "bandit": _bandit,
}
