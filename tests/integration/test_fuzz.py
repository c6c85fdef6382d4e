"""Property-based fuzzing of every RPC and every OpenAI HTTP route against the real daemon.

Each call has a deadline; the properties: no INTERNAL or UNKNOWN status (no HTTP 500), no
call that runs into its deadline, every line the daemon logged is one JSON object, and the
daemon still answers health afterwards. 200 examples per RPC and route in the normal suite;
`SLUICE_NIGHTLY=1` runs 10,000 each. A status tally per RPC and route is printed (-s).
"""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support import fuzz
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration

EXAMPLES = 10_000 if fuzz.NIGHTLY else 200
DEADLINE_S = 10.0
SERVICE = pb.DESCRIPTOR.services_by_name["Sluice"]
# What a caller may get back for bad input; INTERNAL, UNKNOWN and DEADLINE_EXCEEDED never.
ALLOWED = {
    grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNAVAILABLE,
}  # fmt: skip
TALLY: dict[str, Counter[str]] = {}


@pytest.fixture(scope="module")
def fuzz_daemon() -> Iterator[Daemon]:
    fake = FakeProvider()
    config = cascade_config(fake)
    # Room for many fuzzed calls in flight on two cores; instant provider answers.
    daemon = Daemon(config, args=("--openai", "127.0.0.1:0")).start()
    yield daemon
    health = health_pb2_grpc.HealthStub(daemon.channel())
    status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    assert daemon.proc is not None
    assert daemon.proc.poll() is None, "the daemon died"
    lines = daemon.log_lines()
    internal = [line for line in lines if line.get("event") in ("rpc_failed", "http_failed")]
    not_json = [line["raw"] for line in lines if "raw" in line]
    daemon.cleanup()
    fake.stop()
    for method, counts in sorted(TALLY.items()):
        print(f"fuzz {method}: {sum(counts.values())} calls {dict(sorted(counts.items()))}")
    assert internal == []
    assert not_json == [], "every log line is one JSON object"


def _call(daemon: Daemon, method: str, data: bytes) -> grpc.StatusCode:
    path = f"/{SERVICE.full_name}/{method}"
    streaming = SERVICE.methods_by_name[method].server_streaming
    channel = daemon.channel()
    started = time.monotonic()
    try:
        if streaming:
            for _ in channel.unary_stream(path)(data, timeout=DEADLINE_S):
                pass
        else:
            channel.unary_unary(path)(data, timeout=DEADLINE_S)
        code = grpc.StatusCode.OK
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details()
    else:
        details = ""
    assert code in ALLOWED, f"{method}: {code} {details!r}"
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S - 1, f"{method}: {elapsed:.1f}s, near its deadline"
    TALLY.setdefault(method, Counter())[code.name] += 1
    return code


@pytest.mark.parametrize("method", [m.name for m in SERVICE.methods])
def test_fuzz_rpc(fuzz_daemon: Daemon, method: str) -> None:
    request_class = getattr(pb, SERVICE.methods_by_name[method].input_type.name)

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=not fuzz.NIGHTLY,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(fuzz.request(request_class))
    def check(data: bytes) -> None:
        _call(fuzz_daemon, method, data)

    check()


def test_issue17_seeds_over_grpc(fuzz_daemon: Daemon) -> None:
    """A JSON schema nested 100,000 deep was INTERNAL (RecursionError in a provider)."""
    deep = pb.Params(json_schema='{"a": ' * 100_000 + "1" + "}" * 100_000)
    question = [pb.Message(role=pb.ROLE_USER, content="what is deep?")]
    answer = pb.Message(role=pb.ROLE_ASSISTANT, content="very")
    requests = {
        "Complete": pb.CompleteRequest(messages=question, params=deep),
        "StreamComplete": pb.CompleteRequest(messages=question, params=deep),
        "Lookup": pb.LookupRequest(messages=question, params=deep),
        "Store": pb.StoreRequest(messages=question, params=deep, answer=answer),
    }
    for method, request in requests.items():
        code = _call(fuzz_daemon, method, request.SerializeToString())
        assert code == grpc.StatusCode.INVALID_ARGUMENT, method


# ---- the OpenAI HTTP front

HTTP_ROUTES = {
    "chat": ("POST", "/v1/chat/completions"),
    "embeddings": ("POST", "/v1/embeddings"),
    "models": ("GET", "/v1/models"),
    "model": ("GET", "/v1/models/{model}"),
}


# A body over the front's limit may be answered (413) and the connection closed before the
# client has sent it all; such a call is tallied as "closed".
CLOSED = 0
CLOSED_OVER = 64 * 1024


class _Http:
    """One keep-alive connection to the front, opened again when the server closes it."""

    def __init__(self, address: str) -> None:
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> int:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=DEADLINE_S)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if body is not None and len(body) > CLOSED_OVER:
                    # Refused at once (413) and closed while we were still sending the rest:
                    # the client sees the reset before it can read the status.
                    return CLOSED
                if attempt:
                    raise
                continue
            if response.will_close:
                self.conn.close()
                self.conn = None
            # OpenAI's error shape, whatever went wrong; only aiohttp's own HTTP parser (a
            # duplicate Content-Type, a bad header) answers 400 in plain text before us.
            if response.status >= 400 and response.getheader("content-type", "").startswith(
                "application/json"
            ):
                assert json.loads(data)["error"]["message"], data
            return response.status
        raise AssertionError("unreachable")


# Statuses a caller may get for bad input; 500 never. 502/503/504: the providers (or their
# deadline), never our own failure.
HTTP_ALLOWED = {CLOSED, 200, 400, 401, 404, 405, 413, 429, 501, 503, 504}


@pytest.fixture(scope="module")
def front(fuzz_daemon: Daemon) -> _Http:
    return _Http(fuzz_daemon.info.get("openai") or fuzz_daemon.info["http"])


def _send(front: _Http, route: str, path: str, body: bytes | None, headers: dict[str, str]) -> None:
    method = HTTP_ROUTES[route][0]
    started = time.monotonic()
    status = front.send(method, path, body, {"Content-Type": "application/json", **headers})
    assert status in HTTP_ALLOWED, f"{route}: HTTP {status} for {body[:200] if body else path!r}"
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S - 1, f"{route}: {elapsed:.1f}s, near its deadline"
    TALLY.setdefault(f"HTTP {route}", Counter())[str(status or "closed")] += 1


# The inputs that crashed the front before (issue #17), always tried first.
_SEEDS = [
    b'{"model": "sluice-auto", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "\\ud800"}]}',
    b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
    b'"sluice": {"ttl_s": 1e300}}',
    b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
    b'"sluice": {"ttl_s": Infinity}}',
    b'{"model": "sluice-auto", "messages": [{"role": "user", "content": "q"}], '
    b'"response_format": {"type": "json_schema", "json_schema": {"schema": '
    + b'{"a": ' * 5_000
    + b"1"
    + b"}" * 5_000
    + b"}}}",
]


@pytest.mark.parametrize("route", ["chat", "embeddings"])
def test_fuzz_http_post(front: _Http, route: str) -> None:
    path = HTTP_ROUTES[route][1]

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=not fuzz.NIGHTLY,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(fuzz.http_body(route), fuzz.HEADERS)
    def check(body: bytes, headers: dict[str, str]) -> None:
        _send(front, route, path, body, headers)

    for seed in _SEEDS:
        _send(front, route, path, seed, {})
    check()


@pytest.mark.parametrize("route", ["models", "model"])
def test_fuzz_http_get(front: _Http, route: str) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=not fuzz.NIGHTLY,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(fuzz.MODEL_PATHS, fuzz.HEADERS)
    def check(model: str, headers: dict[str, str]) -> None:
        path = HTTP_ROUTES[route][1].replace("{model}", model)
        _send(front, route, path, None, headers)

    check()
