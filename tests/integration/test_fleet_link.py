"""FleetLink and the start-up check against a real redis-server (tests/support/redis.py).

Bounds are checked as outcomes (None, degraded, counters), never as timed assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sluice.config import FleetSettings
from sluice.errors import ConfigError
from sluice.fleet.check import check_fleet
from sluice.fleet.link import FleetLink, read_password, redacted
from sluice.telemetry.metrics import Metrics
from tests.support.redis import RedisServer

pytestmark = pytest.mark.integration


def _settings(url: str, **kw: object) -> FleetSettings:
    return FleetSettings.model_validate(
        {"enabled": True, "redis_url": url, "command_timeout_ms": 50, **kw}
    )


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 - polls state no event announces
            await asyncio.sleep(0.02)


async def test_calls_answer_and_script_survives_a_restart(redis_server: RedisServer) -> None:
    metrics = Metrics()
    link = FleetLink(_settings(redis_server.url), metrics, password=None)
    try:
        assert await link.start()
        assert await link.call("set", lambda r: r.set("k", "v"))
        assert await link.call("get", lambda r: r.get("k")) == b"v"
        incr = link.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert await link.call("script", lambda r: incr(keys=["n"], args=[2])) == 2
        # A restarted Redis has no script cache: EVALSHA's NOSCRIPT is answered by a load.
        redis_server.restart()
        await link.call("probe", lambda r: r.ping())  # the first call after may find it gone
        await _until(lambda: not link.degraded)
        assert await link.call("script", lambda r: incr(keys=["n"], args=[3])) == 3
    finally:
        await link.close()


async def test_down_degrades_fails_fast_and_recovers_once(redis_server: RedisServer) -> None:
    metrics = Metrics()
    recovered: list[int] = []

    async def hook() -> None:
        recovered.append(1)

    link = FleetLink(_settings(redis_server.url), metrics, password=None)
    link.on_recovered(hook)
    try:
        assert await link.start()
        assert _value(metrics, "sluice_fleet_degraded") == 0
        with capture_logs() as events:
            redis_server.kill()
            assert await link.call("get", lambda r: r.get("k")) is None
            assert link.degraded
            assert _value(metrics, "sluice_fleet_degraded") == 1
            # Degraded: every call returns None at once (counted), none waits for Redis.
            results = await asyncio.gather(
                *(link.call("get", lambda r: r.get("k")) for _ in range(100))
            )
            assert results == [None] * 100
            assert _value(metrics, "sluice_fleet_call_failures_total", what="get") == 101
            redis_server.start()
            await _until(lambda: not link.degraded)
            await _until(lambda: bool(recovered))
        assert _value(metrics, "sluice_fleet_degraded") == 0
        assert await link.call("set", lambda r: r.set("k", "again"))
        names = [e["event"] for e in events]
        assert names.count("degraded: fleet") == 1
        assert names.count("fleet recovered") == 1
        assert recovered == [1]
    finally:
        await link.close()


async def test_a_slow_redis_is_given_up_after_the_timeout(redis_server: RedisServer) -> None:
    metrics = Metrics()
    link = FleetLink(_settings(redis_server.url), metrics, password=None)
    blocker = FleetLink(_settings(redis_server.url, command_timeout_ms=5000), Metrics(),
                        password=None)  # fmt: skip
    try:
        assert await link.start()
        # DEBUG SLEEP blocks the whole server for 0.5 s: the 50 ms call must give up.
        sleeping = asyncio.create_task(
            blocker.call("sleep", lambda r: r.execute_command("DEBUG", "SLEEP", "0.5"))
        )
        await asyncio.sleep(0.05)
        assert await link.call("get", lambda r: r.get("k")) is None
        assert link.degraded
        await sleeping
        await _until(lambda: not link.degraded)
    finally:
        await link.close()
        await blocker.close()


async def test_a_refused_command_does_not_degrade(redis_server: RedisServer) -> None:
    metrics = Metrics()
    link = FleetLink(_settings(redis_server.url), metrics, password=None)
    try:
        assert await link.start()
        await link.call("set", lambda r: r.set("s", "text"))
        assert await link.call("incr", lambda r: r.incr("s")) is None  # WRONGTYPE-like error
        assert not link.degraded
        assert _value(metrics, "sluice_fleet_call_failures_total", what="incr") == 1
    finally:
        await link.close()


async def test_unix_socket_and_password(start_redis: Callable[..., RedisServer]) -> None:
    server = start_redis(password="pw-unix-7f3a")
    settings = _settings(server.unix_url, password_file=str(server.password_file()))
    check_fleet(settings)
    link = FleetLink(settings, Metrics(), password=read_password(settings.password_file))
    try:
        assert await link.start()
        assert await link.call("ping", lambda r: r.ping())
    finally:
        await link.close()


def test_wrong_password_is_a_config_error_without_the_password(
    start_redis: Callable[..., RedisServer],
) -> None:
    server = start_redis(password="right-pass-91b2")
    wrong = server.password_file("wrong-pass-55c0")
    with capture_logs() as events, pytest.raises(ConfigError) as raised:
        check_fleet(_settings(server.url, password_file=str(wrong)))
    assert raised.value.key == "fleet.password_file"
    assert "refused the password" in raised.value.message
    text = raised.value.message + repr(events)
    assert "wrong-pass-55c0" not in text
    assert "right-pass-91b2" not in text
    with pytest.raises(ConfigError) as missing:
        check_fleet(_settings(server.url))
    assert missing.value.key == "fleet.password_file"


def test_tls_to_a_plain_port_is_a_config_error(redis_server: RedisServer) -> None:
    with pytest.raises(ConfigError) as raised:
        check_fleet(_settings(redis_server.url.replace("redis://", "rediss://")))
    assert raised.value.key == "fleet.redis_url"
    assert "TLS" in raised.value.message


def test_unreachable_at_start_is_a_warning_not_an_error(tmp_path: Path) -> None:
    with capture_logs() as events:
        check_fleet(_settings(f"unix://{tmp_path}/nothing.sock"))
        check_fleet(_settings("redis://127.0.0.1:1/0"))
    assert [e["event"] for e in events] == ["fleet_unreachable_at_start"] * 2


def test_password_file_errors_name_the_key(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    for path in (empty, tmp_path / "missing"):
        with pytest.raises(ConfigError) as raised:
            read_password(path)
        assert raised.value.key == "fleet.password_file"


def test_redacted_drops_user_info() -> None:
    assert redacted("redis://user@h:6379/0?x=1") == "redis://h:6379/0"
    assert redacted("unix:///run/redis.sock") == "unix:///run/redis.sock"


async def test_rediss_with_its_ca_works_and_mismatches_name_the_key(
    start_redis: Callable[..., RedisServer],
) -> None:
    server = start_redis(password="tls-pw-4d2e", tls=True)
    password = str(server.password_file())
    settings = _settings(server.url, password_file=password, tls_ca_file=str(server.ca_file))
    check_fleet(settings)
    link = FleetLink(settings, Metrics(), password="tls-pw-4d2e")
    try:
        assert await link.start()
        assert await link.call("set", lambda r: r.set("k", "over TLS"))
    finally:
        await link.close()
    # Plain redis:// to the TLS port: the server hangs up on the first bytes.
    plain = server.url.replace("rediss://", "redis://")
    with pytest.raises(ConfigError) as raised:
        check_fleet(_settings(plain, password_file=password))
    assert raised.value.key == "fleet.redis_url"
    assert "TLS" in raised.value.message
    # TLS, but the certificate's CA is not trusted: the hint names tls_ca_file.
    with pytest.raises(ConfigError) as untrusted:
        check_fleet(_settings(server.url, password_file=password))
    assert untrusted.value.key == "fleet.redis_url"
    assert "fleet.tls_ca_file" in untrusted.value.message
