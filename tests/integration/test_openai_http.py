"""The OpenAI-compatible HTTP front (issue #9) over plain HTTP: shapes, headers, status codes."""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest

from sluice.http import build_front_app, start_http
from sluice.sockets import OPENAI
from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration

MODELS = ["gpt-4o-mini", "claude-3-haiku", "gemini-1.5-flash", "gpt-4o"]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def events(self) -> list[str]:
        """The `data:` payloads of an SSE body, in order."""
        text = self.raw.decode()
        assert text.endswith("\n\n"), "every SSE event ends with a blank line"
        return [e.removeprefix("data: ") for e in text.strip().split("\n\n")]


def call(
    daemon: Daemon,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    raw: bytes | None = None,
) -> Reply:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        daemon.openai + path, data=data, method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def chat(daemon: Daemon, text: str | None = None, **fields: Any) -> Reply:
    headers = fields.pop("headers", None)
    question = text or f"question {uuid.uuid4().int % 10**8:08d}"
    body = {"model": "sluice-auto", "messages": [{"role": "user", "content": question}], **fields}
    return call(daemon, "/v1/chat/completions", body, headers)


def assert_error(reply: Reply, status: int, type_: str, param: str | None = None) -> str:
    assert reply.status == status, reply.raw
    assert reply.headers["content-type"].startswith("application/json")
    error = reply.json["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == type_
    assert error["param"] == param
    assert error["message"]
    return str(error["message"])


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def daemon(fake: FakeProvider) -> Iterator[Daemon]:
    """One daemon for the read-mostly tests; each asks its own question or namespace."""
    config = cascade_config(fake, limits={"max_messages": 8}, server={"max_message_bytes": 65536})
    daemon = Daemon(config).start()
    yield daemon
    daemon.cleanup()


@pytest.fixture(autouse=True)
def _clean_fake(fake: FakeProvider) -> Iterator[None]:
    yield
    fake.reset()


# ---- chat completions


def test_completion_in_openai_shape_with_what_happened_in_headers(
    daemon: Daemon, fake: FakeProvider
) -> None:
    # A fixed text (no random suffix): the verifier's decision on it is deterministic.
    question = "Which river flows through Vienna?"
    first = chat(daemon, question)
    assert first.status == 200, first.raw
    body = first.json
    assert body["object"] == "chat.completion"
    assert body["id"] == f"chatcmpl-{first.headers['x-sluice-request-id']}"
    assert body["model"] == "gpt-4o-mini"
    (choice,) = body["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == f"echo: {question}"
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    h = first.headers
    assert h["x-sluice-cache"] == "miss"
    assert h["x-sluice-served-by"] == "oa/gpt-4o-mini"
    assert h["x-sluice-attempts"] == "1"
    assert h["x-sluice-degraded"] == "false"
    assert 0 < float(h["x-sluice-cost-usd"]) < float(h["x-sluice-baseline-cost-usd"])
    assert body["sluice"]["served_by"] == "oa/gpt-4o-mini", "the body mirrors the headers"

    again = chat(daemon, question)
    assert again.status == 200
    assert again.json["choices"][0]["message"]["content"] == f"echo: {question}"
    assert again.json["model"] == "gpt-4o-mini", "a hit names the model that wrote the answer"
    h = again.headers
    assert (h["x-sluice-cache"], h["x-sluice-served-by"]) == ("exact", "cache")
    assert float(h["x-sluice-similarity"]) == 1.0
    assert float(h["x-sluice-cost-usd"]) == 0
    assert float(h["x-sluice-baseline-cost-usd"]) > 0
    assert h["x-sluice-attempts"] == "0"
    assert h["x-sluice-verifier-score"] == "", "an exact hit needs no verifier"
    # Without the "?": other word pieces, a semantic hit decided by the verifier (the same
    # pieces, e.g. " ?", are served without a model run: issue #19).
    semantic = chat(daemon, question.removesuffix("?"))
    h = semantic.headers
    assert (h["x-sluice-cache"], h["x-sluice-served-by"]) == ("semantic", "cache")
    assert 0.5 <= float(h["x-sluice-verifier-score"]) <= 1.0  # 0.97 with the shipped model
    assert semantic.json["sluice"]["verifier_score"] == float(h["x-sluice-verifier-score"])
    h = again.headers
    assert h["x-sluice-request-id"] != first.headers["x-sluice-request-id"]
    assert h["x-request-id"] == h["x-sluice-request-id"], "where OpenAI's SDKs look for it"
    assert len([c for c in fake.calls() if question in json.dumps(c["body"])]) == 1


def test_feedback_over_http_reaches_the_cache_and_the_router(daemon: Daemon) -> None:
    # Issue #18: the HTTP front had no way to judge an answer (gRPC Feedback only).
    question = f"Which port does service {uuid.uuid4().int % 10**8:08d} listen on?"
    assert chat(daemon, question).headers["x-sluice-cache"] == "miss"
    hit = chat(daemon, question)
    assert hit.headers["x-sluice-cache"] == "exact"
    rid = hit.headers["x-sluice-request-id"]
    judged = call(daemon, "/v1/feedback", {"request_id": rid, "kind": "thumbs_down"})
    assert judged.status == 200, judged.raw
    assert judged.json == {"object": "sluice.feedback", "request_id": rid, "policy": "cache"}
    assert chat(daemon, question).headers["x-sluice-cache"] == "miss", "the answer was removed"
    # A second judgement (a double click) says the answer was judged, not that it is unknown.
    again = call(daemon, "/v1/feedback", {"request_id": rid, "kind": "thumbs_down"})
    assert "judged already" in assert_error(again, 404, "invalid_request_error")
    unknown = call(daemon, "/v1/feedback", {"request_id": "no-such-id", "kind": "thumbs_up"})
    assert "no recent completion" in assert_error(unknown, 404, "invalid_request_error")


def test_a_score_judgement_without_its_score_names_what_to_send(daemon: Daemon) -> None:
    # It said "score: nan is outside [0, 1]", a value the caller never sent.
    reply = call(daemon, "/v1/feedback", {"request_id": "r", "kind": "score"})
    message = assert_error(reply, 400, "invalid_request_error", "score")
    assert "required" in message
    assert "nan" not in message


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"kind": "thumbs_up"}, "request_id"),
        ({"request_id": "x" * 129, "kind": "thumbs_up"}, "request_id"),
        ({"request_id": "r", "kind": "meh"}, "kind"),
        ({"request_id": "r"}, "kind"),
        ({"request_id": "r", "kind": "score"}, "score"),
        ({"request_id": "r", "kind": "score", "score": 1.5}, "score"),
        ({"request_id": "r", "kind": "score", "score": "high"}, "score"),
        ([1, 2], "body"),
    ],
)
def test_bad_feedback_is_400_naming_the_field(daemon: Daemon, body: Any, param: str) -> None:
    assert_error(call(daemon, "/v1/feedback", body), 400, "invalid_request_error", param)


def test_a_configured_model_name_pins_that_model(daemon: Daemon, fake: FakeProvider) -> None:
    reply = chat(daemon, model="gemini-1.5-flash")
    assert reply.status == 200, reply.raw
    assert reply.headers["x-sluice-served-by"] == "ge/gemini-1.5-flash"
    assert reply.json["model"] == "gemini-1.5-flash"
    assert not fake.calls("gpt-4o-mini")


@pytest.mark.parametrize("stream", [False, True])
def test_a_cost_cap_no_model_fits_is_400_naming_it(
    daemon: Daemon, fake: FakeProvider, stream: bool
) -> None:
    # It was 503 "no deployment could serve the request", which clients retry.
    calls = len(fake.calls("gpt-4o-mini"))
    reply = chat(daemon, sluice={"max_cost_usd": 1e-12}, stream=stream)
    message = assert_error(reply, 400, "invalid_request_error", "sluice.max_cost_usd")
    assert "raise it" in message
    assert len(fake.calls("gpt-4o-mini")) == calls, "no model was called"
    # There is no such header: it was ignored, and the answer cost more than the cap.
    headers = {"x-sluice-max-cost-usd": "1e-12"}
    message = assert_error(
        chat(daemon, headers=headers), 400, "invalid_request_error", "x-sluice-max-cost-usd"
    )
    assert "max_cost_usd" in message
    assert "`sluice` object" in message


def test_low_confidence_escalates_like_grpc(daemon: Daemon, fake: FakeProvider) -> None:
    fake.model("gpt-4o-mini", logprob=-3.0)
    reply = chat(daemon)
    assert reply.headers["x-sluice-served-by"] == "ge/gemini-1.5-flash"
    assert reply.headers["x-sluice-attempts"] == "2"


def test_controls_from_headers_and_the_sluice_body_object(daemon: Daemon) -> None:
    # Digits, not hex: a hex word can fall apart into single letters, and the coverage check
    # then makes the question exact-layer only ("skipped", not "miss").
    question = f"namespaced {uuid.uuid4().int % 10**8:08d}"
    rid = f"req-{uuid.uuid4().hex[:8]}"
    first = chat(
        daemon, question, headers={"x-sluice-namespace": "team-a", "x-sluice-request-id": rid}
    )
    assert first.headers["x-sluice-request-id"] == rid
    assert first.json["id"] == f"chatcmpl-{rid}"
    assert (
        chat(daemon, question, headers={"x-sluice-namespace": "team-a"}).headers["x-sluice-cache"]
        == "exact"
    )
    # The body's `sluice` object wins over a header: another namespace, another cache.
    other = chat(
        daemon, question, headers={"x-sluice-namespace": "team-a"}, sluice={"namespace": "team-b"}
    )
    assert other.headers["x-sluice-cache"] == "miss"
    skipped = chat(
        daemon, question, headers={"x-sluice-namespace": "team-a", "x-sluice-cache": "skip"}
    )
    assert skipped.headers["x-sluice-cache"] == "skipped"
    assert skipped.headers["x-sluice-served-by"] == "oa/gpt-4o-mini"
    pinned = chat(daemon, sluice={"pinned_model": "gpt-4o", "task_tags": ["code"]})
    assert pinned.headers["x-sluice-served-by"] == "oa/gpt-4o"
    header_pin = chat(daemon, headers={"x-sluice-pinned-model": "claude-3-haiku"})
    assert header_pin.headers["x-sluice-served-by"] == "an/claude-3-haiku"


def test_response_format_json_schema_reaches_the_provider(
    daemon: Daemon, fake: FakeProvider
) -> None:
    fake.model("gpt-4o-mini", answer='{"city": "Paris"}')
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    reply = chat(
        daemon,
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    )
    assert reply.status == 200, reply.raw
    assert json.loads(reply.json["choices"][0]["message"]["content"]) == {"city": "Paris"}
    assert reply.headers["x-sluice-degraded"] == "false"
    (sent,) = [c["body"] for c in fake.calls("gpt-4o-mini")]
    assert sent["response_format"]["json_schema"]["schema"] == schema


def test_content_parts_and_developer_role_are_read_as_text(daemon: Daemon) -> None:
    reply = call(daemon, "/v1/chat/completions", {
        "model": "sluice-auto",
        "messages": [{"role": "developer", "content": "Be brief."},
                     {"role": "user", "content": [{"type": "text", "text": "Hello "},
                                                  {"type": "text", "text": "there"}]}],
        "temperature": 0, "max_completion_tokens": 50, "stop": "\n\n", "seed": 7,
        "user": "u-1", "metadata": {"app": "t"}, "frequency_penalty": 0, "logprobs": False,
    })  # fmt: skip
    assert reply.status == 200, reply.raw
    assert reply.json["choices"][0]["message"]["content"] == "echo: Hello there"


# ---- streaming


def test_stream_in_openai_chunk_format_with_usage_and_done(daemon: Daemon) -> None:
    question = f"stream me {uuid.uuid4().int % 10**6:06d}"
    reply = chat(
        daemon, question, stream=True, stream_options={"include_usage": True},
        headers={"x-sluice-request-id": "stream-1"},
    )  # fmt: skip
    assert reply.status == 200, reply.raw
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["x-sluice-request-id"] == "stream-1"
    events = reply.events()
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["id"] == "chatcmpl-stream-1" for c in chunks)
    assert all("usage" in c for c in chunks), "include_usage: usage is null until the last chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == f"echo: {question}"
    finish, last = chunks[-2], chunks[-1]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["sluice"]["cache"] == "miss"
    assert finish["sluice"]["served_by"] == "oa/gpt-4o-mini"
    assert finish["sluice"]["attempts"] == 1
    assert finish["model"] == "gpt-4o-mini"
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] > 0

    again = chat(daemon, question, stream=True)
    chunks = [json.loads(e) for e in again.events()[:-1]]
    assert "usage" not in chunks[0], "no usage field unless asked for"
    assert chunks[-1]["sluice"]["cache"] == "exact"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == f"echo: {question}"


def test_stream_cut_after_the_first_byte_ends_with_an_error_event(
    daemon: Daemon, fake: FakeProvider
) -> None:
    fake.fault(kind="cut_stream", after_chunks=2, model="gpt-4o", times=1)
    reply = chat(daemon, "Tell me a long story about a lighthouse", model="gpt-4o", stream=True)
    assert reply.status == 200, "the status line had gone out before the cut"
    events = reply.events()
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["type"] == "service_unavailable"
    assert any("content" in json.loads(e)["choices"][0]["delta"] for e in events[1:-1])


# ---- errors: OpenAI's shape, one status per class of failure


@pytest.mark.parametrize(
    ("fields", "headers", "status", "type_", "param"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, {}, 400,
         "invalid_request_error", "tools"),
        ({"tool_choice": "auto"}, {}, 400, "invalid_request_error", "tool_choice"),
        ({"n": 2}, {}, 400, "invalid_request_error", "n"),
        ({"temperature": 3}, {}, 400, "invalid_request_error", "temperature"),
        ({"temperature": "hot"}, {}, 400, "invalid_request_error", "temperature"),
        ({"top_p": 0}, {}, 400, "invalid_request_error", "top_p"),
        ({"max_tokens": 0}, {}, 400, "invalid_request_error", "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, {}, 400, "invalid_request_error", "stop"),
        ({"logprobs": True}, {}, 400, "invalid_request_error", "logprobs"),
        ({"bogus": 1}, {}, 400, "invalid_request_error", "bogus"),
        ({"stream_options": {"include_usage": True}}, {}, 400, "invalid_request_error",
         "stream_options"),
        ({"response_format": {"type": "yaml"}}, {}, 400, "invalid_request_error",
         "response_format.type"),
        ({"messages": []}, {}, 400, "invalid_request_error", "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, {}, 400,
         "invalid_request_error", "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "42", "tool_call_id": "c"}]}, {}, 400,
         "invalid_request_error", "messages[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, {}, 400,
         "invalid_request_error", "messages[0].content[0].type"),
        ({"sluice": {"bogus": 1}}, {}, 400, "invalid_request_error", "sluice.bogus"),
        ({"sluice": {"threshold": 2}}, {}, 400, "invalid_request_error", "sluice.threshold"),
        ({}, {"x-sluice-namespace": "no spaces"}, 400, "invalid_request_error",
         "x-sluice-namespace"),
        ({}, {"x-sluice-cache": "sometimes"}, 400, "invalid_request_error", "x-sluice-cache"),
        ({}, {"x-sluice-timeout-ms": "soon"}, 400, "invalid_request_error", "x-sluice-timeout-ms"),
        ({"model": "gpt-5"}, {}, 404, "invalid_request_error", "model"),
        ({"model": "gpt-4o"}, {"x-sluice-pinned-model": "gpt-4o-mini"}, 400,
         "invalid_request_error", "model"),
        ({}, {"x-sluice-pinned-model": "gpt-5"}, 404, "invalid_request_error",
         "x-sluice-pinned-model"),
        # Size limits are 413, not 429: the SDKs retry a 429, and no retry can help.
        ({"messages": [{"role": "user", "content": "x"}] * 9}, {}, 413, "invalid_request_error",
         None),
    ],
)  # fmt: skip
def test_bad_requests_get_openai_errors(
    daemon: Daemon,
    fake: FakeProvider,
    fields: dict[str, Any],
    headers: dict[str, str],
    status: int,
    type_: str,
    param: str | None,
) -> None:
    reply = chat(daemon, headers=headers, **fields)
    assert_error(reply, status, type_, param)
    if status == 404:
        assert reply.json["error"]["code"] == "model_not_found"
    assert not fake.calls(), "nothing reached a provider"


def test_tools_are_refused_with_a_clear_message(daemon: Daemon) -> None:
    reply = chat(daemon, tools=[{"type": "function", "function": {"name": "get_weather"}}])
    message = assert_error(reply, 400, "invalid_request_error", "tools")
    assert "not supported yet" in message


def test_a_body_that_is_not_json_is_400(daemon: Daemon) -> None:
    reply = call(daemon, "/v1/chat/completions", raw=b"{not json")
    assert_error(reply, 400, "invalid_request_error", "body")
    reply = call(daemon, "/v1/chat/completions", body=["a list"])
    assert_error(reply, 400, "invalid_request_error", "body")


def test_a_body_over_the_size_limit_is_413(daemon: Daemon) -> None:
    reply = chat(daemon, "x" * 70_000)
    assert "body" in assert_error(reply, 413, "invalid_request_error")
    assert reply.json["error"]["code"] == "request_too_large"
    assert "retry-after" not in reply.headers


def test_unknown_routes_and_methods_under_v1_are_openai_errors(daemon: Daemon) -> None:
    assert_error(call(daemon, "/v1/completions", {}), 404, "invalid_request_error")
    reply = call(daemon, "/v1/chat/completions", method="GET")
    assert_error(reply, 405, "invalid_request_error")
    assert "POST" in reply.headers["allow"]


def test_every_provider_down_is_503_with_the_attempts(
    start_daemon, fake_provider: FakeProvider
) -> None:  # type: ignore[no-untyped-def]
    daemon: Daemon = start_daemon(cascade_config(fake_provider))
    fake_provider.fault(kind="server_error", status=503)
    reply = chat(daemon, headers={"x-sluice-request-id": "down-1"})
    assert_error(reply, 503, "service_unavailable")
    assert reply.json["error"]["code"] == "unavailable"
    assert reply.headers["x-sluice-request-id"] == "down-1"
    assert int(reply.headers["x-sluice-attempts"]) >= len(MODELS)
    # Sluice already retried and fell back: the SDK must not multiply that by its own retries.
    assert reply.headers["x-should-retry"] == "false"
    # Streaming fails before its first byte too: a real status, not an SSE body.
    streamed = chat(daemon, stream=True)
    assert_error(streamed, 503, "service_unavailable")


def test_deadline_from_the_header_is_504(start_daemon, fake_provider: FakeProvider) -> None:  # type: ignore[no-untyped-def]
    daemon: Daemon = start_daemon(cascade_config(fake_provider))
    fake_provider.fault(kind="hang")
    reply = chat(daemon, headers={"x-sluice-timeout-ms": "400"})
    assert_error(reply, 504, "timeout_error")
    assert reply.json["error"]["code"] == "deadline_exceeded"


def test_exhausted_budget_is_429(start_daemon, fake_provider: FakeProvider) -> None:  # type: ignore[no-untyped-def]
    config = cascade_config(fake_provider, budgets={
        "namespaces": {"poor": {"limit_usd": 0.000001, "window_s": 3600}}})  # fmt: skip
    daemon: Daemon = start_daemon(config)
    assert chat(daemon, headers={"x-sluice-namespace": "poor"}).status == 200
    reply = chat(daemon, headers={"x-sluice-namespace": "poor"})
    assert "budget" in assert_error(reply, 429, "rate_limit_error")


async def test_not_ready_is_503() -> None:
    runner, address = await start_http(build_front_app(lambda: None), "127.0.0.1:0", OPENAI)
    try:
        async with aiohttp.ClientSession() as session:
            for method, path in [("POST", "/v1/chat/completions"), ("POST", "/v1/embeddings"),
                                 ("GET", "/v1/models")]:  # fmt: skip
                async with session.request(method, f"http://{address}{path}", json={}) as r:
                    assert r.status == 503
                    # Starting or draining: retrying is right, after a pause.
                    assert r.headers["Retry-After"] == "1"
                    assert "x-should-retry" not in r.headers
                    error = (await r.json())["error"]
                    assert error["type"] == "service_unavailable"
                    assert "starting" in error["message"]
    finally:
        await runner.cleanup()


# ---- models and embeddings


def test_models_lists_sluice_auto_the_tiers_models_and_the_embedding_model(daemon: Daemon) -> None:
    reply = call(daemon, "/v1/models")
    assert reply.status == 200
    listing = reply.json
    assert listing["object"] == "list"
    ids = [m["id"] for m in listing["data"]]
    assert ids[: len(MODELS) + 1] == ["sluice-auto", *MODELS]
    assert ids[-1].startswith("all-MiniLM-L6-v2@")
    assert all(m["object"] == "model" for m in listing["data"])
    card = call(daemon, "/v1/models/gpt-4o").json
    assert (card["id"], card["owned_by"]) == ("gpt-4o", "oa")
    assert_error(call(daemon, "/v1/models/gpt-5"), 404, "invalid_request_error", "model")


def test_embeddings_as_floats_and_base64(daemon: Daemon) -> None:
    texts = ["a cat sat on the mat", "quarterly revenue grew"]
    floats = call(daemon, "/v1/embeddings", {"model": "all-MiniLM-L6-v2", "input": texts})
    assert floats.status == 200, floats.raw
    body = floats.json
    assert body["object"] == "list"
    assert body["model"].startswith("all-MiniLM-L6-v2@")
    assert [d["index"] for d in body["data"]] == [0, 1]
    vector = body["data"][0]["embedding"]
    assert len(vector) == 384
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    encoded = call(daemon, "/v1/embeddings", {
        "model": body["model"], "input": texts[0], "encoding_format": "base64"})  # fmt: skip
    (item,) = encoded.json["data"]
    decoded = memoryview(base64.b64decode(item["embedding"])).cast("f").tolist()
    assert decoded == pytest.approx(vector, abs=1e-6)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "text-embedding-3-small", "input": "x"}, 404, "model"),
        ({"model": "all-MiniLM-L6-v2", "input": [[1, 2, 3]]}, 400, "input[0]"),
        ({"model": "all-MiniLM-L6-v2", "input": []}, 400, "input"),
        ({"model": "all-MiniLM-L6-v2", "input": ["ok", " "]}, 400, "input[1]"),
        ({"model": "all-MiniLM-L6-v2", "input": "x", "dimensions": 3}, 400, "dimensions"),
        ({"model": "all-MiniLM-L6-v2", "input": "x", "encoding_format": "hex"}, 400,
         "encoding_format"),
    ],
)  # fmt: skip
def test_bad_embedding_requests(
    daemon: Daemon, body: dict[str, Any], status: int, param: str
) -> None:
    reply = call(daemon, "/v1/embeddings", body)
    assert_error(reply, status, "invalid_request_error", param)


def test_a_conversation_not_ending_with_the_user_names_the_http_role(daemon: Daemon) -> None:
    # It said "must be ROLE_USER", the gRPC enum's name, to a caller who writes "user".
    body = {"model": "sluice-auto", "messages": [{"role": "system", "content": "be brief"}]}
    message = assert_error(
        call(daemon, "/v1/chat/completions", body), 400, "invalid_request_error", "messages[0].role"
    )
    assert '"user"' in message


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/embeddings", {"input": "x"}, "model"),
        ("/v1/embeddings", {"model": None, "input": "x"}, "model"),
        ("/v1/embeddings", {"model": "all-MiniLM-L6-v2"}, "input"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ("/v1/chat/completions", {"model": "sluice-auto"}, "messages"),
    ],
)
def test_a_missing_field_is_named_as_required(
    daemon: Daemon, path: str, body: dict[str, Any], param: str
) -> None:
    # It said "model: must be a string" of a field the caller had left out.
    message = assert_error(call(daemon, path, body), 400, "invalid_request_error", param)
    assert "is required" in message


def test_without_tiers_sluice_auto_is_503_but_embeddings_work(shared_daemon: Daemon) -> None:
    reply = chat(shared_daemon)
    assert "tiers" in assert_error(reply, 503, "service_unavailable")
    models = call(shared_daemon, "/v1/models").json["data"]
    assert [m["id"] for m in models][:1] == ["sluice-auto"]
    embedded = call(shared_daemon, "/v1/embeddings", {"model": "all-MiniLM-L6-v2", "input": "x"})
    assert embedded.status == 200


# ---- input that used to crash the front (issue #17): always a 4xx naming the field


def _nested(depth: int) -> bytes:
    return b'{"model": "sluice-auto", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("raw", "headers", "param"),
    [
        # RecursionError in json.loads (500 before).
        (_nested(30_000), {}, "body"),
        # Under the recursion limit, over the depth every later step can afford.
        (_nested(500), {}, "x" + "[0]" * 63),
        # A lone surrogate: UnicodeEncodeError in the cache key digest (500 before).
        (b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "hi \\ud800"}]}',
         {}, "messages[0].content"),
        (b'{"model": "sluice-auto\\udfff", "messages": []}', {}, "model"),
        (b'{"model": "sluice-auto", "messages": [], "\\ud800": 1}', {}, "body"),
        # Not JSON numbers (Python's decoder takes them).
        (b'{"model": "sluice-auto", "temperature": NaN}', {}, "body"),
        (b'{"model": "sluice-auto", "temperature": -Infinity}', {}, "body"),
        # An integer no float can hold: OverflowError (500 before).
        (b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
         b'"temperature": 1' + b"0" * 400 + b"}", {}, "temperature"),
        # A TTL whose expiry no Timestamp can carry (accepted before; then INTERNAL on Lookup).
        (b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
         b'"sluice": {"ttl_s": 1e300}}', {}, "sluice.ttl_s"),
        (b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
         b'"sluice": {"ttl_s": 1e400}}', {}, "sluice.ttl_s"),
        # Echoed in a reply header: a newline there made aiohttp fail the reply (500 before).
        (b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
         b'"sluice": {"request_id": "a\\nb"}}', {}, "sluice.request_id"),
    ],
)  # fmt: skip
def test_hostile_bodies_are_400_naming_the_field(
    daemon: Daemon, fake: FakeProvider, raw: bytes, headers: dict[str, str], param: str
) -> None:
    reply = call(daemon, "/v1/chat/completions", raw=raw, headers=headers)
    assert_error(reply, 400, "invalid_request_error", param)
    assert not fake.calls()


def test_a_json_schema_too_deep_is_400(daemon: Daemon, fake: FakeProvider) -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(70):
        schema = {"type": "object", "properties": {"a": schema}}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    reply = chat(daemon, response_format=response_format)
    assert reply.status == 400, reply.raw
    error = reply.json["error"]
    assert error["param"].startswith("response_format.json_schema.schema.properties.a")
    assert "nested deeper than 64" in error["message"]
    assert not fake.calls()


def test_headers_that_are_not_utf8_are_400(daemon: Daemon) -> None:
    """aiohttp decodes header bytes with surrogateescape: a lone surrogate reaches the front,
    and echoing one in `x-sluice-request-id` made the reply itself fail (500 before)."""
    body = json.dumps({"model": "sluice-auto", "messages": [{"role": "user", "content": "q?"}]})
    host, port = daemon.info["openai"].rsplit(":", 1)
    for header in ("x-sluice-namespace", "x-sluice-request-id", "x-sluice-task-tags"):
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
        try:
            # http.client sends str headers as latin-1: "\xff\xfe" goes out as bytes, not UTF-8.
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=body,
                headers={"Content-Type": "application/json", header: "ns\xff\xfe"},
            )
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        assert response.status == 400, data
        assert json.loads(data)["error"]["param"] == header


def test_every_failed_request_writes_one_log_line(
    start_daemon, fake_provider: FakeProvider
) -> None:  # type: ignore[no-untyped-def]
    """Before, a request the pipeline refused before its own line (a threshold under the
    namespace's floor, refused by the cache) left no line at all, over both fronts."""
    daemon: Daemon = start_daemon(cascade_config(fake_provider))
    ids = [f"one-line-{i}" for i in range(4)]
    assert chat(daemon, headers={"x-sluice-request-id": ids[0]}).status == 200
    bad = chat(daemon, headers={"x-sluice-request-id": ids[1]}, sluice={"threshold": 7})
    under_floor = chat(daemon, headers={"x-sluice-request-id": ids[2]}, sluice={"threshold": 0.01})
    assert (bad.status, under_floor.status) == (400, 400), under_floor.raw
    fake_provider.fault(kind="server_error", status=503)
    assert chat(daemon, headers={"x-sluice-request-id": ids[3]}).status == 503
    grpc_id = "one-line-grpc"
    with pytest.raises(grpc.RpcError):
        daemon.stub().Complete(
            pb.CompleteRequest(
                request_id=grpc_id, messages=[pb.Message(role=pb.ROLE_USER, content="q?")],
                cache=pb.CachePolicy(threshold=0.01),
            ), timeout=20,
        )  # fmt: skip
    daemon.stop()
    lines = daemon.log_lines()
    for rid in [*ids, grpc_id]:
        mine = [line for line in lines if line.get("request_id") == rid]
        assert len(mine) == 1, (rid, mine)


def test_a_ten_year_ttl_over_http_is_describable_over_grpc(daemon: Daemon) -> None:
    """`sluice.ttl_s: 1e300` used to be stored, then every Lookup of it was INTERNAL."""
    question = f"how long do you keep this {uuid.uuid4().int % 10**8:08d}?"
    too_long = chat(daemon, question, sluice={"ttl_s": 1e300})
    assert_error(too_long, 400, "invalid_request_error", "sluice.ttl_s")
    assert chat(daemon, question, sluice={"ttl_s": 10 * 365 * 86400}).status == 200
    found = daemon.stub().Lookup(
        pb.LookupRequest(messages=[pb.Message(role=pb.ROLE_USER, content=question)]), timeout=10
    )
    assert found.hit
    assert 2030 < found.entry.expires.ToDatetime().year < 2045


def test_a_provider_answering_half_a_surrogate_pair_is_served(
    daemon: Daemon, fake: FakeProvider
) -> None:
    """`"\\ud800"` in a provider's JSON reply was INTERNAL / 500 (the cache key, gRPC)."""
    for model in MODELS:
        fake.model(model, answer="bad \ud800 half")
    question = f"surrogate please {uuid.uuid4().int % 10**8:08d}"
    for stream in (False, True):
        reply = chat(daemon, f"{question} {stream}", stream=stream)
        assert reply.status == 200, reply.raw
        assert "\\ufffd" in reply.raw.decode() or "\ufffd" in reply.raw.decode()
    answer = daemon.stub().Complete(
        pb.CompleteRequest(messages=[pb.Message(role=pb.ROLE_USER, content=question + " g")]),
        timeout=20,
    )
    assert answer.message.content == "bad \ufffd half"


def test_the_openai_sdk_does_not_retry_what_cannot_succeed(
    start_daemon, fake_provider: FakeProvider
) -> None:  # type: ignore[no-untyped-def]
    """openai-python retries 429 and 5xx twice by default: a 413, or a 503 after Sluice's own
    retries and fallbacks (`x-should-retry: false`), must reach the caller after one request
    (counted from the daemon's one log line per request)."""
    openai = pytest.importorskip("openai")
    config = cascade_config(fake_provider, server={"max_message_bytes": 65536})
    daemon: Daemon = start_daemon(config)
    client = openai.OpenAI(base_url=f"{daemon.openai}/v1", api_key="unused")
    with pytest.raises(openai.APIStatusError) as too_large:
        client.chat.completions.create(
            model="sluice-auto", messages=[{"role": "user", "content": "x" * 70_000}]
        )
    assert too_large.value.status_code == 413
    fake_provider.fault(kind="server_error", status=503)
    with pytest.raises(openai.InternalServerError) as down:
        client.chat.completions.create(
            model="sluice-auto", messages=[{"role": "user", "content": "anyone there?"}]
        )
    assert down.value.status_code == 503
    client.close()
    daemon.stop()
    lines = daemon.log_lines()
    assert sum(line.get("status") == 413 for line in lines) == 1
    assert sum(line.get("event") == "request" for line in lines) == 1
