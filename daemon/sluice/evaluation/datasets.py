"""Labelled pair sets for the cache evaluation, read from DATA/cache (docs/data.md).

Every set becomes a list of `Pair`: store `a` (after `history_a`), query `b`
(after `history_b`); label 1 means the two ask the same thing, 0 that an
answer to `a` would be wrong for `b`. See the data's PROVENANCE.md.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sluice.evaluation.splits import Part, split
from sluice.types import ChatMessage


@dataclass(frozen=True, slots=True)
class Pair:
    a: str
    b: str
    label: int
    history_a: tuple[ChatMessage, ...] = ()
    history_b: tuple[ChatMessage, ...] = ()


def read_pairs_tsv(path: Path) -> list[Pair]:
    """The generic format: text_a<TAB>text_b<TAB>label (1 same meaning, 0 different)."""
    pairs = []
    with path.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not row or (number == 1 and row[-1].strip().lower() == "label"):
                continue
            if len(row) != 3 or row[2].strip() not in {"0", "1"}:
                raise ValueError(f"{path}:{number}: expected text_a<TAB>text_b<TAB>0|1")
            pairs.append(Pair(row[0], row[1], int(row[2])))
    return pairs


def _tsv(path: Path, header: bool) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r for r in rows[1 if header else 0 :] if r]


def gptcache(root: Path) -> list[Pair]:
    data = json.loads((root / "gptcache_mock_data.json").read_text(encoding="utf-8"))
    return [Pair(item["origin"], item["similar"], 1) for item in data]


def paws(root: Path) -> list[Pair]:
    return [Pair(r[1], r[2], int(r[3])) for r in _tsv(root / "paws_wiki" / "dev.tsv", False)]


def cannot_antonyms(root: Path) -> list[Pair]:
    # This file's label 1 means "different meaning": inverted to our convention.
    rows = _tsv(root / "cannot_negation" / "sem_anto_neg.tsv", True)
    return [Pair(r[0], r[1], 1 - int(r[2])) for r in rows]


def cannot_negations(root: Path) -> list[Pair]:
    pairs = []
    for name in ("wikifactcheck_english_0", "glue_diagnostic", "nan_nli"):
        pairs += [Pair(r[0], r[1], 0) for r in _tsv(root / "cannot_negation" / f"{name}.tsv", True)]
    return pairs


def _conversations(root: Path) -> list[tuple[str, str, str]]:
    out = []
    for name in ("contextual_queries", "d1", "context2", "Synthetic_Dataset_Diverse"):
        for item in json.loads((root / "meancache_contextual" / f"{name}.json").read_text()):
            out.append((item["Main Query"], item["Main Query Response"], item["Follow-Up Query"]))
    return out


def meancache_contextual(root: Path, with_history: bool = True) -> list[Pair]:
    """Each follow-up asked again in the *next* conversation: an answer must not cross over."""
    convs = _conversations(root)
    pairs = []
    for i, (main, response, follow) in enumerate(convs):
        other_main, other_response, _ = convs[(i + 1) % len(convs)]
        own = (ChatMessage("user", main), ChatMessage("assistant", response))
        other = (ChatMessage("user", other_main), ChatMessage("assistant", other_response))
        if with_history:
            pairs.append(Pair(follow, follow, 0, own, other))
        else:
            pairs.append(Pair(follow, follow, 0))
    return pairs


def meancache_paraphrased_followups(root: Path) -> list[Pair]:
    """new_claude.json: a follow-up and its paraphrase in the same conversation."""
    items = json.loads((root / "meancache_contextual" / "new_claude.json").read_text())
    pairs = []
    for item in items:
        history = (ChatMessage("user", item["u0"]), ChatMessage("assistant", item["system_q0"]))
        pairs.append(Pair(item["u1"], item["u1_duplicate"], 1, history, history))
    return pairs


def ru_paraphraser(root: Path) -> list[Pair]:
    """ParaPhraser's Russian headline pairs: class 1 (strict) positive, -1 negative.

    Class 0, a "loose" paraphrase, is dropped: headlines about one event that differ in
    a detail (who, how many) would not take the same answer (PROVENANCE.md).
    """
    path = root / "ru_paraphraser" / "paraphraser_train.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = {"1": 1, "-1": 0}
    return [
        Pair(r["text_1"], r["text_2"], labels[r["is_paraphrase"]])
        for r in rows
        if r["is_paraphrase"] in labels
    ]


def paws_ids(root: Path) -> list[str]:
    """The ids of PAWS-Wiki dev's pairs, in the order of `paws`."""
    return [r[0] for r in _tsv(root / "paws_wiki" / "dev.tsv", False)]


def pawsx(root: Path, language: str) -> list[tuple[str, Pair]]:
    """PAWS-X dev in `language` (de, ko): (PAWS-Wiki id, pair), translated word-swap pairs.

    A sentence the translators left out reads "NS" (68 German pairs, 35 Korean): those
    pairs are dropped, or every one would be an exact hit on "NS".
    """
    rows = _tsv(root / "pawsx" / f"{language}_dev.tsv", True)
    return [
        (r[0], Pair(r[1], r[2], int(r[3])))
        for r in rows
        if len(r) == 4 and "NS" not in (r[1].strip(), r[2].strip())
    ]


# STS-B's translations (stsb_multi_mt): the eleven languages it has, and the English
# similarity scores (0-5) that make a pair a paraphrase or a different question.
STSB_LANGUAGES = ("en", "de", "es", "fr", "it", "nl", "pl", "pt", "ru", "ja", "zh")
STSB_POSITIVE, STSB_NEGATIVE = 4.5, 2.5


def _stsb_rows(root: Path, language: str) -> list[tuple[str, str, float]]:
    rows = []
    for part in ("train", "dev"):
        path = root / "stsb_multi_mt" / f"stsb-{language}-{part}.csv"
        with path.open(encoding="utf-8", newline="") as f:
            rows += [(r[0], r[1], float(r[2])) for r in csv.reader(f) if r]
    return rows


@lru_cache(maxsize=2)
def _stsb_english(root: Path) -> tuple[list[tuple[str, str, float]], list[Part]]:
    """The English rows and their parts: read and split once for all eleven languages."""
    english = _stsb_rows(root, "en")
    return english, split("stsb", [Pair(a, b, 0) for a, b, _ in english])


def stsb(root: Path, language: str) -> list[tuple[Pair, Part]]:
    """STS-B train + dev in `language`: score >= 4.5 a paraphrase, <= 2.5 a different
    question, the rest left out. Rows are line-aligned translations: every language takes
    the English row's score and part, so one sentence's translations share a part."""
    english, parts = _stsb_english(root)
    rows = _stsb_rows(root, language)
    if len(rows) != len(english):
        raise ValueError(f"stsb-{language}: {len(rows)} rows, English has {len(english)}")
    return [
        (Pair(a, b, int(score >= STSB_POSITIVE)), part)
        for (a, b, _), (_, _, score), part in zip(rows, english, parts, strict=True)
        if score >= STSB_POSITIVE or score <= STSB_NEGATIVE
    ]


def load_all(root: Path) -> dict[str, list[Pair]]:
    if not root.is_dir():
        raise FileNotFoundError(
            f"{root} is not there: set SLUICE_DATA_DIR or --data (docs/data.md: the layout)"
        )
    return {
        "gptcache_mock": gptcache(root),
        "paws_dev": paws(root),
        "cannot_antonyms": cannot_antonyms(root),
        "cannot_negations": cannot_negations(root),
        "meancache_contextual": meancache_contextual(root),
        "meancache_contextual_no_history": meancache_contextual(root, with_history=False),
        "meancache_paraphrased_followups": meancache_paraphrased_followups(root),
    }
