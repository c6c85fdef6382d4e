"""What a routing policy sees and what it answers.

Policy (protocol)        choose(context) → Choice: a start tier (or a pinned model), why, a score
├── RulesPolicy          keywords, regex, length, task tags → tier or model (rules.py)
├── ClassifierPolicy     embedding → cheapest sufficient tier (classifier.py)
└── BanditPolicy         LinUCB on the embedding, learns from Feedback (bandit.py)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


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


class Policy(Protocol):
    @property
    def kind(self) -> str:
        """ "rules", "classifier" or "bandit": reported as RouteDecision.policy."""
        ...

    @property
    def needs_vector(self) -> bool: ...

    def choose(self, context: RouteContext) -> Choice: ...
