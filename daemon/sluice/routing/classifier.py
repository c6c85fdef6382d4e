"""The complexity classifier: prompt embedding → the cheapest tier that suffices.

One logistic regression per tier boundary k estimates P(the prompt needs a
tier above k). The policy starts at the first tier k whose P(needs more) is
below the threshold. With three tiers the classes read simple / medium /
complex. Trained from replay data (`sluice train classifier`), saved as a
small .npz (weights and the tier names; no pickle).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sluice.learning.logistic import fit_logistic, predict
from sluice.routing.policy import Choice, RouteContext, Stateless

Array = npt.NDArray[np.float64]


def features(vectors: npt.ArrayLike, chars: npt.ArrayLike) -> Array:
    """The embedding, plus the prompt's log length (scaled to about unit range)."""
    v = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    n = np.log1p(np.asarray(chars, dtype=np.float64)).reshape(-1, 1) / 8.0
    return np.hstack([v, n])


def sufficient_tier(quality: Sequence[float], margin: float = 0.0) -> int:
    """The cheapest tier whose answer is within `margin` of the best one (ties go cheap)."""
    best = max(quality)
    return next(i for i, q in enumerate(quality) if q >= best - margin)


@dataclass(frozen=True)
class TierClassifier:
    tiers: tuple[str, ...]
    weights: Array  # (len(tiers) - 1, d + 1)
    model_id: str = ""

    @classmethod
    def fit(
        cls,
        x: npt.ArrayLike,
        labels: npt.ArrayLike,
        tiers: Sequence[str],
        *,
        l2: float = 1e-3,
        model_id: str = "",
    ) -> TierClassifier:
        xs = np.asarray(x, dtype=np.float64)
        y = np.asarray(labels)
        rows = [fit_logistic(xs, (y > k).astype(np.float64), l2=l2) for k in range(len(tiers) - 1)]
        return cls(tuple(tiers), np.vstack(rows), model_id)

    def need_more(self, x: npt.ArrayLike) -> Array:
        """(n, tiers - 1): P(needs a tier above k); non-increasing in k."""
        xs = np.atleast_2d(np.asarray(x, dtype=np.float64))
        probs = np.column_stack([predict(w, xs) for w in self.weights])
        out: Array = np.minimum.accumulate(probs, axis=1)
        return out

    def start(self, need_more: Array, threshold: float) -> Array:
        """Start tier per row: the first k with P(needs more than k) < threshold."""
        above = need_more >= threshold
        # Count the leading boundaries that must be passed.
        out: Array = np.cumprod(above, axis=1).sum(axis=1)
        return out

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"tiers": list(self.tiers), "model_id": self.model_id})
        with path.open("wb") as f:
            np.savez(f, weights=self.weights, meta=np.array(meta))

    @classmethod
    def load(cls, path: Path) -> TierClassifier:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            weights = np.asarray(data["weights"], dtype=np.float64)
        return cls(tuple(meta["tiers"]), weights, str(meta.get("model_id", "")))


class ClassifierPolicy(Stateless):  # trained offline: a new file means a restart
    kind = "classifier"
    needs_vector = True

    def __init__(
        self, classifier: TierClassifier, threshold: float, tier_map: Mapping[int, int]
    ) -> None:
        self.classifier = classifier
        self.threshold = threshold
        # Classifier class → index in the configured tiers.
        self.tier_map = dict(tier_map)

    def choose(self, context: RouteContext) -> Choice:
        if context.vector is None:
            return Choice(0, "classifier: no embedding for this prompt, cheapest tier", 0.0)
        need = self.classifier.need_more(features(context.vector, [len(context.question)]))
        k = int(self.classifier.start(need, self.threshold)[0])
        name = self.classifier.tiers[k]
        suffices = 1.0 - float(need[0, k]) if k < need.shape[1] else 1.0
        return Choice(
            self.tier_map.get(k, k),
            f"classifier: {name} (P(it suffices) = {suffices:.2f}, threshold {self.threshold})",
            suffices,
        )
