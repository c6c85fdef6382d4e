"""The cascade: call a tier, score the answer, accept or escalate; fall back across providers.

`machine.py` decides (a pure state machine), `driver.py` performs (async I/O),
`confidence.py` scores, `pricing.py` prices, `budget.py` guards spending.
"""

from sluice.cascade.budget import (
    BudgetCheck,
    BudgetDecision,
    BudgetGuard,
    BudgetLimit,
    ExhaustedAction,
    InMemoryBudgetGuard,
    UnlimitedBudget,
)
from sluice.cascade.confidence import CombinedScorer, FormatScorer, LogprobScorer, Scorer
from sluice.cascade.driver import CascadeStream, run_cascade, run_cascade_stream
from sluice.cascade.pricing import DEFAULT_PRICE_TABLE, PriceTable
from sluice.cascade.types import (
    Attempt,
    AttemptOutcome,
    CascadePlan,
    CascadeResult,
    Deployment,
    ServedBy,
    Tier,
)

__all__ = [
    "DEFAULT_PRICE_TABLE",
    "Attempt",
    "AttemptOutcome",
    "BudgetCheck",
    "BudgetDecision",
    "BudgetGuard",
    "BudgetLimit",
    "CascadePlan",
    "CascadeResult",
    "CascadeStream",
    "CombinedScorer",
    "Deployment",
    "ExhaustedAction",
    "FormatScorer",
    "InMemoryBudgetGuard",
    "LogprobScorer",
    "PriceTable",
    "Scorer",
    "ServedBy",
    "Tier",
    "UnlimitedBudget",
    "run_cascade",
    "run_cascade_stream",
]
