"""Routing on prompts behind a shared few-shot prefix: head against tail representation.

    .venv/bin/python -m bench.routing_prefix [--limit 1300] [--boot 1000] [--seeds 0 1 2]
    .venv/bin/python -m bench.routing_prefix --set mmlu-long      # long prompts, no prefix
    .venv/bin/python -m bench.routing_prefix --write-replay FILE  # for `sluice eval routing`

Issue #21: "the router embeds the first 256 tokens; with a shared few-shot prefix the signal
vanished (AUC 0.50)". This builds that case from RouteLLM's GSM8K replay (data/routing/gsm8k):
the first five rows (by file order) become a fixed 5-shot block — "Question: <prompt>\\nAnswer:
<GPT-4's recorded answer>" each, ~1,000 MiniLM tokens in all — and every other prompt is asked
after it ("Question: <prompt>\\nAnswer:"). Those five rows are left out; quality, answers and
token counts of the rest are their recorded ones (input tokens counted on the prefixed prompt).
`--set mmlu-long` takes instead RouteLLM's MMLU prompts that are longer than 256 tokens as they
are (passages, long code or tables before the question): where head and tail differ naturally.

Representations of each prompt (all with the shipped MiniLM, max_tokens 256):
  head       OnnxEmbedder.embed(texts): the first 256 tokens (before issue #21)
  tail       OnnxEmbedder.embed(texts, tail=True): the last 256 tokens (the routing
             representation the daemon and `sluice eval routing` use now)
  head+tail  the two averaged and normalised (a candidate, chosen or not on calibration)

Per representation and seed, `sluice eval routing`'s split (test 50 %, fit / calibrate 75 / 25
of the rest) and its fitting code (fit_classifier, fit_confidence: L2 and components chosen on
calibrate) are used; AUCs are on test with a 95 % bootstrap interval (test rows resampled).
The operating point is computed here, without the pipeline: the classifier's threshold (start
strong when P(cheap is not enough) ≥ t) or the cascade's (escalate when the learned confidence
of the cheap answer < t; the cascade pays both calls) is the cheapest knob whose calibration
quality reaches 95 % of always-strong's, then reported on test as % of strong's quality and
cost (prices: examples/routing-replay.yaml). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from sluice.cli import default_data_dir, default_model_dir
from sluice.config import load_settings
from sluice.embedding.model import OnnxEmbedder
from sluice.evaluation.replay_data import ReplayRow, ReplaySet, load_replay
from sluice.evaluation.routing_eval import (
    Split,
    Tiers,
    Vectors,
    answers,
    fit_classifier,
    fit_confidence,
    matrix,
    quantile_knobs,
    split,
)
from sluice.learning.logistic import auc
from sluice.routing.classifier import features

Array = npt.NDArray[np.float64]
SHOTS = 5
CONFIG = Path(__file__).resolve().parent.parent / "examples" / "routing-replay.yaml"


def prefixed_set(limit: int | None) -> tuple[ReplaySet, int]:
    """The GSM8K replay with a fixed 5-shot block before every prompt; and the block's tokens."""
    path = default_data_dir() / "routing" / "gsm8k" / "gsm8k_responses.csv"
    data = load_replay(path)
    strong = "gpt-4-1106-preview"
    with path.open(newline="") as f:  # the file's first rows, in order (load_replay keeps it)
        first = [r for _, r in zip(range(SHOTS), csv.DictReader(f), strict=False)]
    block = "".join(f"Question: {r['prompt']}\nAnswer: {r[strong + '_response'].strip()}\n\n"
                    for r in first)  # fmt: skip
    shots = {r["prompt"] for r in first}
    rows = []
    for row in data.rows:
        if row.prompt in shots:
            continue
        prompt = f"{block}Question: {row.prompt}\nAnswer:"
        tokens = {m: len(prompt) // 4 + 4 for m in row.quality}
        rows.append(replace(row, prompt=prompt, input_tokens=tokens))
    if limit is not None and len(rows) > limit:
        picks = np.random.default_rng(0).choice(len(rows), limit, replace=False)
        rows = [rows[i] for i in sorted(picks)]
    return ReplaySet("gsm8k-5shot", data.models, tuple(rows)), len(block)


def long_mmlu(max_tokens: int) -> tuple[ReplaySet, int]:
    """RouteLLM's MMLU prompts longer than `max_tokens` tokens, as they are (no prefix)."""
    data = load_replay(default_data_dir() / "routing" / "mmlu")
    whole = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    whole.no_truncation()
    whole.no_padding()
    encodings = whole.encode_batch([r.prompt for r in data.rows])
    rows = tuple(r for r, e in zip(data.rows, encodings, strict=True) if len(e.ids) > max_tokens)
    return ReplaySet("mmlu-long", data.models, rows), 0


def write_replay(data: ReplaySet, path: Path) -> None:
    """The prefixed set as a replay CSV, for `sluice eval routing --replay`."""
    models = list(data.models)
    fields = ["prompt", *models, *(f"{m}_response" for m in models),
              *(f"{m}_input_tokens" for m in models)]  # fmt: skip
    with path.open("w", newline="") as f:
        out = csv.DictWriter(f, fields)
        out.writeheader()
        for r in data.rows:
            out.writerow({
                "prompt": r.prompt,
                **{m: r.quality[m] for m in models},
                **{f"{m}_response": r.response.get(m, "") for m in models},
                **{f"{m}_input_tokens": r.input_tokens[m] for m in models},
            })  # fmt: skip


def representations(embedder: OnnxEmbedder, prompts: Sequence[str]) -> dict[str, Vectors]:
    head = embedder.embed(prompts)
    tail = embedder.embed(prompts, tail=True)
    both = {}
    for p, h, t in zip(prompts, head, tail, strict=True):
        v = h.vector + t.vector
        both[p] = (v / np.linalg.norm(v)).astype(np.float32)
    truncated = sum(h.truncated for h in head)
    print(f"{len(prompts)} prompts, {truncated} longer than {embedder.max_tokens} tokens")
    return {
        "head": {p: h.vector for p, h in zip(prompts, head, strict=True)},
        "tail": {p: t.vector for p, t in zip(prompts, tail, strict=True)},
        "head+tail": both,
    }


def boot_auc(
    scores: Array, labels: npt.NDArray[np.bool_], boot: int, rng: np.random.Generator
) -> tuple[float, float]:
    values = []
    for _ in range(boot):
        idx = rng.integers(0, len(scores), len(scores))
        if labels[idx].all() or not labels[idx].any():
            continue
        values.append(auc(scores[idx], labels[idx]))
    lo, hi = np.quantile(values, [0.025, 0.975])
    return float(lo), float(hi)


class Economics:
    """Quality and cost of each row's cheap and strong answers (recorded quality, list prices)."""

    def __init__(
        self, rows: Sequence[ReplayRow], tiers: Tiers, prices: dict[str, tuple[float, float]]
    ):
        cheap, strong = tiers.models[0], tiers.models[-1]
        self.q = np.array([[r.quality[cheap], r.quality[strong]] for r in rows])
        self.c = np.array([[self._cost(r, m, prices) for m in (cheap, strong)] for r in rows])

    @staticmethod
    def _cost(row: ReplayRow, model: str, prices: dict[str, tuple[float, float]]) -> float:
        inp, out = row.tokens(model)
        pin, pout = prices[model]
        return (inp * pin + out * pout) / 1e6

    def classifier(self, strong: npt.NDArray[np.bool_], idx: Array) -> tuple[float, float]:
        q = np.where(strong, self.q[idx, 1], self.q[idx, 0]).mean()
        c = np.where(strong, self.c[idx, 1], self.c[idx, 0]).mean()
        return float(q), float(c)

    def cascade(self, escalate: npt.NDArray[np.bool_], idx: Array) -> tuple[float, float]:
        q = np.where(escalate, self.q[idx, 1], self.q[idx, 0]).mean()
        c = (self.c[idx, 0] + np.where(escalate, self.c[idx, 1], 0.0)).mean()
        return float(q), float(c)


def operating_point(
    knobs: Sequence[float], run: Callable[[float, bool], tuple[float, float]], strong_cal: float
) -> tuple[float, float, float]:
    """The cheapest knob reaching 95 % of strong on calibrate; its (knob, quality, cost) on test."""
    cal = [run(k, False) for k in knobs]
    ok = [i for i, (q, _) in enumerate(cal) if q >= 0.95 * strong_cal]
    pick = min(ok, key=lambda i: cal[i][1]) if ok else max(range(len(cal)), key=lambda i: cal[i][0])
    q, c = run(knobs[pick], True)
    return knobs[pick], q, c


def evaluate(name: str, data: ReplaySet, tiers: Tiers, vectors: Vectors, econ: Economics,
             index: dict[str, int], seed: int, boot: int, model_id: str) -> list[str]:  # fmt: skip
    s: Split = split(data.rows, seed)
    clf = fit_classifier(s, tiers, vectors, 0.05, model_id)
    cheap = tiers.models[0]
    conf = fit_confidence(s, tiers, vectors, 0.05, model_id).scorers[cheap]

    def need(rows: Sequence[ReplayRow]) -> Array:
        return clf.need_more(features(matrix(rows, vectors), [len(r.prompt) for r in rows]))[:, 0]

    def confidence(rows: Sequence[ReplayRow]) -> Array:
        return conf.probability(matrix(rows, vectors), answers(rows, cheap))

    idx_cal = np.array([index[r.prompt] for r in s.cal])
    idx_test = np.array([index[r.prompt] for r in s.test])
    y_cal, y_test = tiers.labels(s.cal, 0.05), tiers.labels(s.test, 0.05)
    need_cal, need_test = need(s.cal), need(s.test)
    conf_cal, conf_test = confidence(s.cal), confidence(s.test)
    rng = np.random.default_rng(seed)
    out = []
    strong_cal = float(econ.q[idx_cal, 1].mean())
    strong_q, strong_c = float(econ.q[idx_test, 1].mean()), float(econ.c[idx_test, 1].mean())
    for what, cal_s, test_s, y_c, y_t, _sim in (
        ("classifier", need_cal, need_test, y_cal > 0, y_test > 0, econ.classifier),
        ("confidence", conf_cal, conf_test, y_cal == 0, y_test == 0, econ.cascade),
    ):
        a_cal, a_test = auc(cal_s, y_c), auc(test_s, y_t)
        lo, hi = boot_auc(test_s, y_t, boot, rng)
        if what == "classifier":

            def run(
                k: float, test: bool, c: Array = cal_s, t: Array = test_s
            ) -> tuple[float, float]:
                return econ.classifier((t if test else c) >= k, idx_test if test else idx_cal)
        else:

            def run(
                k: float, test: bool, c: Array = cal_s, t: Array = test_s
            ) -> tuple[float, float]:
                return econ.cascade((t if test else c) < k, idx_test if test else idx_cal)

        _, q, c = operating_point(quantile_knobs(cal_s, 9), run, strong_cal)
        out.append(
            f"| {name} | {seed} | {what} | {a_cal:.3f} | {a_test:.3f} [{lo:.3f}, {hi:.3f}] | "
            f"{q / strong_q:.1%} | {c / strong_c:.1%} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="subsample this many prompts")
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--write-replay", type=Path, help="write the prefixed set here and stop")
    parser.add_argument(
        "--set", choices=("gsm8k-5shot", "mmlu-long"), default="gsm8k-5shot",
        help="mmlu-long: MMLU's own prompts longer than the model's tokens, without a prefix",
    )  # fmt: skip
    args = parser.parse_args()
    started = time.perf_counter()
    settings = load_settings(CONFIG)
    if args.set == "mmlu-long":
        data, block_chars = long_mmlu(settings.embedding.max_tokens)
    else:
        data, block_chars = prefixed_set(args.limit)
    if args.write_replay is not None:
        write_replay(data, args.write_replay)
        print(f"{args.write_replay}: {len(data.rows)} prompts")
        return
    tiers = Tiers.from_settings(settings, data)
    prices = {m: (p.input, p.output) for m, p in settings.prices.items()}
    embedder = OnnxEmbedder(
        default_model_dir(), threads=2, max_tokens=settings.embedding.max_tokens
    )
    whole = Tokenizer.from_str(embedder.tokenizer.to_str())
    whole.no_truncation()
    lengths = [len(e.ids) for e in whole.encode_batch([r.prompt for r in data.rows])]
    print(f"{data.name}: prefix {block_chars} characters; prompts: {min(lengths)}–"
          f"{max(lengths)} tokens (median {int(np.median(lengths))}); the model reads "
          f"{embedder.max_tokens}")  # fmt: skip
    prompts = [r.prompt for r in data.rows]
    reps = representations(embedder, prompts)
    print(f"embedded in {time.perf_counter() - started:.0f} s")
    econ = Economics(data.rows, tiers, prices)
    index = {p: i for i, p in enumerate(prompts)}
    print("| representation | seed | model | AUC calibrate | AUC test [95 % CI] | "
          "quality % of strong (test) | cost % of strong (test) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        for name, vectors in reps.items():
            for line in evaluate(name, data, tiers, vectors, econ, index, seed, args.boot,
                                 embedder.model_id):  # fmt: skip
                print(line, flush=True)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
