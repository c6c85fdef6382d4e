"""The learned confidence scorer: fit, calibration, binding, persistence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sluice.cascade.confidence import CombinedScorer, FixedScorer, FormatScorer
from sluice.cascade.learned import (
    ANSWER_FEATURES,
    LearnedScorer,
    TierScorer,
    answer_features,
)
from sluice.learning.logistic import auc, calibration, fit_logistic, predict
from sluice.types import ChatMessage, Completion, ProviderRequest, Usage


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prompts near direction 0 are easy (the cheap answer is good 90 %), others hard (20 %)."""
    rng = np.random.default_rng(seed)
    easy = rng.random(n) < 0.5
    vectors = rng.normal(0, 0.3, (n, 6))
    vectors[:, 0] += np.where(easy, 1.0, -1.0)
    good = rng.random(n) < np.where(easy, 0.9, 0.2)
    texts = ["#### 42" if g and rng.random() < 0.7 else "maybe" for g in good]
    answers = np.vstack([answer_features(Completion(t, "stop", Usage(), "m")) for t in texts])
    return vectors, answers, good.astype(float)


def test_answer_features_are_named_and_bounded() -> None:
    feats = answer_features(
        Completion("I'm not sure. #### 12", "length", Usage(), "m", (-0.1, -2.0))
    )
    assert feats.shape == (len(ANSWER_FEATURES),)
    named = dict(zip(ANSWER_FEATURES, feats, strict=True))
    assert named["final_answer_marker"] == 1.0
    assert named["truncated"] == 1.0
    assert named["format_gate"] < 1.0
    assert named["has_logprobs"] == 1.0


def test_fit_is_calibrated_and_discriminates(tmp_path: Path) -> None:
    v, a, y = synthetic(2000, 0)
    scorer = LearnedScorer.fit(v, a, y, components=4, l2=1e-3, model_id="m@1")
    tv, ta, ty = synthetic(2000, 1)
    probs = scorer.probability(tv, ta)
    report = calibration(probs, ty)
    assert report.ece < 0.05
    assert report.auc > 0.8
    assert sum(b[2] for b in report.bins) == 2000
    path = tmp_path / "conf.npz"
    scorer.save(path)
    again = LearnedScorer.load(path)
    np.testing.assert_allclose(again.probability(tv, ta), probs)


def test_the_scorer_uses_the_bound_prompt_embedding() -> None:
    v, a, y = synthetic(1000, 2)
    scorer = LearnedScorer.fit(v, a, y, components=4)
    request = ProviderRequest("m", (ChatMessage("user", "q"),))
    answer = Completion("#### 42", "stop", Usage(), "m")
    easy, hard = np.array([1.0, 0, 0, 0, 0, 0]), np.array([-1.0, 0, 0, 0, 0, 0])
    assert scorer.bind(easy).score(answer, request) > scorer.bind(hard).score(answer, request)
    combined = CombinedScorer((FormatScorer(), scorer))
    assert combined.needs_vector
    assert not FormatScorer().needs_vector
    assert not CombinedScorer().needs_vector
    bound = combined.bind(easy)
    assert bound.score(answer, request) == pytest.approx(scorer.bind(easy).score(answer, request))
    # A scorer that reads only the answer is its own binding.
    blind = CombinedScorer()
    assert blind.bind(easy) is blind
    assert FixedScorer(0.3).bind(easy) == FixedScorer(0.3)


def test_logistic_and_auc_basics() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    w = fit_logistic(x, [0, 0, 1, 1], l2=1e-2)
    p = predict(w, x)
    assert p[0] < 0.5 < p[3]
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc([0.5, 0.5], [0, 1]) == pytest.approx(0.5)


def test_each_tier_is_judged_by_the_scorer_fitted_on_its_own_answers() -> None:
    """Issue #21: a medium answer is no longer scored by the cheap tier's model."""
    v, a, y = synthetic(1000, 3)
    cheap = LearnedScorer.fit(v, a, y, components=4)
    medium = LearnedScorer.fit(v, a, 1.0 - y, components=4)  # the opposite judge
    tiers = TierScorer({"cheap-m": cheap, "medium-m": medium}, other=FixedScorer(0.5))
    assert tiers.needs_vector
    request = ProviderRequest("m", (ChatMessage("user", "q"),))
    easy = np.array([1.0, 0, 0, 0, 0, 0])
    bound = tiers.bind(easy)

    def score(model: str) -> float:
        return bound.score(Completion("#### 42", "stop", Usage(), model), request)

    assert score("cheap-m") == pytest.approx(cheap.bind(easy).score(
        Completion("#### 42", "stop", Usage(), "cheap-m"), request))  # fmt: skip
    assert score("cheap-m") > 0.5 > score("medium-m")
    assert score("strong-m") == 0.5, "a model without its own scorer gets `other`"


def test_a_file_fitted_on_fewer_features_keeps_reading_them(tmp_path: Path) -> None:
    """A confidence saved before features were added loads, and reads its own columns of
    today's answer features (ANSWER_FEATURES grows; old files are not made unreadable)."""
    v, a, y = synthetic(1000, 3)
    older = ANSWER_FEATURES[:16]
    scorer = LearnedScorer.fit(v, a, y, components=4, features=older)
    assert scorer.weights.shape == (4 + 16 + 1,)
    path = tmp_path / "old.npz"
    scorer.save(path)
    again = LearnedScorer.load(path)
    assert again.features == older
    np.testing.assert_allclose(again.probability(v, a), scorer.probability(v, a))
    request = ProviderRequest("m", (ChatMessage("user", "q"),))
    assert 0.0 < again.score(Completion("#### 42", "stop", Usage(), "m"), request) < 1.0


def test_a_file_with_features_this_version_lacks_is_refused(tmp_path: Path) -> None:
    v, a, y = synthetic(200, 4)
    scorer = LearnedScorer.fit(v, a, y, components=2)
    path = tmp_path / "future.npz"
    replace(scorer, features=(*ANSWER_FEATURES[:-1], "from_the_future")).save(path)
    with pytest.raises(ValueError, match="from_the_future"):
        LearnedScorer.load(path)
    replace(scorer, features=ANSWER_FEATURES[:3]).save(path)
    with pytest.raises(ValueError, match="do not match"):
        LearnedScorer.load(path)


def test_a_prompt_only_scorer_saves_loads_and_ignores_the_answer(tmp_path: Path) -> None:
    """Fitted where the replay has no answer text (features=()): it reads the prompt alone,
    so a real answer at run time cannot move it the way a placeholder-fitted weight would."""
    v, a, y = synthetic(1000, 5)
    scorer = LearnedScorer.fit(v, a, y, components=4, features=())
    assert scorer.weights.shape == (4 + 1,)
    path = tmp_path / "prompt-only.npz"
    scorer.save(path)
    again = LearnedScorer.load(path)
    assert again.features == ()
    np.testing.assert_allclose(again.probability(v, a), scorer.probability(v, a))
    request = ProviderRequest("m", (ChatMessage("user", "q"),))
    bound = again.bind(v[0])
    scores = {bound.score(Completion(t, "stop", Usage(), "m"), request)
              for t in ("#### 42", "maybe", "2 + 2 = 5 #### 5", "")}  # fmt: skip
    assert len(scores) == 1


def test_a_file_naming_no_features_at_all_is_refused(tmp_path: Path) -> None:
    v, a, y = synthetic(200, 6)
    scorer = LearnedScorer.fit(v, a, y, components=2)
    path = tmp_path / "nameless.npz"
    with path.open("wb") as f:
        np.savez(f, mean=scorer.mean, components=scorer.components, weights=scorer.weights,
                 meta=np.array('{"model_id": ""}'))  # fmt: skip
    with pytest.raises(ValueError, match="names no answer features"):
        LearnedScorer.load(path)
