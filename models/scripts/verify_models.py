#!/usr/bin/env python3
"""Verify candidate all-MiniLM-L6-v2 ONNX files against the torch reference.

Runs in the project venv (onnxruntime, tokenizers, numpy only):

    .venv/bin/python models/scripts/verify_models.py \
        --reference tests/data/embedding_reference.json \
        --tokenizer models/all-MiniLM-L6-v2/tokenizer.json \
        fp32=models/all-MiniLM-L6-v2/model.onnx other=/path/to/other.onnx

For each candidate it reports:
  (a) min cosine vs the fp32 torch reference over every reference text
      (each text embedded alone; pass: >= 0.99);
  (b) batch independence: min cosine between a text embedded alone and the
      same text inside a mixed batch of 16 texts padded to the batch max
      (pass: >= 0.9999);
  (c) latency of one short text (p50/p99 over --runs runs) with
      intra_op_num_threads=1 and 2, and throughput of batches of 32 texts
      (texts/s, 2 threads), graph optimisation level ORT_ENABLE_ALL.
Pooling: mean over the attention mask, then L2 normalise.
Exit status 1 if any candidate fails (a) or (b).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 256
SHORT_TEXT = "How do I delete a file in Linux?"
COS_MIN = 0.99
BATCH_COS_MIN = 0.9999


def make_tokenizer(path: str) -> Tokenizer:
    tok = Tokenizer.from_file(path)
    # tokenizer.json ships with truncation=128 and Fixed(128) padding: override both.
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_SEQ_LENGTH)
    return tok


def make_session(path: str, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def encode_batch(tok: Tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    encs = tok.encode_batch(texts)
    n = max(len(e.ids) for e in encs)
    ids = np.zeros((len(encs), n), dtype=np.int64)
    mask = np.zeros_like(ids)
    tt = np.zeros_like(ids)
    for i, e in enumerate(encs):
        k = len(e.ids)
        ids[i, :k] = e.ids
        mask[i, :k] = e.attention_mask
        tt[i, :k] = e.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt}


def embed(sess: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> np.ndarray:
    (hidden,) = sess.run(["last_hidden_state"], feeds)
    m = feeds["attention_mask"][..., None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def check_quant_ops(path: str) -> str:
    """Names the quantization-related op types in the graph (needs `onnx` if present)."""
    try:
        import onnx  # optional, not a project dependency
    except ImportError:
        return "?"
    ops = {n.op_type for n in onnx.load(path, load_external_data=False).graph.node}
    q = sorted(ops & {"DynamicQuantizeLinear", "MatMulInteger", "QuantizeLinear",
                      "DequantizeLinear", "QLinearMatMul", "MatMulIntegerToFloat",
                      "DynamicQuantizeMatMul", "Cast"})
    return ",".join(q) or "-"


def verify(name: str, path: str, tok: Tokenizer, ref: dict, runs: int, batch_rounds: int) -> dict:
    items = ref["items"]
    texts = [it["text"] for it in items]
    refv = np.array([it["vector"] for it in items], dtype=np.float64)
    refv /= np.linalg.norm(refv, axis=1, keepdims=True)

    # Tokenization check against the reference token counts / ids.
    tok_mismatch = 0
    for it in items:
        e = tok.encode(it["text"])
        if len(e.ids) != it["tokens"] or ("input_ids" in it and e.ids != it["input_ids"]):
            tok_mismatch += 1

    sess = make_session(path, 2)
    single = np.concatenate([embed(sess, encode_batch(tok, [t])) for t in texts])
    cos = (single * refv).sum(axis=1)
    worst = int(np.argmin(cos))

    # (b) mixed batches of 16 with very different lengths: each text at least once.
    rng = np.random.default_rng(0)
    batch_cos = []
    order = rng.permutation(len(texts))
    for start in range(0, len(texts), 16):
        idx = list(order[start:start + 16])
        while len(idx) < 16:
            idx.append(int(rng.integers(len(texts))))
        # make sure every batch mixes in the longest (truncated) text -> heavy padding
        longest = int(np.argmax([it["tokens"] for it in items]))
        if longest not in idx:
            idx[-1] = longest
        b = embed(sess, encode_batch(tok, [texts[i] for i in idx]))
        batch_cos.extend((b * single[idx]).sum(axis=1).tolist())

    lat = {}
    short = encode_batch(tok, [SHORT_TEXT])
    for threads in (1, 2):
        s = make_session(path, threads)
        for _ in range(30):
            s.run(["last_hidden_state"], short)
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            s.run(["last_hidden_state"], short)
            ts.append((time.perf_counter() - t0) * 1000)
        ts.sort()
        lat[threads] = (statistics.median(ts), ts[min(len(ts) - 1, int(round(0.99 * len(ts))) - 1)])

    # throughput: batches of 32 texts drawn from the reference set (mixed lengths)
    batches = [encode_batch(tok, [texts[(i * 32 + j) % len(texts)] for j in range(32)])
               for i in range(batch_rounds)]
    thr = {}
    for threads in (1, 2):
        s = make_session(path, threads)
        s.run(["last_hidden_state"], batches[0])
        t0 = time.perf_counter()
        for b in batches:
            s.run(["last_hidden_state"], b)
        thr[threads] = 32 * len(batches) / (time.perf_counter() - t0)

    # the short-text batch throughput (32 x ~13 tokens) at 2 threads
    sb = encode_batch(tok, [SHORT_TEXT] * 32)
    s = make_session(path, 2)
    s.run(["last_hidden_state"], sb)
    t0 = time.perf_counter()
    for _ in range(20):
        s.run(["last_hidden_state"], sb)
    thr_short = 32 * 20 / (time.perf_counter() - t0)

    size_mb = Path(path).stat().st_size / 1e6
    return {
        "name": name, "path": path, "size_mb": size_mb,
        "min_cos": float(cos.min()), "worst_text": texts[worst][:50],
        "min_batch_cos": float(min(batch_cos)),
        "p50_1": lat[1][0], "p99_1": lat[1][1], "p50_2": lat[2][0], "p99_2": lat[2][1],
        "thr32_1": thr[1], "thr32_2": thr[2], "thr32_short": thr_short,
        "tok_mismatch": tok_mismatch, "quant_ops": check_quant_ops(path),
        "pass": bool(cos.min() >= COS_MIN and min(batch_cos) >= BATCH_COS_MIN),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("candidates", nargs="+", help="NAME=PATH.onnx")
    ap.add_argument("--reference", default="tests/data/embedding_reference.json")
    ap.add_argument("--tokenizer", default="models/all-MiniLM-L6-v2/tokenizer.json")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--batch-rounds", type=int, default=10, help="batches of 32 for throughput")
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args()

    ref = json.loads(Path(args.reference).read_text(encoding="utf-8"))
    tok = make_tokenizer(args.tokenizer)
    n_short = len(tok.encode(SHORT_TEXT).ids)
    print(f"ORT {ort.__version__}; {len(ref['items'])} reference texts; "
          f"short text {SHORT_TEXT!r} = {n_short} tokens; {args.runs} runs")
    results = []
    for c in args.candidates:
        name, _, path = c.partition("=")
        r = verify(name, path, tok, ref, args.runs, args.batch_rounds)
        results.append(r)
        print(f"  done {name}", file=sys.stderr)

    hdr = (f"{'candidate':<14}{'MB':>6}{'min cos':>10}{'min batch':>11}"
           f"{'p50@1':>8}{'p99@1':>8}{'p50@2':>8}{'p99@2':>8}"
           f"{'b32/s@1':>9}{'b32/s@2':>9}{'short32/s':>10}  {'tokOK':>5}  pass  quant ops")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        print(f"{r['name']:<14}{r['size_mb']:>6.1f}{r['min_cos']:>10.6f}{r['min_batch_cos']:>11.7f}"
              f"{r['p50_1']:>8.2f}{r['p99_1']:>8.2f}{r['p50_2']:>8.2f}{r['p99_2']:>8.2f}"
              f"{r['thr32_1']:>9.1f}{r['thr32_2']:>9.1f}{r['thr32_short']:>10.1f}  "
              f"{'yes' if r['tok_mismatch'] == 0 else r['tok_mismatch']:>5}  "
              f"{'PASS' if r['pass'] else 'FAIL'}  {r['quant_ops']}")
    print("latency in ms (one short text); b32/s = texts/s in batches of 32 mixed-length "
          "reference texts; short32/s = texts/s in batches of 32 copies of the short text (2 threads)")
    for r in results:
        print(f"  {r['name']}: worst reference text: {r['worst_text']!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
