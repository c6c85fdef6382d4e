"""The request path as plain async code.

    key → exact lookup → embed → semantic lookup → route → cascade → store → account

Every step's outcome lands in the result, so the caller is told what happened.

What a config reload replaces (settings, the model path, the router) is one frozen `Runtime`;
a request reads `Pipeline.runtime` once, at its start, and uses that object to its end
(streaming and the router's record for feedback included), so a reload never mixes old and
new within one request. The cache is a `CacheTier` (cache/tier.py).
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from sluice import accounting
from sluice.cache.entry import Entry
from sluice.cache.feedback import CacheFeedback
from sluice.cache.handoff import VectorHandoff
from sluice.cache.keys import CacheKey, make_key
from sluice.cache.replication import CacheReplica, LocalOnly
from sluice.cache.store import CacheCounts, LookupResult, SemanticDecision
from sluice.cache.tier import CacheTier
from sluice.cascade.budget import BudgetGuard
from sluice.cascade.confidence import Scorer
from sluice.cascade.driver import CancelListener, run_cascade, run_cascade_stream
from sluice.cascade.plan import Catalogue
from sluice.cascade.types import Attempt, CascadeResult, ServedBy
from sluice.config import Settings
from sluice.embedding import language
from sluice.embedding.batcher import MicroBatcher
from sluice.embedding.model import Embedded
from sluice.errors import InvalidArgument, NotFound, SluiceError, Unavailable
from sluice.providers.base import Provider
from sluice.recent import judged_already
from sluice.resilience.breaker import BreakerRegistry, BreakerState
from sluice.resilience.ratelimit import NoRateLimits, RateGate
from sluice.resilience.retry import RetryPolicy
from sluice.routing.fixed import RouteDecision, RoutingHints
from sluice.routing.policy import RouteContext
from sluice.routing.router import Routed, Router
from sluice.tally import RequestTally
from sluice.telemetry.metrics import Metrics
from sluice.types import ChatMessage, GenParams, Usage

T = TypeVar("T")
# The pipeline's cache: any CacheTier; evaluations keep the concrete type (SemanticCache).
CacheT_co = TypeVar("CacheT_co", bound=CacheTier, covariant=True)


@dataclass(frozen=True)
class ModelPath:
    """Everything the cascade needs, built once by the app."""

    catalogue: Catalogue
    providers: Mapping[str, Provider]
    breakers: BreakerRegistry
    retry: RetryPolicy
    scorer: Scorer
    budget: BudgetGuard
    # Provider RPM/TPM buckets and 429 holds (shared through Redis in fleet mode).
    limits: RateGate = field(default_factory=NoRateLimits)


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a config reload replaces, as one value: swapped whole, never field by field."""

    settings: Settings
    # None: no model tiers (the cache and embedding RPCs still serve).
    models: ModelPath | None = None
    router: Router | None = None


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    namespace: str
    messages: tuple[ChatMessage, ...]
    params: GenParams
    # Absolute time.monotonic() by which the answer must be back.
    deadline: float
    request_id: str = ""
    user_id: str = ""
    skip_read: bool = False
    skip_write: bool = False
    ttl_s: float | None = None
    threshold: float | None = None
    store_nondeterministic: bool = False
    routing: RoutingHints = field(default_factory=RoutingHints)


@dataclass(frozen=True, slots=True)
class CompletionResult:
    request_id: str
    text: str
    finish_reason: str
    lookup: LookupResult
    usage: Usage
    cost_usd: float
    baseline_cost_usd: float
    served_by: ServedBy | None = None
    attempts: tuple[Attempt, ...] = ()
    route: RouteDecision | None = None
    confidence: float | None = None
    degraded: bool = False
    degraded_reason: str = ""
    stored: bool = False


@dataclass(slots=True)
class _Question:
    """A request's question: its key, and its vector once computed (at most once)."""

    key: CacheKey
    # The whole question's vector whether or not the cache may use it (None when it was cut):
    # the router's too, so a question the cache refuses is not embedded a second time.
    whole: npt.NDArray[np.float32] | None = None
    # Why the vector layer must not take the question ("" when it may).
    reason: str = ""
    embedded: bool = False

    @property
    def vector(self) -> npt.NDArray[np.float32] | None:
        """The cache's vector: None when the vector layer must not take the question."""
        return None if self.reason else self.whole

    def take(self, embedded: Embedded, reason: str) -> None:
        self.whole = None if embedded.truncated else embedded.vector
        self.reason = reason
        self.embedded = True


class Pipeline(Generic[CacheT_co]):
    def __init__(
        self,
        settings: Settings,
        batcher: MicroBatcher,
        cache: CacheT_co,
        models: ModelPath | None = None,
        metrics: Metrics | None = None,
        *,
        router: Router | None = None,
        replica: CacheReplica | None = None,
    ) -> None:
        self.batcher = batcher
        self.cache: CacheT_co = cache
        # Other pods' view of this cache (fleet mode); told after each write, never on a read.
        self.replica: CacheReplica = replica or LocalOnly()
        self.metrics = metrics or batcher.metrics
        if router is None and models is not None:
            router = Router(models.catalogue)
        # A reload assigns a new Runtime here, in one assignment; requests read it once.
        self.runtime = Runtime(settings, models, router)
        embedder = batcher.embedder
        self.model_id = embedder.model_id
        self.dimensions = embedder.dimensions
        self.max_tokens = embedder.max_tokens
        self.handoff = VectorHandoff(
            settings.cache.handoff_max_entries, settings.cache.handoff_ttl_s
        )
        self.tally = RequestTally()  # Stats.requests, per namespace
        # Which entry answered (or was stored for) each recent request, for Feedback.
        self.cache_feedback = CacheFeedback(
            cache, self.replica, self.metrics, settings.cache.feedback_capacity
        )

    async def embed(self, texts: Sequence[str], *, bulk: bool = False) -> list[Embedded]:
        """`bulk`: a client's batch (Embed, /v1/embeddings), run on its own lane so it never
        delays a question's vector, and queued in bounds (Overloaded when full; see
        embedding/batcher.py)."""
        return await self.batcher.embed(texts, bulk=bulk)

    async def question_vector(self, key: CacheKey) -> tuple[npt.NDArray[np.float32] | None, str]:
        """The question's vector, or None and why the vector layer must not be used."""
        settings = self.runtime.settings
        (embedded,) = await self.batcher.embed([key.question])
        reason = self._refusal(key.question, embedded, settings)
        return (None if reason else embedded.vector), reason

    def _refusal(self, text: str, embedded: Embedded, settings: Settings) -> str:
        """Why the vector layer must not take `text`, or "" when it may (any thread): too
        long, words the model does not cover, or a language it does not read."""
        if embedded.truncated:
            return (
                f"question longer than the model's {self.max_tokens} tokens: "
                "exact layer only (the cut-off part would not count)"
            )
        if embedded.coverage < settings.embedding.coverage_min:
            return (
                f"text not covered by the embedding model ({embedded.coverage:.0%} of words "
                "known): exact layer only"
            )
        embedding = settings.embedding
        return language.refusal(text, embedding.languages, embedding.language_min_probability)

    async def lookup(
        self,
        namespace: str,
        messages: tuple[ChatMessage, ...],
        params: GenParams,
        threshold: float | None = None,
        field: str = "threshold",
    ) -> LookupResult:
        settings = self.runtime.settings
        threshold = self.cache.threshold_for(namespace, threshold, field)
        question = _Question(make_key(namespace, messages, params))
        result = await self._lookup(question, threshold, settings)
        if result.entry is None and question.embedded:
            # A read-through client Stores this question next: spare it a second embedding.
            self.handoff.put(question.key, question.vector, question.reason)
        return result

    async def _vector(
        self, question: _Question, settings: Settings
    ) -> tuple[npt.NDArray[np.float32] | None, str]:
        if not question.embedded:
            (embedded,) = await self.batcher.embed([question.key.question])
            question.take(embedded, self._refusal(question.key.question, embedded, settings))
        return question.vector, question.reason

    async def _route_vector(
        self, question: _Question, settings: Settings
    ) -> npt.NDArray[np.float32]:
        """The question's routing vector: its last `max_tokens` tokens' (issue #21).

        A question that fits has one vector for the cache and the router (it is its own
        tail), computed once. A longer one is routed on its tail, where its few-shot prefix
        or pasted context ends and what it asks is; the cache still sees it as truncated.
        """
        if question.whole is not None:
            return question.whole
        (tail,) = await self.batcher.embed([question.key.question], tail=True)
        if not question.embedded:
            # Not truncated: the whole question, the cache's vector too; truncated: the
            # cache refuses it as it would its head (`_refusal` checks that first).
            question.take(tail, self._refusal(question.key.question, tail, settings))
        return tail.vector

    async def _lookup(
        self, question: _Question, threshold: float, settings: Settings
    ) -> LookupResult:
        key = question.key
        entry = await self.cache.lookup_exact(key)
        if entry is not None:
            return LookupResult("exact", entry, 1.0, threshold)
        if question.embedded:
            decision = None
            if question.vector is not None:
                return await self.cache.lookup_semantic(key, question.vector, threshold)
        else:
            # The vector search and the verifier run on the embedding lane, right after the
            # embedding: one hop off the event loop for all of it (issue #19).
            decide = functools.partial(self._decide, key, threshold, settings)
            embedded, reason, decision = await self.batcher.embed_then(key.question, decide)
            question.take(embedded, reason)
        if decision is None:
            self.cache.record_unsupported(key.namespace)
            return LookupResult("skipped", None, 0.0, threshold, question.reason)
        return self.cache.settle(key, decision)

    def _decide(
        self, key: CacheKey, threshold: float, settings: Settings, embedded: Embedded
    ) -> tuple[Embedded, str, SemanticDecision | None]:
        """On the embedding lane: the question's embedding, why the vector layer must not
        take it ("" when it may) and else the cache's decision."""
        reason = self._refusal(key.question, embedded, settings)
        if reason:
            return embedded, reason, None
        return embedded, "", self.cache.decide(key, embedded.vector, threshold)

    async def store(
        self,
        namespace: str,
        messages: tuple[ChatMessage, ...],
        params: GenParams,
        *,
        answer: str,
        finish_reason: str,
        usage: Usage,
        model: str,
        ttl_s: float | None,
    ) -> tuple[Entry, bool]:
        settings = self.runtime.settings
        question = _Question(make_key(namespace, messages, params))
        handed = self.handoff.take(question.key)
        if handed is not None:
            # The handoff keeps the cache's vector (None with a reason): all a Store needs.
            question.whole, question.reason = handed
            question.embedded = True
        return await self._store(
            question, settings, answer=answer, finish_reason=finish_reason, usage=usage,
            model=model, ttl_s=ttl_s,
        )  # fmt: skip

    async def _store(
        self,
        question: _Question,
        settings: Settings,
        *,
        answer: str,
        finish_reason: str,
        usage: Usage,
        model: str,
        ttl_s: float | None,
    ) -> tuple[Entry, bool]:
        vector, _ = await self._vector(question, settings)
        entry, replaced = await self.cache.store(
            question.key, vector, answer=answer, finish_reason=finish_reason, usage=usage,
            model=model, ttl_s=ttl_s,
        )  # fmt: skip
        self.replica.stored(entry, vector if entry.slot >= 0 else None)
        return entry, replaced

    async def invalidate(self, entry_id: str | None, namespace: str | None) -> int:
        if entry_id is not None:
            entry = self.cache.entry(entry_id)
            removed = await self.cache.invalidate_id(entry_id)  # NotFound when it is not here
            if entry is not None:
                self.replica.invalidated(entry)
            return removed
        removed = await self.cache.invalidate_namespace(namespace)
        self.replica.dropped(namespace)
        return removed

    def cache_stats(self, namespace: str | None) -> CacheCounts:
        return self.cache.stats(namespace)

    # ---- completions
    @staticmethod
    def _models(rt: Runtime) -> ModelPath:
        if rt.models is None or not rt.models.catalogue.tiers:
            raise Unavailable(
                "no model tiers are configured: add providers and tiers to the config "
                "(docs/configuration.md), or try `sluice serve --demo` without keys"
            )
        return rt.models

    async def _cached(
        self, request: CompletionRequest, question: _Question, rt: Runtime
    ) -> tuple[CompletionResult | None, LookupResult]:
        threshold = self.cache.threshold_for(
            request.namespace, request.threshold, "cache.threshold"
        )
        if request.skip_read or not rt.settings.cache.enabled:
            return None, LookupResult("skipped", None, 0.0, threshold, "cache read skipped")
        lookup = await self._lookup(question, threshold, rt.settings)
        if lookup.entry is None:
            return None, lookup
        entry = lookup.entry
        models = rt.models
        baseline = models.catalogue.baseline if models is not None else None
        baseline_cost = (
            models.catalogue.prices.cost(entry.usage, baseline)
            if models is not None and baseline is not None
            else 0.0
        )
        result = CompletionResult(
            request_id=request.request_id, text=entry.answer, finish_reason=entry.finish_reason,
            lookup=lookup, usage=entry.usage, cost_usd=0.0, baseline_cost_usd=baseline_cost,
        )  # fmt: skip
        return result, lookup

    @staticmethod
    def _should_store(
        request: CompletionRequest, result: CascadeResult, settings: Settings
    ) -> bool:
        if request.skip_write or not settings.cache.enabled or result.degraded:
            return False
        if result.completion.finish_reason != "stop" or not result.completion.text.strip():
            return False
        temperature = request.params.temperature
        nondeterministic = temperature is not None and temperature > 0
        allowed = request.store_nondeterministic or settings.cache.store_nondeterministic
        return not nondeterministic or allowed

    def _with_id(self, request: CompletionRequest) -> CompletionRequest:
        if request.request_id:
            return request
        return replace(request, request_id=uuid.uuid4().hex)

    async def route(self, request: CompletionRequest) -> RouteDecision:
        """The routing decision alone (the Route RPC): nothing is called or cached."""
        rt = self.runtime
        question = _Question(make_key(request.namespace, request.messages, request.params))
        return (await self._route(request, question, rt))[0].decision

    async def _route(
        self, request: CompletionRequest, question: _Question, rt: Runtime
    ) -> tuple[Routed, RouteContext]:
        models = self._models(rt)
        router = rt.router
        assert router is not None
        hints = request.routing
        vector = None
        routed_by_policy = not (hints.pinned_model or hints.start_tier)
        if (routed_by_policy and router.needs_vector(request.namespace)) or (
            models.scorer.needs_vector
        ):
            vector = await self._route_vector(question, rt.settings)
        context = RouteContext(
            request.namespace, question.key.question, hints.task_tags, request.user_id,
            request.request_id, vector,
        )  # fmt: skip
        breakers = models.breakers

        def available(provider: str) -> bool:  # so RouteDecision names whom the cascade tries
            return breakers.get(provider).state is not BreakerState.OPEN

        return router.decide(hints, context, available), context

    async def feedback(self, request_id: str, quality: float) -> str:
        """The user's judgement (quality in [0, 1]) of a recent answer. The cache removes or
        narrows an answer of its own judged wrong (cache/feedback.py); the policy that routed
        the request learns. Returns the policy kind that learned, else "cache" when the
        cache acted, else "". NotFound when neither knows `request_id`."""
        if not 0.0 <= quality <= 1.0:
            raise InvalidArgument("score", f"{quality} is outside [0, 1]")
        rt = self.runtime
        below = rt.settings.cache.feedback_below
        action = await self.cache_feedback.judge(request_id, quality, below)
        cache = "cache" if action in ("removed", "narrowed") else ""
        if action is None and (
            self.cache_feedback.judged(request_id)
            or (rt.router is not None and rt.router.judged(request_id))
        ):
            raise NotFound(judged_already(request_id))
        if action is not None and (rt.router is None or rt.models is None):
            return cache
        self._models(rt)
        assert rt.router is not None
        try:
            return rt.router.feedback(request_id, quality) or cache
        except NotFound:
            if action is None:  # nobody knew it
                raise
            return cache  # a cache hit: no policy routed it

    @staticmethod
    def _remember(
        request: CompletionRequest, context: RouteContext, routed: Routed,
        result: CompletionResult, rt: Runtime,
    ) -> None:  # fmt: skip
        # The router that routed this request learns from it, even when a reload has
        # replaced it meanwhile (the new one never saw this request's route).
        if rt.router is not None:
            rt.router.record(
                request.request_id, context, routed, result.cost_usd, result.baseline_cost_usd
            )

    def _cascade(
        self,
        request: CompletionRequest,
        driver: Callable[..., T],
        routed: Routed,
        vector: npt.NDArray[np.float32] | None,
        on_cancel: CancelListener,
        *,
        rt: Runtime,
    ) -> tuple[RouteDecision, Callable[[], T]]:
        """Bind the driver (run_cascade or run_cascade_stream) to this request and its route."""
        models = self._models(rt)
        plan = models.catalogue.plan(
            request.namespace, start=routed.start, pinned_model=routed.pinned_model,
            max_cost_usd=request.routing.max_cost_usd,
        )  # fmt: skip
        bound = functools.partial(
            driver, plan, request.messages, request.params, providers=models.providers,
            breakers=models.breakers, retry_policy=models.retry,
            scorer=models.scorer if vector is None else models.scorer.bind(vector),
            deadline=request.deadline, budget=models.budget, prices=models.catalogue.prices,
            on_cancel=on_cancel, limits=models.limits,
        )  # fmt: skip
        return routed.decision, bound

    async def complete(
        self, request: CompletionRequest, runtime: Runtime | None = None
    ) -> CompletionResult:
        """`runtime`: the snapshot the caller already read (a front checked the request
        against it); None: the current one, read now."""
        rt = runtime if runtime is not None else self.runtime
        request = self._with_id(request)
        started = time.perf_counter()
        question = _Question(make_key(request.namespace, request.messages, request.params))
        cached, lookup = await self._cached(request, question, rt)
        if cached is not None:
            self.cache_feedback.served(request.request_id, lookup)
            self._account(request, cached, started, rt)
            return cached
        routed, context = await self._route(request, question, rt)
        cancelled = self._on_cancel(request, lookup, routed.decision, started, rt)
        route, cascade = self._cascade(
            request, run_cascade, routed, context.vector, cancelled, rt=rt
        )
        try:
            outcome = await cascade()
        except SluiceError as exc:
            self._account_error(request, lookup, route, exc, started, rt=rt)
            raise
        result = await self._finish(request, question, lookup, route, outcome, rt=rt)
        self._remember(request, context, routed, result, rt)
        self._account(request, result, started, rt)
        return result

    async def stream_complete(
        self, request: CompletionRequest, runtime: Runtime | None = None
    ) -> AsyncIterator[str | CompletionResult]:
        """Text deltas, then the CompletionResult. A hit streams too. `runtime`: as for
        `complete` (None: the current one, read when the first item is asked for)."""
        rt = runtime if runtime is not None else self.runtime
        request = self._with_id(request)
        started = time.perf_counter()
        question = _Question(make_key(request.namespace, request.messages, request.params))
        cached, lookup = await self._cached(request, question, rt)
        if cached is not None:
            try:
                for chunk in _chunks(cached.text):
                    yield chunk
            except (asyncio.CancelledError, GeneratorExit):  # nothing was spent: log it only
                self._on_cancel(request, lookup, None, started, rt)(())
                raise
            self.cache_feedback.served(request.request_id, lookup)
            self._account(request, cached, started, rt)
            yield cached
            return
        routed, context = await self._route(request, question, rt)
        cancelled = self._on_cancel(request, lookup, routed.decision, started, rt)
        route, open_stream = self._cascade(
            request, run_cascade_stream, routed, context.vector, cancelled, rt=rt
        )
        try:
            stream = open_stream()
            try:
                async for delta in stream:
                    yield delta
            finally:
                await stream.aclose()
        except SluiceError as exc:
            self._account_error(request, lookup, route, exc, started, rt=rt)
            raise
        assert stream.result is not None
        result = await self._finish(request, question, lookup, route, stream.result, rt=rt)
        self._remember(request, context, routed, result, rt)
        self._account(request, result, started, rt)
        yield result

    async def _finish(
        self,
        request: CompletionRequest,
        question: _Question,
        lookup: LookupResult,
        route: RouteDecision,
        outcome: CascadeResult,
        *,
        rt: Runtime,
    ) -> CompletionResult:
        completion = outcome.completion
        stored = False
        if self._should_store(request, outcome, rt.settings):
            entry, _ = await self._store(
                question, rt.settings, answer=completion.text,
                finish_reason=completion.finish_reason, usage=completion.usage,
                model=completion.model, ttl_s=request.ttl_s,
            )  # fmt: skip
            self.cache_feedback.stored(request.request_id, entry)
            stored = True
        return CompletionResult(
            request_id=request.request_id, text=completion.text,
            finish_reason=completion.finish_reason, lookup=lookup, usage=completion.usage,
            cost_usd=outcome.cost_usd, baseline_cost_usd=outcome.baseline_cost_usd,
            served_by=outcome.served_by, attempts=outcome.attempts, route=route,
            confidence=outcome.confidence, degraded=outcome.degraded,
            degraded_reason=outcome.degraded_reason, stored=stored,
        )  # fmt: skip

    def _account(
        self, request: CompletionRequest, result: CompletionResult, started: float, rt: Runtime
    ) -> None:
        m = self.metrics
        source = "cache" if result.served_by is None else "model"
        m.completions.labels(source, str(result.degraded).lower()).inc()
        m.baseline_cost_usd.inc(result.baseline_cost_usd)
        escalations, fallbacks = accounting.record_attempts(m, result.attempts)
        self.tally.add(
            request.namespace, escalations=escalations, fallbacks=fallbacks, failed=False,
            cost_usd=result.cost_usd, baseline_cost_usd=result.baseline_cost_usd,
        )  # fmt: skip
        self._report_budget(request.namespace, rt)
        accounting.log_request(
            request_id=request.request_id, namespace=request.namespace,
            cache=result.lookup.outcome, similarity=round(result.lookup.similarity, 4),
            route=None if result.route is None else f"{result.route.policy}:{result.route.tier}",
            served_by=None if result.served_by is None
            else f"{result.served_by.provider}/{result.served_by.model}",
            attempts=accounting.attempts_summary(result.attempts),
            cost_usd=round(result.cost_usd, 8),
            baseline_cost_usd=round(result.baseline_cost_usd, 8),
            degraded=result.degraded_reason or None, stored=result.stored,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )  # fmt: skip

    def _account_error(
        self,
        request: CompletionRequest,
        lookup: LookupResult,
        route: RouteDecision,
        exc: SluiceError,
        started: float,
        *,
        rt: Runtime,
    ) -> None:
        attempts = tuple(getattr(exc, "attempts", ()))
        self._account_failure(
            request, lookup, route=route, attempts=attempts, error=type(exc).__name__,
            message=exc.message, started=started, rt=rt,
        )  # fmt: skip

    def _on_cancel(
        self,
        request: CompletionRequest,
        lookup: LookupResult,
        route: RouteDecision | None,
        started: float,
        rt: Runtime,
    ) -> CancelListener:
        """What to record when the caller goes away (deadline, disconnect) mid-request.

        The cascade has already charged the budget for the call it cut off; this
        counts its attempts and writes the request's one log line.
        """

        def report(attempts: tuple[Attempt, ...]) -> None:
            self._account_failure(
                request, lookup, route=route, attempts=attempts, error="Cancelled",
                message="the caller cancelled the request (deadline or disconnect)",
                started=started, rt=rt,
            )  # fmt: skip

        return report

    def _report_budget(self, namespace: str, rt: Runtime) -> None:
        if rt.models is not None:
            remaining = rt.models.budget.remaining(namespace)
            if remaining is not None:
                self.metrics.budget_remaining_usd.labels(namespace).set(remaining)

    def _account_failure(
        self,
        request: CompletionRequest,
        lookup: LookupResult,
        *,
        route: RouteDecision | None,
        attempts: tuple[Attempt, ...],
        error: str,
        message: str,
        started: float,
        rt: Runtime,
    ) -> None:
        escalations, fallbacks = accounting.record_attempts(self.metrics, attempts)
        self.tally.add(
            request.namespace, escalations=escalations, fallbacks=fallbacks, failed=True,
            cost_usd=sum(a.cost_usd for a in attempts),
        )  # fmt: skip
        self._report_budget(request.namespace, rt)
        accounting.log_request(
            request_id=request.request_id, namespace=request.namespace, cache=lookup.outcome,
            route=None if route is None else f"{route.policy}:{route.tier}", error=error,
            message=message, attempts=accounting.attempts_summary(attempts),
            cost_usd=round(sum(a.cost_usd for a in attempts), 8),
            ms=round((time.perf_counter() - started) * 1000, 2),
        )  # fmt: skip


def _chunks(text: str, size: int = 64) -> list[str]:
    """A cached answer, streamed in pieces of about `size` characters (at word breaks)."""
    chunks, current = [], ""
    for word in text.split(" "):
        piece = word if not current else " " + word
        if current and len(current) + len(piece) > size:
            chunks.append(current)
            current = " " + word
        else:
            current += piece
    if current:
        chunks.append(current)
    return chunks or [""]
