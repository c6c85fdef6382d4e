"""Measure the small real model: speed, and whether its logprobs separate right from wrong.

    .venv/bin/python scripts/real-model/measure.py [--questions 100] [--arithmetic 100]
        [--sequence 100] [--threads 1] [--json OUT]

Starts `serve.py` (after `make real-model`) and talks to llama.cpp's OpenAI API directly:

1. Speed: streamed chat completions with logprobs on, as the daemon asks for them; time to
   first token and decode tokens/s, seen by the client and reported by the server.
2. GSM8K (≤ 100 questions, data/routing/gsm8k, contaminated prompts dropped): a
   2-shot prompt, greedy decoding, the answer's final number against the reference. The
   reference is the `#### N` of Mixtral's response where RouteLLM marks Mixtral correct,
   else the last number of GPT-4's response where GPT-4 is marked correct; rows where
   both are wrong have no usable reference and are skipped. The answer's number is the
   one after its first `####`, else its last number.
3. Two control sets the script makes itself, 3-shot, one-line answers: one-step arithmetic
   ("What is 33 + 34?") and what-comes-next / repeat-a-word ("Which month comes after
   April?"), judged on the answer's first word — the second is one the model gets partly right.
4. AUC of the mean token logprob (and of min, and of the daemon's default confidence)
   for correct vs wrong answers. Features are computed by `LogprobScorer.features`, the
   daemon's own code, over every generated token (what the cascade sees).

Prints a Markdown report; `--json` also writes the per-question rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sluice.cascade.confidence import CombinedScorer, FormatScorer, LogprobScorer
from sluice.types import ChatMessage, Completion, GenParams, ProviderRequest, Usage

ROOT = Path(__file__).resolve().parents[2]
SERVER_PYTHON = ROOT / ".venv/real-model/bin/python"
GSM8K = Path(os.environ.get("SLUICE_DATA_DIR") or ROOT / "data") / "routing/gsm8k"  # docs/data.md
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
GPT4 = "gpt-4-1106-preview"

# Two worked examples in GSM8K's own answer format (written for this script, not from
# the test set): the base model needs to see what an answer looks like.
SHOTS = (
    (
        "A farmer has 3 pens with 12 hens in each. He sells 10 hens. How many hens does he "
        "have left?",
        "3 pens with 12 hens is 3 * 12 = 36 hens.\nAfter selling 10 he has 36 - 10 = 26 "
        "hens.\n#### 26",
    ),
    (
        "Tom buys 4 books at $6 each and pays with a $30 bill. How much change does he get?",
        "4 books cost 4 * 6 = $24.\nHis change is 30 - 24 = $6.\n#### 6",
    ),
)
ARITHMETIC_SHOTS = (("What is 12 + 7?", "19\n"), ("What is 9 * 6?", "54\n"),
                    ("What is 40 - 15?", "25\n"))  # fmt: skip
SEQUENCE_SHOTS = (("Count from 1 to 3.", "1, 2, 3\n"), ("Which day comes after Monday?",
                  "Tuesday\n"), ("Repeat the word: apple", "apple\n"))  # fmt: skip
WORDS = (
    "banana",
    "cherry",
    "river",
    "window",
    "garden",
    "pencil",
    "orange",
    "silver",
    "basket",
    "candle",
    "rocket",
    "forest",
    "bottle",
    "ladder",
    "mirror",
    "pillow",
    "carpet",
    "button",
    "wallet",
    "hammer",
    "kitten",
    "tomato",
    "violin",
    "planet",
    "lemon",
    "castle",
    "anchor",
    "jacket",
    "rabbit",
    "meadow",
    "feather",
    "marble",
    "island",
    "helmet",
    "needle",
    "puzzle",
    "saddle",
    "tunnel",
    "walnut",
    "pepper",
    "copper",
    "shadow",
    "spider",
    "turtle",
    "velvet",
    "wizard",
    "zebra",
    "cactus",
    "dragon",
    "falcon",
    "harbor",
)
FIRST_WORD = re.compile(r"[A-Za-z0-9]+")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Item:
    prompt: str
    reference: str
    shots: Sequence[tuple[str, str]]
    stop: tuple[str, ...]
    kind: str = "number"  # "number": the final number counts; "word": the first word does
    task: str = ""  # for a per-task breakdown


@dataclass(frozen=True)
class Row:
    task: str
    prompt: str
    reference: str
    answer: str
    predicted: str | None
    correct: bool
    finish_reason: str
    tokens: int
    mean_logprob: float
    min_logprob: float
    first_logprob: float  # the answer's first token alone: a diagnostic, not what the daemon uses
    confidence: float  # the daemon's default CombinedScorer(FormatScorer, LogprobScorer)


def start_server(threads: int) -> tuple[subprocess.Popen[str], str]:
    if not SERVER_PYTHON.exists():
        sys.exit("the real model is not installed: run `make real-model`")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [str(SERVER_PYTHON), str(ROOT / "scripts/real-model/serve.py"), "--threads",
         str(threads), "--verbosity", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        sys.exit(f"serve.py exited with {proc.wait()}")
    return proc, json.loads(line)["base_url"]


def post(base_url: str, body: dict[str, Any], timeout: float = 300) -> Any:
    request = urllib.request.Request(  # noqa: S310 - base_url is serve.py's http://127.0.0.1
        f"{base_url}/chat/completions", json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - as above


def stream_timing(base_url: str, prompt: str, max_tokens: int) -> dict[str, float]:
    """Client-side time to first token and decode rate of one streamed answer."""
    body = {"model": "gemma-3-270m", "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens, "temperature": 0, "logprobs": True, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    started = time.perf_counter()
    stamps: list[float] = []
    server_rate = math.nan
    with post(base_url, body) as reply:
        for raw in reply:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices") or []:
                stamps += [time.perf_counter()] * len(
                    (choice.get("logprobs") or {}).get("content") or []
                )
            if chunk.get("timings"):
                server_rate = chunk["timings"].get("predicted_per_second", math.nan)
    decode = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else math.nan
    return {"ttft_ms": (stamps[0] - started) * 1000, "tokens": len(stamps),
            "client_tok_s": decode, "server_tok_s": server_rate}  # fmt: skip


def final_number(text: str) -> float | None:
    marked = re.search(r"####\s*\$?\s*(" + NUMBER.pattern + ")", text)
    found = marked.group(1) if marked else (NUMBER.findall(text) or [None])[-1]
    if found is None:
        return None
    try:
        return float(found.replace(",", "").rstrip("."))
    except ValueError:
        return None


def arithmetic_questions(count: int, seed: int = 11) -> Iterator[Item]:
    """One-step sums, differences and products: a control set the small model gets partly right."""
    rng = random.Random(seed)  # noqa: S311 - reproducible questions, not a secret
    for _ in range(count):
        op = rng.choice("+-*")
        a, b = (rng.randint(2, 12), rng.randint(2, 12)) if op == "*" else (
            rng.randint(10, 99), rng.randint(2, 49))  # fmt: skip
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
        yield Item(f"What is {a} {op} {b}?", str(value), ARITHMETIC_SHOTS, ("\n",), task=op)


def sequence_questions(count: int, seed: int = 11) -> list[Item]:
    """What comes next / repeat a word: a control set a base model gets partly right."""
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    months = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")  # fmt: skip
    items = [Item(f"Which day comes after {d}?", days[(i + 1) % 7], SEQUENCE_SHOTS, ("\n",),
                  "word", "next day") for i, d in enumerate(days)]  # fmt: skip
    items += [Item(f"Which month comes after {m}?", months[(i + 1) % 12], SEQUENCE_SHOTS,
                   ("\n",), "word", "next month") for i, m in enumerate(months)]  # fmt: skip
    items += [Item(f"Which number comes after {n}?", str(n + 1), SEQUENCE_SHOTS, ("\n",),
                   "word", "next number") for n in range(2, 32)]  # fmt: skip
    items += [Item(f"Repeat the word: {w}", w, SEQUENCE_SHOTS, ("\n",), "word", "repeat")
              for w in WORDS]  # fmt: skip
    random.Random(seed).shuffle(items)  # noqa: S311 - a fixed order, not a secret
    return items[:count]


def gsm8k_questions(limit: int) -> Iterator[Item]:
    contaminated: set[str] = set()
    extra = GSM8K / "contaminated_prompts.jsonl"
    if extra.exists():
        for line in extra.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                contaminated.add(item.get("eval_prompt", "") if isinstance(item, dict) else item)
    taken = 0
    with (GSM8K / "gsm8k_responses.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if taken >= limit:
                return
            if row["prompt"] in contaminated:
                continue
            reference = None
            if row[MIXTRAL] == "True":
                reference = final_number(row[f"{MIXTRAL}_response"])
            elif row[GPT4] == "True":
                reference = final_number(row[f"{GPT4}_response"])
            if reference is None:
                continue  # both models wrong: no reference answer in the file
            taken += 1
            yield Item(f"{row['prompt']}", f"{reference:g}", SHOTS, ("\n\n", "<start_of_turn>"))


def conversation(shots: Sequence[tuple[str, str]], prompt: str) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for question, answer in shots:
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    return [*messages, {"role": "user", "content": prompt}]


def ask(base_url: str, item: Item, max_tokens: int) -> Row:
    """One greedy answer, judged and scored as the daemon would score it."""
    body = {"model": "gemma-3-270m", "messages": conversation(item.shots, item.prompt),
            "max_tokens": max_tokens, "temperature": 0, "logprobs": True,
            "stop": list(item.stop)}  # fmt: skip
    with post(base_url, body) as reply:
        choice = json.load(reply)["choices"][0]
    text = choice["message"]["content"]
    logprobs = tuple(t["logprob"] for t in (choice.get("logprobs") or {}).get("content") or [])
    completion = Completion(text=text, finish_reason=choice["finish_reason"], usage=Usage(),
                            model="gemma-3-270m", logprobs=logprobs)  # fmt: skip
    request = ProviderRequest(model="gemma-3-270m",
                              messages=(ChatMessage(role="user", content=item.prompt),),
                              params=GenParams(), logprobs=True)  # fmt: skip
    mean, low = LogprobScorer.features(completion) or (math.nan, math.nan)
    predicted = judge(item, text)
    confidence = CombinedScorer((FormatScorer(), LogprobScorer())).score(completion, request)
    correct = predicted is not None and predicted.lower() == item.reference.lower()
    first = logprobs[0] if logprobs else math.nan
    return Row(item.task, item.prompt, item.reference, text, predicted, correct,
               choice["finish_reason"], len(logprobs), mean, low, first, confidence)  # fmt: skip


def judge(item: Item, text: str) -> str | None:
    """The part of the answer that is compared with the reference."""
    if item.kind == "word":
        word = FIRST_WORD.search(text)
        return word.group(0) if word else None
    number = final_number(text)
    return None if number is None else f"{number:g}"


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """P(score of a random correct answer > that of a random wrong one); ties count ½."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return math.nan
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def speed_report(speed: list[dict[str, float]], threads: int) -> list[str]:
    med = {k: statistics.median(s[k] for s in speed) for k in speed[0]}
    return [
        f"## Speed (llama.cpp via xllamacpp, {threads} thread(s), streamed, logprobs on)",
        "",
        "| run | first token (ms) | tokens | decode tok/s (client) | tok/s (server) |",
        "|---|---|---|---|---|",
        *(
            f"| {i + 1} | {s['ttft_ms']:.0f} | {s['tokens']:.0f} | {s['client_tok_s']:.1f} | "
            f"{s['server_tok_s']:.1f} |"
            for i, s in enumerate(speed)
        ),
        f"| median | {med['ttft_ms']:.0f} | {med['tokens']:.0f} | {med['client_tok_s']:.1f} | "
        f"{med['server_tok_s']:.1f} |",
    ]


def set_report(title: str, rows: list[Row], seconds: float) -> list[str]:
    labels = [r.correct for r in rows]
    right = sum(labels)
    served = [r for r in rows if r.confidence >= 0.75]
    return [
        f"## {title}: {len(rows)} questions, {right} answered right ({right / len(rows):.0%}), "
        f"{seconds:.0f} s",
        "",
        "| signal | AUC (correct vs wrong) |",
        "|---|---|",
        f"| mean token logprob | {auc([r.mean_logprob for r in rows], labels):.3f} |",
        f"| min token logprob | {auc([r.min_logprob for r in rows], labels):.3f} |",
        f"| daemon's default confidence | {auc([r.confidence for r in rows], labels):.3f} |",
        f"| first token's logprob alone | {auc([r.first_logprob for r in rows], labels):.3f} |",
        "",
        f"Mean logprob: correct {_mean([r.mean_logprob for r in rows if r.correct])}, "
        f"wrong {_mean([r.mean_logprob for r in rows if not r.correct])}. "
        f"Default confidence ≥ 0.75 (served at the default threshold) on {len(served)} answers, "
        f"{sum(r.correct for r in served)} of them right. "
        f"Finish reasons: {dict(sorted(_count(r.finish_reason for r in rows).items()))}; "
        f"answers with no number: {sum(r.predicted is None for r in rows)}.",
        *task_report(rows),
    ]


def task_report(rows: list[Row]) -> list[str]:
    """AUC within each task: is an answer ranked against answers to the same kind of question?"""
    tasks = sorted({r.task for r in rows})
    if len(tasks) < 2:
        return []
    lines = ["", "| task | questions | right | AUC mean logprob | AUC first token |",
             "|---|---|---|---|---|"]  # fmt: skip
    for task in tasks:
        part = [r for r in rows if r.task == task]
        labels = [r.correct for r in part]
        lines.append(
            f"| {task} | {len(part)} | {sum(labels)} | "
            f"{auc([r.mean_logprob for r in part], labels):.3f} | "
            f"{auc([r.first_logprob for r in part], labels):.3f} |"
        )
    return lines


def run_set(base_url: str, items: Iterator[Item], max_tokens: int) -> tuple[list[Row], float]:
    started = time.monotonic()
    rows = []
    for i, item in enumerate(items):
        rows.append(ask(base_url, item, max_tokens))
        print(f"{i + 1}: correct={rows[-1].correct} mean={rows[-1].mean_logprob:.2f}",
              file=sys.stderr, flush=True)  # fmt: skip
    return rows, time.monotonic() - started


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f}" if values else "n/a"


def _count(items: Iterator[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=100, help="GSM8K questions (≤ 100)")
    parser.add_argument("--arithmetic", type=int, default=100, help="one-step sums (control)")
    parser.add_argument("--sequence", type=int, default=100, help="what comes next (control)")
    parser.add_argument("--max-tokens", type=int, default=128, help="for GSM8K answers")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the per-question rows here")
    args = parser.parse_args()
    if not (GSM8K / "gsm8k_responses.csv").exists():
        sys.exit(f"no GSM8K data at {GSM8K}")
    proc, base_url = start_server(args.threads)
    try:
        prompt = "Write a short paragraph about the sea."
        stream_timing(base_url, prompt, 8)  # warm-up: first-call allocations
        speed = [stream_timing(base_url, prompt, 64) for _ in range(3)]
        sums, sums_s = run_set(base_url, arithmetic_questions(args.arithmetic), 8)
        seq, seq_s = run_set(base_url, iter(sequence_questions(args.sequence)), 8)
        gsm8k, gsm8k_s = run_set(
            base_url, gsm8k_questions(min(args.questions, 100)), args.max_tokens
        )
    finally:
        proc.terminate()
        proc.wait(30)
    lines = speed_report(speed, args.threads)
    if gsm8k:
        lines += ["", *set_report("GSM8K", gsm8k, gsm8k_s)]
    if sums:
        lines += ["", *set_report("One-step arithmetic (control)", sums, sums_s)]
    if seq:
        lines += ["", *set_report("What comes next / repeat a word (control)", seq, seq_s)]
    print("\n".join(lines))
    if args.json:
        rows = {"gsm8k": [asdict(r) for r in gsm8k], "arithmetic": [asdict(r) for r in sums],
                "sequence": [asdict(r) for r in seq]}  # fmt: skip
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
