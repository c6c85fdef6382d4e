"""Input checks on plain values, shared by the gRPC front (convert.py) and the HTTP one (openai/).

Each check names the field to fix (`InvalidArgument.field`, a dotted path) or says which
limit was hit (`TooLarge`); neither knows protobuf or JSON. Each front parses its own wire
format into plain values and calls these, so both fronts refuse the same inputs with the
same words. A front that spells a field differently renames it (openai.fields.renamed).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

from sluice import jsontext
from sluice.config import LimitSettings
from sluice.errors import InvalidArgument, TooLarge
from sluice.namespaces import DEFAULT_NAMESPACE, is_namespace
from sluice.namespaces import RULE as NAMESPACE_RULE
from sluice.routing.fixed import RoutingHints
from sluice.types import ChatMessage, GenParams

MAX_STOP = 4
MAX_TASK_TAGS = 32


def embed_texts(texts: Sequence[str], limits: LimitSettings, field: str = "texts") -> list[str]:
    if not texts:
        raise InvalidArgument(field, "at least one text is required")
    if len(texts) > limits.max_texts_per_embed:
        raise TooLarge(
            f"{field}: {len(texts)} texts in one call; the limit is "
            f"{limits.max_texts_per_embed}, split the request"
        )
    for i, text in enumerate(texts):
        _check_text(f"{field}[{i}]", text, limits.max_text_bytes)
    return list(texts)


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


def message_count(count: int, limits: LimitSettings, field: str = "messages") -> None:
    """Checked before anything else about the messages, so a huge list costs nothing more."""
    if not count:
        raise InvalidArgument(field, "at least one message is required")
    if count > limits.max_messages:
        raise TooLarge(f"{field}: {count} messages; the limit is {limits.max_messages}")


def messages(
    items: Sequence[ChatMessage], limits: LimitSettings, field: str = "messages"
) -> tuple[ChatMessage, ...]:
    """A conversation whose last message is the user's question (roles already mapped)."""
    message_count(len(items), limits, field)
    total = sum(len(item.content.encode("utf-8")) for item in items)
    if total > limits.max_prompt_bytes:
        raise TooLarge(
            f"{field}: {total} bytes in all; the limit is {limits.max_prompt_bytes} bytes"
        )
    last = len(items) - 1
    if items[last].role != "user":
        raise InvalidArgument(
            f"{field}[{last}].role",
            'the last message must be the user\'s question (ROLE_USER; "user" on the HTTP front)',
        )
    if not items[last].content.strip():
        raise InvalidArgument(f"{field}[{last}].content", "the question must not be empty")
    return tuple(items)


def params(
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    stop: Sequence[str] = (),
    seed: int | None = None,
    json_schema: str = "",
    field: str = "params",
) -> GenParams:
    if temperature is not None and not (0.0 <= temperature <= 2.0):
        raise InvalidArgument(f"{field}.temperature", f"{temperature} is outside [0, 2]")
    if top_p is not None and not (0.0 < top_p <= 1.0):
        raise InvalidArgument(f"{field}.top_p", f"{top_p} is outside (0, 1]")
    if max_tokens is not None and max_tokens <= 0:
        raise InvalidArgument(f"{field}.max_tokens", "must be positive")
    if len(stop) > MAX_STOP:
        raise InvalidArgument(f"{field}.stop", f"at most {MAX_STOP} stop sequences")
    if json_schema:
        _check_json_schema(json_schema, f"{field}.json_schema")
    return GenParams(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=tuple(stop),
        seed=seed, json_schema=json_schema,
    )  # fmt: skip


def _check_json_schema(text: str, field: str) -> None:
    """Parsed here once, so no later step (providers, the confidence check) meets a schema
    too deep for recursion or one that is not an object."""
    if not isinstance(jsontext.loads(text, field), dict):
        raise InvalidArgument(field, "must be a JSON object (a JSON schema)")


def threshold(value: float, field: str) -> float:
    if math.isnan(value) or not (0.0 < value <= 1.0):
        raise InvalidArgument(field, f"{value} is outside (0, 1]")
    return value


def request_id(value: str) -> str:
    """The caller's id, or a new one (so errors and logs can name the request)."""
    if len(value) > 128:
        raise InvalidArgument("request_id", "at most 128 characters")
    return value or uuid.uuid4().hex


# The quality each judgement kind stands for (Feedback): what a learned policy and the
# cache read. REGENERATE: the first answer was not good enough.
FEEDBACK_QUALITY = {"thumbs_up": 1.0, "thumbs_down": 0.0, "regenerate": 0.0}
FEEDBACK_SCORE = "score"


def feedback(judged: str, kind: str, score: float, kinds: str) -> tuple[str, float]:
    """(request id, quality in [0, 1]) of a judgement. `kind`: a FEEDBACK_QUALITY key or
    "score" (then `score` is the quality); `kinds`: how this front spells the kinds."""
    if not judged:
        raise InvalidArgument("request_id", "must not be empty")
    if len(judged) > 128:
        raise InvalidArgument("request_id", "at most 128 characters")
    if kind == FEEDBACK_SCORE:
        if math.isnan(score) or not 0.0 <= score <= 1.0:
            raise InvalidArgument("score", f"{score} is outside [0, 1]")
        return judged, score
    if kind not in FEEDBACK_QUALITY:
        raise InvalidArgument("kind", f"set {kinds}")
    return judged, FEEDBACK_QUALITY[kind]


def routing_hints(
    *,
    task_tags: Sequence[str] = (),
    max_cost_usd: float = 0.0,
    pinned_model: str = "",
    start_tier: str = "",
    field: str = "routing",
) -> RoutingHints:
    """`max_cost_usd` 0 means no per-request limit."""
    if max_cost_usd < 0 or math.isnan(max_cost_usd):
        raise InvalidArgument(f"{field}.max_cost_usd", "must not be negative")
    if len(task_tags) > MAX_TASK_TAGS:
        raise InvalidArgument(f"{field}.task_tags", f"at most {MAX_TASK_TAGS} tags")
    return RoutingHints(
        task_tags=tuple(t[:64] for t in task_tags),
        max_cost_usd=max_cost_usd or None,
        pinned_model=pinned_model[:128],
        start_tier=start_tier[:64],
    )
