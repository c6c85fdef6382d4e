"""What the fleet's integration tests share: waiting for a condition, reading a metric."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.daemon import Daemon
from tests.support.redis import RedisServer


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `check` until it holds; fail when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.02)


def metric(daemon: Daemon, name: str) -> float:
    """An unlabelled metric's value from the daemon's /metrics (0 when absent)."""
    for line in daemon.metrics().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def serving(daemon: Daemon) -> bool:
    stub = health_pb2_grpc.HealthStub(daemon.channel())
    status = stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status
    return bool(status == health_pb2.HealthCheckResponse.SERVING)


def fleet_config(redis: RedisServer, prefix: str, **fleet: Any) -> dict[str, Any]:
    return {"fleet": {"enabled": True, "redis_url": redis.url, "key_prefix": prefix, **fleet}}


@contextlib.contextmanager
def running(daemons: list[Daemon]) -> Iterator[list[Daemon]]:
    """Start the daemons side by side, wait for all, and clean every one up at the end."""
    try:
        for d in daemons:
            d.start(wait=False)
        for d in daemons:
            d.wait_ready()
        yield daemons
    finally:
        for d in daemons:
            d.cleanup()
