"""Protobuf ↔ domain values. The input checks themselves are validate.py's, shared with
the HTTP front; this module only unpacks protobuf into the plain values they take.

Only the service imports this module; nothing below the service sees protobuf.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from sluice import validate
from sluice.cache import expiry
from sluice.cache.entry import Entry
from sluice.cache.store import CacheCounts, LookupResult
from sluice.cascade.types import Attempt, AttemptOutcome
from sluice.config import LimitSettings
from sluice.errors import InvalidArgument
from sluice.pipeline import CompletionRequest, CompletionResult
from sluice.routing.fixed import RouteDecision, RoutingHints
from sluice.tally import RequestCounts
from sluice.types import ChatMessage, GenParams, Role, Usage
from sluice.v1 import sluice_pb2 as pb

_ROLES: dict[pb.Role.ValueType, Role] = {
    pb.ROLE_SYSTEM: "system",
    pb.ROLE_USER: "user",
    pb.ROLE_ASSISTANT: "assistant",
    pb.ROLE_TOOL: "tool",
}
ROLE_TO_PB: dict[Role, pb.Role.ValueType] = {v: k for k, v in _ROLES.items()}


def embed_texts(request: pb.EmbedRequest, limits: LimitSettings) -> list[str]:
    return validate.embed_texts(request.texts, limits)


namespace = validate.namespace
threshold = validate.threshold
request_id = validate.request_id


def messages(
    items: Sequence[pb.Message], limits: LimitSettings, field: str = "messages"
) -> tuple[ChatMessage, ...]:
    """A conversation whose last message is the user's question."""
    validate.message_count(len(items), limits, field)
    out: list[ChatMessage] = []
    for i, item in enumerate(items):
        role = _ROLES.get(item.role)
        if role is None:
            raise InvalidArgument(
                f"{field}[{i}].role",
                f"unknown role {item.role}; use ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT "
                "or ROLE_TOOL",
            )
        out.append(ChatMessage(role=role, content=item.content, name=item.name))
    return validate.messages(out, limits, field)


def params(value: pb.Params, field: str = "params") -> GenParams:
    return validate.params(
        temperature=value.temperature if value.HasField("temperature") else None,
        top_p=value.top_p if value.HasField("top_p") else None,
        max_tokens=value.max_tokens if value.HasField("max_tokens") else None,
        stop=value.stop, seed=value.seed if value.HasField("seed") else None,
        json_schema=value.json_schema, field=field,
    )  # fmt: skip


def ttl_seconds(value: Duration, field: str) -> float | None:
    """None when unset or zero (use the namespace default)."""
    return expiry.ttl_seconds(value.seconds + value.nanos / 1e9, field)


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def timestamp(seconds: float) -> Timestamp:
    """Never raises: a stored time outside the Timestamp's range is shown at its edge."""
    t = Timestamp()
    t.FromNanoseconds(int(expiry.timestamp_seconds(seconds) * 1e9))
    return t


def usage_from_pb(value: pb.Usage) -> Usage:
    for name in ("input_tokens", "output_tokens", "cached_input_tokens"):
        if getattr(value, name) < 0:
            raise InvalidArgument(f"usage.{name}", "must not be negative")
    return Usage(value.input_tokens, value.output_tokens, value.cached_input_tokens)


def usage_to_pb(value: Usage) -> pb.Usage:
    return pb.Usage(
        input_tokens=value.input_tokens,
        output_tokens=value.output_tokens,
        cached_input_tokens=value.cached_input_tokens,
    )


def entry_to_pb(entry: Entry) -> pb.CacheEntry:
    out = pb.CacheEntry(
        id=entry.id, namespace=entry.namespace,
        answer=pb.Message(role=pb.ROLE_ASSISTANT, content=entry.answer),
        finish_reason=entry.finish_reason, usage=usage_to_pb(entry.usage), model=entry.model,
        created=timestamp(entry.created), expires=timestamp(entry.expires), hits=entry.hits,
    )  # fmt: skip
    if entry.last_hit:
        out.last_hit.CopyFrom(timestamp(entry.last_hit))
    return out


_OUTCOMES = {
    "exact": pb.CACHE_OUTCOME_EXACT,
    "semantic": pb.CACHE_OUTCOME_SEMANTIC,
    "miss": pb.CACHE_OUTCOME_MISS,
    "skipped": pb.CACHE_OUTCOME_SKIPPED,
}


def cache_info(result: LookupResult, now: float) -> pb.CacheInfo:
    info = pb.CacheInfo(
        outcome=_OUTCOMES[result.outcome],
        similarity=result.similarity,
        threshold=result.threshold,
        reason=result.reason,
    )
    if result.entry is not None:
        info.entry_id = result.entry.id
        info.age.CopyFrom(duration(max(0.0, now - result.entry.created)))
    if result.verifier_score is not None:
        info.verifier_score = result.verifier_score
        info.verifier_version = result.verifier_version
    return info


def request_stats_to_pb(c: RequestCounts) -> pb.RequestStats:
    return pb.RequestStats(
        requests=c.requests, escalations=c.escalations, fallbacks=c.fallbacks, errors=c.errors,
        cost_usd=c.cost_usd, baseline_cost_usd=c.baseline_cost_usd,
    )  # fmt: skip


def cache_stats_to_pb(c: CacheCounts) -> pb.CacheStats:
    return pb.CacheStats(
        entries=c.entries, bytes=c.bytes, exact_hits=c.exact_hits,
        semantic_hits=c.semantic_hits, misses=c.misses, stores=c.stores,
        evictions=c.evictions, expirations=c.expirations, invalidations=c.invalidations,
        unsupported_text=c.unsupported_text,
    )  # fmt: skip


_ATTEMPT_OUTCOMES = {
    AttemptOutcome.ACCEPTED: pb.ATTEMPT_OUTCOME_ACCEPTED,
    AttemptOutcome.LOW_CONFIDENCE: pb.ATTEMPT_OUTCOME_LOW_CONFIDENCE,
    AttemptOutcome.TIMEOUT: pb.ATTEMPT_OUTCOME_TIMEOUT,
    AttemptOutcome.RATE_LIMITED: pb.ATTEMPT_OUTCOME_RATE_LIMITED,
    AttemptOutcome.PROVIDER_ERROR: pb.ATTEMPT_OUTCOME_PROVIDER_ERROR,
    AttemptOutcome.REJECTED: pb.ATTEMPT_OUTCOME_REJECTED,
    AttemptOutcome.CIRCUIT_OPEN: pb.ATTEMPT_OUTCOME_CIRCUIT_OPEN,
    AttemptOutcome.OVER_BUDGET: pb.ATTEMPT_OUTCOME_OVER_BUDGET,
    AttemptOutcome.CANCELLED: pb.ATTEMPT_OUTCOME_CANCELLED,
}


def attempts_to_pb(attempts: Sequence[Attempt]) -> list[pb.Attempt]:
    out = []
    for a in attempts:
        item = pb.Attempt(
            provider=a.provider, model=a.model, tier=a.tier, outcome=_ATTEMPT_OUTCOMES[a.outcome],
            latency=duration(a.latency_s), usage=usage_to_pb(a.usage), cost_usd=a.cost_usd,
            error=a.error, retry=a.retry,
        )  # fmt: skip
        if a.confidence is not None:
            item.confidence = a.confidence
        out.append(item)
    return out


def routing_hints(value: pb.RoutingHints, field: str = "routing") -> RoutingHints:
    return validate.routing_hints(
        task_tags=value.task_tags, max_cost_usd=value.max_cost_usd,
        pinned_model=value.pinned_model, start_tier=value.start_tier, field=field,
    )  # fmt: skip


def completion_request(
    request: pb.CompleteRequest, limits: LimitSettings, deadline: float
) -> CompletionRequest:
    cache = request.cache
    return CompletionRequest(
        namespace=namespace(request.namespace),
        messages=messages(request.messages, limits),
        params=params(request.params),
        deadline=deadline,
        request_id=request_id(request.request_id),
        user_id=request.user_id[:128],
        skip_read=cache.skip_read,
        skip_write=cache.skip_write,
        ttl_s=ttl_seconds(cache.ttl, "cache.ttl"),
        threshold=threshold(cache.threshold, "cache.threshold")
        if cache.HasField("threshold")
        else None,
        store_nondeterministic=cache.store_nondeterministic,
        routing=routing_hints(request.routing),
    )


def route_request(request: pb.RouteRequest, limits: LimitSettings) -> CompletionRequest:
    """A Route call as the request it would route (nothing is called or cached)."""
    return CompletionRequest(
        namespace=namespace(request.namespace), messages=messages(request.messages, limits),
        params=GenParams(), deadline=0.0, request_id=request_id(request.request_id),
        user_id=request.user_id[:128], skip_read=True, skip_write=True,
        routing=routing_hints(request.routing),
    )  # fmt: skip


_FEEDBACK_KIND = {
    pb.FEEDBACK_KIND_THUMBS_UP: "thumbs_up",
    pb.FEEDBACK_KIND_THUMBS_DOWN: "thumbs_down",
    pb.FEEDBACK_KIND_REGENERATE: "regenerate",
    pb.FEEDBACK_KIND_SCORE: validate.FEEDBACK_SCORE,
}


def feedback(request: pb.FeedbackRequest) -> tuple[str, float]:
    """(request id, quality in [0, 1]) of a Feedback call."""
    kind = _FEEDBACK_KIND.get(request.kind, "")
    kinds = "THUMBS_UP, THUMBS_DOWN, REGENERATE or SCORE"
    return validate.feedback(request.request_id, kind, request.score, kinds)


def route_to_pb(route: RouteDecision) -> pb.RouteDecision:
    return pb.RouteDecision(
        tier=route.tier, provider=route.provider, model=route.model, policy=route.policy,
        reason=route.reason, score=route.score, variant=route.variant,
    )  # fmt: skip


def completion_response(result: CompletionResult, now: float) -> pb.CompleteResponse:
    response = pb.CompleteResponse(
        request_id=result.request_id,
        message=pb.Message(role=pb.ROLE_ASSISTANT, content=result.text),
        finish_reason=result.finish_reason, cache=cache_info(result.lookup, now),
        attempts=attempts_to_pb(result.attempts), usage=usage_to_pb(result.usage),
        cost_usd=result.cost_usd, baseline_cost_usd=result.baseline_cost_usd,
        degraded=result.degraded, degraded_reason=result.degraded_reason,
    )  # fmt: skip
    if result.served_by is not None:
        s = result.served_by
        response.served_by.CopyFrom(pb.ServedBy(provider=s.provider, model=s.model, tier=s.tier))
    if result.route is not None:
        response.route.CopyFrom(route_to_pb(result.route))
    if result.confidence is not None:
        response.confidence = result.confidence
    return response
