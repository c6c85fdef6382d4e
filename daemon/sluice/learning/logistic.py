"""L2-regularised logistic regression by Newton's method, and calibration figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def sigmoid(z: npt.ArrayLike) -> Array:
    z = np.clip(np.asarray(z, dtype=np.float64), -500, 500)
    out: Array = 1.0 / (1.0 + np.exp(-z))
    return out


def with_intercept(x: npt.ArrayLike) -> Array:
    a = np.asarray(x, dtype=np.float64)
    return np.column_stack([a, np.ones(a.shape[0])])


def fit_logistic(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    l2: float = 1e-2,
    iterations: int = 30,
    sample_weight: npt.ArrayLike | None = None,
) -> Array:
    """Weights (last one the intercept) of P(y=1 | x) = sigmoid([x, 1] · w).

    The L2 penalty (per example, not on the intercept) keeps separable data finite.
    """
    design = with_intercept(x)
    target = np.asarray(y, dtype=np.float64)
    n, d = design.shape
    if n == 0 or target.shape != (n,):
        raise ValueError("x must be (n, d) with n ≥ 1 and y (n,)")
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    penalty = np.full(d, l2 * float(sw.sum()))
    penalty[-1] = 0.0
    ridge = np.diag(penalty) + 1e-9 * np.eye(d)
    w = np.zeros(d)
    for _ in range(iterations):
        p = sigmoid(design @ w)
        gradient = design.T @ (sw * (p - target)) + penalty * w
        hessian = (design * (sw * p * (1.0 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        w = w - step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w


def predict(w: Array, x: npt.ArrayLike) -> Array:
    return sigmoid(with_intercept(x) @ w)


def log_loss(p: npt.ArrayLike, y: npt.ArrayLike) -> float:
    pp = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    yy = np.asarray(y, dtype=np.float64)
    return float(-np.mean(yy * np.log(pp) + (1 - yy) * np.log(1 - pp)))


@dataclass(frozen=True, slots=True)
class Calibration:
    """Reliability curve (equal-width bins) and expected calibration error."""

    ece: float
    bins: tuple[tuple[float, float, int], ...]  # (mean predicted, observed rate, count)
    auc: float


def auc(p: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Area under the ROC curve (rank statistic; ties count half)."""
    pp = np.asarray(p, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64) > 0.5
    pos, neg = int(yy.sum()), int((~yy).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(pp, kind="mergesort")
    ranks = np.empty(len(pp))
    sorted_p = pp[order]
    i = 0
    while i < len(pp):  # average ranks over ties
        j = i
        while j + 1 < len(pp) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[yy].sum() - pos * (pos + 1) / 2) / (pos * neg))


def calibration(p: npt.ArrayLike, y: npt.ArrayLike, bins: int = 10) -> Calibration:
    pp = np.asarray(p, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(pp, edges[1:-1]), 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        if not count:
            continue
        mean_p, rate = float(pp[mask].mean()), float(yy[mask].mean())
        rows.append((mean_p, rate, count))
        ece += count / len(pp) * abs(mean_p - rate)
    return Calibration(ece, tuple(rows), auc(pp, yy))
