"""The verifier's labelled pairs: every public set, the generated pairs, each split.

One function serves both sides: models/scripts/train_verifier.py trains on
the "train" part and calibrates on "calibration"; `sluice eval cache
--verifier` reports on "test", which training never sees. Pure standard
library apart from sluice.types (the training venv imports it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sluice.evaluation import datasets
from sluice.evaluation.generated_pairs import FORM_AND_NAME_RULES, generate, templated
from sluice.evaluation.splits import Part, part_of_text, split

# Sets whose pairs teach the verifier (the MeanCache contextual sets are about
# cache keys, not pair meaning: the same follow-up twice is the same text).
TRAINING_SETS = ("gptcache_mock", "paws_dev", "cannot_antonyms", "cannot_negations",
                 "meancache_paraphrased_followups")  # fmt: skip


@dataclass(frozen=True, slots=True)
class LabelledPair:
    a: str
    b: str
    label: int
    part: Part
    source: str  # set name, or "generated:<rule>"


# Sets whose first sentences are edited too (one per pair: the sets reuse sentences).
_EDITED_SENTENCE_SETS = ("paws_dev", "cannot_antonyms", "cannot_negations")


def _edited_sentences(sets: dict[str, list[datasets.Pair]]) -> list[tuple[str, Part]]:
    """The first sentence of every PAWS and CANNOT pair, with the pair's part."""
    out: list[tuple[str, Part]] = []
    for name in _EDITED_SENTENCE_SETS:
        pairs = sets[name]
        out += [(p.a, part) for p, part in zip(pairs, split(name, pairs), strict=True)]
    return out


def _generation_sources(root: Path) -> list[tuple[str, Part]]:
    """Questions and answers of the LLM-style sets, each with its split part."""
    out: list[tuple[str, Part]] = []
    gpt = datasets.gptcache(root)
    for pair, part in zip(gpt, split("gptcache_mock", gpt), strict=True):
        out += [(pair.a, part), (pair.b, part)]
    followups = datasets.meancache_paraphrased_followups(root)
    for pair, part in zip(followups, split("meancache_paraphrased_followups", followups),
                          strict=True):  # fmt: skip
        out += [(pair.a, part), (pair.b, part)]
    for name in ("contextual_queries", "d1", "context2", "Synthetic_Dataset_Diverse"):
        items = json.loads((root / "meancache_contextual" / f"{name}.json").read_text())
        for item in items:
            for text in (item["Main Query"], item["Follow-Up Query"]):
                out.append((text, part_of_text("meancache_queries", text)))
    return out


def generated(root: Path, sets: dict[str, list[datasets.Pair]]) -> list[LabelledPair]:
    """The rule-generated pairs, each in the part of its source sentence."""
    part_of: dict[str, Part] = {}
    for text, part in _generation_sources(root):
        part_of.setdefault(text, part)
    edited: dict[str, Part] = {}
    for text, part in _edited_sentences(sets):
        if text not in part_of:
            edited.setdefault(text, part)
    made = generate(part_of) + generate(edited, FORM_AND_NAME_RULES)
    part_of.update(edited)
    edits = [LabelledPair(g.a, g.b, g.label, part_of[g.a], f"generated:{g.rule}") for g in made]
    return edits + [
        LabelledPair(g.a, g.b, g.label, part_of_text("templates", g.a), f"generated:{g.rule}")
        for g in templated()
    ]


def load(root: Path) -> list[LabelledPair]:
    """Every labelled pair of the training sets and the generated pairs."""
    sets = datasets.load_all(root)
    out: list[LabelledPair] = []
    for name in TRAINING_SETS:
        pairs = sets[name]
        for pair, part in zip(pairs, split(name, pairs), strict=True):
            out.append(LabelledPair(pair.a, pair.b, pair.label, part, name))
    return out + generated(root, sets)


def eval_sets(root: Path, part: Part | None) -> dict[str, list[datasets.Pair]]:
    """Every evaluation set plus the generated pairs; only `part` of each when given."""
    out: dict[str, list[datasets.Pair]] = {}
    sets = datasets.load_all(root)
    for name, pairs in sets.items():
        parts = split(name, pairs)
        out[name] = [p for p, q in zip(pairs, parts, strict=True) if part in (None, q)]
    out["generated"] = [
        datasets.Pair(g.a, g.b, g.label) for g in generated(root, sets) if part in (None, g.part)
    ]
    return out
