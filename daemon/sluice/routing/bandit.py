"""A contextual bandit (disjoint LinUCB) whose arms are the tiers, learning from Feedback.

Context: the prompt embedding plus a constant. Reward of a served request:
quality − cost_weight · cost / baseline_cost, where quality comes from the
Feedback RPC (thumbs up 1, thumbs down 0, regenerate 0, score s) and
baseline_cost is what the always-premium model would have charged. The arm is
the tier the bandit chose to start at; the reward covers the whole cascade.

`Recent` remembers the last N completions (request id → context, arm, cost
share) so that Feedback, which arrives later, can be matched to them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sluice.routing.policy import Choice, RouteContext, Served

__all__ = ["BanditPolicy", "LinUCB", "Recent", "Served", "reward"]

Array = npt.NDArray[np.float64]


class LinUCB:
    def __init__(self, arms: int, dim: int, *, alpha: float = 0.5, ridge: float = 1.0) -> None:
        self.arms, self.dim, self.alpha = arms, dim, alpha
        self.a_inv = np.stack([np.eye(dim) / ridge for _ in range(arms)])
        self.b = np.zeros((arms, dim))
        self.pulls = np.zeros(arms, dtype=np.int64)
        # Rewards are learned relative to their running mean, so an arm never pulled
        # looks average (not zero) and its confidence width gets it explored.
        self.offset = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def context(vector: npt.ArrayLike) -> Array:
        return np.append(np.asarray(vector, dtype=np.float64).ravel(), 1.0)

    def scores(self, x: Array) -> tuple[Array, Array]:
        """(expected reward, upper confidence bound) per arm."""
        theta = np.einsum("aij,aj->ai", self.a_inv, self.b)
        mean = theta @ x
        width = np.sqrt(np.maximum(np.einsum("i,aij,j->a", x, self.a_inv, x), 0.0))
        mean = mean + self.offset
        out: tuple[Array, Array] = (mean, mean + self.alpha * width)
        return out

    def choose(self, x: Array) -> tuple[int, float, float]:
        """(arm, its expected reward, its bound); ties go to the cheaper arm."""
        mean, ucb = self.scores(x)
        arm = int(np.argmax(ucb))
        return arm, float(mean[arm]), float(ucb[arm])

    def update(self, arm: int, x: Array, reward: float) -> None:
        with self._lock:  # Sherman–Morrison: A⁻¹ ← A⁻¹ − A⁻¹xxᵀA⁻¹ / (1 + xᵀA⁻¹x)
            a_inv = self.a_inv[arm]
            ax = a_inv @ x
            self.a_inv[arm] = a_inv - np.outer(ax, ax) / (1.0 + float(x @ ax))
            self.b[arm] += (reward - self.offset) * x
            self.pulls[arm] += 1
            total = int(self.pulls.sum())
            self.offset += (reward - self.offset) / total

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            np.savez(f, a_inv=self.a_inv, b=self.b, pulls=self.pulls, offset=self.offset)
        tmp.replace(path)

    def load(self, path: Path) -> bool:
        """Restore a saved state of the same shape; False (and unchanged) otherwise."""
        with np.load(path, allow_pickle=False) as data:
            if data["a_inv"].shape != self.a_inv.shape:
                return False
            self.a_inv, self.b = data["a_inv"].copy(), data["b"].copy()
            self.pulls = data["pulls"].copy()
            self.offset = float(data["offset"])
        return True


def reward(quality: float, cost_usd: float, baseline_cost_usd: float, cost_weight: float) -> float:
    share = cost_usd / baseline_cost_usd if baseline_cost_usd > 0 else 0.0
    return quality - cost_weight * share


class Recent:
    """A bounded map request id → Served (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Served] = OrderedDict()

    def put(self, request_id: str, served: Served) -> None:
        self._items[request_id] = served
        self._items.move_to_end(request_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def pop(self, request_id: str) -> Served | None:
        return self._items.pop(request_id, None)

    def __len__(self) -> int:
        return len(self._items)


class BanditPolicy:
    kind = "bandit"
    needs_vector = True

    def __init__(
        self,
        arms: int,
        dim: int,
        *,
        alpha: float,
        cost_weight: float,
        ridge: float = 1.0,
        feedback_capacity: int = 10_000,
    ) -> None:
        self.model = LinUCB(arms, dim + 1, alpha=alpha, ridge=ridge)
        self.cost_weight = cost_weight
        self.feedback_capacity = feedback_capacity

    def choose(self, context: RouteContext) -> Choice:
        if context.vector is None:
            return Choice(0, "bandit: no embedding for this prompt, cheapest tier", 0.0)
        arm, mean, bound = self.model.choose(LinUCB.context(context.vector))
        return Choice(
            arm, f"bandit: arm {arm} (expected reward {mean:.2f}, bound {bound:.2f})", mean
        )

    def learn(self, served: Served, quality: float) -> float:
        r = reward(quality, served.cost_usd, served.baseline_cost_usd, self.cost_weight)
        self.model.update(served.arm, served.context, r)
        return r

    # ---- the Policy hooks
    def feedback(self, served: Served, quality: float) -> float | None:
        if served.context.shape[0] != self.model.dim:  # routed without an embedding
            return None
        return self.learn(served, quality)

    @staticmethod
    def _path(folder: Path, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return folder / f"bandit-{safe}.npz"

    def snapshot(self, folder: Path, name: str) -> None:
        self.model.save(self._path(folder, name))

    def restore(self, folder: Path, name: str) -> bool | None:
        path = self._path(folder, name)
        return self.model.load(path) if path.is_file() else None
