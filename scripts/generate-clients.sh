#!/usr/bin/env bash
# Regenerates the checked-in client stubs under clients/ from proto/ with the pinned local
# plugins that scripts/install-codegen.sh installs. Called by scripts/generate.sh.
# Deterministic and idempotent: it deletes exactly the generated files first, so a renamed or
# removed proto leaves nothing behind, and running it twice gives the same tree.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=$VENV/bin/python
export PATH="$PWD/$VENV/bin:$PATH"  # grpc_tools.protoc finds protoc-gen-mypy* on PATH

for tool in "$VENV/bin/buf" "$VENV/bin/protoc-gen-go" "$VENV/bin/protoc-gen-go-grpc" \
            "$VENV/tools/node/node_modules/.bin/protoc-gen-ts_proto" \
            "$VENV/tools/java/protoc" "$VENV/tools/java/protoc-gen-grpc-java"; do
  [ -x "$tool" ] || { echo "missing $tool: run scripts/install-codegen.sh" >&2; exit 1; }
done

# Only generated code lives in these places (wrappers are beside them, never inside).
rm -rf clients/go/sluicev1 clients/typescript/src/gen clients/java/src/main/java/dev/sluice/v1
rm -f clients/python/src/sluice_client/v1/*_pb2*.py clients/python/src/sluice_client/v1/*_pb2*.pyi

# Go, TypeScript, Java.
"$VENV/bin/buf" generate --template buf.gen.yaml

# Python client: same generator as the daemon's stubs (grpcio-tools, pinned in pyproject.toml),
# generated into a scratch dir and moved under the client's own package, because the daemon
# owns the top-level `sluice` package.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m grpc_tools.protoc -I proto \
  --python_out="$tmp" --grpc_python_out="$tmp" \
  --mypy_out=quiet:"$tmp" --mypy_grpc_out=quiet:"$tmp" \
  proto/sluice/v1/*.proto
mkdir -p clients/python/src/sluice_client/v1
for f in "$tmp"/sluice/v1/*_pb2*; do
  sed -e 's/^from sluice\.v1 import /from sluice_client.v1 import /' \
      -e 's/^import sluice\.v1\./import sluice_client.v1./' \
      -e 's/\bsluice\.v1\.sluice_pb2\b/sluice_client.v1.sluice_pb2/g' \
      "$f" >"clients/python/src/sluice_client/v1/$(basename "$f")"
done
