"""`sluice eval cache` on a generic pairs file and on the shared public sets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sluice.cli import default_data_dir

pytestmark = pytest.mark.integration


def run(*args: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-m", "sluice", "eval", "cache", *args, "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    data: dict = json.loads(done.stdout)  # type: ignore[type-arg]
    return data


def test_pairs_file_at_the_defaults(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "text_a\ttext_b\tlabel\n"
        "How do I delete a file in Linux?\tHow do I delete a file on Linux?\t1\n"
        "How do I delete a file in Linux?\tHow do I delete a directory in Linux?\t0\n"
        "What is the capital of France?\twhat is the capital of france?\t1\n"
        "Flight from London to Paris\tFlight from Paris to London\t0\n"
    )
    data = run("--pairs", str(pairs))["cosine"]
    assert data["default_threshold"] == 0.97
    assert data["protocols"] == {"pairs": "retrieval"}  # no query is also a stored text
    rows = {r["threshold"]: r for r in data["sets"]["pairs"]}
    default = rows[0.97]
    assert (default["positives"], default["negatives"]) == (2, 2)
    assert default["hit_rate"] == 1.0  # the exact and the near-identical paraphrase
    # "delete a directory" never answers "delete a file"; the swapped flight is a known
    # weakness of cosine (issue #4), so it is measured, not asserted away.
    assert default["false_hit_rate"] in (0.0, 0.5)
    assert rows[0.85]["hits"] >= default["hits"], "lower thresholds hit at least as often"


def test_the_verifier_mode_reports_a_curve_over_min_probability(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "How do I delete a file in Linux?\tHow do I delete a file in Linux ?\t1\n"
        "Flight from London to Paris\tFlight from Paris to London\t0\n"
        "What is the capital of France?\twhat is the capital of france?\t1\n"
    )
    data = run("--pairs", str(pairs), "--verifier", "on")
    assert set(data) == {"split", "verifier"}
    verifier = data["verifier"]
    assert verifier["verifier_version"].startswith("sluice-verifier@")
    assert verifier["recall_threshold"] == 0.8
    rows = {r["threshold"]: r for r in verifier["sets"]["pairs"]}
    assert verifier["default_threshold"] in rows
    assert (rows[0.5]["positives"], rows[0.5]["negatives"]) == (2, 1)
    # The exact hit needs no verifier, so it counts at every min_probability.
    assert all(r["hits"] >= 1 for r in rows.values())
    assert rows[0.1]["hits"] >= rows[0.99]["hits"], "a lower bar accepts at least as many"
    # Both paraphrases reach the verifier (one exact, one at cosine ~1); the negative's
    # lookup ran the model at most max_pairs times.
    reach = verifier["reach"]["pairs"]
    assert (reach["positives"], reach["embedded"], reach["reached"]) == (2, 2, 2)
    assert reach["threshold"] == 0.8
    assert 0 <= reach["runs_negative"] <= 2


def test_errors_lists_every_wrong_hit_and_missed_paraphrase(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        # Cosine 0.96, P 0.62: refused by the verifier (docs/cache-eval.md's probe C).
        "How long should I boil an egg?\tHow many minutes should I boil an egg for?\t1\n"
        # Served by cosine 0.97 (0.989); refused by the order guard, so no error with it.
        "Convert 100 dollars to euros\tConvert 100 euros to dollars\t0\n"
    )
    errors = tmp_path / "errors.jsonl"
    data = run("--pairs", str(pairs), "--errors", str(errors))
    assert data["verifier"]["order_guard"] is True
    assert data["verifier"]["guards"] == ["number_guard", "order_guard"]
    assert data["cosine"]["ms_per_lookup"] > 0
    assert data["verifier"]["ms_per_lookup"] > 0
    rows = [json.loads(line) for line in errors.read_text().splitlines()]
    verifier = [r for r in rows if r["mode"] == "verifier"]
    assert [(r["set"], r["kind"], r["decision"]) for r in verifier] == [
        ("pairs", "missed_paraphrase", "verifier")
    ]
    (missed,) = verifier
    assert missed["query"] == "How many minutes should I boil an egg for?"
    assert missed["cached"] == missed["found"] == "How long should I boil an egg?"
    assert missed["cosine"] >= 0.8
    assert missed["p"] < data["verifier"]["default_threshold"]
    assert not missed["served"]
    cosine = [r for r in rows if r["mode"] == "cosine" and r["kind"] == "wrong_hit"]
    assert [r["query"] for r in cosine] == ["Convert 100 euros to dollars"]


@pytest.mark.skipif(
    not (default_data_dir() / "cache").is_dir(), reason="no cache data: docs/data.md"
)
def test_sets_picks_sets_and_names_the_unknown_one() -> None:
    data = run("--sets", "swaps_en,lookalikes_ru", "--limit", "20", "--split", "test")
    assert set(data["verifier"]["sets"]) == {"swaps_en", "lookalikes_ru"}
    done = subprocess.run(
        [sys.executable, "-m", "sluice", "eval", "cache", "--sets", "swaps_fr"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "swaps_fr" in done.stderr


def test_bad_pairs_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("only two\tcolumns\n")
    done = subprocess.run(
        [sys.executable, "-m", "sluice", "eval", "cache", "--pairs", str(bad)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "bad.tsv:1" in done.stderr


@pytest.mark.skipif(
    not (default_data_dir() / "cache").is_dir(), reason="no cache data: docs/data.md"
)
def test_every_public_set_is_evaluated(tmp_path: Path) -> None:
    both = run("--limit", "15", "--plot", str(tmp_path / "plot.png"), "--split", "test")
    assert both["split"] == "test"
    data = both["cosine"]
    names = {
        "gptcache_mock", "paws_dev", "cannot_antonyms", "cannot_negations",
        "meancache_contextual", "meancache_contextual_no_history",
        "meancache_paraphrased_followups", "generated", "generated_trial", "swaps_en", "swaps_ru",
        "lookalikes_ru", "paraphraser_ru", "pawsx_de", "pawsx_ko",
        "stsb_en", "stsb_de", "stsb_es", "stsb_fr", "stsb_it", "stsb_nl", "stsb_pl", "stsb_pt",
        "stsb_ru", "stsb_ja", "stsb_zh",
    }  # fmt: skip
    assert set(data["sets"]) == set(both["verifier"]["sets"]) == names
    contextual = {r["threshold"]: r for r in data["sets"]["meancache_contextual"]}
    assert contextual[0.85]["false_hits"] == 0, "history-aware keys never cross conversations"
    blind = {r["threshold"]: r for r in data["sets"]["meancache_contextual_no_history"]}
    assert blind[0.97]["false_hits"] > 0, "a history-blind key would have crossed them"
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    assert (tmp_path / "plot-verifier.png").stat().st_size > 10_000


def test_feedback_judges_the_first_halfs_wrong_hits_and_measures_both_halves(
    tmp_path: Path,
) -> None:
    pairs = tmp_path / "pairs.tsv"
    cities = ["London", "Paris", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Oslo"]
    rows = [
        f"Book a flight from {a} to {b}\tBook a flight from {b} to {a}\t0"
        for a, b in zip(cities, cities[1:] + cities[:1], strict=True)
    ]
    rows.append("What is the capital of France?\twhat is the capital of france?\t1")
    pairs.write_text("\n".join(rows) + "\n")
    report = run("--pairs", str(pairs), "--verifier", "off", "--feedback")
    figures = report["feedback"]["cosine"]["pairs"]
    first, again = figures["first_before"], figures["first_after"]
    # Cosine alone serves the swapped flights (issue #4); each one judged wrong narrows
    # its entry, so the same question is not served it again.
    assert figures["judged"] == first["wrong_hits"] >= 1
    assert figures["narrowed"] == figures["judged"]
    assert again["wrong_hits"] < first["wrong_hits"]
    assert first["positives"] + figures["later_before"]["positives"] == 1
    assert first["negatives"] + figures["later_before"]["negatives"] == 8
