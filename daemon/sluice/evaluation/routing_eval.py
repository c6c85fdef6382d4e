"""`sluice eval routing`: replay recorded answers through the real pipeline, policy by policy.

Every request goes through `Pipeline.complete` (cache off) with a replay
provider standing in for the model servers, so routing, the cascade, its
confidence threshold, pricing and the Feedback path are the daemon's own.

Protocol, per data set (fixed seed):
  split     test 50 %; the rest: fit 75 % (models are trained here) and
            calibrate 25 % (knob grids and each policy's operating point are chosen here)
  labels    the cheapest tier whose quality is within `margin` of the best tier's; for the
            cascade's confidence, per tier: this tier's answer is within `margin` of the best
  curves    every policy at every knob setting, on the test split (diagnostics)
  operating point  the cheapest knob whose calibration quality is ≥ 95 % of the strong
            model's (else the best quality), reported on the test split with a paired
            bootstrap 95 % interval (`routing_metrics.bootstrap`): the headline
  folds     with `folds` > 1 the fit/calibrate protocol is cross-fitted: the non-test half
            is cut into `folds` parts (the first is the calibrate split); for each part the
            models are fitted on the others and every knob is replayed on it, and the
            operating point is chosen on all of them pooled. A calibrate split of 163
            prompts (GSM8K) moved the chosen point by 20 points of cost from seed to seed.
            The test split is replayed with the models of the first part (fit → calibrate).
  baselines every tier alone, and the best random mix of them (the hull)
  cost      every call of every tier a request made
Nothing is tuned on the test split. Several seeds draw several splits.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from sluice.cache.tier import CacheTier
from sluice.cascade.confidence import FixedScorer, Scorer
from sluice.cascade.learned import ANSWER_FEATURES, LearnedScorer, TierScorer, answer_features
from sluice.cascade.plan import Catalogue
from sluice.cascade.types import AttemptOutcome
from sluice.config import Settings
from sluice.evaluation.replay_data import ReplayRow, ReplaySet
from sluice.evaluation.replay_provider import NO_TEXT
from sluice.evaluation.routing_metrics import ChoiceRule, Point, Rows, choose
from sluice.learning.logistic import Calibration, auc, calibration, log_loss
from sluice.pipeline import CompletionRequest, ModelPath, Pipeline
from sluice.routing.bandit import BanditPolicy
from sluice.routing.classifier import ClassifierPolicy, TierClassifier, features, sufficient_tier
from sluice.routing.policy import Choice, Policy, RouteContext, Stateless
from sluice.routing.router import Router
from sluice.routing.rules import Rule, RulesPolicy
from sluice.routing_config import NamespaceRouting, RoutingSettings
from sluice.types import ChatMessage, Completion, GenParams, Usage

Array = npt.NDArray[np.float64]
Vectors = dict[str, npt.NDArray[np.float32]]
_ANSWERED = {AttemptOutcome.ACCEPTED, AttemptOutcome.LOW_CONFIDENCE}
_CHUNK = 64
NAMESPACE = "replay"


# ---- policies only the evaluation needs
@dataclass(frozen=True)
class TierPolicy(Stateless):
    """Always the same tier (always-cheap, always-<tier>, always-strong, the cascade's start)."""

    tier: int
    kind: str = "fixed"
    needs_vector: bool = False

    def choose(self, context: RouteContext) -> Choice:
        return Choice(self.tier, f"always tier {self.tier}")


@dataclass
class RandomPolicy(Stateless):
    """The strongest tier with probability `share`, else the cheapest (seeded)."""

    share: float
    top: int
    seed: int = 0
    kind: str = "random"
    needs_vector: bool = False
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - a baseline, not security

    def choose(self, context: RouteContext) -> Choice:
        return Choice(self.top if self.rng.random() < self.share else 0, f"random {self.share}")


def single_router(catalogue: Catalogue, policy: Policy) -> Router:
    routing = RoutingSettings.model_construct(
        policies={}, default=NamespaceRouting(policy="eval"), namespaces={}
    )
    return Router(catalogue, {"eval": policy}, routing, recent_capacity=4096)


# ---- data
@dataclass(frozen=True)
class Split:
    fit: tuple[ReplayRow, ...]
    cal: tuple[ReplayRow, ...]
    test: tuple[ReplayRow, ...]


def cross_fit(s: Split, folds: int) -> list[Split]:
    """`folds` fit/calibrate splits of the non-test rows, the first being `s` itself.

    The calibrate parts are disjoint and cover the non-test rows: `s.cal`, then `s.fit`
    cut into `folds − 1` parts. Each split's fit part is the rest.
    """
    if folds <= 1:
        return [s]
    out = [s]
    parts = np.array_split(np.arange(len(s.fit)), folds - 1)
    for part in parts:
        held = set(part.tolist())
        cal = tuple(s.fit[i] for i in part)
        fit = tuple(r for i, r in enumerate(s.fit) if i not in held) + s.cal
        out.append(Split(fit, cal, s.test))
    return out


def split(rows: Sequence[ReplayRow], seed: int = 0) -> Split:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)  # noqa: S311 - a reproducible split, not security
    n_test = len(rows) // 2
    rest = order[n_test:]
    n_cal = max(1, len(rest) // 4)

    def pick(idx: Sequence[int]) -> tuple[ReplayRow, ...]:
        return tuple(rows[i] for i in idx)

    return Split(pick(rest[n_cal:]), pick(rest[:n_cal]), pick(order[:n_test]))


@dataclass(frozen=True)
class Tiers:
    """The configured tiers as the replay sees them: one model per tier, cheapest first."""

    models: tuple[str, ...]
    catalogue: Catalogue

    @classmethod
    def from_settings(cls, settings: Settings, data: ReplaySet) -> Tiers:
        catalogue = Catalogue.from_settings(settings)
        if len(catalogue.tiers) < 2:
            raise ValueError("the replay config needs at least two tiers (cheap … strong)")
        models = tuple(t.deployments[0].model for t in catalogue.tiers)
        missing = [m for m in models if m not in data.models]
        if missing:
            raise ValueError(f"{data.name}: no quality column for the tier models {missing}")
        return cls(models, catalogue)

    @property
    def top(self) -> int:
        return len(self.models) - 1

    def labels(self, rows: Sequence[ReplayRow], margin: float) -> npt.NDArray[np.int64]:
        return np.array(
            [sufficient_tier([r.quality[m] for m in self.models], margin) for r in rows]
        )

    def good(self, rows: Sequence[ReplayRow], tier: int, margin: float) -> npt.NDArray[np.bool_]:
        """Whether `tier`'s answer is within `margin` of the best tier's, row by row."""
        return np.array([
            r.quality[self.models[tier]] >= max(r.quality[m] for m in self.models) - margin
            for r in rows
        ])  # fmt: skip

    def fixed(self) -> list[str]:
        """The always-one-tier baselines, cheapest first."""
        middle = [f"always-{t.name}" for t in self.catalogue.tiers[1:-1]]
        return ["always-cheap", *middle, "always-strong"]

    def fixed_tier(self, name: str) -> int | None:
        """The tier an always-… baseline calls (None: not a baseline)."""
        names = self.fixed()
        return names.index(name) if name in names else None


def answers(
    rows: Sequence[ReplayRow], model: str, read: tuple[str, ...] = ANSWER_FEATURES
) -> Array:
    """Every ANSWER_FEATURES column of `model`'s answers; zeros when the scorer `read`s none
    (a prompt-only confidence: parsing the placeholder would be wasted)."""
    if not read:
        return np.zeros((len(rows), len(ANSWER_FEATURES)))
    feats = [
        answer_features(
            Completion(r.response.get(model, NO_TEXT), "stop", Usage(), model), prompt=r.prompt
        )
        for r in rows
    ]
    return np.vstack(feats)


def matrix(rows: Sequence[ReplayRow], vectors: Vectors) -> Array:
    return np.vstack([vectors[r.prompt] for r in rows]).astype(np.float64)


def fit_classifier(
    s: Split, tiers: Tiers, vectors: Vectors, margin: float, model_id: str
) -> TierClassifier:
    x_fit = features(matrix(s.fit, vectors), [len(r.prompt) for r in s.fit])
    x_cal = features(matrix(s.cal, vectors), [len(r.prompt) for r in s.cal])
    y_fit, y_cal = tiers.labels(s.fit, margin), tiers.labels(s.cal, margin)
    names = tuple(t.name for t in tiers.catalogue.tiers)
    best: tuple[float, TierClassifier] | None = None
    for l2 in (1e-4, 1e-3, 1e-2, 1e-1):
        clf = TierClassifier.fit(x_fit, y_fit, names, l2=l2, model_id=model_id)
        loss = log_loss(clf.need_more(x_cal)[:, 0], y_cal > 0)
        if best is None or loss < best[0]:
            best = (loss, clf)
    assert best is not None
    return best[1]


def fit_confidence(
    s: Split, tiers: Tiers, vectors: Vectors, margin: float, model_id: str
) -> TierScorer:
    """A learned scorer for each tier below the strongest, fitted on that tier's answers."""
    return TierScorer(
        {
            tiers.models[i]: fit_tier_confidence(
                s, tiers, i, vectors, margin=margin, model_id=model_id
            )
            for i in range(tiers.top)
        },
        other=FixedScorer(1.0),  # the strongest tier's answer is served anyway
    )


def fit_tier_confidence(
    s: Split, tiers: Tiers, tier: int, vectors: Vectors, *, margin: float, model_id: str,
    features: tuple[str, ...] = ANSWER_FEATURES,
) -> LearnedScorer:  # fmt: skip
    """The learned confidence of tier `tier`'s model: on the prompt and `features` of its
    answers, or on the prompt alone when the fit rows record none of its answers' text."""
    model = tiers.models[tier]
    if not any(model in r.response for r in s.fit):
        # No recorded answer text for this model: every answer feature would read the
        # placeholder, and weights fitted on it would misread real answers once deployed
        # (`--save-confidence`). The prompt alone is what such a replay can teach.
        features = ()
    y_fit, y_cal = tiers.good(s.fit, tier, margin), tiers.good(s.cal, tier, margin)
    a_fit, a_cal = answers(s.fit, model, features), answers(s.cal, model, features)
    v_fit, v_cal = matrix(s.fit, vectors), matrix(s.cal, vectors)
    best: tuple[float, LearnedScorer] | None = None
    for components in (8, 32):
        for l2 in (1e-3, 1e-2, 1e-1):
            scorer = LearnedScorer.fit(
                v_fit, a_fit, y_fit, components=components, l2=l2, model_id=model_id,
                features=features,
            )  # fmt: skip
            loss = log_loss(scorer.probability(v_cal, a_cal), y_cal)
            if best is None or loss < best[0]:
                best = (loss, scorer)
    assert best is not None
    return best[1]


def confidence_report(
    scorer: TierScorer, rows: Sequence[ReplayRow], tiers: Tiers, vectors: Vectors, margin: float
) -> tuple[Calibration, ...]:
    """Calibration of each tier's scorer on `rows`, cheapest tier first."""
    return tuple(
        calibration(
            confidences(scorer.scorers[tiers.models[i]], rows, tiers.models[i], vectors),
            tiers.good(rows, i, margin),
        )
        for i in range(tiers.top)
    )


def confidences(
    scorer: LearnedScorer, rows: Sequence[ReplayRow], model: str, vectors: Vectors
) -> Array:
    """`scorer`'s P(good) for `model`'s answers on `rows`, reading only its own features."""
    return scorer.probability(matrix(rows, vectors), answers(rows, model, scorer.features))


def quantile_knobs(values: Array, count: int) -> list[float]:
    qs = np.quantile(values, np.linspace(0.0, 1.0, count))
    return sorted({round(float(v), 6) for v in qs} | {0.0, 1.000001})


# ---- running rows through the pipeline
@dataclass(frozen=True)
class Setting:
    """One knob value of one policy: the router and scorer the pipeline runs with."""

    knob: float
    router: Router
    scorer: Scorer
    thresholds: float | None = None  # the cascade's confidence threshold (all tiers but the top)
    learn: bool = False  # send Feedback after each answer (the bandit)


def _models_for(base: ModelPath, setting: Setting) -> ModelPath:
    catalogue = base.catalogue
    if setting.thresholds is not None:
        th = min(max(setting.thresholds, 0.0), 1.0)
        last = len(catalogue.tiers) - 1
        # One knob for every tier below the strongest: each tier's scorer is its own calibrated
        # P(this answer is good enough). The strongest tier's answer is always accepted.
        tiers = tuple(
            replace(t, threshold=th if i < last else 0.0) for i, t in enumerate(catalogue.tiers)
        )
        catalogue = replace(catalogue, tiers=tiers)
    return replace(base, catalogue=catalogue, scorer=setting.scorer)


async def run_rows(
    pipeline: Pipeline[CacheTier], base: ModelPath, setting: Setting,
    rows: Sequence[ReplayRow], tiers: Tiers,
) -> Rows:  # fmt: skip
    """Each row through the pipeline: its quality, the cost of every call it made (every
    tier's), and whether it called the strongest tier."""
    pipeline.runtime = replace(
        pipeline.runtime, models=_models_for(base, setting), router=setting.router
    )
    strong_model = tiers.models[-1]
    quality, cost, strong = (np.zeros(len(rows)) for _ in range(3))
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        results = await asyncio.gather(*(pipeline.complete(_request(r)) for r in chunk))
        for i, (row, result) in enumerate(zip(chunk, results, strict=True), start):
            assert result.served_by is not None
            q = row.quality[result.served_by.model]
            answered = [a for a in result.attempts if a.outcome in _ANSWERED]
            quality[i] = q
            cost[i] = sum(row.cost.get(a.model, a.cost_usd) for a in answered)
            strong[i] = any(a.model == strong_model for a in answered)
            if setting.learn:
                await pipeline.feedback(result.request_id, q)
    return Rows(quality, cost, strong)


def _request(row: ReplayRow) -> CompletionRequest:
    return CompletionRequest(
        namespace=NAMESPACE, messages=(ChatMessage("user", row.prompt),), params=GenParams(),
        deadline=time.monotonic() + 600.0, skip_read=True, skip_write=True,
    )  # fmt: skip


# ---- the policies and their knobs
Factory = Callable[[], list[Setting]]


@dataclass(frozen=True)
class Models:
    classifier: TierClassifier
    confidence: TierScorer


DEFAULT_RULE = ChoiceRule()


def policy_settings(  # noqa: PLR0911 - one branch per policy, read as a table
    name: str, tiers: Tiers, s: Split, vectors: Vectors, models: Models, *, seed: int,
    knobs: Sequence[float] | None = None, grid: int = DEFAULT_RULE.grid,
) -> list[Setting]:  # fmt: skip
    """The policy at each knob. The classifier's and the cascades' grids are `grid`
    quantiles of their models' scores on `s.cal`, unless `knobs` gives the grid (the
    cross-fitted parts replay the first part's grid, so their points pool knob by knob)."""
    cat, top, accept = tiers.catalogue, tiers.top, FixedScorer(1.0)

    def need_cal() -> Array:  # the classifier's scores on s.cal (only its policies use them)
        x_cal = features(matrix(s.cal, vectors), [len(r.prompt) for r in s.cal])
        return models.classifier.need_more(x_cal)[:, 0]

    def conf_cal() -> Array:  # the cheapest tier's confidence on s.cal (the cascades' grid)
        cheap = tiers.models[0]
        return confidences(models.confidence.scorers[cheap], s.cal, cheap, vectors)

    identity = {i: i for i in range(len(tiers.models))}
    fixed = tiers.fixed_tier(name)
    if fixed is not None:
        return [Setting(float(fixed), single_router(cat, TierPolicy(fixed)), accept)]
    if name == "random":
        return [
            Setting(p, single_router(cat, RandomPolicy(p, top, seed)), accept)
            for p in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
        ]
    if name == "rules":  # a length rule: prompts of at least L characters go to the strong tier
        lengths = np.array([len(r.prompt) for r in s.fit + s.cal], dtype=np.float64)
        knobs = sorted({float(v) for v in np.quantile(lengths, np.linspace(0, 1, 9))} | {1e9})
        return [
            Setting(
                L, single_router(cat, RulesPolicy([Rule("long", top, min_chars=int(L))])), accept
            )
            for L in knobs
        ]
    if name == "classifier":
        return [
            Setting(t, single_router(cat, ClassifierPolicy(models.classifier, t, identity)), accept)
            for t in (knobs or quantile_knobs(need_cal(), grid))
        ]
    if name == "bandit":
        return [
            Setting(lam, single_router(cat, BanditPolicy(
                len(tiers.models), vectors_dim(vectors), alpha=0.3, cost_weight=lam
            )), accept, learn=True)
            for lam in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.7, 1.0)
        ]  # fmt: skip
    if name == "cascade":
        return [
            Setting(t, single_router(cat, TierPolicy(0)), models.confidence, thresholds=t)
            for t in (knobs or quantile_knobs(conf_cal(), grid))
        ]
    if name == "cascade+classifier":
        # The classifier sends the fifth of prompts it finds hardest (its threshold is the 80th
        # percentile on the calibration split) straight up, skipping the cheap call; the
        # cascade's confidence threshold is the knob.
        start_high = float(np.quantile(need_cal(), 0.8))
        policy = ClassifierPolicy(models.classifier, start_high, identity)
        return [
            Setting(t, single_router(cat, policy), models.confidence, thresholds=t)
            for t in (knobs or quantile_knobs(conf_cal(), grid))
        ]
    raise ValueError(f"unknown policy {name!r}")


POLICIES = (
    "always-cheap", "always-strong", "random", "rules", "classifier", "bandit", "cascade",
    "cascade+classifier",
)  # fmt: skip


def vectors_dim(vectors: Vectors) -> int:
    return len(next(iter(vectors.values())))


@dataclass(frozen=True)
class PolicyResult:
    name: str
    curve: tuple[Point, ...]  # test split, one point per knob
    at: int  # the operating point's index in `curve` (its knob chosen on calibration data)
    rows: Rows  # the operating point's outcome on each test row (for the bootstrap)

    @property
    def chosen(self) -> Point:
        """The operating point, on the test split."""
        return self.curve[self.at]


@dataclass(frozen=True)
class DatasetResult:
    name: str
    rows: int
    dropped: int
    split: tuple[int, int, int]
    note: str
    policies: tuple[PolicyResult, ...]
    calibration: tuple[Calibration, ...]  # each tier's learned confidence, cheapest first
    classifier_auc: float
    seconds: float
    tier_models: tuple[str, ...]  # cheapest first
    seed: int = 0
    folds: int = 1  # calibrate parts the operating points were chosen on (cross_fit)
    rule: ChoiceRule = DEFAULT_RULE  # how the operating points were chosen on them
    # The policy whose operating point the same rule picks among every policy's (fixed
    # tiers included), on the same calibration data: what this replay says to deploy.
    pick: str = ""

    @property
    def cheap_model(self) -> str:
        return self.tier_models[0]

    @property
    def strong_model(self) -> str:
        return self.tier_models[-1]

    def fixed(self) -> list[PolicyResult]:
        """The always-one-tier baselines, cheapest first."""
        return [p for p in self.policies if p.name.startswith("always-")]


async def evaluate(
    pipeline: Pipeline[CacheTier],
    data: ReplaySet,
    tiers: Tiers,
    vectors: Vectors,
    *,
    seed: int = 0,
    margin: float = 0.05,
    policies: Sequence[str] = POLICIES,
    model_id: str = "",
    folds: int = 1,
    rule: ChoiceRule = DEFAULT_RULE,
) -> tuple[DatasetResult, Models]:
    started = time.perf_counter()
    base = pipeline.runtime.models
    assert base is not None
    s = split(data.rows, seed)
    parts = cross_fit(s, folds)
    fitted = [
        Models(
            fit_classifier(p, tiers, vectors, margin, model_id),
            fit_confidence(p, tiers, vectors, margin, model_id),
        )
        for p in parts
    ]
    models = fitted[0]
    x_test = features(matrix(s.test, vectors), [len(r.prompt) for r in s.test])
    clf_auc = auc(models.classifier.need_more(x_test)[:, 0], tiers.labels(s.test, margin) > 0)
    # The strongest tier's quality on every calibrate row, in the order of `cal_rows`.
    strong_cal = np.array([r.quality[tiers.models[-1]] for p in parts for r in p.cal])
    results = []
    picks: list[Rows] = []  # each policy's operating point on the calibrate rows
    # Every tier alone is a baseline: the report's hull is made of them.
    for name in [*tiers.fixed(), *(p for p in policies if tiers.fixed_tier(p) is None)]:
        settings = policy_settings(name, tiers, s, vectors, models, seed=seed, grid=rule.grid)
        knobs = [st.knob for st in settings]
        cal_rows: list[list[Rows]] = [[] for _ in settings]
        test_rows = []
        for i, (part, part_models) in enumerate(zip(parts, fitted, strict=True)):
            own = settings if i == 0 else policy_settings(
                name, tiers, part, vectors, part_models, seed=seed, knobs=knobs)  # fmt: skip
            for j, setting in enumerate(own):
                if setting.learn:  # the bandit learns online: fit part first, then on
                    await run_rows(pipeline, base, setting, part.fit, tiers)
                cal_rows[j].append(await run_rows(pipeline, base, setting, part.cal, tiers))
                if i == 0:  # the first part's models (fit → calibrate, as without folds)
                    test_rows.append(await run_rows(pipeline, base, setting, s.test, tiers))
        curve = tuple(r.point(k) for r, k in zip(test_rows, knobs, strict=True))
        at = choose([Rows.concat(r) for r in cal_rows], strong_cal, rule)
        results.append(PolicyResult(name, curve, at, test_rows[at]))
        picks.append(Rows.concat(cal_rows[at]))
    pipeline.runtime = replace(pipeline.runtime, models=base)
    return DatasetResult(
        data.name, len(data.rows), data.dropped, (len(s.fit), len(s.cal), len(s.test)),
        data.note, tuple(results),
        confidence_report(models.confidence, s.test, tiers, vectors, margin), clf_auc,
        time.perf_counter() - started, tiers.models, seed, len(parts), rule,
        results[choose(picks, strong_cal, rule)].name,
    ), models  # fmt: skip
