"""A routing policy is one class behind the Policy protocol: the router never asks its type
(issue #22). A policy written here, unknown to the router, learns and persists through it."""

from __future__ import annotations

from pathlib import Path

from sluice.routing.fixed import RoutingHints
from sluice.routing.policy import Choice, Policy, RouteContext, Served, Stateless
from sluice.routing.router import Router
from sluice.routing_config import NamespaceRouting, RoutingSettings
from tests.unit.routing.helpers import catalogue


class Counting:
    """A learning policy the router has never heard of."""

    kind = "counting"
    needs_vector = False
    feedback_capacity = 7

    def __init__(self) -> None:
        self.learned: list[float] = []

    def choose(self, context: RouteContext) -> Choice:
        return Choice(1, f"counting: {len(self.learned)} judgements so far")

    def feedback(self, served: Served, quality: float) -> float | None:
        self.learned.append(quality)
        return quality - 0.5

    def snapshot(self, folder: Path, name: str) -> None:
        (folder / f"{name}.txt").write_text(",".join(map(str, self.learned)))

    def restore(self, folder: Path, name: str) -> bool | None:
        path = folder / f"{name}.txt"
        if not path.is_file():
            return None
        self.learned = [float(x) for x in path.read_text().split(",") if x]
        return True

    def shared(self) -> None:
        return None  # nothing pooled across a fleet


class Fixed(Stateless):
    kind = "fixed"
    needs_vector = False

    def choose(self, context: RouteContext) -> Choice:
        return Choice(0, "always the cheapest")


def _router(policy: Policy) -> Router:
    # The config names the policy; the instance is ours (no settings class, no builder).
    settings = RoutingSettings.model_construct(default=NamespaceRouting(policy="p"))
    return Router(catalogue(), {"p": policy}, settings)


def _complete(router: Router, request_id: str) -> None:
    context = RouteContext("default", "a question", request_id=request_id)
    routed = router.decide(RoutingHints(), context)
    router.record(request_id, context, routed, cost_usd=0.1, baseline_cost_usd=1.0)


def test_a_new_learning_policy_learns_and_persists_through_its_hooks(tmp_path: Path) -> None:
    policy = Counting()
    router = _router(policy)
    _complete(router, "r1")
    assert router.feedback("r1", 1.0) == "counting"
    assert policy.learned == [1.0]
    router.save(tmp_path)

    fresh = Counting()
    _router(fresh).restore(tmp_path)
    assert fresh.learned == [1.0]


def test_a_stateless_policy_is_counted_but_learns_nothing(tmp_path: Path) -> None:
    router = _router(Fixed())
    _complete(router, "r2")
    assert router.feedback("r2", 0.0) == ""
    router.save(tmp_path)
    router.restore(tmp_path)
    assert list(tmp_path.iterdir()) == []
