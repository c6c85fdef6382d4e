"""The three wire formats as the real APIs write them: request parsing, replies, SSE, errors.

Written from the public API references, independently of `sluice.providers`, so a parsing bug
on one side is not mirrored on the other.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ErrorCase = Literal["rate_limit", "server", "unauthorized", "context_length", "bad_request"]


class BadRequest(ValueError):
    """The request body does not follow the protocol (answered with a 400)."""


@dataclass(frozen=True, slots=True)
class Ask:
    """What a request asks, whatever its protocol."""

    model: str
    stream: bool
    last_user_text: str
    prompt_tokens: int
    max_tokens: int | None
    logprobs: bool
    include_usage: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    tokens: tuple[str, ...]
    logprob: float  # every token gets this log-probability
    finish: Literal["stop", "length"]
    prompt_tokens: int
    cached_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass(frozen=True, slots=True)
class Frames:
    """A streamed reply in three parts, so a fault can cut it between body and tail."""

    head: tuple[bytes, ...]  # before any text
    body: tuple[bytes, ...]  # one frame per content chunk
    tail: tuple[bytes, ...]  # finish reason, usage and the terminal event


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def split_tokens(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\s*\S+", text))


def _sse(data: object, event: str | None = None, *, crlf: bool = False) -> bytes:
    end = "\r\n" if crlf else "\n"
    prefix = f"event: {event}{end}" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"{prefix}data: {payload}{end}{end}".encode()


def _texts(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and "text" in part
        )
    return ""


def _require(body: Mapping[str, Any], key: str) -> Any:
    if key not in body:
        raise BadRequest(f"{key}: field required")
    return body[key]


class WireFormat(Protocol):
    name: str

    def parse(self, body: Mapping[str, Any], path_model: str, path_stream: bool) -> Ask: ...

    def presented_key(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None: ...

    def completion(self, ask: Ask, answer: Answer) -> dict[str, Any]: ...

    def frames(self, ask: Ask, answer: Answer) -> Frames: ...

    def error(
        self, case: ErrorCase, status: int, message: str | None, retry_after_s: float | None
    ) -> tuple[int, dict[str, Any]]:
        """The status and body the real API sends for `case`."""
        ...


class OpenAIWire:
    name = "openai"

    def parse(self, body: Mapping[str, Any], path_model: str, path_stream: bool) -> Ask:
        messages = _require(body, "messages")
        users = [_texts(m.get("content")) for m in messages if m.get("role") == "user"]
        options = body.get("stream_options") or {}
        return Ask(
            model=str(_require(body, "model")),
            stream=bool(body.get("stream")),
            last_user_text=users[-1] if users else "",
            prompt_tokens=sum(count_tokens(_texts(m.get("content"))) + 3 for m in messages),
            max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
            logprobs=bool(body.get("logprobs")),
            include_usage=bool(options.get("include_usage")),
        )

    def presented_key(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        scheme, _, key = headers.get("Authorization", "").partition(" ")
        return key if scheme.lower() == "bearer" and key else None

    def _envelope(self, ask: Ask, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": kind,
            "created": int(time.time()),
            "model": ask.model,
            "system_fingerprint": "fp_fake",
        }

    def _usage(self, answer: Answer) -> dict[str, Any]:
        completion = len(answer.tokens)
        return {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": answer.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }

    def _logprobs(self, tokens: tuple[str, ...], logprob: float) -> dict[str, Any]:
        return {
            "content": [
                {"token": t, "logprob": logprob, "bytes": list(t.encode()), "top_logprobs": []}
                for t in tokens
            ],
            "refusal": None,
        }

    def completion(self, ask: Ask, answer: Answer) -> dict[str, Any]:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": answer.text, "refusal": None},
            "logprobs": self._logprobs(answer.tokens, answer.logprob) if ask.logprobs else None,
            "finish_reason": answer.finish,
        }
        return {
            **self._envelope(ask, "chat.completion"),
            "choices": [choice],
            "usage": self._usage(answer),
        }

    def frames(self, ask: Ask, answer: Answer) -> Frames:
        envelope = self._envelope(ask, "chat.completion.chunk")
        extra = {"usage": None} if ask.include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None, tokens: tuple[str, ...]) -> bytes:
            logprobs = self._logprobs(tokens, answer.logprob) if ask.logprobs and tokens else None
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            return _sse({**envelope, "choices": [choice], **extra})

        tail = [chunk({}, answer.finish, ())]
        if ask.include_usage:
            tail.append(_sse({**envelope, "choices": [], "usage": self._usage(answer)}))
        tail.append(_sse("[DONE]"))
        return Frames(
            head=(chunk({"role": "assistant", "content": "", "refusal": None}, None, ()),),
            body=tuple(chunk({"content": t}, None, (t,)) for t in answer.tokens),
            tail=tuple(tail),
        )

    def error(
        self, case: ErrorCase, status: int, message: str | None, retry_after_s: float | None
    ) -> tuple[int, dict[str, Any]]:
        kind, code, text = {
            "rate_limit": ("requests", "rate_limit_exceeded", "Rate limit reached for requests"),
            "unauthorized": (
                "invalid_request_error",
                "invalid_api_key",
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
            ),
            "context_length": (
                "invalid_request_error",
                "context_length_exceeded",
                "This model's maximum context length is 128000 tokens. However, your messages "
                "resulted in 131072 tokens. Please reduce the length of the messages.",
            ),
            "server": (
                "server_error",
                None,
                "The server had an error while processing your request. Sorry about that!",
            ),
            "bad_request": ("invalid_request_error", None, "Invalid request"),
        }[case]
        param = "messages" if case == "context_length" else None
        error = {"message": message or text, "type": kind, "param": param, "code": code}
        return status, {"error": error}


_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your per-minute rate limit."),
    529: ("overloaded_error", "Overloaded"),
}


class AnthropicWire:
    name = "anthropic"

    def parse(self, body: Mapping[str, Any], path_model: str, path_stream: bool) -> Ask:
        messages = _require(body, "messages")
        max_tokens = _require(body, "max_tokens")
        users = [_texts(m.get("content")) for m in messages if m.get("role") == "user"]
        system = _texts(body.get("system"))
        return Ask(
            model=str(_require(body, "model")),
            stream=bool(body.get("stream")),
            last_user_text=users[-1] if users else "",
            prompt_tokens=count_tokens(system)
            + sum(count_tokens(_texts(m.get("content"))) + 3 for m in messages),
            max_tokens=int(max_tokens),
            logprobs=False,
        )

    def presented_key(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        return headers.get("x-api-key")

    def _message(self, ask: Ask) -> dict[str, Any]:
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": ask.model,
        }

    def _usage(self, answer: Answer, output_tokens: int) -> dict[str, Any]:
        # Anthropic counts cache reads apart from input_tokens.
        return {
            "input_tokens": answer.prompt_tokens - answer.cached_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": answer.cached_tokens,
            "output_tokens": output_tokens,
        }

    def _stop_reason(self, answer: Answer) -> str:
        return "end_turn" if answer.finish == "stop" else "max_tokens"

    def completion(self, ask: Ask, answer: Answer) -> dict[str, Any]:
        return {
            **self._message(ask),
            "content": [{"type": "text", "text": answer.text}],
            "stop_reason": self._stop_reason(answer),
            "stop_sequence": None,
            "usage": self._usage(answer, len(answer.tokens)),
        }

    def frames(self, ask: Ask, answer: Answer) -> Frames:
        start = {
            **self._message(ask),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self._usage(answer, 1),
        }
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        return Frames(
            head=(
                _sse({"type": "message_start", "message": start}, "message_start"),
                _sse(block, "content_block_start"),
                _sse({"type": "ping"}, "ping"),
            ),
            body=tuple(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": t},
                    },
                    "content_block_delta",
                )
                for t in answer.tokens
            ),
            tail=(
                _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                _sse(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": self._stop_reason(answer), "stop_sequence": None},
                        "usage": {"output_tokens": len(answer.tokens)},
                    },
                    "message_delta",
                ),
                _sse({"type": "message_stop"}, "message_stop"),
            ),
        )

    def error(
        self, case: ErrorCase, status: int, message: str | None, retry_after_s: float | None
    ) -> tuple[int, dict[str, Any]]:
        if case == "context_length":
            kind, text = (
                "invalid_request_error",
                "prompt is too long: 210000 tokens > 200000 maximum",
            )
        else:
            kind, text = _ANTHROPIC_ERRORS.get(status, ("api_error", "Internal server error"))
        return status, {
            "type": "error",
            "error": {"type": kind, "message": message or text},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }


_GOOGLE_STATUS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission."),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
}


class GeminiWire:
    name = "gemini"

    def parse(self, body: Mapping[str, Any], path_model: str, path_stream: bool) -> Ask:
        contents = _require(body, "contents")
        texts = [
            (c.get("role", "user"), "".join(_texts(c.get("parts") or [])))
            for c in contents
            if isinstance(c, dict)
        ]
        users = [text for role, text in texts if role == "user"]
        system = _texts((body.get("systemInstruction") or {}).get("parts") or [])
        config = body.get("generationConfig") or {}
        return Ask(
            model=path_model,
            stream=path_stream,
            last_user_text=users[-1] if users else "",
            prompt_tokens=count_tokens(system) + sum(count_tokens(text) for _, text in texts),
            max_tokens=config.get("maxOutputTokens"),
            logprobs=bool(config.get("responseLogprobs")),
        )

    def presented_key(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        return headers.get("x-goog-api-key") or query.get("key")

    def _chunk(
        self, ask: Ask, answer: Answer, tokens: tuple[str, ...], done: int, finish: str | None
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": "".join(tokens)}], "role": "model"},
            "index": 0,
        }
        if finish:
            candidate["finishReason"] = finish
        if ask.logprobs:
            chosen = [{"token": t, "logProbability": answer.logprob} for t in tokens]
            candidate["logprobsResult"] = {
                "topCandidates": [{"candidates": [c]} for c in chosen],
                "chosenCandidates": chosen,
            }
            candidate["avgLogprobs"] = answer.logprob
        usage: dict[str, Any] = {
            "promptTokenCount": answer.prompt_tokens,
            "candidatesTokenCount": done,
            "totalTokenCount": answer.prompt_tokens + done,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": answer.prompt_tokens}],
        }
        if answer.cached_tokens:
            usage["cachedContentTokenCount"] = answer.cached_tokens
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": ask.model,
            "responseId": uuid.uuid4().hex[:22],
        }

    def _finish(self, answer: Answer) -> str:
        return "STOP" if answer.finish == "stop" else "MAX_TOKENS"

    def completion(self, ask: Ask, answer: Answer) -> dict[str, Any]:
        return self._chunk(ask, answer, answer.tokens, len(answer.tokens), self._finish(answer))

    def frames(self, ask: Ask, answer: Answer) -> Frames:
        # Gemini has no terminal event: the last chunk carries the last text and finishReason.
        *first, last = answer.tokens or ("",)
        body = tuple(
            _sse(self._chunk(ask, answer, (t,), i + 1, None), crlf=True)
            for i, t in enumerate(first)
        )
        final = self._chunk(
            ask, answer, (last,) if last else (), len(answer.tokens), self._finish(answer)
        )
        return Frames(head=(), body=body, tail=(_sse(final, crlf=True),))

    def error(
        self, case: ErrorCase, status: int, message: str | None, retry_after_s: float | None
    ) -> tuple[int, dict[str, Any]]:
        details: list[dict[str, Any]] = []
        if case == "unauthorized":
            # Google answers a bad key with 400, not 401.
            status, text = 400, "API key not valid. Please pass a valid API key."
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            )
        elif case == "context_length":
            text = (
                "The input token count (1200000) exceeds the maximum number of tokens "
                "allowed (1048576)."
            )
        else:
            text = _GOOGLE_STATUS.get(status, ("INTERNAL", "An internal error has occurred."))[1]
        if case == "rate_limit" and retry_after_s is not None:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after_s:g}s",
                }
            )
        code = _GOOGLE_STATUS.get(status, ("INTERNAL", ""))[0]
        error: dict[str, Any] = {"code": status, "message": message or text, "status": code}
        if details:
            error["details"] = details
        return status, {"error": error}


WIRE_FORMATS: dict[str, WireFormat] = {
    wire.name: wire for wire in (OpenAIWire(), AnthropicWire(), GeminiWire())
}
