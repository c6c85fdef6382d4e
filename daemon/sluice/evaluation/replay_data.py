"""Replay files: the same prompts answered by several models, with the quality of each answer.

The generic format is CSV or JSONL with one row per prompt:

    prompt                      the question (the last user turn)
    <model>                     quality of that model's answer: a boolean, or a number in [0, 1]
    <model>_response            (optional) the answer text, served back by the replay provider
    <model>_input_tokens        (optional) token counts; estimated from the text (≈ 4 chars a
    <model>_output_tokens        token, as the cascade estimates) when absent
    <model>_cost                (optional) USD of that call, used instead of tokens × price

A directory is read as one dataset: every `*.csv` / `*.jsonl` in it or in its
`responses/` folder (RouteLLM's MMLU), or RouteLLM's MT-Bench layout
(`question.jsonl` + `judgements.jsonl`). MESS+'s lm-evaluation-harness layout
(`input_text`, then per tier `acc_<tier>` or `acc_norm_<tier>`) is read as the
three Llama models it ran (`MESS_MODELS`); it has no answer texts. A
`contaminated_prompts.jsonl` in the directory (or beside the file) lists prompts
to drop (`eval_prompt`), as RouteLLM does.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# An answer without recorded text is this long for cost purposes (MMLU asks for the letter only).
DEFAULT_OUTPUT_TOKENS = 8
_SUFFIXES = ("_response", "_input_tokens", "_output_tokens", "_cost")
_TRUE = {"true", "1", "yes"}
# The answer a GPT-4 judge saw (MT-Bench's single-answer grading prompt, turn 1).
_ANSWER = re.compile(
    r"\[The Start of Assistant's Answer\]\n(.*?)\n\[The End of Assistant's Answer\]", re.DOTALL
)
_FALSE = {"false", "0", "no"}
# MESS+ (ryanzhangofficial/RouterDC, data/inference_outputs.tar.gz): its tier names → the
# models it ran with lm-evaluation-harness (docs/data.md).
MESS_MODELS = {
    "small": "Llama-3.2-1B-Instruct",
    "medium": "Llama-3.1-8B-Instruct",
    "large": "Llama-3.3-70B-Instruct",
}


@dataclass(frozen=True, slots=True)
class ReplayRow:
    prompt: str
    quality: Mapping[str, float]  # model → quality in [0, 1]
    response: Mapping[str, str] = field(default_factory=dict)
    input_tokens: Mapping[str, int] = field(default_factory=dict)
    output_tokens: Mapping[str, int] = field(default_factory=dict)
    cost: Mapping[str, float] = field(default_factory=dict)

    def tokens(self, model: str) -> tuple[int, int]:
        """(input, output) tokens of `model`'s answer: recorded, else estimated."""
        text = self.response.get(model)
        inp = self.input_tokens.get(model, len(self.prompt) // 4 + 4)
        default_out = DEFAULT_OUTPUT_TOKENS if text is None else max(1, len(text) // 4)
        return inp, self.output_tokens.get(model, default_out)


@dataclass(frozen=True, slots=True)
class ReplaySet:
    name: str
    models: tuple[str, ...]
    rows: tuple[ReplayRow, ...]
    dropped: int = 0  # contaminated prompts removed
    note: str = ""


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _quality(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return 1.0
        if low in _FALSE:
            return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a boolean or a number") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{where}: quality {number} is outside [0, 1]")
    return number


def detect_models(records: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Columns that hold a boolean or numeric quality for every row."""
    if not records:
        return ()
    out = []
    for column in records[0]:
        if column == "prompt" or column.endswith(_SUFFIXES):
            continue
        try:
            values = [_quality(r.get(column), column) for r in records]
        except ValueError:
            continue
        if all(v is not None for v in values):
            out.append(column)
    return tuple(out)


def mess_records(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]] | None:
    """MESS+'s columns in the generic format, or None when `records` are not in its layout.

    Its `label_<tier>` columns are the correctness of the tier's choice, not the choice:
    serving them as answer text would hand the confidence scorer the label, so they are
    not read. Only the accuracy (`acc_norm_` where present, as ARC reports it) is.
    """
    if not records or "input_text" not in records[0]:
        return None
    columns = records[0].keys()
    quality = {}
    for tier, model in MESS_MODELS.items():
        column = next((c for c in (f"acc_norm_{tier}", f"acc_{tier}") if c in columns), None)
        if column is None:
            return None
        quality[model] = column
    return [{"prompt": r["input_text"], **{m: r[c] for m, c in quality.items()}} for r in records]


def parse_records(
    records: Sequence[Mapping[str, Any]], models: Sequence[str] | None, source: str
) -> tuple[tuple[str, ...], list[ReplayRow]]:
    records = mess_records(records) or records
    if records and "prompt" not in records[0]:
        raise ValueError(f"{source}: no `prompt` column")
    names = tuple(models) if models else detect_models(records)
    if not names:
        raise ValueError(f"{source}: no quality column (a boolean or a number per model)")
    rows = []
    for i, r in enumerate(records, 1):
        quality = {}
        for m in names:
            value = _quality(r.get(m), f"{source}: row {i}, column {m!r}")
            if value is None:
                raise ValueError(f"{source}: row {i} has no quality for model {m!r}")
            quality[m] = value
        rows.append(
            ReplayRow(
                prompt=str(r["prompt"]), quality=quality,
                response={m: str(r[f"{m}_response"]) for m in names
                          if r.get(f"{m}_response") not in (None, "")},
                input_tokens={m: int(float(r[f"{m}_input_tokens"])) for m in names
                              if r.get(f"{m}_input_tokens") not in (None, "")},
                output_tokens={m: int(float(r[f"{m}_output_tokens"])) for m in names
                               if r.get(f"{m}_output_tokens") not in (None, "")},
                cost={m: float(r[f"{m}_cost"]) for m in names
                      if r.get(f"{m}_cost") not in (None, "")},
            )
        )  # fmt: skip
    return names, rows


def contaminated(folder: Path) -> set[str]:
    path = folder / "contaminated_prompts.jsonl"
    if not path.is_file():
        return set()
    with path.open(encoding="utf-8") as f:
        return {json.loads(line)["eval_prompt"] for line in f if line.strip()}


def _mt_bench(folder: Path, drop: set[str]) -> ReplaySet:
    """RouteLLM's MT-Bench: routed on turn 1; quality = mean judge score of both turns / 10."""
    questions = _read_rows(folder / "question.jsonl")
    scores: dict[tuple[int, str], list[float]] = defaultdict(list)
    answers: dict[tuple[int, str], str] = {}
    for j in _read_rows(folder / "judgements.jsonl"):
        key = (int(j["question_id"]), str(j["model"]))
        scores[key].append(float(j["score"]))
        found = _ANSWER.search(str(j.get("user_prompt", ""))) if j.get("turn") == 1 else None
        if found:
            answers[key] = found.group(1)
    models = tuple(sorted({m for _, m in scores}))
    rows, dropped = [], 0
    for q in questions:
        turns = q["turns"]
        if any(t in drop for t in turns):
            dropped += 1
            continue
        qid = int(q["question_id"])
        if not all(scores.get((qid, m)) for m in models):
            continue
        quality = {m: sum(scores[(qid, m)]) / len(scores[(qid, m)]) / 10.0 for m in models}
        response = {m: answers[(qid, m)] for m in models if (qid, m) in answers}
        rows.append(ReplayRow(prompt=str(turns[0]), quality=quality, response=response))
    note = (
        "quality = mean GPT-4 judge score (1–10) of both turns / 10; routed on turn 1; "
        "cost counts turn 1 (its answer text is taken from the judge's prompt)"
    )
    return ReplaySet(folder.name, models, tuple(rows), dropped, note)


def _files(folder: Path) -> list[Path]:
    for base in (folder / "responses", folder):
        found = sorted(
            p for p in base.glob("*") if p.suffix in {".csv", ".jsonl"}
            and p.name != "contaminated_prompts.jsonl"
        )  # fmt: skip
        if found:
            return found
    return []


def load_replay(path: Path, models: Sequence[str] | None = None) -> ReplaySet:
    """A replay file or directory as one dataset, contaminated prompts dropped."""
    folder = path if path.is_dir() else path.parent
    drop = contaminated(folder)
    if path.is_dir() and (path / "judgements.jsonl").is_file():
        return _mt_bench(path, drop)
    files = _files(path) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no .csv or .jsonl replay files")
    names: tuple[str, ...] = ()
    rows: list[ReplayRow] = []
    for file in files:
        found, part = parse_records(_read_rows(file), models or names or None, str(file))
        names = names or found
        rows += part
    kept = [r for r in rows if r.prompt not in drop]
    name = path.name if path.is_dir() else path.stem.removesuffix("_responses")
    return ReplaySet(name, names, tuple(kept), len(rows) - len(kept))


def unique_prompts(sets: Iterable[ReplaySet]) -> list[str]:
    return sorted({r.prompt for s in sets for r in s.rows})
