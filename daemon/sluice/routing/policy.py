"""What a routing policy sees and what it answers, and how it learns and persists.

Policy (protocol)        choose(context) → Choice: a start tier (or a pinned model), why, a score
                         feedback(served, quality): learn from the Feedback RPC
                         snapshot(folder, name) / restore(folder, name): learned state on disk
                         shared(): the model pods pool in fleet mode (stats.Mergeable) or None
├── RulesPolicy          keywords, regex, length, task tags → tier or model (rules.py)
├── ClassifierPolicy     embedding → cheapest sufficient tier (classifier.py)
└── BanditPolicy         LinUCB on the embedding, learns from Feedback (bandit.py)

A new policy is one file with a class that satisfies `Policy` (subclass `Stateless`
when it neither learns nor keeps state) plus one entry in router.POLICY_BUILDERS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from sluice.routing.stats import Mergeable

Vector = npt.NDArray[np.float32]
Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RouteContext:
    namespace: str
    question: str  # the last user turn
    task_tags: tuple[str, ...] = ()
    user_id: str = ""
    request_id: str = ""
    # The question's embedding, when the policies of this namespace need one.
    vector: Vector | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    tier: int  # index into the catalogue's tiers, cheapest first
    reason: str
    score: float = 0.0
    pinned_model: str = ""  # a rule may name a model instead of a tier


@dataclass(frozen=True, slots=True)
class Served:
    """What Feedback needs about one earlier completion."""

    namespace: str
    policy: str  # the policy name in config
    arm: int  # the start tier the policy chose
    context: Array  # the prompt embedding plus a constant (empty without an embedding)
    cost_usd: float
    baseline_cost_usd: float


class Policy(Protocol):
    @property
    def kind(self) -> str:
        """ "rules", "classifier" or "bandit": reported as RouteDecision.policy."""
        ...

    @property
    def needs_vector(self) -> bool: ...

    def choose(self, context: RouteContext) -> Choice: ...

    @property
    def feedback_capacity(self) -> int:
        """How many recent completions Feedback must still find (0: it does not learn)."""
        ...

    def feedback(self, served: Served, quality: float) -> float | None:
        """Learn from the user's judgement (quality in [0, 1]) of a request this policy routed.

        The reward it learned, or None when it learned nothing (a policy that does not
        learn, or a context it cannot use); None makes FeedbackResponse.policy empty.
        """
        ...

    def snapshot(self, folder: Path, name: str) -> None:
        """Write the learned state beside the cache snapshot (`name`: the configured name)."""
        ...

    def restore(self, folder: Path, name: str) -> bool | None:
        """Load what `snapshot` wrote: None when nothing is there, False when it does not fit
        (left unchanged), True when loaded.

        Raises OSError, ValueError or KeyError for a file it cannot read (the router logs
        that and goes on).
        """
        ...

    def shared(self) -> Mergeable | None:
        """What pods pool of this policy's learning in fleet mode (fleet/learning.py): its
        model's additive statistics; None when it learns nothing worth pooling."""
        ...


class Stateless:
    """The learning and persistence hooks of a policy that neither learns nor keeps state."""

    feedback_capacity = 0

    def feedback(self, served: Served, quality: float) -> float | None:
        return None

    def snapshot(self, folder: Path, name: str) -> None:
        return None

    def restore(self, folder: Path, name: str) -> bool | None:
        return None

    def shared(self) -> Mergeable | None:
        return None
