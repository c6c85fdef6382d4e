"""The verifier's part of a semantic lookup, as one synchronous step (issue #19).

It runs on the thread that just embedded the question and searched its neighbours
(`SemanticCache.decide`), so a lookup's model work costs one hop out of the event loop
and one back, not one per model. It reads the candidates' question text and changes
nothing; `SemanticCache.settle` applies the verdict on the event loop.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from sluice.cache.entry import Entry
from sluice.types import Guard

# What decided a semantic lookup: the cosine alone (no verifier), the verifier's model, the
# question's own word pieces (the same question to the models: no model run), or a rule
# guard's veto.
Decision = Literal[
    "", "cosine", "verifier", "word_pieces", "order_guard", "number_guard", "substitution_guard"
]

# The same word pieces give the same vector (the embedder is row-independent), so only a
# candidate this close can be the question itself: only those are tokenized to check.
SAME_VECTOR = 0.999
SAME_PIECES_REASON = "same word pieces as the cached question: served without a verifier run"

Candidate = tuple[Entry, float]


class PairVerifier(Protocol):
    """Scores P(same meaning) of a query and cached questions (sluice.verifier).

    Synchronous: called on the embedding lane that embedded the query, several lanes at
    once (onnxruntime's Run is thread-safe), never on the event loop.
    """

    version: str
    default_min_probability: float

    def score(self, query: str, cached: Sequence[str]) -> tuple[list[float], float]:
        """Probabilities in the order of `cached`, and the seconds the model took."""
        ...

    def same_pieces(self, query: str, cached: Sequence[str]) -> list[bool]:
        """Whether each cached question has the query's own word pieces, none unknown.

        Such a pair is the same question to both models (the tokenizer's normalisation:
        case, accents, white space), so it is served without a model run.
        """
        ...

    def refusal(
        self, query: str, cached: str, guards: Collection[Guard]
    ) -> tuple[Guard, str] | None:
        """The first of `guards` that refuses the pair whatever the model would say, and why;
        None when none does.

        order_guard: two entities or roles exchanged; number_guard: the two carry different
        numbers; substitution_guard: one short run of words replaced by another. Pure
        Python, microseconds: they run before the model.
        """
        ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the verifier made of a lookup's candidates (nearest first)."""

    # The candidate to serve, or None: a miss.
    served: Candidate | None
    decided_by: Decision
    reason: str = ""
    # P(same meaning) of the served candidate, or of the best refused one.
    score: float | None = None
    # Cosine of the served candidate, or of the best refused one.
    similarity: float = 0.0
    # Every candidate decided, nearest first: (entry, P); 1.0 for the same word pieces.
    scored: tuple[tuple[Entry, float], ...] = ()
    # What the model ran: every score it gave, and its seconds (metrics).
    scores: tuple[float, ...] = ()
    seconds: float = 0.0
    # The guard that vetoed each vetoed candidate.
    refused_by: tuple[Guard, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    # The P(same meaning) a candidate needs.
    wanted: float
    # Model runs one lookup may cost (cache.verifier.max_pairs).
    max_pairs: int
    guards: frozenset[Guard]
    # Score every candidate up to max_pairs in one call, even when the nearest passes
    # (evaluations, which apply their own min_probability grid to `scored`).
    score_all: bool = False


def served_candidate(scores: Sequence[float], wanted: float) -> int | None:
    """Which verified candidate is served, given their scores nearest first.

    The nearest one when it passes (it is scored alone, so a hit usually costs
    one model pair); otherwise the best-scored of the others when it passes.
    """
    if not scores:
        return None
    if scores[0] >= wanted:
        return 0
    best = max(range(1, len(scores)), key=scores.__getitem__, default=None)
    return best if best is not None and scores[best] >= wanted else None


def verify(
    verifier: PairVerifier, query: str, proposals: Sequence[Candidate], policy: VerifyPolicy
) -> Verdict:
    """Decide the candidates (nearest first, not empty) as cheaply as the decision allows.

    A candidate with the question's own word pieces is served without a model run. The
    guards' vetoes come next (they spare the model's run). Otherwise the model scores
    the nearest alone (a typical hit costs one pair), then, when it is refused, the next
    ones in one call, at most `max_pairs` runs in all (what a refused lookup may cost),
    and `served_candidate` picks.
    """
    same = _same_question(verifier, query, proposals)
    if same is not None:
        return Verdict(same, "word_pieces", SAME_PIECES_REASON, similarity=same[1],
                       scored=((same[0], 1.0),))  # fmt: skip
    refused: tuple[Guard, ...] = ()
    if policy.guards:
        refusals = [verifier.refusal(query, e.question, policy.guards) for e, _ in proposals]
        refused = tuple(r[0] for r in refusals if r is not None)
        nearest = refusals[0]
        if nearest is not None and len(refused) == len(proposals):
            guard, why = nearest
            reason = f"{guard.replace('_', ' ')}: {why} (cosine {proposals[0][1]:.4f})"
            return Verdict(None, guard, reason, similarity=proposals[0][1],
                           refused_by=refused)  # fmt: skip
        proposals = [c for c, r in zip(proposals, refusals, strict=True) if r is None]
    questions = [e.question for e, _ in proposals[: policy.max_pairs]]
    first = questions if policy.score_all else questions[:1]
    scores, seconds = verifier.score(query, first)
    if scores[0] < policy.wanted and len(scores) < len(questions):
        more, more_seconds = verifier.score(query, questions[len(scores) :])
        scores, seconds = scores + more, seconds + more_seconds
    scored = tuple((e, p) for (e, _), p in zip(proposals, scores, strict=False))
    i = served_candidate(scores, policy.wanted)
    served = None if i is None else proposals[i]
    reason = ""
    if i is None:
        i = max(range(len(scores)), key=scores.__getitem__)
        unscored = len(proposals) - len(scores)
        capped = (
            f"; {unscored} more not scored (cache.verifier.max_pairs {policy.max_pairs})"
            if unscored
            else ""
        )
        reason = (
            f"verifier: P(same meaning) {scores[i]:.3f} < {policy.wanted} "
            f"(cosine {proposals[i][1]:.4f}, {len(scores)} candidate(s){capped})"
        )
    return Verdict(
        served, "verifier", reason, scores[i], proposals[i][1], scored, tuple(scores), seconds,
        refused,
    )  # fmt: skip


def _same_question(
    verifier: PairVerifier, query: str, proposals: Sequence[Candidate]
) -> Candidate | None:
    """The first candidate with the question's own word pieces, else None."""
    close = [(e, sim) for e, sim in proposals if sim >= SAME_VECTOR]
    if not close:
        return None
    flags = verifier.same_pieces(query, [e.question for e, _ in close])
    return next((c for c, same in zip(close, flags, strict=True) if same), None)
