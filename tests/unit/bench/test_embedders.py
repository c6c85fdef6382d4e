"""The comparison of embedding models (bench/embedders.py): its statistics and its pair sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bench import embedder_sets
from bench.embedders import (
    Scores,
    scores,
    threshold_for_false_share,
    threshold_for_recall,
    wilson,
)
from sluice.evaluation.datasets import Pair


def test_wilson_matches_the_textbook_values() -> None:
    # 8 of 10: the Wilson 95 % interval is 0.490–0.943 (Newcombe 1998, method 3).
    lo, hi = wilson(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.490, 0.943)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 50)[0] == 0.0


def _scores(pos: list[float], neg: list[float], test_every: int = 2) -> Scores:
    def test(n: int) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = np.arange(n) % test_every == 0
        return out

    return Scores("s/en", np.asarray(pos), np.asarray(neg), test(len(pos)), test(len(neg)))


def test_thresholds_are_chosen_on_the_dev_part_only() -> None:
    # Even indices are test: 0.99 and 0.10 must not move a threshold.
    s = _scores([0.99, 0.9, 0.99, 0.8], [0.10, 0.7, 0.10, 0.6])
    # Dev negatives 0.7 and 0.6: proposing none of them needs a threshold above 0.7.
    assert threshold_for_false_share([s], 0.0) == pytest.approx(0.7005)
    # Half of them: above 0.6.
    assert threshold_for_false_share([s], 0.5) == pytest.approx(0.6005)
    # Dev positives 0.9 and 0.8: all of them reach the verifier at 0.8.
    assert threshold_for_recall([s], 1.0) == pytest.approx(0.8)


def test_a_retrieval_set_takes_the_nearest_other_stored_question_as_negative() -> None:
    vectors = {
        "a1": np.array([1.0, 0.0], dtype=np.float32),
        "a2": np.array([0.0, 1.0], dtype=np.float32),
        "b1": np.array([0.8, 0.6], dtype=np.float32),
    }
    pair_set = embedder_sets.PairSet(
        "g", "en", (Pair("a1", "b1", 1), Pair("a2", "a2", 1)), ("test", "train"), retrieval=True
    )
    s = scores(pair_set, vectors.__getitem__)
    assert s.positives.tolist() == pytest.approx([0.8, 1.0])
    assert s.negatives.tolist() == pytest.approx([0.6, 0.0])
    assert s.positive_test.tolist() == [True, False]


def test_the_cap_keeps_the_same_pairs_in_every_run() -> None:
    pairs = tuple(Pair(f"q{i}", f"p{i}", i % 2) for i in range(40))
    pair_set = embedder_sets.PairSet("s", "en", pairs, ("train",) * 40)
    first, again = embedder_sets.capped(pair_set, 5), embedder_sets.capped(pair_set, 5)
    assert first == again
    assert sorted(p.label for p in first.pairs) == [0] * 5 + [1] * 5


def test_russian_paraphraser_keeps_strict_paraphrases_and_non_paraphrases(tmp_path: Path) -> None:
    folder = tmp_path / "ru_paraphraser"
    folder.mkdir()
    items = "".join(
        f'<paraphrase><value name="text_1">а{i}</value><value name="text_2">б{i}</value>'
        f'<value name="class">{c}</value></paraphrase>'
        for i, c in enumerate(("1", "0", "-1"))
    )
    # The real file declares encoding='UTF8', which the XML parser does not know.
    xml = f"<?xml version='1.0' encoding='UTF8'?><data><corpus>{items}</corpus></data>"
    (folder / "paraphrases_train.xml").write_bytes(xml.encode())
    pair_set = embedder_sets.ru_paraphraser(tmp_path)
    assert [(p.a, p.label) for p in pair_set.pairs] == [("а0", 1), ("а2", 0)]


def test_translations_take_the_part_of_their_english_pair(tmp_path: Path) -> None:
    (tmp_path / "paws_wiki").mkdir()
    (tmp_path / "pawsx").mkdir()
    english = [f"{i}\tSentence {i} , here .\tOther {i} .\t{i % 2}" for i in range(30)]
    (tmp_path / "paws_wiki" / "dev.tsv").write_text("\n".join(english) + "\n")
    for language in ("de", "ko"):
        rows = ["id\tsentence1\tsentence2\tlabel"]
        rows += [f"{i}\t{language} Satz {i}\t{language} {i}\t{i % 2}" for i in range(30)]
        (tmp_path / "pawsx" / f"{language}_dev.tsv").write_text("\n".join(rows) + "\n")
    en, de, ko = embedder_sets.paws(tmp_path)
    assert en.parts == de.parts == ko.parts
    assert en.pairs[0].a == "Sentence 0, here."
