"""The official OpenAI SDKs (Python `openai`, npm `openai`) against the real daemon (issue #9).

Each points its base URL at the daemon's OpenAI front (server.openai) and sends the
daemon's bearer token as its API key; a fake provider answers behind it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import openai
import pytest
from openai import OpenAI

from tests.conftest import cascade_config
from tests.support.daemon import REPO, Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.e2e

NODE_PROJECT = REPO / "tests" / "e2e" / "openai_node"
TOKEN = "e2e-token-8d1f0c6b3a5e7d9f2b4c"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    fake = FakeProvider()
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    daemon = Daemon(cascade_config(fake), args=("--auth-token-file", str(token_file))).start()
    yield daemon
    daemon.cleanup()
    fake.stop()


@pytest.fixture
def client(daemon: Daemon) -> Iterator[OpenAI]:
    # max_retries=0: an error status must reach the test, not a retry loop.
    with OpenAI(base_url=f"{daemon.openai}/v1", api_key=TOKEN, max_retries=0) as c:
        yield c


def test_the_api_key_is_the_daemons_bearer_token(daemon: Daemon) -> None:
    sent = "sk-wrong-key-0123456789abcdef"
    wrong = OpenAI(base_url=f"{daemon.openai}/v1", api_key=sent, max_retries=0)
    with wrong, pytest.raises(openai.AuthenticationError) as refused:
        wrong.models.list()
    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"
    assert sent not in str(refused.value.body), "what was sent is never echoed"


def question() -> list[dict[str, str]]:
    return [{"role": "user", "content": f"python sdk {uuid.uuid4().int % 10**8:08d}"}]


def test_completion_then_a_cache_hit_seen_in_the_headers(client: OpenAI) -> None:
    messages = question()
    raw = client.chat.completions.with_raw_response.create(model="sluice-auto", messages=messages)
    first = raw.parse()
    assert first.choices[0].message.content == f"echo: {messages[0]['content']}"
    assert first.choices[0].finish_reason == "stop"
    assert first.model == "gpt-4o-mini"
    assert first.usage is not None
    assert first.usage.total_tokens > 0
    assert raw.headers["x-sluice-cache"] == "miss"
    assert raw.headers["x-sluice-served-by"] == "oa/gpt-4o-mini"
    assert float(raw.headers["x-sluice-cost-usd"]) > 0

    raw = client.chat.completions.with_raw_response.create(model="sluice-auto", messages=messages)
    again = raw.parse()
    assert again.choices[0].message.content == first.choices[0].message.content
    assert raw.headers["x-sluice-cache"] == "exact"
    assert raw.headers["x-sluice-served-by"] == "cache"
    assert float(raw.headers["x-sluice-cost-usd"]) == 0
    assert (again.model_extra or {})["sluice"]["cache"] == "exact", "the body mirrors the headers"


def test_streaming_with_usage_and_the_sluice_object_on_the_finish_chunk(client: OpenAI) -> None:
    messages = question()
    stream = client.chat.completions.create(
        model="sluice-auto", messages=messages, stream=True,
        stream_options={"include_usage": True}, extra_headers={"x-sluice-request-id": "py-1"},
    )  # fmt: skip
    with stream:
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"echo: {messages[0]['content']}"
    (finish,) = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish.choices[0].finish_reason == "stop"
    sluice = (finish.model_extra or {})["sluice"]
    assert sluice["request_id"] == "py-1"
    assert sluice["cache"] == "miss"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_controls_through_extra_body_and_extra_headers(client: OpenAI) -> None:
    messages = question()
    raw = client.chat.completions.with_raw_response.create(
        model="gemini-1.5-flash", messages=messages, extra_headers={"x-sluice-namespace": "py"},
        extra_body={"sluice": {"cache": "skip-write"}},
    )  # fmt: skip
    assert raw.parse().model == "gemini-1.5-flash"
    assert raw.headers["x-sluice-served-by"] == "ge/gemini-1.5-flash"
    again = client.chat.completions.with_raw_response.create(
        model="gemini-1.5-flash", messages=messages, extra_headers={"x-sluice-namespace": "py"}
    )
    assert again.headers["x-sluice-cache"] == "miss", "skip-write stored nothing"


def test_errors_are_the_sdks_typed_errors(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-5", messages=question())
    assert missing.value.code == "model_not_found"
    assert missing.value.param == "model"
    with pytest.raises(openai.BadRequestError) as tools:
        client.chat.completions.create(
            model="sluice-auto", messages=question(),
            tools=[{"type": "function", "function": {"name": "get_weather"}}],
        )  # fmt: skip
    assert tools.value.param == "tools"
    assert "not supported yet" in tools.value.message


def test_embeddings_and_models(client: OpenAI) -> None:
    # The SDK asks for base64 unless told otherwise, and decodes it.
    embedded = client.embeddings.create(model="all-MiniLM-L6-v2", input=["one", "two"])
    assert len(embedded.data) == 2
    assert len(embedded.data[0].embedding) == 384
    assert sum(x * x for x in embedded.data[0].embedding) == pytest.approx(1.0, abs=1e-3)
    as_floats = client.embeddings.create(
        model="all-MiniLM-L6-v2", input="one", encoding_format="float"
    )
    assert as_floats.data[0].embedding == pytest.approx(embedded.data[0].embedding, abs=1e-6)
    ids = [m.id for m in client.models.list()]
    assert ids[:2] == ["sluice-auto", "gpt-4o-mini"]
    assert client.models.retrieve("gpt-4o").owned_by == "oa"


def test_the_node_sdk(daemon: Daemon) -> None:
    node = shutil.which("node")
    if node is None or not (NODE_PROJECT / "node_modules" / "openai").exists():
        pytest.fail(f"node or {NODE_PROJECT}/node_modules missing: run `make install`")
    env = {
        **os.environ, "SLUICE_OPENAI_BASE_URL": f"{daemon.openai}/v1",
        "SLUICE_OPENAI_API_KEY": TOKEN,
    }  # fmt: skip
    done = subprocess.run(
        [node, "--test"], cwd=NODE_PROJECT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "# fail 0" in done.stdout
