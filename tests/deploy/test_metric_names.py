"""deploy/ names only metrics the daemon exports, and ships configs the daemon accepts.

Scrapes the real daemon's `/metrics` and checks every metric name in every alert expression
(deploy/alerts) and every dashboard query (deploy/grafana). Labelled series that were never
incremented have no samples yet, but prometheus_client still writes their `# TYPE` line.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice.config import load_settings
from tests.support.daemon import REPO, Daemon

DEPLOY = REPO / "deploy"
RULES = DEPLOY / "alerts" / "prometheusrule.yaml"
DASHBOARD = DEPLOY / "grafana" / "sluice.json"

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
             "group_right", "bool", "offset", "inf", "nan"}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![A-Za-z0-9_.:$])[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions or keywords."""
    e = _STRING.sub('""', expr)
    e = _MATCHERS.sub(" ", e)
    e = _RANGE.sub(" ", e)
    e = _GROUPING.sub(" ", e)
    names = set()
    for m in _IDENT.finditer(e):
        if e[m.end() :].lstrip().startswith("(") or m.group(0).lower() in _KEYWORDS:
            continue  # a function call, an aggregation, or a keyword
        names.add(m.group(0))
    return names


def alert_exprs() -> dict[str, str]:
    rule = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def dashboard_exprs() -> dict[str, str]:
    dash = json.loads(DASHBOARD.read_text())
    out = {f"{p['title']} [{t['refId']}]": t["expr"]
           for p in _panels(dash["panels"]) for t in p.get("targets", [])}  # fmt: skip
    for var in dash["templating"]["list"]:
        if var["type"] == "query":  # Grafana's label_values(metric{...}, label)
            q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", q)
            assert m, f"variable {var['name']}: unexpected query {q!r}"
            out[f"${var['name']}"] = m.group(1)
    return out


def exported_names(text: str) -> set[str]:
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.fixture(scope="module")
def exported() -> Iterator[set[str]]:
    daemon = Daemon().start()
    try:
        with urllib.request.urlopen(f"{daemon.http}/metrics", timeout=10) as resp:
            yield exported_names(resp.read().decode())
    finally:
        daemon.cleanup()


def test_the_parser_finds_metric_names() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, model) (rate(sluice_x_bucket{a="b{c}"}[5m])))'
        " / ignoring(model) group_left sum(rate(up[$__rate_interval] offset 5m)) > bool 0.3"
    )
    assert metric_names(expr) == {"sluice_x_bucket", "up"}


def test_every_required_alert_is_there() -> None:
    signals = {
        "SluiceCacheHitRateLow": "sluice_cache_lookups_total",
        "SluiceEscalationRateHigh": "sluice_escalations_total",
        "SluiceModelLatencyHigh": "sluice_model_latency_seconds_bucket",
        "SluiceFallbackRateHigh": "sluice_fallbacks_total",
        "SluiceCostAboveBaseline": "sluice_baseline_cost_usd_total",
        "SluiceCircuitBreakerOpen": "sluice_circuit_state",
    }
    exprs = alert_exprs()
    for alert, metric in signals.items():
        assert metric in metric_names(exprs.get(alert, "")), f"{alert} should use {metric}"


@pytest.mark.integration
@pytest.mark.parametrize("source", [alert_exprs, dashboard_exprs], ids=["alerts", "dashboard"])
def test_every_metric_name_is_exported(
    exported: set[str], source: Callable[[], dict[str, str]]
) -> None:
    exprs = source()
    assert exprs
    missing = {name: sorted(metric_names(e) - exported) for name, e in exprs.items()}
    missing = {name: names for name, names in missing.items() if names}
    assert not missing, f"not exported by the daemon: {missing}"
    # Threshold lines drawn on the dashboard are bare numbers; anything else names a metric.
    empty = [n for n, e in exprs.items() if not metric_names(e) and not _is_number(e)]
    assert not empty, f"these name no metric: {empty}"


def _is_number(expr: str) -> bool:
    try:
        float(expr)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("sluice*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_shipped_daemon_configs_validate(path: Path) -> None:
    load_settings(path)  # raises ConfigError naming the key
