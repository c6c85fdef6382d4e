"""The complexity classifier and the LinUCB bandit on synthetic embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sluice.recent import Recent
from sluice.routing.bandit import BanditPolicy, LinUCB, Served, reward
from sluice.routing.classifier import (
    ClassifierPolicy,
    TierClassifier,
    features,
    sufficient_tier,
)
from sluice.routing.policy import RouteContext


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three clusters in 8 dimensions; cluster k needs tier k."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:3] * 3
    labels = rng.integers(0, 3, n)
    vectors = unit(centres[labels] + rng.normal(0, 0.5, (n, 8)))
    return vectors.astype(np.float32), labels


def test_sufficient_tier_is_the_cheapest_within_the_margin() -> None:
    assert sufficient_tier([1.0, 1.0]) == 0
    assert sufficient_tier([0.0, 1.0]) == 1
    assert sufficient_tier([0.0, 0.0]) == 0  # nobody gets it right: do not pay for it
    assert sufficient_tier([0.8, 0.86, 0.9], margin=0.05) == 1


def test_classifier_learns_the_start_tier_and_round_trips(tmp_path: Path) -> None:
    vectors, labels = blobs(600)
    x = features(vectors, [100] * len(vectors))
    clf = TierClassifier.fit(x, labels, ("simple", "medium", "complex"), l2=1e-3, model_id="m@1")
    test_v, test_labels = blobs(300, seed=1)
    start = clf.start(clf.need_more(features(test_v, [100] * 300)), 0.5)
    assert (start == test_labels).mean() > 0.9
    path = tmp_path / "clf.npz"
    clf.save(path)
    again = TierClassifier.load(path)
    assert again.tiers == ("simple", "medium", "complex")
    assert again.model_id == "m@1"
    np.testing.assert_allclose(again.weights, clf.weights)
    policy = ClassifierPolicy(again, 0.5, {0: 0, 1: 1, 2: 2})
    choice = policy.choose(RouteContext("d", "q" * 100, vector=test_v[0]))
    assert choice.tier == test_labels[0]
    assert choice.reason.startswith("classifier: ")
    assert 0.0 <= choice.score <= 1.0
    assert policy.choose(RouteContext("d", "q")).tier == 0  # no embedding: cheapest


def test_a_lower_threshold_starts_higher() -> None:
    vectors, labels = blobs(400)
    x = features(vectors, [50] * 400)
    clf = TierClassifier.fit(x, labels, ("a", "b", "c"))
    need = clf.need_more(x)
    assert (clf.start(need, 0.05) >= clf.start(need, 0.95)).all()
    assert np.all(np.diff(need, axis=1) <= 1e-12), "P(needs more than k) falls with k"


def test_linucb_learns_which_arm_pays_per_context() -> None:
    rng = np.random.default_rng(0)
    bandit = LinUCB(2, 3, alpha=0.3)
    contexts = [np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0])]
    # Context 0: arm 0 is good enough and cheap; context 1: only arm 1 answers well.
    truth = [[0.9, 0.6], [0.1, 0.7]]
    for _ in range(400):
        c = int(rng.integers(0, 2))
        arm, _, _ = bandit.choose(contexts[c])
        bandit.update(arm, contexts[c], truth[c][arm] + rng.normal(0, 0.05))
    assert bandit.choose(contexts[0])[0] == 0
    assert bandit.choose(contexts[1])[0] == 1
    assert bandit.pulls.sum() == 400
    assert bandit.pulls.min() > 10, "both arms were explored"


def test_bandit_policy_reward_and_persistence(tmp_path: Path) -> None:
    assert reward(1.0, 0.5, 1.0, 0.3) == 1.0 - 0.15
    assert reward(0.0, 0.0, 0.0, 0.3) == 0.0
    policy = BanditPolicy(2, 4, alpha=0.5, cost_weight=0.3)
    vector = unit(np.ones(4)).astype(np.float32)
    choice = policy.choose(RouteContext("d", "q", vector=vector))
    assert choice.tier == 0
    assert choice.reason.startswith("bandit: arm 0")
    served = Served("d", "b", 1, LinUCB.context(vector), 1.0, 1.0)
    assert policy.learn(served, 1.0) == 0.7
    path = tmp_path / "bandit.npz"
    policy.model.save(path)
    fresh = BanditPolicy(2, 4, alpha=0.5, cost_weight=0.3)
    assert fresh.model.load(path)
    np.testing.assert_allclose(fresh.model.b, policy.model.b)
    assert not BanditPolicy(3, 4, alpha=0.5, cost_weight=0.3).model.load(path), "shape differs"


def test_recent_is_bounded_oldest_first() -> None:
    recent = Recent(2)
    item = Served("d", "b", 0, np.zeros(2), 0.0, 0.0)
    for rid in ("a", "b", "c"):
        recent.put(rid, item)
    assert len(recent) == 2
    assert recent.pop("a") is None
    assert recent.pop("c") is item
    assert recent.pop("c") is None
    # A popped id is remembered as judged (bounded too); a forgotten or unknown one is not.
    assert recent.taken("c")
    assert not recent.taken("a")
    assert not recent.taken("b")
    for rid in ("d", "e", "f"):
        recent.put(rid, item)
        recent.pop(rid)
    assert not recent.taken("c")
    assert all(recent.taken(rid) for rid in ("e", "f"))
