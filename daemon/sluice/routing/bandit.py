"""A contextual bandit (disjoint LinUCB) whose arms are the tiers, learning from Feedback.

Context: the prompt embedding plus a constant. Reward of a served request:
quality − cost_weight · cost / baseline_cost, where quality comes from the
Feedback RPC (thumbs up 1, thumbs down 0, regenerate 0, score s) and
baseline_cost is what the always-premium model would have charged. The arm is
the tier the bandit chose to start at; the reward covers the whole cascade.

The model is kept as sums that add up (routing/stats.py), so pods of a fleet can
pool what they learned (fleet/learning.py) and a snapshot holds this pod's own part.

The router's `Recent` (sluice.recent) remembers the last N completions (request id →
context, arm, cost share) so that Feedback, which arrives later, can be matched to them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sluice.routing.policy import Choice, RouteContext, Served
from sluice.routing.stats import LinearStats, Mergeable

__all__ = ["BanditPolicy", "LinUCB", "Served", "reward"]

Array = npt.NDArray[np.float64]


class LinUCB:
    """Disjoint LinUCB over sufficient statistics that add up (routing/stats.py).

    `own` is what this pod learned, `others` what the rest of the fleet did (fleet mode;
    None alone). A⁻¹ follows each update by Sherman–Morrison and is rebuilt by `merge`.
    """

    def __init__(
        self, arms: int, dim: int, *, alpha: float = 0.5, ridge: float = 1.0, tag: str = ""
    ) -> None:
        self.arms, self.dim, self.alpha, self.ridge = arms, dim, alpha, ridge
        self.tag = tag
        self.a_inv = np.stack([np.eye(dim) / ridge for _ in range(arms)])
        self.own = LinearStats.zeros(arms, dim)
        self.others: LinearStats | None = None
        # Derived from own + others by _derive: b = Σ r x − offset · Σ x, where the offset
        # is the mean reward, so an arm never pulled looks average (not zero) and its
        # confidence width gets it explored.
        self.b = np.zeros((arms, dim))
        self.pulls = np.zeros(arms, dtype=np.int64)
        self.offset = 0.0
        # Updates made while a merge computes A⁻¹ (replayed onto the new one); None: no merge.
        self._journal: list[tuple[int, Array, float]] | None = None
        self._lock = threading.Lock()
        self._merging = threading.Lock()

    @staticmethod
    def context(vector: npt.ArrayLike) -> Array:
        return np.append(np.asarray(vector, dtype=np.float64).ravel(), 1.0)

    def scores(self, x: Array) -> tuple[Array, Array]:
        """(expected reward, upper confidence bound) per arm."""
        with self._lock:  # one consistent model, never half of a merge's new one
            a_inv, b, offset = self.a_inv, self.b, self.offset
        theta = np.einsum("aij,aj->ai", a_inv, b)
        mean = theta @ x
        width = np.sqrt(np.maximum(np.einsum("i,aij,j->a", x, a_inv, x), 0.0))
        mean = mean + offset
        out: tuple[Array, Array] = (mean, mean + self.alpha * width)
        return out

    def choose(self, x: Array) -> tuple[int, float, float]:
        """(arm, its expected reward, its bound); ties go to the cheaper arm."""
        mean, ucb = self.scores(x)
        arm = int(np.argmax(ucb))
        return arm, float(mean[arm]), float(ucb[arm])

    def update(self, arm: int, x: Array, reward: float) -> None:
        with self._lock:
            _sherman_morrison(self.a_inv, arm, x)
            self.own.add(arm, x, reward)
            if self._journal is not None:
                self._journal.append((arm, x.copy(), reward))
            self._derive()

    def _derive(self) -> None:
        own, others = self.own, self.others
        rx, sx, pulls, rewards = own.rx, own.sx, own.pulls, own.rewards
        if others is not None:
            rx, sx, pulls = rx + others.rx, sx + others.sx, pulls + others.pulls
            rewards += others.rewards
        total = int(pulls.sum())
        offset = rewards / total if total else 0.0
        self.b, self.pulls, self.offset = rx - offset * sx, pulls.copy(), offset

    # ---- Mergeable (routing/stats.py)
    @property
    def shape(self) -> tuple[int, int]:
        return self.arms, self.dim

    def contribution(self) -> LinearStats:
        with self._lock:
            return self.own.copy()

    def merge(self, others: LinearStats | None, missing: LinearStats | None = None) -> None:
        """Rebuild A⁻¹ from ridge·I + own (+ missing) + others; one inverse per arm.

        Runs off the event loop (fleet/learning.py): updates made meanwhile are journaled
        and replayed onto the new A⁻¹, so none is lost and `update` never waits long.
        """
        for part in (others, missing):
            if part is not None and part.a.shape != self.own.a.shape:
                raise ValueError(f"statistics of shape {part.a.shape}, this model is "
                                 f"{self.own.a.shape}")  # fmt: skip
        with self._merging:
            with self._lock:
                own = self.own.copy()
                self._journal = []
            if missing is not None:
                own = own + missing
            a = own.a if others is None else own.a + others.a
            a_inv: Array = np.asarray(
                np.linalg.inv(a + self.ridge * np.eye(self.dim)), dtype=np.float64
            )
            with self._lock:
                journal, self._journal = self._journal or [], None
                for arm, x, reward in journal:
                    _sherman_morrison(a_inv, arm, x)
                    own.add(arm, x, reward)
                self.own, self.others, self.a_inv = own, others, a_inv
                self._derive()

    # ---- persistence: own statistics only (the fleet's come back from Redis)
    def save(self, path: Path) -> None:
        own = self.contribution()
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            np.savez(f, a=own.a, rx=own.rx, sx=own.sx, pulls=own.pulls, rewards=own.rewards)
        tmp.replace(path)

    def load(self, path: Path) -> bool:
        """Restore a saved state of the same shape; False (and unchanged) otherwise.

        Reads the format before shared learning too (A⁻¹, b, pulls, offset).
        """
        with np.load(path, allow_pickle=False) as data:
            if "a" in data.files:
                own = LinearStats(
                    data["a"].astype(np.float64), data["rx"].astype(np.float64),
                    data["sx"].astype(np.float64), data["pulls"].astype(np.int64),
                    float(data["rewards"]),
                )  # fmt: skip
            elif data["a_inv"].shape != self.a_inv.shape:
                return False
            else:
                own = _from_inverse(data, self.ridge)
        if own.a.shape != self.own.a.shape:
            return False
        expected = {"rx": (self.arms, self.dim), "sx": (self.arms, self.dim),
                    "pulls": (self.arms,)}  # fmt: skip
        for name, want in expected.items():
            if getattr(own, name).shape != want:
                raise ValueError(f"{path.name}: {name} has shape {getattr(own, name).shape}")
        with self._lock:
            self.own = LinearStats.zeros(self.arms, self.dim)
        self.merge(self.others, missing=own)
        return True


def _sherman_morrison(a_inv: Array, arm: int, x: Array) -> None:
    """A⁻¹ ← A⁻¹ − A⁻¹xxᵀA⁻¹ / (1 + xᵀA⁻¹x), in place for one arm."""
    m = a_inv[arm]
    mx = m @ x
    a_inv[arm] = m - np.outer(mx, mx) / (1.0 + float(x @ mx))


def _from_inverse(data: Any, ridge: float) -> LinearStats:
    """Statistics from a file of the earlier format: b stands in for Σ r x (Σ x unknown)."""
    a_inv = np.asarray(data["a_inv"], dtype=np.float64)
    eye = np.eye(a_inv.shape[1])
    pulls = np.asarray(data["pulls"], dtype=np.int64)
    return LinearStats(
        np.linalg.inv(a_inv) - ridge * eye, np.asarray(data["b"], dtype=np.float64),
        np.zeros(a_inv.shape[:2]), pulls, float(data["offset"]) * int(pulls.sum()),
    )  # fmt: skip


def reward(quality: float, cost_usd: float, baseline_cost_usd: float, cost_weight: float) -> float:
    share = cost_usd / baseline_cost_usd if baseline_cost_usd > 0 else 0.0
    return quality - cost_weight * share


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
        tag: str = "",
    ) -> None:
        # tag: what the arms and the context mean (see Mergeable.tag).
        self.model = LinUCB(arms, dim + 1, alpha=alpha, ridge=ridge, tag=tag)
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
    def shared(self) -> Mergeable:
        return self.model

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
