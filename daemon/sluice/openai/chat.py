"""`POST /v1/chat/completions` bodies → a CompletionRequest, checked field by field.

What the pipeline cannot carry is refused with 400, never dropped in silence:
tools and function calling (GenParams has no tools yet), n > 1, log-probabilities,
penalties, logit bias, audio, predictions. Fields that do not change the answer
(`user`, `metadata`, `store`, `service_tier`, …) are accepted; `user` is kept as
the request's user id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from sluice import validate
from sluice.config import Settings
from sluice.errors import InvalidArgument
from sluice.openai.controls import Controls, parse_controls
from sluice.openai.errors import UnknownModel
from sluice.openai.fields import optional, renamed, str_list, typed
from sluice.pipeline import CompletionRequest
from sluice.routing.fixed import RoutingHints
from sluice.types import ChatMessage, GenParams, Role

# The virtual model that means "route for me": cache, routing, cascade, fallback.
AUTO_MODEL: Final = "sluice-auto"

TOOLS_UNSUPPORTED: Final = (
    "tools and function calling are not supported yet: Sluice's pipeline cannot carry tool "
    "definitions or tool calls, and it will not drop them silently; send the request without "
    "them, or call the provider directly"
)
_TOOL_FIELDS: Final = frozenset({"tools", "tool_choice", "functions", "function_call"})
_HANDLED: Final = frozenset({
    "model", "messages", "stream", "stream_options", "n", "temperature", "top_p", "max_tokens",
    "max_completion_tokens", "stop", "seed", "response_format", "user", "sluice",
})  # fmt: skip
# They do not change the answer.
_IGNORED: Final = frozenset({
    "metadata", "store", "service_tier", "parallel_tool_calls", "prompt_cache_key",
    "prompt_cache_retention", "safety_identifier",
})  # fmt: skip
# Accepted only at their no-op value: any other changes the answer in a way we cannot carry.
_NEUTRAL_ONLY: Final = frozenset({
    "frequency_penalty", "presence_penalty", "logit_bias", "logprobs", "top_logprobs",
    "modalities", "audio", "prediction", "reasoning_effort", "verbosity", "web_search_options",
})  # fmt: skip
_NEUTRAL: Final[tuple[object, ...]] = (None, False, 0, {}, [], ["text"], "none")
_ROLES: Final[Mapping[str, Role]] = {
    "system": "system",
    "developer": "system",  # OpenAI's newer name for the system prompt
    "user": "user",
    "assistant": "assistant",
}
_INT32_MAX: Final = 2**31 - 1
_INT64: Final = range(-(2**63), 2**63)


@dataclass(frozen=True, slots=True)
class ChatCall:
    request: CompletionRequest
    model: str  # as the caller named it
    stream: bool
    include_usage: bool


def parse_chat(
    body: object,
    headers: Mapping[str, str],
    settings: Settings,
    known_models: Sequence[str],
    now: float,
) -> ChatCall:
    """`known_models`: every configured model, cheapest tier first."""
    body = typed(body, "body", dict)
    _check_fields(body)
    model = typed(body.get("model"), "model", str)
    controls = parse_controls(body.get("sluice"), headers, settings.cascade.default_deadline_s, now)
    routing = _routing(model, controls, known_models)
    n = optional(body, "n", int)
    if n is not None and n != 1:
        raise InvalidArgument("n", f"{n}: only n=1 is supported; send n calls instead")
    stream = bool(optional(body, "stream", bool))
    stream_options = optional(body, "stream_options", dict)
    if stream_options is not None and not stream:
        raise InvalidArgument("stream_options", "only allowed when stream is true")
    include_usage = bool(optional(stream_options or {}, "include_usage", bool, "stream_options."))
    request = CompletionRequest(
        namespace=controls.namespace,
        messages=_messages(body.get("messages"), settings),
        params=_params(body),
        deadline=controls.deadline,
        request_id=controls.request_id,
        user_id=(optional(body, "user", str) or "")[:128],
        skip_read=controls.skip_read,
        skip_write=controls.skip_write,
        ttl_s=controls.ttl_s,
        threshold=controls.threshold,
        store_nondeterministic=controls.store_nondeterministic,
        routing=routing,
    )
    return ChatCall(request, model, stream, include_usage)


def _check_fields(body: Mapping[str, object]) -> None:
    for key, value in body.items():
        if key in _TOOL_FIELDS:
            if value not in _NEUTRAL:
                raise InvalidArgument(key, TOOLS_UNSUPPORTED)
        elif key in _NEUTRAL_ONLY:
            if value not in _NEUTRAL:
                raise InvalidArgument(key, "not supported by Sluice; remove it")
        elif key not in _HANDLED and key not in _IGNORED:
            raise InvalidArgument(
                key, "unknown field; Sluice's own controls go in the `sluice` object"
            )


def _routing(model: str, controls: Controls, known: Sequence[str]) -> RoutingHints:
    """`sluice-auto` routes; a configured model name pins that model."""
    hinted = controls.routing.pinned_model
    if model != AUTO_MODEL and model not in known:
        raise UnknownModel("model", model, [AUTO_MODEL, *known])
    if hinted and hinted not in known:
        raise UnknownModel(controls.pinned_field, hinted, list(known))
    if model == AUTO_MODEL:
        return controls.routing
    if hinted and hinted != model:
        raise InvalidArgument(
            "model", f"{model!r} differs from {controls.pinned_field} {hinted!r}: name one model, "
            f"or use {AUTO_MODEL!r} with the pin"
        )  # fmt: skip
    return replace(controls.routing, pinned_model=model)


def _messages(value: object, settings: Settings) -> tuple[ChatMessage, ...]:
    items = typed(value, "messages", list)
    out = []
    for i, item in enumerate(items):
        field = f"messages[{i}]"
        message = typed(item, field, dict)
        role = message.get("role")
        if (
            role in ("tool", "function")
            or message.get("tool_calls")
            or message.get("function_call")
        ):
            raise InvalidArgument(field, TOOLS_UNSUPPORTED)
        mapped = _ROLES.get(role) if isinstance(role, str) else None  # [] is not hashable
        if mapped is None:
            raise InvalidArgument(
                f"{field}.role", f"{str(role)[:32]!r}: use system, developer, user or assistant"
            )
        content = _content(message.get("content"), f"{field}.content", role == "assistant")
        name = optional(message, "name", str, f"{field}.") or ""
        out.append(ChatMessage(role=mapped, content=content, name=name[:64]))
    # The checks the gRPC front makes too (limits, the last message is the user's question),
    # naming the same fields.
    return validate.messages(out, settings.limits)


def _content(value: object, field: str, may_be_null: bool) -> str:
    """A string, or an array of text parts (joined as they are)."""
    if value is None and may_be_null:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise InvalidArgument(field, "must be a string or an array of text parts")
    parts: list[object] = value
    texts = []
    for i, item in enumerate(parts):
        part = typed(item, f"{field}[{i}]", dict)
        if part.get("type") != "text":
            raise InvalidArgument(
                f"{field}[{i}].type",
                f"{str(part.get('type'))[:32]!r}: only text parts are supported",
            )
        texts.append(typed(part.get("text"), f"{field}[{i}].text", str))
    return "".join(texts)


def _params(body: Mapping[str, object]) -> GenParams:
    stop, json_schema = _stop(body.get("stop")), _json_schema(body)
    temperature = optional(body, "temperature", float)
    top_p = optional(body, "top_p", float)
    max_tokens = _max_tokens(body)
    seed = optional(body, "seed", int)
    if seed is not None and seed not in _INT64:
        raise InvalidArgument("seed", "must fit in 64 bits")
    with renamed("params.", ""):
        return validate.params(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed,
            json_schema=json_schema,
        )  # fmt: skip


def _max_tokens(body: Mapping[str, object]) -> int | None:
    legacy = optional(body, "max_tokens", int)
    current = optional(body, "max_completion_tokens", int)
    if legacy is not None and current is not None and legacy != current:
        raise InvalidArgument("max_completion_tokens", "differs from max_tokens; send one of them")
    chosen = current if current is not None else legacy
    if chosen is not None and chosen > _INT32_MAX:
        raise InvalidArgument("max_tokens", f"at most {_INT32_MAX}")
    return chosen


def _stop(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return str_list(value, "stop")


def _json_schema(body: Mapping[str, object]) -> str:
    """`response_format` as GenParams.json_schema (canonical JSON text: it is part of the key)."""
    fmt = optional(body, "response_format", dict)
    if fmt is None or fmt.get("type") == "text":
        return ""
    if fmt.get("type") == "json_object":
        schema: object = {"type": "object"}
    elif fmt.get("type") == "json_schema":
        spec = typed(fmt.get("json_schema"), "response_format.json_schema", dict)
        schema = optional(spec, "schema", dict, "response_format.json_schema.") or {}
    else:
        raise InvalidArgument(
            "response_format.type",
            f"{str(fmt.get('type'))[:32]!r}: use text, json_object or json_schema",
        )
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))
