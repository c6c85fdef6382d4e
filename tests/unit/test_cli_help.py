"""The help texts name the defaults, the environment and the ports (parsed, not snapshotted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sluice import cli
from sluice.config import ServerSettings


def _help(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def _option(text: str, flag: str) -> str:
    """The help of one option: from the flag to the next option."""
    options = text.split(" options: ", 1)[1]
    # The next option's header is a flag and its upper-case metavar (`--http HOST:PORT`).
    return re.split(r" --[a-z-]+ [A-Z][A-Z:]+ ", options.split(f" {flag} ", 1)[1])[0]


def test_top_level_help_is_for_users_not_the_module_docstring(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help(capsys=capsys)
    assert cli.__doc__ is not None
    assert cli.__doc__.split("\n", 1)[0] not in text
    for command in ("serve", "demo", "check-config", "config-reference", "eval"):
        assert f" {command} " in text


def test_serve_help_names_every_default_port_and_what_it_serves(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = _help("serve", capsys=capsys)
    defaults = ServerSettings()
    for address in defaults.listen:
        assert address in _option(text, "--listen")
    http, front = _option(text, "--http"), _option(text, "--openai")
    assert f"default: {defaults.http}" in http
    assert "/metrics" in http
    assert "OpenAI" not in http
    assert f"default: {defaults.openai}" in front
    assert "OpenAI" in front
    assert "example" in text
    assert "sluice serve --demo" in text


def test_serve_help_lists_every_environment_variable_the_cli_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = Path(cli.__file__).read_text()
    read = set(re.findall(r"os\.environ\.get\(\"(SLUICE_[A-Z_]+)\"", source))
    assert read, "the CLI reads SLUICE_* variables"
    text = _help("serve", capsys=capsys)
    for name in read:
        assert name in text
    assert "api_key_env" in text


def test_check_config_help_says_what_it_checks(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help("check-config", capsys=capsys)
    for what in ("key files", "model", "verifier", "binding"):
        assert what in text
