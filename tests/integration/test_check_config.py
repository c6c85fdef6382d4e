"""`check-config` refuses what `serve` refuses at start, with the same message (issue #17).

It used to pass a config whose key file was unreadable or whose key variable was unset,
which `serve` then rejected (or started with and answered every call with a 401).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

PROVIDER = {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}
TIERS = [{"name": "cheap", "deployments": [{"provider": "oa", "model": "gpt-4o-mini"}]}]


def run(command: str, config: dict[str, Any], tmp_path: Path, *extra: str) -> tuple[int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "SLUICE_TEST_UNSET_KEY"}
    args = [sys.executable, "-m", "sluice", command]
    if command == "serve":
        args += ["--config", str(path), "--listen", f"unix://{tmp_path}/s.sock", "--http",
                 "127.0.0.1:0"]  # fmt: skip
    else:
        args += [str(path)]
    proc = subprocess.run(
        [*args, *extra], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    return proc.returncode, proc.stderr


CASES = {
    "unreadable key file": (
        {"providers": {"oa": {**PROVIDER, "api_key_file": "/nonexistent/key"}}, "tiers": TIERS},
        "providers.oa.api_key_file",
    ),
    "unset key variable": (
        {"providers": {"oa": {**PROVIDER, "api_key_env": "SLUICE_TEST_UNSET_KEY"}}, "tiers": TIERS},
        "providers.oa.api_key_env",
    ),
    "missing token file": (
        {"server": {"auth_token_file": "/nonexistent/token"}},
        "server.auth_token_file",
    ),
    "unknown socket group": (
        {"server": {"socket_group": "no-such-group-here"}},
        "server.socket_group",
    ),
    "missing embedding model": (
        {"embedding": {"model_dir": "/nonexistent/model"}},
        "embedding.model_dir",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_check_config_and_serve_refuse_the_same_file(case: str, tmp_path: Path) -> None:
    config, key = CASES[case]
    checked, check_err = run("check-config", config, tmp_path)
    served, serve_err = run("serve", config, tmp_path)
    assert (checked, served) == (2, 2), (check_err, serve_err)
    assert f"config key '{key}'" in check_err
    assert check_err.strip().splitlines()[-1] in serve_err
    assert not (tmp_path / "s.sock").exists()  # refused before anything was bound


def test_content_only_skips_what_only_the_pod_has(tmp_path: Path) -> None:
    config, _ = CASES["unreadable key file"]
    assert run("check-config", config, tmp_path, "--content-only")[0] == 0
    bad = {**config, "tiers": [{"name": "x", "deployments": [{"provider": "nope", "model": "m"}]}]}
    code, err = run("check-config", bad, tmp_path, "--content-only")
    assert code == 2
    assert "tiers[0].deployments[0].provider" in err
