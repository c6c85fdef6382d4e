"""`sluice serve --demo` shows all five outcomes with no keys and no network (issue #22)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from sluice.demo.client import render, tour
from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo() -> Iterator[Daemon]:
    daemon = Daemon(args=("--demo",)).start()
    try:
        yield daemon
    finally:
        daemon.cleanup()


def test_demo_shows_a_miss_an_exact_and_a_semantic_hit_an_escalation_and_savings(
    demo: Daemon,
) -> None:
    rows = tour(demo.channel())
    assert [r.outcome for r in rows] == ["MISS", "EXACT", "SEMANTIC", "MISS"]
    assert [r.served_by for r in rows] == ["cheap", "cache", "cache", "premium"]
    assert [len(r.attempts) for r in rows] == [1, 0, 0, 3]
    escalation = [a.rsplit(" ", 1)[1] for a in rows[3].attempts]
    assert escalation == ["low_confidence", "low_confidence", "accepted"]
    assert rows[1].cost_usd == rows[2].cost_usd == 0.0
    assert all(r.baseline_usd > 0 for r in rows)
    assert sum(r.cost_usd for r in rows) < sum(r.baseline_usd for r in rows)
    assert "saved" in render(rows)


def test_demo_answers_and_log_say_they_are_fake(demo: Daemon) -> None:
    rows = tour(demo.channel())
    assert all(r.answer.startswith("[demo ") for r in rows)
    banners = [line for line in demo.log_lines() if line.get("event") == "demo_mode"]
    assert banners, demo.log()
    assert "fake providers" in banners[0]["banner"]


def test_sluice_demo_starts_its_own_daemon_and_prints_the_tour() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sluice", "demo"], capture_output=True, text=True, timeout=150,
        check=True,
    )  # fmt: skip
    assert "cache SEMANTIC" in out.stdout
    assert "5. savings:" in out.stdout


def test_sluice_demo_at_an_address_with_no_daemon_says_so_without_a_traceback() -> None:
    # It died with a grpc traceback ("failed to connect to all addresses").
    out = subprocess.run(
        [sys.executable, "-m", "sluice", "demo", "--address", "unix:///nonexistent/sluice.sock"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "nothing answered at unix:///nonexistent/sluice.sock" in out.stderr
    assert "Traceback" not in out.stderr


def test_sluice_demo_at_a_daemon_without_tiers_names_what_it_needs(shared_daemon: Daemon) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sluice", "demo", "--address", shared_daemon.address],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert "answered UNAVAILABLE" in out.stderr
    assert "sluice serve --demo" in out.stderr
    assert "Traceback" not in out.stderr
