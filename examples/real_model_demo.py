"""Sluice with a real small model as its cheap tier: what it served, escalated, cached, cost.

    make real-model && .venv/bin/python examples/real_model_demo.py

Starts three processes on loopback and stops them at the end:
  - llama.cpp serving Gemma 3 270M (base model) over the OpenAI API (scripts/real-model/serve.py)
  - the fake provider as the premium tier (`gpt-4o`, which answers "echo: …" confidently)
  - the daemon, with tiers cheap (the real model, threshold 0.75) → premium (the fake)
then asks a handful of questions (easy ones, GSM8K word problems, and repeats) and prints
a table. The small model's price is made up (a local model costs compute, not tokens).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import yaml

from sluice.v1 import sluice_pb2 as pb
from sluice.v1 import sluice_pb2_grpc

ROOT = Path(__file__).resolve().parents[1]
REAL_MODEL = ROOT / ".venv/real-model"
# RouteLLM's GSM8K answers (docs/data.md): $SLUICE_DATA_DIR, else data/ in the repository.
DATA = Path(os.environ.get("SLUICE_DATA_DIR") or ROOT / "data")
GSM8K = DATA / "routing/gsm8k/gsm8k_responses.csv"
MODEL = "gemma-3-270m"
# The base model needs to see what an answer looks like: a few worked turns. Three, found by
# trying: with two, even "banana" came out with a stray token after it. Requests stop at "\n".
EASY_SHOTS = (
    ("Count from 1 to 3.", "1, 2, 3\n"),
    ("Which day comes after Monday?", "Tuesday\n"),
    ("Repeat the word: apple", "apple\n"),
)
MATH_SHOTS = (
    ("A farmer has 3 pens with 12 hens in each. He sells 10 hens. How many hens are left?",
     "3 * 12 = 36 hens.\n36 - 10 = 26 hens.\n#### 26"),
)  # fmt: skip
FALLBACK_PROBLEM = "A baker makes 5 trays of 8 rolls and sells 27 of them. How many rolls are left?"


def start(cmd: list[str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start a process that prints one JSON line when it is ready."""
    proc = subprocess.Popen(  # noqa: S603 - our own interpreters and scripts
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        sys.exit(f"{cmd[2]} exited with {proc.wait()}")
    return proc, json.loads(line)


def config(base_url: str, fake_url: str) -> dict[str, Any]:
    return {
        "providers": {"local": {"kind": "openai", "base_url": base_url},
                      "premium": {"kind": "openai", "base_url": f"{fake_url}/v1"}},
        "tiers": [
            {"name": "cheap", "threshold": 0.75, "timeout_s": 60, "max_output_tokens": 48,
             "deployments": [{"provider": "local", "model": MODEL}]},
            {"name": "premium", "threshold": 0.75, "timeout_s": 10,
             "deployments": [{"provider": "premium", "model": "gpt-4o"}]},
        ],
        "prices": {MODEL: {"input": 0.02, "output": 0.04}},
    }  # fmt: skip


def start_daemon(workdir: Path, settings: dict[str, Any]) -> subprocess.Popen[bytes]:
    (workdir / "config.yaml").write_text(yaml.safe_dump(settings))
    ready = workdir / "ready.json"
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "sluice", "serve", "--config", str(workdir / "config.yaml"),
         "--listen", f"unix://{workdir}/s.sock", "--http", "127.0.0.1:0", "--openai", "127.0.0.1:0",
         "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=(workdir / "daemon.log").open("wb"),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the daemon did not start; see {workdir / 'daemon.log'}")
        time.sleep(0.05)
    return proc


def questions() -> list[tuple[str, list[pb.Message], int]]:
    """(label, conversation, max_tokens); the repeats at the end come from the cache."""
    problems = [FALLBACK_PROBLEM]
    if GSM8K.exists():
        with GSM8K.open(newline="") as f:
            problems = sorted((r["prompt"] for r in list(csv.DictReader(f))[1:40]), key=len)[:2]
    asked = [(q, conversation(EASY_SHOTS, q), 8) for q in (
        "Repeat the word: banana", "Repeat the word: cherry",
        "Which day comes after Tuesday?", "What is the capital of France?")]  # fmt: skip
    asked += [(p, conversation(MATH_SHOTS, p), 48) for p in problems]
    return [*asked, asked[0], asked[-1]]


def stop_for(max_tokens: int) -> list[str]:
    """Short answers end at the line; worked answers (several lines) at a blank line."""
    return ["\n"] if max_tokens <= 8 else ["\n\n", "<start_of_turn>"]


def conversation(shots: tuple[tuple[str, str], ...], question: str) -> list[pb.Message]:
    messages = []
    for q, a in shots:
        messages += [pb.Message(role=pb.ROLE_USER, content=q),
                     pb.Message(role=pb.ROLE_ASSISTANT, content=a)]  # fmt: skip
    return [*messages, pb.Message(role=pb.ROLE_USER, content=question)]


def describe(response: pb.CompleteResponse) -> tuple[str, str]:
    if response.cache.outcome in (pb.CACHE_OUTCOME_EXACT, pb.CACHE_OUTCOME_SEMANTIC):
        return "cache", "cache hit"
    steps = []
    for attempt in response.attempts:
        outcome = pb.AttemptOutcome.Name(attempt.outcome).removeprefix("ATTEMPT_OUTCOME_")
        steps.append(f"{attempt.model} {attempt.confidence:.2f} {outcome.lower()}")
    return response.served_by.tier, " → ".join(steps)


def run(stub: sluice_pb2_grpc.SluiceStub) -> None:
    header = ("question", "served by", "attempts (confidence, outcome)", "answer", "cost $",
              "premium $", "ms")  # fmt: skip
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    cost = baseline = 0.0
    for label, messages, max_tokens in questions():
        params = pb.Params(temperature=0, max_tokens=max_tokens, stop=stop_for(max_tokens))
        started = time.monotonic()
        response = stub.Complete(pb.CompleteRequest(messages=messages, params=params), timeout=180)
        ms = (time.monotonic() - started) * 1000
        tier, steps = describe(response)
        answer = response.message.content.replace("\n", " ")
        cost += response.cost_usd
        baseline += response.baseline_cost_usd
        print(f"| {label[:40]} | {tier} | {steps} | {answer[:28]!r} | {response.cost_usd:.7f} | "
              f"{response.baseline_cost_usd:.7f} | {ms:.0f} |")  # fmt: skip
    saved = 1 - cost / baseline if baseline else 0.0
    print(f"\nTotal: ${cost:.7f} against ${baseline:.7f} for always-premium ({saved:.0%} saved).")


def main() -> int:
    if not (REAL_MODEL / ".installed").exists():
        sys.exit("the real model is not installed: run `make real-model`")
    serve = ROOT / "scripts/real-model/serve.py"
    llama, served = start([str(REAL_MODEL / "bin/python"), str(serve), "--threads", "1",
                           "--verbosity", "0"])  # fmt: skip
    fake, faked = start([sys.executable, "-m", "sluice.testing.fakeprovider", "--port", "0",
                         "--protocol", "openai"])  # fmt: skip
    daemon = None
    try:
        with tempfile.TemporaryDirectory(prefix="sluice-demo-") as tmp:
            workdir = Path(tmp)
            settings = config(served["base_url"], f"http://127.0.0.1:{faked['port']}")
            daemon = start_daemon(workdir, settings)
            with grpc.insecure_channel(f"unix://{workdir}/s.sock") as channel:
                run(sluice_pb2_grpc.SluiceStub(channel))
            daemon.terminate()
            daemon.wait(30)
    finally:
        for proc in (daemon, fake, llama):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
