"""Confidence scorers: the probability that an answer is good enough to serve.

    Scorer (protocol)      score(completion, request) → float in [0, 1]
    ├── LogprobScorer      sigmoid(a·mean + b·min + c) of the token log-probabilities;
    │                      a, b, c are fitted on replay data with `fit`
    ├── FormatScorer       a gate: empty, not the requested JSON, refusal, hedging → low
    └── CombinedScorer     format gate × logprob probability (or the min of the two)

The default logprob coefficients are a sensible guess, not a calibration: fit
them on the routing replay sets (docs/data.md) before trusting a threshold.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self

import numpy as np
import numpy.typing as npt

from sluice.types import Completion, ProviderRequest

# Token log-probabilities below this carry no more information (and -inf happens).
_LOGPROB_FLOOR = -20.0


class Scorer(Protocol):
    @property
    def needs_vector(self) -> bool:
        """Whether it reads the prompt's embedding (the pipeline then computes one)."""
        ...

    def bind(self, vector: npt.ArrayLike) -> Scorer:
        """The scorer for one request whose prompt embeds to `vector`."""
        ...

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        """The probability in [0, 1] that `completion` is a good answer to `request`."""
        ...


class PromptBlind:
    """For scorers that read only the answer: no embedding needed, binding changes nothing."""

    __slots__ = ()
    needs_vector = False

    def bind(self, vector: npt.ArrayLike) -> Self:
        return self


def _clamp(logprob: float) -> float:
    if math.isnan(logprob):
        return _LOGPROB_FLOOR
    return min(0.0, max(logprob, _LOGPROB_FLOOR))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True, slots=True)
class ScoreDetail:
    value: float
    used_prior: bool  # True: the answer had no logprobs, `value` is the configured prior
    mean_logprob: float | None = None
    min_logprob: float | None = None


@dataclass(frozen=True, slots=True)
class LogprobScorer(PromptBlind):
    """`sigmoid(a·mean + b·min + c)` over the answer's token log-probabilities.

    Defaults: a near-certain answer (mean -0.05, min -2) scores ≈ 0.86, a
    wavering one (mean -0.5, min -6) ≈ 0.27.
    """

    a: float = 4.0
    b: float = 0.25
    c: float = 2.5
    # Returned, and flagged in `detail`, when the provider sent no logprobs.
    prior: float = 0.8

    @staticmethod
    def features(completion: Completion) -> tuple[float, float] | None:
        """(mean, min) of the clamped token logprobs, or None without logprobs."""
        if not completion.logprobs:
            return None
        values = [_clamp(lp) for lp in completion.logprobs]
        return sum(values) / len(values), min(values)

    def detail(self, completion: Completion) -> ScoreDetail:
        feats = self.features(completion)
        if feats is None:
            return ScoreDetail(self.prior, used_prior=True)
        mean, low = feats
        return ScoreDetail(_sigmoid(self.a * mean + self.b * low + self.c), False, mean, low)

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        return self.detail(completion).value

    @classmethod
    def fit(
        cls,
        features: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        l2: float = 1e-3,
        iterations: int = 50,
        prior: float = 0.8,
    ) -> LogprobScorer:
        """Logistic regression of labels (1 = good answer) on (mean, min) rows, by Newton's method.

        A small L2 penalty (not on the intercept) keeps separable data finite.
        """
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2 or y.shape != (x.shape[0],):
            raise ValueError("features must be (n, 2) rows of (mean, min); labels (n,)")
        if x.shape[0] == 0:
            raise ValueError("fit needs at least one example")
        design = np.column_stack([np.clip(x, _LOGPROB_FLOOR, 0.0), np.ones(x.shape[0])])
        w = _newton_logistic(design, y, l2=l2, iterations=iterations)
        return cls(float(w[0]), float(w[1]), float(w[2]), prior)


def _newton_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], *, l2: float, iterations: int
) -> npt.NDArray[np.float64]:
    n, d = x.shape
    w = np.zeros(d)
    penalty = np.full(d, l2 * n)
    penalty[-1] = 0.0  # the intercept
    ridge = np.diag(penalty) + 1e-9 * np.eye(d)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -500, 500)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1.0 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        w = w - step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return w


_REFUSAL = re.compile(
    r"\b(i\s*(?:can(?:no|')?t|cannot|am\s+unable\s+to|'m\s+unable\s+to|won't)\s+"
    r"(?:help|assist|comply|provide|do\s+that)|as\s+an\s+ai\b|i'm\s+sorry,\s+but\s+i)",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(i'?m\s+not\s+(?:sure|certain)|i\s+am\s+not\s+(?:sure|certain)|i\s+don'?t\s+know|"
    r"i\s+do\s+not\s+know|it'?s\s+hard\s+to\s+say|i\s+might\s+be\s+wrong)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FormatScorer(PromptBlind):
    """A gate on the answer's form; 1.0 when nothing is wrong with it.

    Empty → 0; the request has a JSON schema and the answer is not JSON or does
    not match it → 0; refusal → `refusal`; hedging → `hedging`; cut off by the
    token limit → `truncated`. The lowest applicable value wins.
    """

    refusal: float = 0.05
    hedging: float = 0.3
    truncated: float = 0.5

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        text = completion.text.strip()
        if not text:
            return 0.0
        schema_text = request.params.json_schema
        if schema_text and not _matches_schema_text(text, schema_text):
            return 0.0
        normalised = text.replace("\u2019", "'")
        value = 1.0
        if _REFUSAL.search(normalised):
            value = min(value, self.refusal)
        if _HEDGE.search(normalised):
            value = min(value, self.hedging)
        if completion.finish_reason == "length":
            value = min(value, self.truncated)
        return value


def _matches_schema_text(text: str, schema_text: str) -> bool:
    try:
        schema = json.loads(schema_text)
    except ValueError:
        # An unparsable schema is the caller's error, caught at the API edge;
        # here it only means "the answer must be JSON".
        schema = {}
    try:
        instance = json.loads(text)
    except ValueError:
        return False
    return not schema_errors(instance, schema)


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    kinds = _TYPES.get(name)
    return kinds is None or isinstance(value, kinds)


def schema_errors(instance: Any, schema: Any, path: str = "$") -> list[str]:
    """Errors of `instance` against a JSON-schema subset: type, enum, required,
    properties, additionalProperties (false or a schema), items. Other keywords
    are ignored, so the check never rejects what full JSON Schema would accept
    for these reasons alone."""
    if not isinstance(schema, dict):
        return []
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(instance, n) for n in names):
            return [f"{path}: expected {'/'.join(map(str, names))}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: not one of the enum values")
    if isinstance(instance, dict):
        errors += _object_errors(instance, schema, path)
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(instance):
            errors += schema_errors(item, schema["items"], f"{path}[{i}]")
    return errors


def _object_errors(instance: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    required = schema.get("required", ())
    errors = [f"{path}.{key}: required" for key in required if key not in instance]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, value in instance.items():
        if isinstance(properties, dict) and key in properties:
            errors += schema_errors(value, properties[key], f"{path}.{key}")
        elif extra is False:
            errors.append(f"{path}.{key}: not allowed")
        elif isinstance(extra, dict):
            errors += schema_errors(value, extra, f"{path}.{key}")
    return errors


@dataclass(frozen=True, slots=True)
class CombinedScorer:
    """Combines a format gate with a probability.

    `product` (default): gate × probability — a perfect format leaves the
    probability unchanged, a failed one zeroes it, a hedge scales it down.
    `min`: the more pessimistic of the two.
    """

    scorers: Sequence[Scorer] = (FormatScorer(), LogprobScorer())
    mode: Literal["product", "min"] = "product"

    @property
    def needs_vector(self) -> bool:
        return any(s.needs_vector for s in self.scorers)

    def bind(self, vector: npt.ArrayLike) -> CombinedScorer:
        if not self.needs_vector:
            return self
        return CombinedScorer(tuple(s.bind(vector) for s in self.scorers), self.mode)

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        values = [min(max(s.score(completion, request), 0.0), 1.0) for s in self.scorers]
        if not values:
            return 1.0
        if self.mode == "min":
            return min(values)
        return math.prod(values)


@dataclass(frozen=True, slots=True)
class FixedScorer(PromptBlind):
    """Always the same score: for tiers that should never escalate, and for tests."""

    value: float = 1.0

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        return self.value
