"""Labelled paraphrase sets per language for comparing embedding models (bench/embedders.py).

Each set is a list of pairs with a part of the fixed split (sluice.evaluation.splits):
thresholds are chosen on the dev part (train + calibration) and reported on the test part,
which the verifier never trained or calibrated on. Translated sets take the part of their
English original, so one sentence's translations are never split across parts.

- gptcache (en): GPTCache's mock paraphrases, positives only; a query's negative is the
  nearest *other* stored question, found per model (the cache's retrieval case).
- paws (en, de, ko): the 2,000 PAWS dev ids that PAWS-X translated; word-swap negatives.
- ru_paraphraser (ru): strict paraphrases (class 1) against non-paraphrases (class -1);
  loose ones (class 0) do not share an answer reliably and are left out.
- stsb (en, ru, de): STS-B train + dev, score ≥ 4.5 positive, ≤ 2.5 negative.
- semeval_cqa (en): forum question pairs, PerfectMatch positive, Relevant/Irrelevant negative.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sluice.evaluation import datasets
from sluice.evaluation.datasets import Pair
from sluice.evaluation.splits import Part, part_of_text, split

STSB_LANGUAGES = ("en", "ru", "de")


@dataclass(frozen=True, slots=True)
class PairSet:
    name: str
    language: str
    pairs: tuple[Pair, ...]
    parts: tuple[Part, ...]
    # Positives only; negatives are each query's nearest other stored `a` (see module doc).
    retrieval: bool = False

    @property
    def key(self) -> str:
        return f"{self.name}/{self.language}"


def _pair_set(
    name: str, language: str, rows: Sequence[tuple[Pair, Part]], retrieval: bool = False
) -> PairSet:
    pairs, parts = tuple(p for p, _ in rows), tuple(q for _, q in rows)
    return PairSet(name, language, pairs, parts, retrieval)


def gptcache(root: Path) -> PairSet:
    pairs = datasets.gptcache(root)
    rows = list(zip(pairs, split("gptcache_mock", pairs), strict=True))
    return _pair_set("gptcache", "en", rows, retrieval=True)


def _tsv_with_ids(path: Path) -> dict[str, Pair]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r]
    if rows and rows[0][0] == "id":
        rows = rows[1:]
    return {r[0]: Pair(r[1], r[2], int(r[3])) for r in rows}


def _untokenise(text: str) -> str:
    """PAWS-Wiki puts spaces before punctuation; PAWS-X (and users) do not."""
    return re.sub(r" ([,.;:!?)'])", r"\1", text.replace("( ", "(").replace("`` ", '"'))


def paws(root: Path) -> list[PairSet]:
    """The PAWS-X ids in English, German and Korean, each in its English pair's part."""
    english = _tsv_with_ids(root / "paws_wiki" / "dev.tsv")
    ids = list(english)
    part_of = dict(zip(ids, split("paws_dev", [english[i] for i in ids]), strict=True))
    out = []
    for language in ("de", "ko"):
        translated = _tsv_with_ids(root / "pawsx" / f"{language}_dev.tsv")
        shared = [i for i in translated if i in english]
        out.append(_pair_set("paws", language, [(translated[i], part_of[i]) for i in shared]))
    shared = [i for i in _tsv_with_ids(root / "pawsx" / "de_dev.tsv") if i in english]
    en_rows = []
    for i in shared:
        p = english[i]
        en_rows.append((Pair(_untokenise(p.a), _untokenise(p.b), p.label), part_of[i]))
    return [_pair_set("paws", "en", en_rows), *out]


def ru_paraphraser(root: Path) -> PairSet:
    import xml.etree.ElementTree as ET  # noqa: PLC0415 - only this loader parses XML

    raw = (root / "ru_paraphraser" / "paraphrases_train.xml").read_bytes()
    # The file declares encoding='UTF8', which expat does not know (PROVENANCE.md).
    tree = ET.fromstring(raw.replace(b"encoding='UTF8'", b"encoding='UTF-8'", 1))
    pairs = []
    for item in tree.iter("paraphrase"):
        values = {v.get("name"): (v.text or "") for v in item.iter("value")}
        label = {"1": 1, "-1": 0}.get(values["class"])
        if label is not None:
            pairs.append(Pair(values["text_1"], values["text_2"], label))
    return _pair_set(
        "ru_paraphraser", "ru", list(zip(pairs, split("ru_paraphraser", pairs), strict=True))
    )


def stsb(root: Path, languages: Sequence[str] = STSB_LANGUAGES) -> list[PairSet]:
    return [_pair_set("stsb", language, datasets.stsb(root, language)) for language in languages]


def semeval_cqa(root: Path) -> PairSet:
    """Placed by the asked question: related questions recur under many of them, so the
    component split of `splits.split` would put nearly every pair in one part."""
    pairs = []
    for part in ("train", "val"):
        path = root / "semeval_cqa" / f"subtaskB_{part}.csv"
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                label = int(row["labels"] == "PerfectMatch")
                pairs.append(Pair(row["question"], row["rel_question"], label))
    return _pair_set("semeval_cqa", "en", [(p, part_of_text("semeval_cqa", p.a)) for p in pairs])


def _stable_order(pair: Pair) -> bytes:
    return hashlib.sha256(f"{pair.a}\0{pair.b}".encode()).digest()


def capped(pair_set: PairSet, per_label: int) -> PairSet:
    """At most `per_label` positives and as many negatives, the same ones in every run."""
    if per_label <= 0:
        return pair_set
    rows = sorted(
        zip(pair_set.pairs, pair_set.parts, strict=True), key=lambda r: _stable_order(r[0])
    )
    kept: list[tuple[Pair, Part]] = []
    for label in (1, 0):
        kept += [r for r in rows if r[0].label == label][:per_label]
    return _pair_set(pair_set.name, pair_set.language, kept, pair_set.retrieval)


def load(root: Path, per_label: int = 0) -> list[PairSet]:
    if not (root / "pawsx").is_dir():
        raise FileNotFoundError(f"{root} lacks pawsx/: pass the data's cache/ folder")
    sets = [gptcache(root), *paws(root), ru_paraphraser(root), *stsb(root), semeval_cqa(root)]
    return [capped(s, per_label) for s in sets]
