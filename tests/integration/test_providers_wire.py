"""Each provider against the fake servers over real HTTP: answers, streams, faults, secrets."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from sluice.errors import ProviderError, ProviderErrorKind, ProviderTimeout, RateLimited
from sluice.providers.base import Provider
from sluice.providers.factory import ProviderSpec, Secret, build_provider
from sluice.testing.fakeprovider import (
    PROTOCOLS,
    Chaos,
    FakeProviderServer,
    Fault,
    FaultKind,
    ModelBehaviour,
)
from sluice.types import ChatMessage, Completion, GenParams, ProviderRequest, StreamEvent

KEY = "sk-test-SECRET-123"
PROMPT = "Which river runs through Paris? (prompt text that must stay private)"
MODEL = "model-a"


def ask(
    *, logprobs: bool = False, timeout_s: float = 5.0, params: GenParams | None = None
) -> ProviderRequest:
    return ProviderRequest(
        model=MODEL,
        messages=(ChatMessage("system", "Answer briefly."), ChatMessage("user", PROMPT)),
        params=params or GenParams(),
        logprobs=logprobs,
        timeout_s=timeout_s,
    )


async def collect(provider: Provider, request: ProviderRequest) -> list[StreamEvent]:
    return [event async for event in provider.stream(request)]


async def collect_into(
    received: list[StreamEvent], provider: Provider, request: ProviderRequest
) -> None:
    async for event in provider.stream(request):
        received.append(event)


async def call(provider: Provider, request: ProviderRequest, mode: str) -> Completion | None:
    if mode == "complete":
        return await provider.complete(request)
    await collect(provider, request)
    return None


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer(api_key=KEY) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def provider(protocol: str, fake: FakeProviderServer, session: aiohttp.ClientSession) -> Provider:
    spec = ProviderSpec(
        name=f"fake-{protocol}",
        kind=protocol,  # type: ignore[arg-type]  # parametrized over the Literal's values
        base_url=fake.base_url(protocol),
        api_key=Secret(KEY),
    )
    return build_provider(spec, session)


def assert_no_secrets(exc: BaseException) -> None:
    """Neither the key nor the prompt in the message, repr, or anything chained to them."""
    seen: BaseException | None = exc
    while seen is not None:
        for text in (str(seen), repr(seen)):
            assert KEY not in text
            assert PROMPT not in text
        seen = seen.__cause__ or seen.__context__


# ---- answers


async def test_complete_answers_and_reports_usage(
    provider: Provider, fake: FakeProviderServer
) -> None:
    completion = await provider.complete(ask())

    assert completion.text == f"echo: {PROMPT}"
    assert completion.finish_reason == "stop"
    assert completion.model == MODEL
    assert completion.usage.output_tokens == len(completion.text.split())
    assert completion.usage.input_tokens > 0
    assert completion.logprobs is None
    [recorded] = fake.calls
    assert recorded.auth_ok
    assert not recorded.stream
    assert KEY not in json.dumps(recorded.to_json())


async def test_stream_deltas_concatenate_and_end_with_usage(provider: Provider) -> None:
    events = await collect(provider, ask())

    *deltas, last = events
    assert "".join(event.delta for event in deltas) == f"echo: {PROMPT}"
    assert not any(event.done for event in deltas)
    assert last.done
    assert last.finish_reason == "stop"
    assert last.usage is not None
    assert last.usage.output_tokens == len(deltas)
    assert last.usage == (await provider.complete(ask())).usage


async def test_cached_input_tokens_are_reported(
    provider: Provider, fake: FakeProviderServer
) -> None:
    fake.configure_model(MODEL, ModelBehaviour(cached_input_tokens=4))
    plain = (await provider.complete(ask())).usage

    assert plain.cached_input_tokens == 4
    # input_tokens counts cached tokens too, whatever the protocol (Anthropic reports them apart).
    fake.configure_model(MODEL, ModelBehaviour())
    assert (await provider.complete(ask())).usage.input_tokens == plain.input_tokens


async def test_max_tokens_cuts_the_answer_with_length(provider: Provider) -> None:
    request = ask(params=GenParams(max_tokens=2))

    completion = await provider.complete(request)
    last = (await collect(provider, request))[-1]

    assert completion.finish_reason == "length"
    assert completion.usage.output_tokens == 2
    assert last.finish_reason == "length"


@pytest.mark.parametrize("protocol", ["openai", "gemini"])
@pytest.mark.parametrize("level", [-0.01, -2.5])
async def test_logprobs_come_back_per_token(
    provider: Provider, fake: FakeProviderServer, level: float
) -> None:
    fake.configure_model(MODEL, ModelBehaviour(answer="Paris is lovely", logprob=level))

    completion = await provider.complete(ask(logprobs=True))
    events = await collect(provider, ask(logprobs=True))

    assert completion.logprobs == (level, level, level)
    assert [lp for event in events for lp in event.logprobs] == [level, level, level]


@pytest.mark.parametrize("protocol", ["anthropic"])
async def test_anthropic_has_no_logprobs(provider: Provider) -> None:
    assert (await provider.complete(ask(logprobs=True))).logprobs is None


async def test_requests_use_each_protocols_shape(
    provider: Provider, protocol: str, fake: FakeProviderServer
) -> None:
    schema = '{"type": "object"}'
    await provider.complete(ask(params=GenParams(temperature=0.2, stop=("END",), seed=7)))
    await collect(provider, ask(params=GenParams(json_schema=schema), logprobs=True))

    plain, streamed = fake.calls
    if protocol == "openai":
        assert plain.body["messages"][0] == {"role": "system", "content": "Answer briefly."}
        assert plain.body["stop"] == ["END"]
        assert plain.body["seed"] == 7
        assert streamed.body["stream_options"] == {"include_usage": True}
        assert streamed.body["logprobs"] is True
        assert streamed.body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    elif protocol == "anthropic":
        assert plain.body["system"] == "Answer briefly."
        assert [m["role"] for m in plain.body["messages"]] == ["user"]
        assert plain.body["max_tokens"] == 1024
        assert plain.body["stop_sequences"] == ["END"]
        assert plain.headers["anthropic-version"] == "2023-06-01"
    else:
        assert plain.body["systemInstruction"] == {"parts": [{"text": "Answer briefly."}]}
        assert plain.body["generationConfig"] == {
            "temperature": 0.2,
            "stopSequences": ["END"],
            "seed": 7,
        }
        assert streamed.path.endswith(f"/{MODEL}:streamGenerateContent")
        assert streamed.body["generationConfig"]["responseLogprobs"] is True


# ---- faults → kinds


FAULT_KINDS = [
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=500), ProviderErrorKind.RETRYABLE, id="500"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=502), ProviderErrorKind.RETRYABLE, id="502"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=503), ProviderErrorKind.RETRYABLE, id="503"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=504), ProviderErrorKind.RETRYABLE, id="504"),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=529), ProviderErrorKind.RETRYABLE, id="529"),
    pytest.param(
        Fault(FaultKind.SERVER_ERROR, status=403), ProviderErrorKind.PROVIDER_WIDE, id="403"
    ),
    pytest.param(Fault(FaultKind.SERVER_ERROR, status=404), ProviderErrorKind.FINAL, id="404"),
    pytest.param(Fault(FaultKind.UNAUTHORIZED), ProviderErrorKind.PROVIDER_WIDE, id="401"),
    pytest.param(Fault(FaultKind.CONTEXT_LENGTH), ProviderErrorKind.CONTEXT_LENGTH, id="context"),
    pytest.param(Fault(FaultKind.MALFORMED_JSON), ProviderErrorKind.RETRYABLE, id="malformed"),
    pytest.param(Fault(FaultKind.WRONG_CONTENT_TYPE), ProviderErrorKind.RETRYABLE, id="html"),
    pytest.param(Fault(FaultKind.CUT_STREAM), ProviderErrorKind.RETRYABLE, id="cut"),
]


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize(("fault", "kind"), FAULT_KINDS)
async def test_each_fault_maps_to_its_kind(
    provider: Provider,
    fake: FakeProviderServer,
    fault: Fault,
    kind: ProviderErrorKind,
    mode: str,
) -> None:
    fake.set_fault(fault)

    with pytest.raises(ProviderError) as caught:
        await call(provider, ask(), mode)

    assert caught.value.kind is kind
    assert caught.value.provider == provider.name
    assert provider.name in str(caught.value)
    assert_no_secrets(caught.value)


@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_http_errors_name_the_status(
    provider: Provider, fake: FakeProviderServer, mode: str
) -> None:
    fake.set_fault(Fault(FaultKind.SERVER_ERROR, status=503))

    with pytest.raises(ProviderError, match="HTTP 503") as caught:
        await call(provider, ask(), mode)

    assert caught.value.status == 503


@pytest.mark.parametrize("mode", ["complete", "stream"])
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(Fault(FaultKind.RATE_LIMIT, retry_after_s=7), 7.0, id="seconds"),
        pytest.param(
            Fault(FaultKind.RATE_LIMIT, retry_after_s=7, retry_after_ms=1500), 1.5, id="ms"
        ),
    ],
)
async def test_rate_limit_carries_retry_after(
    provider: Provider, fake: FakeProviderServer, fault: Fault, expected: float, mode: str
) -> None:
    fake.set_fault(fault)

    with pytest.raises(RateLimited) as caught:
        await call(provider, ask(), mode)

    assert caught.value.retry_after == expected
    assert caught.value.status == 429
    assert caught.value.retryable


async def test_rate_limit_retry_after_as_http_date(
    provider: Provider, fake: FakeProviderServer
) -> None:
    fake.set_fault(Fault(FaultKind.RATE_LIMIT, retry_after_s=30, retry_after_http_date=True))

    with pytest.raises(RateLimited) as caught:
        await provider.complete(ask())

    assert caught.value.retry_after is not None
    assert 28 <= caught.value.retry_after <= 30  # HTTP-dates have whole seconds


@pytest.mark.parametrize("clean_close", [False, True], ids=["reset", "clean-eof"])
async def test_cut_stream_raises_instead_of_a_partial_answer(
    provider: Provider, fake: FakeProviderServer, clean_close: bool
) -> None:
    fake.set_fault(Fault(FaultKind.CUT_STREAM, after_chunks=2, clean_close=clean_close))
    received: list[StreamEvent] = []

    with pytest.raises(ProviderError) as caught:
        await collect_into(received, provider, ask())

    assert caught.value.kind is ProviderErrorKind.RETRYABLE
    assert not any(event.done for event in received)
    assert len(received) <= 2


@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_hang_times_out_within_timeout_s(
    provider: Provider, fake: FakeProviderServer, mode: str
) -> None:
    fake.set_fault(Fault(FaultKind.HANG))
    started = time.monotonic()

    with pytest.raises(ProviderTimeout) as caught:
        await call(provider, ask(timeout_s=0.3), mode)

    assert time.monotonic() - started < 1.3
    assert caught.value.kind is ProviderErrorKind.RETRYABLE
    assert_no_secrets(caught.value)


async def test_slow_drip_stream_is_not_cut_while_bytes_keep_coming(
    provider: Provider, fake: FakeProviderServer
) -> None:
    answer = "one two three four five six seven eight nine ten"
    fake.configure_model(MODEL, ModelBehaviour(answer=answer))
    fake.set_fault(Fault(FaultKind.SLOW_DRIP, interval_ms=100))
    started = time.monotonic()

    events = await collect(provider, ask(timeout_s=0.4))

    assert time.monotonic() - started > 0.8  # twice as long in total as the timeout
    assert "".join(event.delta for event in events) == answer
    assert events[-1].done


async def test_a_gap_longer_than_timeout_s_mid_stream_is_a_timeout(
    provider: Provider, fake: FakeProviderServer
) -> None:
    fake.set_fault(Fault(FaultKind.SLOW_DRIP, interval_ms=800))
    received: list[StreamEvent] = []

    with pytest.raises(ProviderTimeout):
        await collect_into(received, provider, ask(timeout_s=0.3))

    assert not any(event.done for event in received)


async def test_a_consumer_may_stop_a_stream_early(provider: Provider) -> None:
    async for event in provider.stream(ask()):
        assert event.delta
        break

    assert (await provider.complete(ask())).finish_reason == "stop"


async def test_latency_beyond_timeout_is_a_timeout(
    provider: Provider, fake: FakeProviderServer
) -> None:
    fake.set_fault(Fault(FaultKind.LATENCY, latency_ms=50, times=1))
    assert (await provider.complete(ask(timeout_s=2))).text.startswith("echo:")

    fake.set_fault(Fault(FaultKind.LATENCY, latency_ms=1000, times=1))
    with pytest.raises(ProviderTimeout):
        await provider.complete(ask(timeout_s=0.2))


async def test_next_n_calls_fault_then_recover(
    provider: Provider, fake: FakeProviderServer
) -> None:
    fake.set_fault(Fault(FaultKind.SERVER_ERROR, times=2))

    for _ in range(2):
        with pytest.raises(ProviderError):
            await provider.complete(ask())
    assert (await provider.complete(ask())).finish_reason == "stop"
    assert [call.fault for call in fake.calls] == ["server_error", "server_error", None]


async def test_faults_can_target_one_model(provider: Provider, fake: FakeProviderServer) -> None:
    fake.set_fault(Fault(FaultKind.SERVER_ERROR, model="other-model"))

    assert (await provider.complete(ask())).text.startswith("echo:")


async def test_connection_refused_is_retryable(
    protocol: str, session: aiohttp.ClientSession
) -> None:
    async with FakeProviderServer() as gone:
        base_url = gone.base_url(protocol)
    provider = build_provider(ProviderSpec("down", protocol, base_url, Secret(KEY)), session)  # type: ignore[arg-type]  # parametrized Literal

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask())

    assert caught.value.kind is ProviderErrorKind.RETRYABLE
    assert_no_secrets(caught.value)


# ---- secrets


async def test_wrong_key_is_provider_wide_and_not_echoed(
    protocol: str, fake: FakeProviderServer, session: aiohttp.ClientSession
) -> None:
    wrong = "sk-test-WRONG-456789"
    spec = ProviderSpec("p", protocol, fake.base_url(protocol), Secret(wrong))  # type: ignore[arg-type]  # parametrized Literal
    provider = build_provider(spec, session)

    with pytest.raises(ProviderError) as caught:
        await provider.complete(ask())

    assert caught.value.kind is ProviderErrorKind.PROVIDER_WIDE
    assert wrong not in str(caught.value)
    assert fake.calls[0].auth_ok is False


@pytest.mark.parametrize("mode", ["complete", "stream"])
async def test_an_error_echoing_key_and_prompt_is_redacted(
    provider: Provider, fake: FakeProviderServer, mode: str
) -> None:
    fake.set_fault(Fault(FaultKind.SERVER_ERROR, message=f"bad key {KEY} for input {PROMPT}"))

    with pytest.raises(ProviderError) as caught:
        await call(provider, ask(), mode)

    assert "[redacted]" in str(caught.value)
    assert_no_secrets(caught.value)


def test_provider_and_spec_reprs_hide_the_key(provider: Provider) -> None:
    spec = ProviderSpec(
        "p", "openai", "http://x", Secret(KEY), extra_headers={"X-Gateway-Token": KEY}
    )

    for text in (repr(provider), str(provider), repr(spec), str(spec), f"{spec.api_key}"):
        assert KEY not in text


# ---- the fake's HTTP control surface (what tests in other languages use)


async def test_control_endpoints_drive_the_fake(
    provider: Provider, fake: FakeProviderServer, session: aiohttp.ClientSession
) -> None:
    async def post(path: str, body: object) -> dict[str, object]:
        async with session.post(f"{fake.url}/_fake/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())

    await post("faults", {"faults": [{"kind": "rate_limit", "times": 1, "retry_after_s": 3}]})
    await post("models", {"model": MODEL, "answer": "canned", "logprob": -1.0})
    with pytest.raises(RateLimited):
        await provider.complete(ask())
    assert (await provider.complete(ask())).text == "canned"

    async with session.get(f"{fake.url}/_fake/calls") as response:
        calls = (await response.json())["calls"]
    assert [call["fault"] for call in calls] == ["rate_limit", None]
    assert set(calls[0]) == {
        "protocol",
        "model",
        "path",
        "stream",
        "headers",
        "auth_ok",
        "fault",
        "body",
    }
    assert calls[0]["auth_ok"] is True
    assert KEY not in json.dumps(calls)

    await post("reset", {})
    assert (await provider.complete(ask())).text.startswith("echo:")


async def test_control_rejects_bad_faults(
    fake: FakeProviderServer, session: aiohttp.ClientSession
) -> None:
    async with session.post(f"{fake.url}/_fake/faults", json={"kind": "nope"}) as response:
        assert response.status == 400
        assert (await response.json())["ok"] is False


async def test_seeded_chaos_replays_the_same_faults(
    provider: Provider, fake: FakeProviderServer
) -> None:
    chaos = Chaos(seed=11, faults=((0.5, Fault(FaultKind.SERVER_ERROR, status=503)),))

    async def outcomes() -> list[bool]:
        fake.reset()
        fake.set_chaos(chaos)
        results = []
        for _ in range(12):
            try:
                await provider.complete(ask())
                results.append(True)
            except ProviderError:
                results.append(False)
        return results

    first = await outcomes()
    assert first == await outcomes()
    assert True in first
    assert False in first


async def test_cli_prints_its_port_and_stops_on_sigterm(session: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sluice.testing.fakeprovider",
        "--port",
        "0",
        "--protocol",
        "openai",
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=20))
        assert line["base_url"] == f"http://127.0.0.1:{line['port']}/v1"
        provider = build_provider(ProviderSpec("cli", "openai", line["base_url"]), session)
        assert (await provider.complete(ask())).text == f"echo: {PROMPT}"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
