"""Anthropic Messages.

    POST {base_url}/v1/messages      x-api-key: <key>, anthropic-version: 2023-06-01
    stream: SSE message_start → content_block_* → message_delta (stop_reason, usage) → message_stop

System messages go to the top-level `system` field; `max_tokens` is required. Anthropic reports
cache reads apart from `input_tokens`; `Usage.input_tokens` counts every prompt token, cached or
not, as the other protocols do. There are no log-probabilities, and `json_schema` is not sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from sluice.providers._http import (
    ErrorInfo,
    HttpProvider,
    IncompleteStream,
    InStreamError,
    SseEvent,
    as_dict,
    as_int,
    as_list,
    as_str,
    generic_error_info,
    load_json,
)
from sluice.types import Completion, ProviderRequest, StreamEvent, Usage

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
API_VERSION: Final = "2023-06-01"
DEFAULT_MAX_TOKENS: Final = 1024

_STOP_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# Error types and the status they come with; in-stream `error` events carry only the type.
_ERROR_STATUS: Final = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicCodec:
    base_headers: Mapping[str, str] = {"anthropic-version": API_VERSION}

    def url(self, base_url: str, request: ProviderRequest, *, stream: bool) -> str:
        return f"{base_url}/v1/messages"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key}

    def body(self, request: ProviderRequest, *, stream: bool) -> dict[str, Any]:
        params = request.params
        system = [message.content for message in request.messages if message.role == "system"]
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [
                # No tool_use ids to pair with, so a tool result travels as user text.
                {"role": "assistant" if message.role == "assistant" else "user", "content": text}
                for message in request.messages
                if message.role != "system" and (text := message.content)
            ],
        }
        if system:
            body["system"] = "\n\n".join(system)
        if params.temperature is not None:
            body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.stop:
            body["stop_sequences"] = list(params.stop)
        if stream:
            body["stream"] = True
        return body

    def parse_completion(self, payload: object, request: ProviderRequest) -> Completion:
        reply = as_dict(payload, "reply")
        text = "".join(
            as_str(block.get("text"), "content[].text")
            for block in (
                as_dict(item, "content[]") for item in as_list(reply["content"], "content")
            )
            if block.get("type") == "text"
        )
        return Completion(
            text=text,
            finish_reason=stop_reason(reply.get("stop_reason")),
            usage=parse_usage(as_dict(reply.get("usage"), "usage")),
            model=request.model,
        )

    def stream_decoder(self, request: ProviderRequest) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder()

    def parse_error(self, payload: object) -> ErrorInfo:
        info = generic_error_info(payload)
        return dataclasses.replace(info, status=info.status or _ERROR_STATUS.get(info.type))


class AnthropicStreamDecoder:
    def __init__(self) -> None:
        self.done = False
        self._stop_reason: object = None
        self._usage: dict[str, Any] = {}

    def feed(self, event: SseEvent) -> list[StreamEvent]:
        data = as_dict(load_json(event.data, "stream event"), "stream event")
        kind = data.get("type") or event.event
        if kind == "content_block_delta":
            delta = as_dict(data.get("delta"), "content_block_delta.delta")
            text = as_str(delta.get("text"), "text_delta.text")
            return [StreamEvent(delta=text)] if delta.get("type") == "text_delta" and text else []
        if kind == "message_start":
            message = as_dict(data.get("message"), "message_start.message")
            self._usage.update(as_dict(message.get("usage") or {}, "message.usage"))
        elif kind == "message_delta":
            delta = as_dict(data.get("delta") or {}, "message_delta.delta")
            self._stop_reason = delta.get("stop_reason") or self._stop_reason
            # Counts here are cumulative and replace those from message_start.
            self._usage.update(as_dict(data.get("usage") or {}, "message_delta.usage"))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise InStreamError(AnthropicCodec().parse_error(data))
        return []  # ping, content_block_start/stop, and event types added later

    def finish(self) -> StreamEvent:
        if not self.done:
            raise IncompleteStream("stream ended before message_stop")
        return StreamEvent(
            finish_reason=stop_reason(self._stop_reason),
            usage=parse_usage(self._usage),
            done=True,
        )


def stop_reason(value: object) -> str:
    reason = as_str(value, "stop_reason")
    return _STOP_REASONS.get(reason, reason or "stop")


def parse_usage(usage: Mapping[str, Any]) -> Usage:
    cached = as_int(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
    written = as_int(usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens")
    return Usage(
        input_tokens=as_int(usage.get("input_tokens"), "usage.input_tokens") + cached + written,
        output_tokens=as_int(usage.get("output_tokens"), "usage.output_tokens"),
        cached_input_tokens=cached,
    )


class AnthropicProvider(HttpProvider):
    """Anthropic Messages API."""

    codec_type = AnthropicCodec
    default_name = "anthropic"
    default_base_url = DEFAULT_BASE_URL
