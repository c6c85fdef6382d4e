"""Confidence scorers: logprob map and its fit, format gate, JSON-schema subset, combination."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sluice.cascade.confidence import (
    CombinedScorer,
    FixedScorer,
    FormatScorer,
    LogprobScorer,
    schema_errors,
)
from sluice.types import ChatMessage, Completion, GenParams, ProviderRequest, Usage


def answer(
    text: str, logprobs: tuple[float, ...] | None = None, finish: str = "stop"
) -> Completion:
    return Completion(text, finish, Usage(), "m", logprobs)


def request(schema: dict[str, object] | None = None) -> ProviderRequest:
    params = GenParams(json_schema=json.dumps(schema) if schema is not None else "")
    return ProviderRequest("m", (ChatMessage("user", "q"),), params)


REQ = request()


def test_logprob_prior_without_logprobs() -> None:
    scorer = LogprobScorer(prior=0.8)
    assert scorer.score(answer("x"), REQ) == 0.8
    detail = scorer.detail(answer("x", ()))
    assert detail.used_prior
    assert detail.mean_logprob is None


def test_logprob_defaults_order_answers_sensibly() -> None:
    scorer = LogprobScorer()
    sure = scorer.score(answer("x", (-2.0,) + (0.0,) * 39), REQ)  # mean -0.05, min -2
    unsure = scorer.score(answer("x", (-6.0, 0.0, 0.0, 0.0)), REQ)  # mean -1.5, min -6
    assert sure == pytest.approx(0.86, abs=0.01)
    assert 0.0 < unsure < 0.1
    detail = scorer.detail(answer("x", (-1.0, -3.0)))
    assert (detail.mean_logprob, detail.min_logprob, detail.used_prior) == (-2.0, -3.0, False)


def test_logprob_is_the_logistic_map() -> None:
    scorer = LogprobScorer(a=1.0, b=2.0, c=0.5)
    mean, low = -1.0, -2.0
    expected = 1.0 / (1.0 + math.exp(-(1.0 * mean + 2.0 * low + 0.5)))
    assert scorer.score(answer("x", (0.0, -2.0)), REQ) == pytest.approx(expected)


def test_logprob_handles_infinities_and_nan() -> None:
    value = LogprobScorer().score(answer("x", (-math.inf, math.nan, 0.0)), REQ)
    assert 0.0 <= value <= 1.0
    assert math.isfinite(value)


def test_fit_recovers_the_direction_of_the_signal() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    mean = rng.uniform(-2.0, 0.0, n)
    low = mean * 3 + rng.uniform(-2.0, 0.0, n)
    true_logit = 3.0 * mean + 0.5 * low + 2.0
    labels = (rng.uniform(size=n) < 1 / (1 + np.exp(-true_logit))).astype(float)
    fitted = LogprobScorer.fit(np.column_stack([mean, low]), labels, prior=0.6)
    assert fitted.prior == 0.6
    assert fitted.a > 0
    assert fitted.b > 0
    # Calibration: the mean predicted probability matches the base rate.
    predicted = 1 / (1 + np.exp(-(fitted.a * mean + fitted.b * low + fitted.c)))
    assert float(predicted.mean()) == pytest.approx(float(labels.mean()), abs=0.02)


def test_fit_stays_finite_on_separable_data() -> None:
    fitted = LogprobScorer.fit([[-0.1, -1.0], [-2.0, -8.0]], [1, 0])
    assert all(math.isfinite(v) for v in (fitted.a, fitted.b, fitted.c))


def test_fit_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="features"):
        LogprobScorer.fit([[1.0, 2.0, 3.0]], [1])
    with pytest.raises(ValueError, match="at least one"):
        LogprobScorer.fit(np.zeros((0, 2)), np.zeros(0))


@pytest.mark.parametrize(
    ("text", "finish", "expected"),
    [
        ("Paris is the capital of France.", "stop", 1.0),
        ("", "stop", 0.0),
        ("   \n", "stop", 0.0),
        ("I can't help with that.", "stop", 0.05),
        ("I’m sorry, but I cannot assist with that request.", "stop", 0.05),
        ("As an AI language model, I have no opinions.", "stop", 0.05),
        ("I'm not sure, but it might be 42.", "stop", 0.3),
        ("I don't know.", "stop", 0.3),
        ("The answer is", "length", 0.5),
    ],
)
def test_format_scorer(text: str, finish: str, expected: float) -> None:
    assert FormatScorer().score(answer(text, finish=finish), REQ) == expected


SCHEMA = {
    "type": "object",
    "required": ["name", "tags"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "x", "tags": ["a"]}', 1.0),
        ('{"name": "x", "tags": [], "age": 3}', 1.0),
        ('{"name": "x", "tags": [], "age": 3.0}', 1.0),  # 3.0 is an integer in JSON Schema
        ('{"name": "x"}', 0.0),  # required
        ('{"name": 1, "tags": []}', 0.0),  # type
        ('{"name": "x", "tags": ["c"]}', 0.0),  # enum in items
        ('{"name": "x", "tags": [], "age": true}', 0.0),  # bool is not an integer
        ('{"name": "x", "tags": [], "extra": 1}', 0.0),  # additionalProperties
        ("name: x", 0.0),  # not JSON
        ('```json\n{"name": "x", "tags": []}\n```', 0.0),  # fenced is not JSON
    ],
)
def test_format_scorer_with_schema(text: str, expected: float) -> None:
    assert FormatScorer().score(answer(text), request(SCHEMA)) == expected


def test_schema_errors_name_the_path() -> None:
    errors = schema_errors({"tags": ["a", 5]}, SCHEMA)
    assert "$.name: required" in errors
    assert "$.tags[1]: expected string" in errors


def test_schema_type_lists_and_unknown_keywords() -> None:
    assert schema_errors(None, {"type": ["string", "null"]}) == []
    assert schema_errors(1.5, {"type": "number", "minimum": 10}) == []  # minimum is not checked
    assert schema_errors("x", {"type": "number"}) == ["$: expected number"]


def test_combined_product_and_min() -> None:
    lp = LogprobScorer()
    good = answer("fine", (-0.05, -0.2))
    p = lp.score(good, REQ)
    assert CombinedScorer((FormatScorer(), lp)).score(good, REQ) == pytest.approx(p)
    hedge = answer("I'm not sure.", (-0.05, -0.2))
    assert CombinedScorer((FormatScorer(), lp)).score(hedge, REQ) == pytest.approx(0.3 * p)
    assert CombinedScorer((FormatScorer(), lp), mode="min").score(hedge, REQ) == 0.3
    assert CombinedScorer((FormatScorer(), lp)).score(answer(""), REQ) == 0.0


def test_combined_clamps_and_defaults() -> None:
    assert CombinedScorer((FixedScorer(1.7), FixedScorer(0.5))).score(answer("x"), REQ) == 0.5
    assert CombinedScorer(()).score(answer("x"), REQ) == 1.0
    # No logprobs: the format gate times the prior.
    assert CombinedScorer().score(answer("fine"), REQ) == pytest.approx(0.8)
