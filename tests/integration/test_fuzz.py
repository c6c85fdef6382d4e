"""Property-based fuzzing of every RPC against the real daemon, and of the config loader.

Each call has a deadline; the properties: no INTERNAL or UNKNOWN status, no call that
runs into its deadline, and the daemon still answers health afterwards. 200 examples per
RPC in the normal suite; `SLUICE_NIGHTLY=1` runs 10,000 per RPC.
"""

from __future__ import annotations

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
    daemon = Daemon(config).start()
    yield daemon
    health = health_pb2_grpc.HealthStub(daemon.channel())
    status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    assert daemon.proc is not None
    assert daemon.proc.poll() is None, "the daemon died"
    internal = [line for line in daemon.log_lines() if line.get("event") == "rpc_failed"]
    daemon.cleanup()
    fake.stop()
    for method, counts in sorted(TALLY.items()):
        print(f"fuzz {method}: {sum(counts.values())} calls {dict(counts)}")
    assert internal == []


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
