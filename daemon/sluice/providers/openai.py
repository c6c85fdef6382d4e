"""OpenAI Chat Completions, and every server that speaks it (vLLM, llama.cpp, Ollama, …).

POST {base_url}/chat/completions      Authorization: Bearer <key>
stream: SSE `data:` chunks, the last one with `usage` (stream_options.include_usage),
        then `data: [DONE]`
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sluice.providers._http import (
    ErrorInfo,
    HttpProvider,
    IncompleteStream,
    InStreamError,
    SseEvent,
    WireFormatError,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    generic_error_info,
    load_json,
    parse_json_schema,
)
from sluice.types import ChatMessage, Completion, GenParams, ProviderRequest, StreamEvent, Usage

DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"


class OpenAICodec:
    base_headers: Mapping[str, str] = {}

    def url(self, base_url: str, request: ProviderRequest, *, stream: bool) -> str:
        return f"{base_url}/chat/completions"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def body(self, request: ProviderRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(message) for message in request.messages],
            **_params(request.params),
        }
        if request.logprobs:
            body["logprobs"] = True
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def parse_completion(self, payload: object, request: ProviderRequest) -> Completion:
        reply = as_dict(payload, "reply")
        choices = as_list(reply.get("choices"), "choices")
        if not choices:
            raise WireFormatError("reply has no choices")
        choice = as_dict(choices[0], "choices[0]")
        message = as_dict(choice.get("message"), "choices[0].message")
        return Completion(
            text=as_str(message.get("content"), "message.content"),
            finish_reason=as_str(choice.get("finish_reason"), "finish_reason") or "stop",
            usage=parse_usage(reply.get("usage")),
            model=request.model,
            logprobs=parse_logprobs(choice.get("logprobs")) if request.logprobs else None,
        )

    def stream_decoder(self, request: ProviderRequest) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(want_logprobs=request.logprobs)

    def parse_error(self, payload: object) -> ErrorInfo:
        return generic_error_info(payload)


class OpenAIStreamDecoder:
    def __init__(self, *, want_logprobs: bool) -> None:
        self.done = False
        self._want_logprobs = want_logprobs
        self._finish_reason = ""
        self._usage = Usage()

    def feed(self, event: SseEvent) -> list[StreamEvent]:
        if event.data.strip() == "[DONE]":
            self.done = True
            return []
        chunk = as_dict(load_json(event.data, "stream chunk"), "stream chunk")
        if chunk.get("error") is not None:
            raise InStreamError(generic_error_info(chunk))
        if chunk.get("usage") is not None:
            self._usage = parse_usage(chunk["usage"])
        choices = as_list(chunk.get("choices") or [], "choices")
        if not choices:
            return []
        choice = as_dict(choices[0], "choices[0]")
        if choice.get("finish_reason"):
            self._finish_reason = as_str(choice["finish_reason"], "finish_reason")
        delta = as_dict(choice.get("delta") or {}, "choices[0].delta")
        text = as_str(delta.get("content"), "delta.content")
        logprobs = (parse_logprobs(choice.get("logprobs")) or ()) if self._want_logprobs else ()
        return [StreamEvent(delta=text, logprobs=logprobs)] if text or logprobs else []

    def finish(self) -> StreamEvent:
        if not self.done:
            raise IncompleteStream("stream ended before data: [DONE]")
        return StreamEvent(
            finish_reason=self._finish_reason or "stop", usage=self._usage, done=True
        )


def _message(message: ChatMessage) -> dict[str, str]:
    wire = {"role": message.role, "content": message.content}
    if message.name:
        wire["name"] = message.name
    return wire


def _params(params: GenParams) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if params.temperature is not None:
        wire["temperature"] = params.temperature
    if params.top_p is not None:
        wire["top_p"] = params.top_p
    if params.max_tokens is not None:
        wire["max_tokens"] = params.max_tokens
    if params.stop:
        wire["stop"] = list(params.stop)
    if params.seed is not None:
        wire["seed"] = params.seed
    if params.json_schema:
        wire["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": parse_json_schema(params.json_schema)},
        }
    return wire


def parse_usage(value: object) -> Usage:
    if value is None:
        return Usage()
    usage = as_dict(value, "usage")
    details = as_dict(usage.get("prompt_tokens_details") or {}, "usage.prompt_tokens_details")
    return Usage(
        input_tokens=as_int(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=as_int(usage.get("completion_tokens"), "usage.completion_tokens"),
        cached_input_tokens=as_int(details.get("cached_tokens"), "cached_tokens"),
    )


def parse_logprobs(value: object) -> tuple[float, ...] | None:
    """`choices[0].logprobs.content[*].logprob`; None when the server sent none."""
    if value is None:
        return None
    content = as_dict(value, "logprobs").get("content")
    if content is None:
        return None
    return tuple(
        as_float(as_dict(item, "logprobs.content[]").get("logprob"), "logprob")
        for item in as_list(content, "logprobs.content")
    )


class OpenAIProvider(HttpProvider):
    """OpenAI Chat Completions; any compatible server via `base_url`."""

    codec_type = OpenAICodec
    default_name = "openai"
    default_base_url = DEFAULT_BASE_URL
