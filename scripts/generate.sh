#!/usr/bin/env bash
# Regenerates every checked-in stub from proto/. One command: `make generate`.
# `make check` runs this and fails when `git diff` shows the checked-in code was stale.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

# Python stubs for the daemon (package sluice.v1 lives inside the daemon's own package).
# grpcio-tools bundles protoc, so the generator version is pinned by pyproject.toml.
rm -f daemon/sluice/v1/*_pb2*.py daemon/sluice/v1/*_pb2*.pyi
python -m grpc_tools.protoc -I proto \
  --python_out=daemon --mypy_out=quiet:daemon \
  --grpc_python_out=daemon --mypy_grpc_out=quiet:daemon \
  proto/sluice/v1/*.proto

# Client stubs for Go, TypeScript, Java and Python (buf with local, pinned plugins).
if [ -x scripts/generate-clients.sh ]; then
  scripts/generate-clients.sh
fi
