"""What a learning policy can pool with other pods: sufficient statistics that add up.

A disjoint linear bandit (LinUCB) is a function of, per arm,

    a   = Σ x xᵀ        (A = ridge·I + a)
    rx  = Σ r x         (b = rx − mean_reward · sx: rewards relative to their mean)
    sx  = Σ x
    pulls, and Σ r over every arm (the mean reward)

All of them are sums over the updates, so two pods' statistics add: the model built
from own + others is the model one pod would have built from both pods' updates, in
any order. `Mergeable` is how a policy offers its own statistics and takes the fleet's
(fleet/learning.py); a policy that pools nothing answers None from `Policy.shared`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]


@dataclass(slots=True)
class LinearStats:
    a: Array  # (arms, dim, dim)
    rx: Array  # (arms, dim)
    sx: Array  # (arms, dim)
    pulls: Counts  # (arms,)
    rewards: float  # Σ r over all arms

    @classmethod
    def zeros(cls, arms: int, dim: int) -> LinearStats:
        return cls(
            np.zeros((arms, dim, dim)), np.zeros((arms, dim)), np.zeros((arms, dim)),
            np.zeros(arms, dtype=np.int64), 0.0,
        )  # fmt: skip

    @property
    def arms(self) -> int:
        return int(self.pulls.shape[0])

    @property
    def dim(self) -> int:
        return int(self.rx.shape[1])

    @property
    def total(self) -> int:
        return int(self.pulls.sum())

    def add(self, arm: int, x: Array, reward: float) -> None:
        """One update, in place."""
        self.a[arm] += np.outer(x, x)
        self.rx[arm] += reward * x
        self.sx[arm] += x
        self.pulls[arm] += 1
        self.rewards += reward

    def copy(self) -> LinearStats:
        return LinearStats(
            self.a.copy(), self.rx.copy(), self.sx.copy(), self.pulls.copy(), self.rewards
        )

    def __add__(self, other: LinearStats) -> LinearStats:
        return LinearStats(
            self.a + other.a, self.rx + other.rx, self.sx + other.sx,
            self.pulls + other.pulls, self.rewards + other.rewards,
        )  # fmt: skip

    def __sub__(self, other: LinearStats) -> LinearStats:
        return LinearStats(
            self.a - other.a, self.rx - other.rx, self.sx - other.sx,
            self.pulls - other.pulls, self.rewards - other.rewards,
        )  # fmt: skip

    def contains(self, other: LinearStats) -> bool:
        """Whether this could be `other` plus later updates (no arm has fewer pulls)."""
        return bool(np.all(self.pulls >= other.pulls))


class Mergeable(Protocol):
    """A policy's model that pods pool (LinUCB): own statistics out, the fleet's in."""

    @property
    def shape(self) -> tuple[int, int]:
        """(arms, context dimension): statistics of another shape are never merged."""
        ...

    @property
    def tag(self) -> str:
        """What the arms and the context mean (the embedding model, the tier names):
        statistics with another tag are never merged."""
        ...

    def contribution(self) -> LinearStats:
        """A copy of what this pod learned itself, since its first start (snapshots keep it)."""
        ...

    def merge(self, others: LinearStats | None, missing: LinearStats | None = None) -> None:
        """Rebuild the model as ridge·I + own + `others` (the other pods' sum; None: none).

        `missing`: updates of this pod's own that it lost (a restart after its last
        snapshot) and the fleet still holds; they are added to its own statistics.
        Updates that arrive while this runs are kept.
        """
        ...
