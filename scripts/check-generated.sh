#!/usr/bin/env bash
# Fails when the checked-in generated code differs from what the pinned generators produce now.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/generate.sh
if ! git diff --exit-code --stat -- daemon/sluice/v1 clients; then
  echo "generated code is stale: run 'make generate' and commit the result" >&2
  exit 1
fi
untracked=$(git ls-files --others --exclude-standard -- daemon/sluice/v1 clients | grep -E '_pb|_grpc|\.pb\.' || true)
if [ -n "$untracked" ]; then
  echo "generated files are not committed:" >&2; echo "$untracked" >&2; exit 1
fi
