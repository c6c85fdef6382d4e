"""The configuration reference is generated from the settings model and covers every key."""

from __future__ import annotations

from typing import Any

import pytest

from sluice import config_doc
from sluice.config import Settings, parse_settings
from sluice.reload import RESTART_ONLY, merge


def test_every_key_has_a_description() -> None:
    assert config_doc.undocumented() == []


def test_every_section_and_nested_key_is_listed() -> None:
    paths = {key.path for key in config_doc.walk()}
    assert set(Settings.model_fields) <= paths
    nested = ("cache.verifier.min_probability", "tiers[].deployments[].model",
              "providers.<name>.api_key_env", "routing.policies.<name>.cost_weight")  # fmt: skip
    assert set(nested) <= paths


def test_defaults_are_the_models_defaults() -> None:
    keys = {key.path: key for key in config_doc.walk()}
    assert keys["server.openai"].default == '`"127.0.0.1:9091"`'
    assert keys["server.socket_mode"].default == "`0o600`"
    assert keys["providers.<name>.kind"].default == "required"


def _nested(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("cache.snapshot_dir", "/tmp/elsewhere"),
        ("cache.verifier.enabled", False),
        ("cache.verifier.threads", 3),
        ("cache.verifier.model_dir", "/tmp/v"),
        ("cache.threshold", 0.99),
        ("cache.verifier.min_probability", 0.99),
        ("logging.level", "debug"),
    ],
)
def test_the_reload_column_is_what_reload_merge_does(path: str, value: Any) -> None:
    running = Settings()
    _, restart = merge(running, parse_settings(_nested(path, value)))
    marked = next(k for k in config_doc.walk() if k.path == path).reload
    assert marked == ("restart" if path in restart else "reload")


def test_restart_only_sections_are_marked_restart() -> None:
    for key in config_doc.walk():
        if key.path.split(".")[0] in RESTART_ONLY:
            assert key.reload == "restart", key.path
