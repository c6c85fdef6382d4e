"""Google Gemini (Generative Language API).

    POST {base_url}/v1beta/models/{model}:generateContent               x-goog-api-key: <key>
    POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse
    stream: SSE `data:` chunks, each a whole GenerateContentResponse; there is no terminal event,
            so a stream is complete only if its last chunk carried a finishReason.

Gemini answers a bad key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID) and puts the retry
delay of a 429 in the body (google.rpc.RetryInfo); both are read here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from sluice.providers._http import (
    ErrorInfo,
    HttpProvider,
    IncompleteStream,
    InStreamError,
    SseEvent,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    generic_error_info,
    load_json,
    parse_json_schema,
)
from sluice.types import Completion, GenParams, ProviderRequest, StreamEvent, Usage

DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com"

_FINISH_REASONS: Final = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}
_RETRY_DELAY: Final = re.compile(r"^(\d+(?:\.\d+)?)s$")


class GeminiCodec:
    base_headers: Mapping[str, str] = {}

    def url(self, base_url: str, request: ProviderRequest, *, stream: bool) -> str:
        model = quote(request.model.removeprefix("models/"), safe="")
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{base_url}/v1beta/models/{model}:{action}"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    def body(self, request: ProviderRequest, *, stream: bool) -> dict[str, Any]:
        system = [message.content for message in request.messages if message.role == "system"]
        body: dict[str, Any] = {
            "contents": [
                {
                    "role": "model" if message.role == "assistant" else "user",
                    "parts": [{"text": message.content}],
                }
                for message in request.messages
                if message.role != "system"
            ]
        }
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        config = _generation_config(request.params)
        if request.logprobs:
            config["responseLogprobs"] = True
        if config:
            body["generationConfig"] = config
        return body

    def parse_completion(self, payload: object, request: ProviderRequest) -> Completion:
        chunk = parse_chunk(payload, want_logprobs=request.logprobs)
        return Completion(
            text=chunk.text,
            finish_reason=chunk.finish_reason or "stop",
            usage=chunk.usage or Usage(),
            model=request.model,
            logprobs=chunk.logprobs if request.logprobs else None,
        )

    def stream_decoder(self, request: ProviderRequest) -> GeminiStreamDecoder:
        return GeminiStreamDecoder(want_logprobs=request.logprobs)

    def parse_error(self, payload: object) -> ErrorInfo:
        info = generic_error_info(payload)
        error = _error_object(payload)
        retry_after: float | None = None
        api_key_invalid = False
        for detail in error.get("details") or ():
            if not isinstance(detail, dict):
                continue
            api_key_invalid |= detail.get("reason") == "API_KEY_INVALID"
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and (match := _RETRY_DELAY.match(delay)):
                retry_after = float(match.group(1))
        return dataclasses.replace(info, auth=api_key_invalid, retry_after=retry_after)


@dataclasses.dataclass(frozen=True, slots=True)
class GeminiChunk:
    """What one GenerateContentResponse says."""

    text: str
    finish_reason: str  # "" while the stream goes on
    usage: Usage | None
    logprobs: tuple[float, ...] | None


def parse_chunk(payload: object, *, want_logprobs: bool) -> GeminiChunk:
    reply = as_dict(payload, "reply")
    if reply.get("error") is not None:
        raise InStreamError(GeminiCodec().parse_error(reply))
    usage = _usage(reply["usageMetadata"]) if reply.get("usageMetadata") else None
    candidates = as_list(reply.get("candidates") or [], "candidates")
    if not candidates:
        feedback = as_dict(reply.get("promptFeedback") or {}, "promptFeedback")
        blocked = "content_filter" if feedback.get("blockReason") else ""
        return GeminiChunk("", blocked, usage, None)
    candidate = as_dict(candidates[0], "candidates[0]")
    content = as_dict(candidate.get("content") or {}, "candidates[0].content")
    text = "".join(
        as_str(part.get("text"), "parts[].text")
        for part in (
            as_dict(item, "parts[]") for item in as_list(content.get("parts") or [], "parts")
        )
        if not part.get("thought")
    )
    reason = as_str(candidate.get("finishReason"), "finishReason")
    finish = _FINISH_REASONS.get(reason, reason.lower()) if reason else ""
    logprobs = _logprobs(candidate.get("logprobsResult")) if want_logprobs else None
    return GeminiChunk(text, finish, usage, logprobs)


class GeminiStreamDecoder:
    # No terminal event: read to the end of the body, then check a finishReason came.
    done = False

    def __init__(self, *, want_logprobs: bool) -> None:
        self._want_logprobs = want_logprobs
        self._finish_reason = ""
        self._usage = Usage()

    def feed(self, event: SseEvent) -> list[StreamEvent]:
        chunk = parse_chunk(
            load_json(event.data, "stream chunk"), want_logprobs=self._want_logprobs
        )
        self._finish_reason = chunk.finish_reason or self._finish_reason
        self._usage = chunk.usage or self._usage  # each chunk repeats the running totals
        if chunk.text or chunk.logprobs:
            return [StreamEvent(delta=chunk.text, logprobs=chunk.logprobs or ())]
        return []

    def finish(self) -> StreamEvent:
        if not self._finish_reason:
            raise IncompleteStream("stream ended before a chunk with finishReason")
        return StreamEvent(finish_reason=self._finish_reason, usage=self._usage, done=True)


def _generation_config(params: GenParams) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if params.temperature is not None:
        config["temperature"] = params.temperature
    if params.top_p is not None:
        config["topP"] = params.top_p
    if params.max_tokens is not None:
        config["maxOutputTokens"] = params.max_tokens
    if params.stop:
        config["stopSequences"] = list(params.stop)
    if params.seed is not None:
        config["seed"] = params.seed
    if params.json_schema:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = parse_json_schema(params.json_schema)
    return config


def _usage(value: object) -> Usage:
    usage = as_dict(value, "usageMetadata")
    return Usage(
        input_tokens=as_int(usage.get("promptTokenCount"), "promptTokenCount"),
        # Thinking tokens are billed as output.
        output_tokens=as_int(usage.get("candidatesTokenCount"), "candidatesTokenCount")
        + as_int(usage.get("thoughtsTokenCount"), "thoughtsTokenCount"),
        cached_input_tokens=as_int(usage.get("cachedContentTokenCount"), "cachedContentTokenCount"),
    )


def _logprobs(value: object) -> tuple[float, ...] | None:
    """`logprobsResult.chosenCandidates[*].logProbability`; None when absent."""
    if value is None:
        return None
    chosen = as_dict(value, "logprobsResult").get("chosenCandidates") or []
    return tuple(
        as_float(as_dict(item, "chosenCandidates[]").get("logProbability"), "logProbability")
        for item in as_list(chosen, "chosenCandidates")
    )


def _error_object(payload: object) -> dict[str, Any]:
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


class GeminiProvider(HttpProvider):
    """Google Gemini over the Generative Language API (v1beta)."""

    codec_type = GeminiCodec
    default_name = "gemini"
    default_base_url = DEFAULT_BASE_URL
