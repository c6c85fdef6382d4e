"""Config reload without restart: SIGHUP and file change; a bad file keeps the running config."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from sluice.v1 import sluice_pb2 as pb
from tests.conftest import cascade_config
from tests.support.daemon import Daemon
from tests.support.fake import FakeProvider

pytestmark = pytest.mark.integration


def rules(tier: str) -> dict[str, Any]:
    return {
        "policies": {"by-rules": {"kind": "rules", "rules": [
            {"name": "maths", "keywords": ["integral"], "tier": tier}]}},
        "default": {"policy": "by-rules"},
    }  # fmt: skip


def route(daemon: Daemon) -> pb.RouteDecision:
    request = pb.RouteRequest(
        messages=[pb.Message(role=pb.ROLE_USER, content="Compute the integral of x^2")]
    )
    return daemon.stub().Route(request, timeout=10)


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def daemon(start_daemon, fake_provider: FakeProvider) -> Daemon:  # type: ignore[no-untyped-def]
    return start_daemon({**cascade_config(fake_provider), "routing": rules("medium")})  # type: ignore[no-any-return]


def rewrite(daemon: Daemon, change: Any) -> None:
    path = daemon.workdir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))


def test_sighup_applies_a_new_rule(daemon: Daemon) -> None:
    assert route(daemon).tier == "medium"
    rewrite(daemon, lambda c: c.update(routing=rules("premium")))
    daemon.send_signal(signal.SIGHUP)
    assert wait_for(lambda: route(daemon).tier == "premium")
    assert any(line.get("event") == "config_reloaded" for line in daemon.log_lines())


def test_a_changed_file_is_picked_up_without_a_signal(daemon: Daemon) -> None:
    rewrite(daemon, lambda c: c.update(routing=rules("premium")))
    assert wait_for(lambda: route(daemon).tier == "premium", timeout=15)


@pytest.mark.parametrize(
    ("break_it", "key"),
    [
        (lambda c: c["routing"]["policies"]["by-rules"]["rules"][0].update(regex="(unclosed"),
         "routing.policies.by-rules.rules[0].regex"),
        (lambda c: c["routing"]["policies"]["by-rules"].update(surprise=1),
         "routing.policies.by-rules"),
        (lambda c: c["routing"].update(namespaces={"x": {"split": {"by-rules": 60}}}),
         "routing.namespaces.x"),
        (lambda c: c["cache"].update(threshold=2), "cache.threshold"),
    ],
)  # fmt: skip
def test_a_bad_file_keeps_the_running_config_and_names_the_key(
    daemon: Daemon, break_it: Any, key: str
) -> None:
    def change(config: dict[str, Any]) -> None:
        config.setdefault("cache", {})
        config["routing"] = rules("premium")
        break_it(config)

    rewrite(daemon, change)
    daemon.send_signal(signal.SIGHUP)
    assert wait_for(lambda: any(
        line.get("event") == "config_reload_failed" for line in daemon.log_lines()))  # fmt: skip
    failure = next(x for x in daemon.log_lines() if x.get("event") == "config_reload_failed")
    assert failure["key"].startswith(key), failure
    assert route(daemon).tier == "medium", "the running config stays"
    assert daemon.proc is not None
    assert daemon.proc.poll() is None


def test_restart_only_settings_are_named_and_kept(daemon: Daemon, tmp_path: Path) -> None:
    rewrite(daemon, lambda c: c.update(embedding={"threads": 1}, routing=rules("premium")))
    daemon.send_signal(signal.SIGHUP)
    assert wait_for(lambda: route(daemon).tier == "premium")
    partial = [x for x in daemon.log_lines() if x.get("event") == "config_reload_partial"]
    assert partial
    assert partial[0]["restart_needed"] == ["embedding"]
    with pytest.raises(grpc.RpcError):  # still serving, and still validating as before
        daemon.stub().Lookup(pb.LookupRequest(), timeout=5)


def _events(daemon: Daemon) -> list[str]:
    return [str(line.get("event")) for line in daemon.log_lines()]


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_in_flight_keeps_the_settings_it_started_with(
    start_daemon: Any, fake_provider: FakeProvider, stream: bool
) -> None:
    # The reload lands while the provider takes its time: the request decides whether to
    # store its answer with the settings it started with (cache on), not the new ones.
    config = cascade_config(fake_provider, cache={"enabled": True})
    for tier in config["tiers"]:
        tier["timeout_s"] = 20.0
    daemon: Daemon = start_daemon(config)
    fake_provider.reset()
    fake_provider.fault(kind="latency", latency_ms=5000, times=1)
    request = pb.CompleteRequest(
        messages=[pb.Message(role=pb.ROLE_USER, content="How do I delete a file in Linux?")]
    )

    def call() -> None:
        if stream:
            list(daemon.stub().StreamComplete(request, timeout=30))
        else:
            daemon.stub().Complete(request, timeout=30)

    try:
        with ThreadPoolExecutor(1) as pool:
            answered = pool.submit(call)
            assert wait_for(lambda: bool(fake_provider.calls()))  # the call is in flight
            rewrite(daemon, lambda c: c["cache"].update(enabled=False))
            daemon.send_signal(signal.SIGHUP)
            assert wait_for(lambda: "config_reloaded" in _events(daemon))
            answered.result()
    finally:
        fake_provider.reset()
    events = _events(daemon)
    assert events.index("config_reloaded") < events.index("request"), "reloaded mid-request"
    line = next(x for x in daemon.log_lines() if x.get("event") == "request")
    assert line["stored"] is True
    stats = daemon.stub().GetStats(pb.GetStatsRequest(), timeout=5)
    assert stats.cache.stores == 1
