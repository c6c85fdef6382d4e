"""`sluice eval routing` end to end on a small three-model replay file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[1] / "data"
KEYS = {"quality", "cost", "strong_share", "apgr", "cpt50", "cpt80", "saving_at_95pct_quality"}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice", *args], capture_output=True, text=True, timeout=300,
        cwd=cwd, check=False,
    )  # fmt: skip


def test_eval_routing_json_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "routing.png"
    done = run(
        "eval", "routing", "--replay", str(DATA / "routing_replay.csv"),
        "--config", str(DATA / "routing_replay.yaml"), "--json", "--plot", str(plot),
        "--cache-dir", str(tmp_path / "emb"), "--save-confidence", str(tmp_path / "conf.npz"),
        "--json-out", str(tmp_path / "out.json"),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    data = report["datasets"]["routing_replay"]
    assert data["strong_model"] == "big"
    assert data["cheap_model"] == "tiny"
    assert data["split"] == {"fit": 12, "calibrate": 3, "test": 15}
    policies = data["policies"]
    assert set(policies) == {
        "always-cheap", "always-strong", "random", "rules", "classifier", "bandit", "cascade",
        "cascade+classifier",
    }  # fmt: skip
    for metrics in policies.values():
        assert set(metrics) >= KEYS
        assert 0.0 <= metrics["quality"] <= 1.0
        assert metrics["cost"] >= 0.0
    assert policies["always-strong"]["strong_share"] == 1.0
    assert policies["always-cheap"]["strong_share"] == 0.0
    assert policies["always-cheap"]["cost"] < policies["always-strong"]["cost"]
    assert policies["random"]["apgr"] is not None
    assert plot.is_file()
    assert (tmp_path / "routing-calibration.png").is_file()
    assert (tmp_path / "conf.npz").is_file()
    assert json.loads((tmp_path / "out.json").read_text()) == report


def test_train_classifier_writes_a_model_the_daemon_config_accepts(tmp_path: Path) -> None:
    out = tmp_path / "clf.npz"
    done = run(
        "train", "classifier", "--replay", str(DATA / "routing_replay.csv"),
        "--config", str(DATA / "routing_replay.yaml"), "--out", str(out),
        "--cache-dir", str(tmp_path / "emb"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "small" in done.stdout
    assert out.is_file()


def test_a_missing_model_column_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt,tiny,mid\nhello,true,true\n")
    done = run(
        "eval", "routing", "--replay", str(bad), "--config", str(DATA / "routing_replay.yaml"),
        "--cache-dir", str(tmp_path / "emb"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "big" in done.stderr
