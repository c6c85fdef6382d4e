"""The three codecs on canned wire payloads: request bodies, replies, stream events (no I/O)."""

from __future__ import annotations

import json

import pytest

from sluice.providers._http import (
    IncompleteStream,
    InStreamError,
    SseEvent,
    StreamDecoder,
    UnsupportedRequest,
    WireFormatError,
)
from sluice.providers.anthropic import AnthropicCodec
from sluice.providers.gemini import GeminiCodec
from sluice.providers.openai import OpenAICodec
from sluice.types import ChatMessage, GenParams, ProviderRequest, StreamEvent, Usage

REQUEST = ProviderRequest(
    model="m-1",
    messages=(
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", "Capital of France?"),
    ),
    params=GenParams(temperature=0.1, top_p=0.9, max_tokens=50, stop=("\n\n",), seed=3),
    logprobs=True,
)


def run(decoder: StreamDecoder, events: list[SseEvent]) -> list[StreamEvent]:
    out: list[StreamEvent] = []
    for event in events:
        out.extend(decoder.feed(event))
        if decoder.done:
            break
    return [*out, decoder.finish()]


def data(payload: object, event: str = "message") -> SseEvent:
    return SseEvent(payload if isinstance(payload, str) else json.dumps(payload), event)


# ---- OpenAI


def test_openai_body() -> None:
    body = OpenAICodec().body(REQUEST, stream=True)

    assert body == {
        "model": "m-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Capital of France?"},
        ],
        "temperature": 0.1,
        "top_p": 0.9,
        "max_tokens": 50,
        "stop": ["\n\n"],
        "seed": 3,
        "logprobs": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_openai_json_schema_becomes_response_format() -> None:
    request = ProviderRequest("m", (), GenParams(json_schema='{"type": "object"}'))

    body = OpenAICodec().body(request, stream=False)

    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}},
    }


def test_an_invalid_json_schema_is_unsupported() -> None:
    request = ProviderRequest("m", (), GenParams(json_schema="{nope"))

    with pytest.raises(UnsupportedRequest):
        OpenAICodec().body(request, stream=False)


OPENAI_REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "logprobs": {
                "content": [{"token": "Paris", "logprob": -0.01}, {"token": ".", "logprob": -0.2}]
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 2,
        "total_tokens": 22,
        "prompt_tokens_details": {"cached_tokens": 16},
    },
}


def test_openai_completion() -> None:
    completion = OpenAICodec().parse_completion(OPENAI_REPLY, REQUEST)

    assert completion.text == "Paris."
    assert completion.finish_reason == "stop"
    assert completion.usage == Usage(20, 2, 16)
    assert completion.logprobs == (-0.01, -0.2)
    assert completion.model == "m-1"


@pytest.mark.parametrize(
    "payload", [{}, {"choices": []}, {"choices": [{"message": {"content": 5}}]}, []]
)
def test_openai_malformed_replies(payload: object) -> None:
    with pytest.raises((WireFormatError, KeyError)):
        OpenAICodec().parse_completion(payload, REQUEST)


def openai_chunk(
    content: str | None, finish: str | None = None, lp: float | None = None
) -> SseEvent:
    delta = {} if content is None else {"content": content}
    logprobs = {"content": [{"token": content, "logprob": lp}]} if lp is not None else None
    choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    return data({"object": "chat.completion.chunk", "choices": [choice], "usage": None})


OPENAI_STREAM = [
    data({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}], "usage": None}),
    openai_chunk("Par", lp=-0.1),
    openai_chunk("is", lp=-0.3),
    openai_chunk(None, "length"),
    data({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}),
    data("[DONE]"),
]


def test_openai_stream() -> None:
    events = run(OpenAICodec().stream_decoder(REQUEST), OPENAI_STREAM)

    assert events == [
        StreamEvent(delta="Par", logprobs=(-0.1,)),
        StreamEvent(delta="is", logprobs=(-0.3,)),
        StreamEvent(finish_reason="length", usage=Usage(9, 2, 0), done=True),
    ]


def test_openai_stream_without_done_is_incomplete() -> None:
    with pytest.raises(IncompleteStream):
        run(OpenAICodec().stream_decoder(REQUEST), OPENAI_STREAM[:-1])


def test_openai_error_chunk_inside_a_stream() -> None:
    error = data({"error": {"message": "The server had an error", "type": "server_error"}})

    with pytest.raises(InStreamError) as caught:
        OpenAICodec().stream_decoder(REQUEST).feed(error)

    assert caught.value.info.type == "server_error"


# ---- Anthropic


def test_anthropic_body_moves_system_out_and_defaults_max_tokens() -> None:
    request = ProviderRequest("claude", REQUEST.messages, GenParams(stop=("END",), seed=1))

    body = AnthropicCodec().body(request, stream=True)

    assert body == {
        "model": "claude",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Capital of France?"},
        ],
        "stop_sequences": ["END"],
        "stream": True,
    }
    assert AnthropicCodec().base_headers == {"anthropic-version": "2023-06-01"}
    assert AnthropicCodec().auth_headers("k") == {"x-api-key": "k"}


def test_anthropic_completion() -> None:
    reply = {
        "type": "message",
        "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "Paris."}],
        "stop_reason": "max_tokens",
        "usage": {
            "input_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 10,
            "output_tokens": 3,
        },
    }

    completion = AnthropicCodec().parse_completion(reply, REQUEST)

    assert completion.text == "Paris."
    assert completion.finish_reason == "length"
    assert completion.usage == Usage(input_tokens=115, output_tokens=3, cached_input_tokens=100)
    assert completion.logprobs is None


ANTHROPIC_STREAM = [
    data(
        {
            "type": "message_start",
            "message": {
                "usage": {"input_tokens": 12, "cache_read_input_tokens": 8, "output_tokens": 1}
            },
        },
        "message_start",
    ),
    data(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    ),
    data({"type": "ping"}, "ping"),
    data({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Pa"}}),
    data(
        {"type": "content_block_delta", "delta": {"type": "input_json_delta", "partial_json": "{"}}
    ),
    data({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "ris"}}),
    data({"type": "content_block_stop", "index": 0}),
    data(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 4},
        }
    ),
    data({"type": "message_stop"}, "message_stop"),
]


def test_anthropic_stream() -> None:
    events = run(AnthropicCodec().stream_decoder(REQUEST), ANTHROPIC_STREAM)

    assert events == [
        StreamEvent(delta="Pa"),
        StreamEvent(delta="ris"),
        StreamEvent(finish_reason="stop", usage=Usage(20, 4, 8), done=True),
    ]


def test_anthropic_stream_without_message_stop_is_incomplete() -> None:
    with pytest.raises(IncompleteStream):
        run(AnthropicCodec().stream_decoder(REQUEST), ANTHROPIC_STREAM[:-1])


def test_anthropic_overloaded_event_in_stream_implies_529() -> None:
    event = data({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})

    with pytest.raises(InStreamError) as caught:
        AnthropicCodec().stream_decoder(REQUEST).feed(event)

    assert caught.value.info.status == 529


def test_anthropic_context_length_error() -> None:
    payload = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "prompt is too long: 210000 tokens > 200000 maximum",
        },
    }

    info = AnthropicCodec().parse_error(payload)

    assert info.context_length
    assert info.status == 400


# ---- Gemini


def test_gemini_url_body_and_auth() -> None:
    codec = GeminiCodec()

    assert (
        codec.url("https://g", REQUEST, stream=False)
        == "https://g/v1beta/models/m-1:generateContent"
    )
    assert codec.url("https://g", REQUEST, stream=True).endswith(
        "/m-1:streamGenerateContent?alt=sse"
    )
    assert codec.auth_headers("k") == {"x-goog-api-key": "k"}
    body = codec.body(REQUEST, stream=True)
    assert body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "Capital of France?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "temperature": 0.1,
            "topP": 0.9,
            "maxOutputTokens": 50,
            "stopSequences": ["\n\n"],
            "seed": 3,
            "responseLogprobs": True,
        },
    }


def gemini_chunk(
    text: str, finish: str | None = None, lp: float | None = None
) -> dict[str, object]:
    candidate: dict[str, object] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish:
        candidate["finishReason"] = finish
    if lp is not None:
        candidate["logprobsResult"] = {"chosenCandidates": [{"token": text, "logProbability": lp}]}
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": 30,
            "candidatesTokenCount": 2,
            "thoughtsTokenCount": 5,
            "cachedContentTokenCount": 20,
        },
    }


def test_gemini_completion() -> None:
    completion = GeminiCodec().parse_completion(gemini_chunk("Paris", "MAX_TOKENS", -0.5), REQUEST)

    assert completion.text == "Paris"
    assert completion.finish_reason == "length"
    assert completion.usage == Usage(30, 7, 20)
    assert completion.logprobs == (-0.5,)


def test_gemini_blocked_prompt_has_no_candidates() -> None:
    reply = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}

    completion = GeminiCodec().parse_completion(reply, REQUEST)

    assert (completion.text, completion.finish_reason) == ("", "content_filter")


def test_gemini_stream_ends_with_the_finish_reason_chunk() -> None:
    events = run(
        GeminiCodec().stream_decoder(REQUEST),
        [data(gemini_chunk("Pa", lp=-0.1)), data(gemini_chunk("ris", "STOP", lp=-0.2))],
    )

    assert events == [
        StreamEvent(delta="Pa", logprobs=(-0.1,)),
        StreamEvent(delta="ris", logprobs=(-0.2,)),
        StreamEvent(finish_reason="stop", usage=Usage(30, 7, 20), done=True),
    ]


def test_gemini_stream_without_finish_reason_is_incomplete() -> None:
    with pytest.raises(IncompleteStream):
        run(GeminiCodec().stream_decoder(REQUEST), [data(gemini_chunk("Pa"))])


def test_gemini_bad_key_is_an_auth_error_despite_400() -> None:
    payload = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }

    assert GeminiCodec().parse_error(payload).auth


def test_gemini_retry_delay_from_the_body() -> None:
    payload = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}],
        }
    }

    assert GeminiCodec().parse_error(payload).retry_after == 12.0
