"""Provider keys and prompt bodies never reach logs, metrics, error messages or snapshots.

Keys and prompts are planted, the daemon is driven through success and every kind of
failure (including a provider that echoes the key and the prompt in its error body),
then every place the daemon writes to is searched for them.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import status_pb2
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from sluice.app import App
from sluice.cli import default_model_dir
from sluice.config import parse_settings
from sluice.errors import SluiceError
from sluice.pipeline import CompletionRequest
from sluice.testing.fakeprovider.faults import Echo, Fault, FaultKind
from sluice.testing.fakeprovider.server import FakeProviderServer, ModelBehaviour
from sluice.types import ChatMessage, GenParams
from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc
from tests.conftest import cascade_config
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration

ENV_KEY = "sk-plantedEnvKey0123456789abcdef"
FILE_KEY = "sk-ant-plantedFileKey9876543210"
PROMPT = "PROMPT-MARKER-c81f my card number is 4111 1111 1111 1111"
PROMPT_MARK = "PROMPT-MARKER-c81f"
ANSWER = "ANSWER-MARKER-5d2e the answer"
SECRETS = (ENV_KEY, FILE_KEY, PROMPT_MARK, "4111 1111")


def _config(base: dict[str, Any], key_file: Path) -> dict[str, Any]:
    providers = base["providers"]
    providers["oa"]["api_key_env"] = "SLUICE_TEST_OA_KEY"
    providers["an"]["api_key_file"] = str(key_file)
    return base


def _leaks(text: str | bytes) -> list[str]:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return [s for s in SECRETS if s in data]


def _user(text: str) -> pb.Message:
    return pb.Message(role=pb.ROLE_USER, content=text)


# Provider errors that echo the key the provider was sent and the prompt, an auth failure,
# a context-length error, a malformed body, a 429.
_KEYS = {"gpt-4o-mini": ENV_KEY, "claude-3-haiku": FILE_KEY}
_FAULTS: list[dict[str, Any]] = [
    {"kind": "server_error", "status": 500},
    {"kind": "server_error", "status": 400},
    {"kind": "unauthorized"},
    {"kind": "context_length"},
    {"kind": "malformed_json"},
    {"kind": "rate_limit", "retry_after_s": 0.01},
]


def _echoing(fault: dict[str, Any]) -> list[dict[str, Any]]:
    """The fault once per keyed model (echoing its own key) and once for the others."""
    if fault["kind"] == "malformed_json":
        return [fault]
    echo = [{**fault, "model": m, "message": f"invalid key {k} for {PROMPT}"}
            for m, k in _KEYS.items()]  # fmt: skip
    return [*echo, {**fault, "message": f"bad prompt: {PROMPT}"}]


def _drive(stub: sluice_pb2_grpc.SluiceStub, fake: FakeProvider) -> list[str]:
    """Every kind of call and failure; returns what came back on the wire in errors."""
    wire: list[str] = []

    def call(fn: Any, *args: Any, **kw: Any) -> None:
        try:
            result = fn(*args, timeout=15, **kw)
            if hasattr(result, "__next__"):  # a stream: read it to the end
                list(result)
        except grpc.RpcError as exc:
            wire.append(exc.details() or "")
            wire.extend(repr(v) for _, v in exc.trailing_metadata() or ())

    ask = pb.CompleteRequest(messages=[_user(PROMPT)], namespace="sec")
    call(stub.Complete, ask)
    # The keys reached the provider: they were in play.
    assert all(c["auth_ok"] for c in fake.calls()), fake.calls()
    call(stub.StreamComplete, pb.CompleteRequest(messages=[_user(PROMPT + " s")], namespace="sec"))
    for i, fault in enumerate(_FAULTS):
        for stream in (False, True):
            fake.reset()
            fake.model("gpt-4o-mini", answer=ANSWER)
            for rule in _echoing(fault):
                fake.fault(**rule)
            fresh = pb.CompleteRequest(
                messages=[_user(f"{PROMPT} {i} {stream}")], cache=pb.CachePolicy(skip_read=True)
            )
            call(stub.StreamComplete if stream else stub.Complete, fresh)
    fake.reset()
    fake.fault(kind="cut_stream", after_chunks=1)
    cut = pb.CompleteRequest(
        messages=[_user(PROMPT + " cut")], cache=pb.CachePolicy(skip_read=True)
    )
    call(stub.StreamComplete, cut)
    fake.reset()
    answer = pb.Message(role=pb.ROLE_ASSISTANT, content=ANSWER)
    call(stub.Store, pb.StoreRequest(messages=[_user(PROMPT + " stored")], answer=answer))
    call(stub.Lookup, pb.LookupRequest(messages=[_user(PROMPT + " stored")]))
    # Bad input whose fields carry the prompt: the error names the field, not the text.
    bad = [_user(PROMPT), pb.Message(role=pb.ROLE_ASSISTANT, content=PROMPT)]
    call(stub.Lookup, pb.LookupRequest(messages=bad))
    call(stub.Embed, pb.EmbedRequest(texts=[PROMPT * 3000]))
    call(stub.Complete, pb.CompleteRequest(messages=[_user(PROMPT)], params=pb.Params(top_p=7)))
    return wire


def test_daemon_process_leaks_nothing(
    start_daemon, fake_provider: FakeProvider, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "an.key"
    key_file.write_text(FILE_KEY)
    snaps = tmp_path / "snap"
    config = _config(cascade_config(fake_provider), key_file)
    # Breakers stay closed, so every fault reaches the provider code.
    config["cascade"]["breaker"]["minimum_calls"] = 10_000
    # With the verifier on, snapshots keep question texts on purpose (it compares them after a
    # restart: test_cache_rpc's restart test); without it they hold no prompt at all.
    config["cache"] = {"snapshot_dir": str(snaps), "store_nondeterministic": True,
                       "verifier": {"enabled": False}}  # fmt: skip
    daemon = start_daemon(config, env={"SLUICE_TEST_OA_KEY": ENV_KEY})
    fake_provider.model("gpt-4o-mini", answer=ANSWER)
    wire = _drive(daemon.stub(), fake_provider)
    assert len(wire) > 10
    with urllib.request.urlopen(f"{daemon.http}/metrics", timeout=5) as r:
        metrics = r.read()
    assert daemon.stop(signal.SIGTERM) == 0
    assert _leaks("\n".join(wire)) == [], "gRPC error details"
    assert _leaks(metrics) == [], "/metrics"
    assert _leaks(daemon.log()) == [], "the daemon's log"
    files = [p for p in snaps.rglob("*") if p.is_file()]
    assert files
    assert all(_leaks(p.read_bytes()) == [] for p in files), "snapshot files"
    # Positive control: the snapshot holds the cached answer, just not the prompt.
    assert any(ANSWER.encode() in p.read_bytes() for p in files)


async def test_in_process_events_carry_no_secrets(tmp_path: Path) -> None:
    """capture_logs sees the event dicts before redaction: nothing to redact may be in them."""
    key_file = tmp_path / "an.key"
    key_file.write_text(FILE_KEY)
    async with FakeProviderServer(default=ModelBehaviour(answer=ANSWER)) as fake:
        settings = parse_settings(
            {
                "providers": {
                    "oa": {
                        "kind": "openai",
                        "base_url": f"{fake.url}/v1",
                        "api_key_env": "SLUICE_TEST_OA_KEY",
                    },
                    "an": {
                        "kind": "anthropic",
                        "base_url": fake.url,
                        "api_key_file": str(key_file),
                    },
                },
                "tiers": [
                    {
                        "name": "t",
                        "timeout_s": 2,
                        "deployments": [
                            {"provider": "oa", "model": "gpt-4o-mini"},
                            {"provider": "an", "model": "claude-3-haiku"},
                        ],
                    }
                ],
                "cascade": {"retry": {"max_retries": 0}},
                "cache": {"snapshot_dir": str(tmp_path / "snap")},
            }
        )
        app = App(settings, default_model_dir(), secrets={"SLUICE_TEST_OA_KEY": ENV_KEY})
        errors: list[str] = []
        with capture_logs() as events:
            # The pipeline as the app builds it (providers, cascade, cache, snapshots), no server.
            await app._load()
            pipeline = app.service.pipeline
            for i, fault in enumerate([None, *_FAULTS]):
                for rule in _echoing(fault) if fault is not None else []:
                    fake.set_fault(Fault(**{**rule, "kind": FaultKind(rule["kind"])}))
                request = CompletionRequest(
                    namespace="sec", messages=(ChatMessage("user", f"{PROMPT} {i}"),),
                    params=GenParams(), deadline=time.monotonic() + 10, skip_read=True,
                )  # fmt: skip
                try:
                    await pipeline.complete(request)
                except SluiceError as exc:
                    errors.append(exc.message)
                    errors.extend(repr(a) for a in getattr(exc, "attempts", ()))
                fake.reset()
            await app._shutdown()
        metrics = generate_latest(app.metrics.registry)
    snapshot = b"".join(p.read_bytes() for p in (tmp_path / "snap").rglob("*") if p.is_file())
    assert ANSWER.encode() in snapshot
    assert _leaks(snapshot) == []
    assert sum(e.get("event") == "request" for e in events) == 1 + len(_FAULTS)
    assert _leaks(repr(events)) == []
    assert _leaks("\n".join(errors)) == []
    assert len(errors) >= 3
    assert _leaks(metrics) == []


# ---- a provider that quotes the request body it got back, escaped (issue #17)

PROMPT_RU = 'СЕКРЕТ-маркер-9b1d мой номер карты 4111 1111 1111 1111, "кавычки"\nи\tновая строка'
RU_SECRETS = ("СЕКРЕТ-маркер-9b1d", "номер карты", "4111 1111", "кавычки")


def _forms(secret: str) -> set[str]:
    """`secret` as it may show up in a log line, an error or a provider's echo."""
    forms = {secret}
    for text in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms |= {text, json.dumps(text)[1:-1], urllib.parse.quote(text),
                  urllib.parse.quote_plus(text)}  # fmt: skip
    return forms


def _escaped_leaks(text: str) -> list[str]:
    return sorted({form for s in (*RU_SECRETS, ENV_KEY) for form in _forms(s) if form in text})


def _http_error(daemon: Any, body: dict[str, Any]) -> str:
    # The OpenAI front on its own listener (--openai), else on the metrics one (older daemons).
    front = daemon.info.get("openai") or daemon.info["http"]
    request = urllib.request.Request(
        f"http://{front}/v1/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return f"{r.status} {r.read().decode()}"
    except urllib.error.HTTPError as exc:
        with exc:
            return f"{exc.code} {exc.read().decode()}"


def _attempt_errors(details: bytes) -> str:
    status = status_pb2.Status.FromString(details)
    out = []
    for detail in status.details:
        info = pb.ErrorDetails()
        detail.Unpack(info)
        out += [attempt.error for attempt in info.attempts]
    return "\n".join(out)


@pytest.mark.parametrize("status", [400, 500])
def test_echoed_request_bodies_leak_nothing_escaped_or_not(
    start_daemon, fake_provider: FakeProvider, tmp_path: Path, status: int
) -> None:  # type: ignore[no-untyped-def]
    config = cascade_config(fake_provider)
    config["providers"]["oa"]["api_key_env"] = "SLUICE_TEST_OA_KEY"
    config["cascade"]["breaker"]["minimum_calls"] = 10_000
    config["cascade"]["retry"]["max_retries"] = 0
    daemon = start_daemon(
        config, env={"SLUICE_TEST_OA_KEY": ENV_KEY}, args=("--openai", "127.0.0.1:0")
    )
    stub = daemon.stub()
    wire: list[str] = []
    for i, echo in enumerate(Echo):
        fake_provider.reset()
        fake_provider.fault(kind="echo_request", status=status, echo=echo.value)
        question = f"{PROMPT_RU} {i}"
        try:
            stub.Complete(pb.CompleteRequest(messages=[_user(question)]), timeout=20)
        except grpc.RpcError as exc:
            wire.append(exc.details() or "")
            # The attempts (each with its redacted provider error) travel in the details.
            details = dict(exc.trailing_metadata() or ()).get("grpc-status-details-bin", b"")
            wire.append(_attempt_errors(details))
        body = {"model": "sluice-auto", "messages": [{"role": "user", "content": question + "h"}]}
        wire.append(_http_error(daemon, body))
    # Positive control: the provider did echo the prompt, in each encoding.
    assert all(call["fault"] == "echo_request" for call in fake_provider.calls())
    assert len(wire) == 3 * len(Echo)
    # The gRPC attempts carry the provider's (redacted) words (a 400 reaches the caller too).
    assert sum("could not parse the request" in text for text in wire) >= len(Echo), wire
    assert daemon.stop(signal.SIGTERM) == 0
    assert _escaped_leaks("\n".join(wire)) == [], "errors on the wire"
    assert _escaped_leaks(daemon.log()) == [], "the daemon's log"
    assert "[redacted]" in "\n".join(wire)
