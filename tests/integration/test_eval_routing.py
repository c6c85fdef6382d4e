"""`sluice eval routing` end to end on a small three-model replay file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice.cascade.learned import ANSWER_FEATURES, LearnedScorer

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
        "--json-out", str(tmp_path / "out.json"), "--seed", "0", "--seed", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    data = report["datasets"]["routing_replay"]
    assert data["strong_model"] == "big"
    assert data["cheap_model"] == "tiny"
    assert data["tier_models"] == ["tiny", "mid", "big"]
    first, second = data["runs"]
    assert (first["seed"], second["seed"]) == (0, 1)
    assert first["split"] == {"fit": 12, "calibrate": 3, "test": 15}
    assert first["chosen_at_share_of_strong"] == 0.95
    # Operating points chosen on four cross-fitted calibrate parts (all 15 non-test rows).
    assert first["calibrate_folds"] == 4
    # Each tier below the strongest has its own learned confidence.
    assert [c["model"] for c in first["confidence"]] == ["tiny", "mid"]
    policies = first["policies"]
    every = {
        "always-cheap", "always-medium", "always-strong", "random", "rules", "classifier",
        "bandit", "cascade", "cascade+classifier",
    }  # fmt: skip
    assert set(policies) == every
    for metrics in policies.values():
        assert set(metrics) >= KEYS
        assert 0.0 <= metrics["quality"] <= 1.0
        assert metrics["cost"] >= 0.0
    assert policies["always-strong"]["strong_share"] == 1.0
    assert policies["always-cheap"]["strong_share"] == 0.0
    assert policies["always-cheap"]["cost"] < policies["always-medium"]["cost"]
    assert policies["always-medium"]["cost"] < policies["always-strong"]["cost"]
    # A fixed tier on the hull has no lead over it.
    assert policies["always-cheap"]["lead_over_hull"] == 0.0
    assert policies["random"]["apgr"] is not None
    head = data["headline"]
    assert set(head) == every | {"picked on calibrate"}
    # The rule also picks one policy per seed among all of them on calibration data; its
    # headline row is that policy's operating point, seed by seed.
    picks = [r["picked_on_calibrate"] for r in data["runs"]]
    assert set(picks) <= every
    if picks[0] == picks[1]:
        assert head["picked on calibrate"] == head[picks[0]]
    strongest = head["always-strong"]
    assert strongest["quality_vs_strong"] == 1.0
    assert strongest["cost_vs_strong"] == 1.0
    assert strongest["seeds_at_95pct_of_strong"] == [2, 2]
    lo, hi = head["cascade"]["cost_vs_strong_ci95"]
    assert lo <= hi
    assert plot.is_file()
    assert (tmp_path / "routing-calibration.png").is_file()
    assert (tmp_path / "conf.npz").is_file()
    assert json.loads((tmp_path / "out.json").read_text()) == report


def test_per_tier_confidence_saved_to_a_folder_loads_in_the_daemon(tmp_path: Path) -> None:
    """`--save-confidence DIR` writes a scorer per tier below the top and the config lines
    that load them; check-config (which loads them as serve does) accepts that config."""
    out = tmp_path / "conf"
    done = run(
        "eval", "routing", "--replay", str(DATA / "routing_replay.csv"),
        "--config", str(DATA / "routing_replay.yaml"), "--policies", "cascade",
        "--cache-dir", str(tmp_path / "emb"), "--save-confidence", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["mid.npz", "tiny.npz"]
    # The replay records tiny's answers, not mid's: mid's confidence reads the prompt alone,
    # so the placeholder it was fitted on cannot misread mid's real answers once deployed.
    assert LearnedScorer.load(out / "tiny.npz").features == ANSWER_FEATURES
    assert LearnedScorer.load(out / "mid.npz").features == ()
    snippet = done.stderr[done.stderr.index("cascade:") :]
    config = yaml.safe_load((DATA / "routing_replay.yaml").read_text())
    config.update(yaml.safe_load(snippet))
    assert set(config["cascade"]["confidence"]["learned_by_model"]) == {"tiny", "mid"}
    path = tmp_path / "with-confidence.yaml"
    path.write_text(yaml.safe_dump(config))
    checked = run("check-config", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_a_three_tier_cascade_pays_for_every_tier_it_called(tmp_path: Path) -> None:
    """Issue #21: a request the cascade escalated twice costs cheap + medium + strong."""
    done = run(
        "eval", "routing", "--replay", str(DATA / "routing_replay.csv"),
        "--config", str(DATA / "routing_replay.yaml"), "--json", "--policies", "cascade",
        "--cache-dir", str(tmp_path / "emb"), "--folds", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)["datasets"]["routing_replay"]["runs"][0]
    assert first["calibrate_folds"] == 1
    policies = first["policies"]
    every_call = sum(policies[f"always-{t}"]["cost"] for t in ("cheap", "medium", "strong"))
    # The cascade at its lowest threshold serves the cheap answer; above every confidence
    # it escalates every request to the top and pays each tier on the way.
    curve = sorted(policies["cascade"]["curve"], key=lambda p: p["knob"])
    assert curve[0]["cost"] == pytest.approx(policies["always-cheap"]["cost"])
    assert curve[-1]["cost"] == pytest.approx(every_call)
    assert curve[-1]["strong_share"] == 1.0


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


def test_an_unknown_policy_is_refused_before_any_work(tmp_path: Path) -> None:
    done = run(
        "eval", "routing", "--replay", str(DATA / "routing_replay.csv"),
        "--config", str(DATA / "routing_replay.yaml"), "--policies", "cascade,oracle",
        "--cache-dir", str(tmp_path / "emb"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown policies ['oracle']" in done.stderr
    assert not (tmp_path / "emb").exists(), "nothing was embedded"


def _first_run(tmp_path: Path, *flags: str) -> dict[str, Any]:
    """The first run's JSON of the classifier and the cascade on the replay set, with `flags`."""
    done = run(
        "eval", "routing", "--replay", str(DATA / "routing_replay.csv"),
        "--config", str(DATA / "routing_replay.yaml"), "--json", *flags,
        "--policies", "classifier,cascade", "--cache-dir", str(tmp_path / "emb"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first: dict[str, Any] = json.loads(done.stdout)["datasets"]["routing_replay"]["runs"][0]
    return first


def _points(tmp_path: Path, flag: str, key: str, values: tuple[str, str]) -> list[dict[str, Any]]:
    """The first run's policies with `flag` at each of `values`; the JSON records it at `key`."""
    out = []
    for value in values:
        first = _first_run(tmp_path, flag, value)
        assert first[key] == float(value)
        out.append(first["policies"])
    return out


def _refused(tmp_path: Path, flag: str, value: str, message: str) -> None:
    bad = run("eval", "routing", "--replay", str(DATA / "routing_replay.csv"), flag, value,
              cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2
    assert message in bad.stderr


def test_a_margin_chooses_no_cheaper_points(tmp_path: Path) -> None:
    """--choose-at 0.99 asks more quality of the calibration data than the default 0.95: on
    the same splits and models the classifier's and the cascade's points cost at least as
    much (their knobs move cost one way on any rows, so the cheapest point of a smaller
    set of candidates is no cheaper)."""
    low, high = _points(tmp_path, "--choose-at", "chosen_at_share_of_strong", ("0.95", "0.99"))
    for name in ("classifier", "cascade"):
        assert high[name]["cost"] >= low[name]["cost"]
    _refused(tmp_path, "--choose-at", "95", "--choose-at: 95.0 is not in (0, 1.5]")


def test_the_estimate_alone_chooses_no_dearer_points_than_its_lower_bound(
    tmp_path: Path,
) -> None:
    """--choose-bound 0 compares the calibration estimate itself with the share; the
    default compares its one-sided 95 % lower bound, which is never above the estimate."""
    estimate, bound = _points(tmp_path, "--choose-bound", "chosen_lower_bound_level", ("0", "0.95"))
    for name in ("classifier", "cascade"):
        assert estimate[name]["cost"] <= bound[name]["cost"]
    _refused(tmp_path, "--choose-bound", "0.3", "0.3 is not 0 or in [0.5, 1)")


def test_the_finer_default_grid_chooses_no_dearer_points(tmp_path: Path) -> None:
    """The default 17-quantile knob grid holds the 9 quantiles of earlier versions (every
    1/8 is a 1/16), so on the same splits and models the classifier's and the cascade's
    points cost no more; the grid is recorded in the JSON."""
    coarse, fine = _points(tmp_path, "--grid", "knob_grid_quantiles", ("9", "17"))
    for name in ("classifier", "cascade"):
        assert fine[name]["cost"] <= coarse[name]["cost"]
        assert len(fine[name]["curve"]) >= len(coarse[name]["curve"])
    _refused(tmp_path, "--grid", "1", "--grid")
