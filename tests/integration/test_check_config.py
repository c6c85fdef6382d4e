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

from sluice.cli import default_model_dir

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
    "per-model confidence for a model no tier deploys": (
        {"providers": {"oa": PROVIDER}, "tiers": TIERS,
         "cascade": {"confidence": {"learned_by_model": {"gpt-5": "/x.npz"}}}},
        "cascade.confidence.learned_by_model.gpt-5",
    ),
    "per-model confidence file that does not load": (
        {"providers": {"oa": PROVIDER}, "tiers": TIERS,
         "cascade": {"confidence": {"learned_by_model": {"gpt-4o-mini": "/nonexistent.npz"}}}},
        "cascade.confidence.learned_by_model.gpt-4o-mini",
    ),
}  # fmt: skip


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


def test_a_precision_the_model_folder_lacks_is_refused_naming_the_key(tmp_path: Path) -> None:
    # A folder with fp32 weights only (a user's own export): int8 must name embedding.precision,
    # and auto must start on model.onnx.
    folder = tmp_path / "my-model"
    folder.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        (folder / name).symlink_to(default_model_dir() / name)
    config = {"embedding": {"model_dir": str(folder), "precision": "int8"}}
    checked, check_err = run("check-config", config, tmp_path)
    served, serve_err = run("serve", config, tmp_path)
    assert (checked, served) == (2, 2), (check_err, serve_err)
    assert "config key 'embedding.precision'" in check_err
    assert "model.int8.onnx does not exist" in check_err
    assert check_err.strip().splitlines()[-1] in serve_err
    config["embedding"]["precision"] = "auto"
    assert run("check-config", config, tmp_path)[0] == 0, "auto falls back to model.onnx"
