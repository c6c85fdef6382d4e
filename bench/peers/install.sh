#!/usr/bin/env bash
# A separate virtualenv for the peers the benchmarks compare against (LiteLLM, GPTCache),
# so their dependencies never mix with the daemon's. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS=.venv/peers
if [ ! -x "$PEERS/bin/python" ]; then python3 -m venv "$PEERS"; fi
stamp="$PEERS/.installed"
if [ ! -f "$stamp" ] || [ bench/peers/requirements.txt -nt "$stamp" ]; then
  HNSWLIB_NO_NATIVE=${HNSWLIB_NO_NATIVE:-} "$PEERS/bin/pip" install -q -r bench/peers/requirements.txt
  touch "$stamp"
fi
