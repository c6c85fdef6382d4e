from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider
from tests.support.redis import RedisServer


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., Daemon]]:
    """Start one or more real daemons; every one is stopped and removed afterwards."""
    started: list[Daemon] = []

    def start(config: dict[str, Any] | None = None, **kwargs: Any) -> Daemon:
        wait = kwargs.pop("wait", True)
        daemon = Daemon(config, **kwargs)
        started.append(daemon)
        return daemon.start(wait=wait)

    yield start
    for daemon in started:
        daemon.cleanup()


@pytest.fixture(scope="module")
def shared_daemon() -> Iterator[Daemon]:
    """One daemon for a module's read-mostly tests (each uses its own namespace)."""
    daemon = Daemon().start()
    yield daemon
    daemon.cleanup()


@pytest.fixture
def start_redis() -> Iterator[Callable[..., RedisServer]]:
    """Start real redis-servers (tests/support/redis.py); each is killed and removed after."""
    started: list[RedisServer] = []

    def start(password: str | None = None, *, tls: bool = False) -> RedisServer:
        server = RedisServer(password, tls=tls)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.cleanup()


@pytest.fixture
def redis_server(start_redis: Callable[..., RedisServer]) -> RedisServer:
    """One real redis-server without a password."""
    server: RedisServer = start_redis()
    return server


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    yield fake
    fake.stop()


def cascade_config(fake: FakeProvider, **extra: Any) -> dict[str, Any]:
    """Three tiers across three wire protocols, all served by one fake."""
    config: dict[str, Any] = {
        "providers": fake.providers(),
        "tiers": [
            {"name": "cheap", "threshold": 0.75, "timeout_s": 2.0,
             "deployments": [{"provider": "oa", "model": "gpt-4o-mini"},
                             {"provider": "an", "model": "claude-3-haiku"}]},
            {"name": "medium", "threshold": 0.75, "timeout_s": 2.0,
             "deployments": [{"provider": "ge", "model": "gemini-1.5-flash"}]},
            {"name": "premium", "threshold": 0.75, "timeout_s": 2.0,
             "deployments": [{"provider": "oa", "model": "gpt-4o"}]},
        ],
        "cascade": {"retry": {"max_retries": 1, "base_s": 0.01, "cap_s": 0.05},
                    "breaker": {"failure_rate": 0.5, "minimum_calls": 3, "window_s": 30,
                                "cooldown_s": 1.0}},
    }  # fmt: skip
    for section, values in extra.items():
        config[section] = {**config.get(section, {}), **values}
    return config
