"""Learned confidence: P(this answer is good | prompt embedding, answer features).

A numpy logistic regression fitted on replay data (`sluice eval routing` fits
and reports it; `--save-confidence PATH` writes it). The prompt embedding is
reduced to a few principal components (fitted on the training prompts) so a
few hundred examples suffice; the answer features need no provider support
beyond the text (log-probabilities are used when the provider sent them).

The scorer needs the prompt's embedding: the pipeline binds it per request
(`Scorer.bind`), and an unbound scorer uses the training prompts' mean.
Saved as .npz (arrays and JSON metadata, no pickle).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sluice.cascade import arithmetic, grounding
from sluice.cascade.confidence import FormatScorer, LogprobScorer, Scorer
from sluice.learning.logistic import fit_logistic, predict
from sluice.types import Completion, GenParams, ProviderRequest

Array = npt.NDArray[np.float64]
_FINAL = re.compile(
    r"(####\s*-?[$\d]|answer is[:\s]|final answer|\\boxed|^\s*\(?[A-D]\)?[.:)]?\s*$)",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_FORMAT = FormatScorer()
_FINAL_NUMBER = re.compile(rf"(?:####|answer is:?)\s*\$?\s*({_NUMBER.pattern})", re.IGNORECASE)
_CONTRAST = re.compile(r"\b(?:however|but)\b", re.IGNORECASE)
SHAPE_FEATURES = (
    "has_text", "log_chars", "final_answer_marker", "numbers_per_word", "format_gate",
    "truncated", "has_logprobs", "mean_logprob", "min_logprob",
)  # fmt: skip
# Reading the answer (issue #21): its own arithmetic, its final number, its hedges.
READING_FEATURES = (
    "equations", "wrong_equation", "wrong_equation_share", "final_number_in_prompt",
    "final_number_not_integer", "contrast_word", "log_chars_vs_prompt",
)  # fmt: skip
# Whether it computes from the question's quantities (issue #21, `grounding`).
GROUNDING_FEATURES = (
    "question_quantities", "unused_quantities", "ungrounded_operands", "final_not_last_result",
)  # fmt: skip
ANSWER_FEATURES = SHAPE_FEATURES + READING_FEATURES + GROUNDING_FEATURES


def answer_features(
    completion: Completion, params: GenParams | None = None, prompt: str = ""
) -> Array:
    """The answer's features, in ANSWER_FEATURES order; `prompt` is the question it answers."""
    text = completion.text
    words = max(1, len(text.split()))
    gate = _FORMAT.score(completion, ProviderRequest("", (), params or GenParams()))
    lp = LogprobScorer.features(completion)
    steps = arithmetic.equations(text)
    equations = arithmetic.Equations.of(steps)
    grounded = grounding.ground(text, prompt, steps)
    final = _FINAL_NUMBER.search(text)
    number = final.group(1).replace(",", "") if final else ""
    return np.array(
        [
            float(bool(text.strip())),
            math.log1p(len(text)) / 8.0,
            float(bool(_FINAL.search(text))),
            min(len(_NUMBER.findall(text)) / words, 1.0),
            gate,
            float(completion.finish_reason == "length"),
            float(lp is not None),
            lp[0] / 20.0 if lp is not None else 0.0,
            lp[1] / 20.0 if lp is not None else 0.0,
            min(equations.checked, 10) / 10.0,
            float(equations.wrong > 0),
            equations.wrong / max(equations.checked, 1),
            float(bool(number) and number in prompt.replace(",", "")),
            float("." in number),
            float(bool(_CONTRAST.search(text))),
            (math.log1p(len(text)) - math.log1p(len(prompt))) / 8.0,
            min(grounded.quantities, 10) / 10.0,
            grounded.unused,
            grounded.ungrounded,
            float(grounded.final_off),
        ]
    )


def last_user_turn(request: ProviderRequest) -> str:
    """The question an answer answers: the request's last user message."""
    return next((m.content for m in reversed(request.messages) if m.role == "user"), "")


@dataclass(frozen=True)
class LearnedScorer:
    mean: Array  # (d,) mean training prompt embedding
    components: Array  # (d, k) principal directions
    weights: Array  # (k + len(features) + 1,)
    model_id: str = ""
    vector: Array | None = None  # the bound prompt embedding
    # The answer features it reads, a subset of ANSWER_FEATURES: a file saved before a
    # feature was added keeps reading the ones it was fitted on. Empty: the prompt alone
    # (fitted on a replay without answer text, whose features would all be a placeholder's).
    features: tuple[str, ...] = ANSWER_FEATURES
    needs_vector = True

    def project(self, vectors: npt.ArrayLike) -> Array:
        v = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        out: Array = (v - self.mean) @ self.components
        return out

    def design(self, vectors: npt.ArrayLike, answers: Array) -> Array:
        """`answers` has every ANSWER_FEATURES column; the scorer reads its own."""
        return np.hstack(
            [self.project(vectors), np.atleast_2d(answers)[:, _columns(self.features)]]
        )

    def bind(self, vector: npt.ArrayLike) -> LearnedScorer:
        return replace(self, vector=np.asarray(vector, dtype=np.float64))

    def probability(self, vectors: npt.ArrayLike, answers: Array) -> Array:
        return predict(self.weights, self.design(vectors, answers))

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        vector = self.mean if self.vector is None else self.vector
        if self.features:
            feats = answer_features(completion, request.params, last_user_turn(request))[None, :]
        else:  # reads no answer feature: spare the answer's parsing
            feats = np.zeros((1, len(ANSWER_FEATURES)))
        return float(self.probability(vector, feats)[0])

    @classmethod
    def fit(
        cls,
        vectors: npt.ArrayLike,
        answers: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        components: int = 16,
        l2: float = 1e-3,
        model_id: str = "",
        features: tuple[str, ...] = ANSWER_FEATURES,
    ) -> LearnedScorer:
        v = np.asarray(vectors, dtype=np.float64)
        mean = v.mean(axis=0)
        _, _, vt = np.linalg.svd(v - mean, full_matrices=False)
        basis = vt[: max(0, min(components, vt.shape[0]))].T
        unfitted = cls(mean, basis, np.zeros(1), model_id, features=_known(features))
        design = unfitted.design(v, np.asarray(answers, dtype=np.float64))
        return replace(unfitted, weights=fit_logistic(design, labels, l2=l2))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"model_id": self.model_id, "answer_features": list(self.features)})
        with path.open("wb") as f:
            np.savez(
                f, mean=self.mean, components=self.components, weights=self.weights,
                meta=np.array(meta),
            )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> LearnedScorer:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if "answer_features" not in meta:
                raise ValueError(f"{path}: names no answer features; fit it again")
            features = _known(tuple(meta["answer_features"]))
            scorer = cls(
                np.asarray(data["mean"], dtype=np.float64),
                np.asarray(data["components"], dtype=np.float64),
                np.asarray(data["weights"], dtype=np.float64),
                str(meta.get("model_id", "")),
                features=features,
            )
            if scorer.weights.shape != (scorer.components.shape[1] + len(features) + 1,):
                raise ValueError(f"{path}: its weights do not match its answer features")
            return scorer


@lru_cache(maxsize=8)
def _columns(features: tuple[str, ...]) -> list[int]:
    """Where `features` are among ANSWER_FEATURES (per scorer, not per answer scored)."""
    return [ANSWER_FEATURES.index(f) for f in features]


def _known(features: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [f for f in features if f not in ANSWER_FEATURES]
    if unknown:
        raise ValueError(f"answer features {unknown} are not this version's; fit it again")
    return features


@dataclass(frozen=True)
class TierScorer:
    """One learned scorer per model, each fitted on that model's own answers (issue #21).

    A medium model's answers differ from a cheap one's, so a scorer fitted on the cheap
    tier is no judge of the medium tier's. A model without its own scorer gets `other`.
    """

    scorers: Mapping[str, LearnedScorer]
    other: Scorer

    needs_vector = True

    def bind(self, vector: npt.ArrayLike) -> TierScorer:
        return TierScorer(
            {m: s.bind(vector) for m, s in self.scorers.items()}, self.other.bind(vector)
        )

    def score(self, completion: Completion, request: ProviderRequest) -> float:
        return self.scorers.get(completion.model, self.other).score(completion, request)
