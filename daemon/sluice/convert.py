"""Protobuf ↔ domain values, with the input checks that name the field to fix.

Only the service imports this module; nothing below the service sees protobuf.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from sluice import jsontext
from sluice.cache import expiry
from sluice.cache.entry import Entry
from sluice.cache.store import CacheCounts, LookupResult
from sluice.cascade.types import Attempt, AttemptOutcome
from sluice.config import LimitSettings
from sluice.errors import InvalidArgument, TooLarge
from sluice.namespaces import DEFAULT_NAMESPACE, is_namespace
from sluice.namespaces import RULE as NAMESPACE_RULE
from sluice.pipeline import CompletionRequest, CompletionResult
from sluice.routing.fixed import RouteDecision, RoutingHints
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
    texts = list(request.texts)
    if not texts:
        raise InvalidArgument("texts", "at least one text is required")
    if len(texts) > limits.max_texts_per_embed:
        raise TooLarge(
            f"texts: {len(texts)} texts in one call; the limit is "
            f"{limits.max_texts_per_embed}, split the request"
        )
    for i, text in enumerate(texts):
        _check_text(f"texts[{i}]", text, limits.max_text_bytes)
    return texts


def _check_text(field: str, text: str, max_bytes: int) -> None:
    if not text.strip():
        raise InvalidArgument(field, "must not be empty or only white space")
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise TooLarge(
            f"{field}: {size} bytes; the limit is {max_bytes} bytes per text, shorten or split it"
        )


def namespace(value: str, field: str = "namespace") -> str:
    if not value:
        return DEFAULT_NAMESPACE
    if not is_namespace(value):
        raise InvalidArgument(field, f"{value[:80]!r} is not allowed: {NAMESPACE_RULE}")
    return value


def messages(
    items: Sequence[pb.Message], limits: LimitSettings, field: str = "messages"
) -> tuple[ChatMessage, ...]:
    """A conversation whose last message is the user's question."""
    if not items:
        raise InvalidArgument(field, "at least one message is required")
    if len(items) > limits.max_messages:
        raise TooLarge(f"{field}: {len(items)} messages; the limit is {limits.max_messages}")
    out: list[ChatMessage] = []
    total = 0
    for i, item in enumerate(items):
        role = _ROLES.get(item.role)
        if role is None:
            raise InvalidArgument(
                f"{field}[{i}].role",
                f"unknown role {item.role}; use ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT "
                "or ROLE_TOOL",
            )
        total += len(item.content.encode("utf-8"))
        out.append(ChatMessage(role=role, content=item.content, name=item.name))
    if total > limits.max_prompt_bytes:
        raise TooLarge(
            f"{field}: {total} bytes in all; the limit is {limits.max_prompt_bytes} bytes"
        )
    if out[-1].role != "user":
        raise InvalidArgument(f"{field}[{len(out) - 1}].role", "the last message must be ROLE_USER")
    if not out[-1].content.strip():
        raise InvalidArgument(f"{field}[{len(out) - 1}].content", "the question must not be empty")
    return tuple(out)


def params(value: pb.Params, field: str = "params") -> GenParams:
    temperature = value.temperature if value.HasField("temperature") else None
    if temperature is not None and not (0.0 <= temperature <= 2.0):
        raise InvalidArgument(f"{field}.temperature", f"{temperature} is outside [0, 2]")
    top_p = value.top_p if value.HasField("top_p") else None
    if top_p is not None and not (0.0 < top_p <= 1.0):
        raise InvalidArgument(f"{field}.top_p", f"{top_p} is outside (0, 1]")
    max_tokens = value.max_tokens if value.HasField("max_tokens") else None
    if max_tokens is not None and max_tokens <= 0:
        raise InvalidArgument(f"{field}.max_tokens", "must be positive")
    if len(value.stop) > 4:
        raise InvalidArgument(f"{field}.stop", "at most 4 stop sequences")
    if value.json_schema:
        _check_json_schema(value.json_schema, f"{field}.json_schema")
    return GenParams(
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        stop=tuple(value.stop),
        seed=value.seed if value.HasField("seed") else None,
        json_schema=value.json_schema,
    )


def _check_json_schema(text: str, field: str) -> None:
    """Parsed here once, so no later step (providers, the confidence check) meets a schema
    too deep for recursion or one that is not an object."""
    if not isinstance(jsontext.loads(text, field), dict):
        raise InvalidArgument(field, "must be a JSON object (a JSON schema)")


def threshold(value: float, field: str) -> float:
    if math.isnan(value) or not (0.0 < value <= 1.0):
        raise InvalidArgument(field, f"{value} is outside (0, 1]")
    return value


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
    if value.max_cost_usd < 0 or math.isnan(value.max_cost_usd):
        raise InvalidArgument(f"{field}.max_cost_usd", "must not be negative")
    if len(value.task_tags) > 32:
        raise InvalidArgument(f"{field}.task_tags", "at most 32 tags")
    return RoutingHints(
        task_tags=tuple(t[:64] for t in value.task_tags),
        max_cost_usd=value.max_cost_usd or None,
        pinned_model=value.pinned_model[:128],
        start_tier=value.start_tier[:64],
    )


def request_id(value: str) -> str:
    """The caller's id, or a new one (so errors and logs can name the request)."""
    if len(value) > 128:
        raise InvalidArgument("request_id", "at most 128 characters")
    return value or uuid.uuid4().hex


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


_FEEDBACK_QUALITY = {
    pb.FEEDBACK_KIND_THUMBS_UP: 1.0,
    pb.FEEDBACK_KIND_THUMBS_DOWN: 0.0,
    pb.FEEDBACK_KIND_REGENERATE: 0.0,  # the first answer was not good enough
}


def feedback(request: pb.FeedbackRequest) -> tuple[str, float]:
    """(request id, quality in [0, 1]) of a Feedback call."""
    if not request.request_id:
        raise InvalidArgument("request_id", "must not be empty")
    if len(request.request_id) > 128:
        raise InvalidArgument("request_id", "at most 128 characters")
    if request.kind == pb.FEEDBACK_KIND_SCORE:
        if math.isnan(request.score) or not 0.0 <= request.score <= 1.0:
            raise InvalidArgument("score", f"{request.score} is outside [0, 1]")
        return request.request_id, request.score
    if request.kind not in _FEEDBACK_QUALITY:
        raise InvalidArgument("kind", "set THUMBS_UP, THUMBS_DOWN, REGENERATE or SCORE")
    return request.request_id, _FEEDBACK_QUALITY[request.kind]


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
