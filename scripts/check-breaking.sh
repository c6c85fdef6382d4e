#!/usr/bin/env bash
# buf breaking against the proto of the previous commit on main (nothing to compare on the first).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${BREAKING_BASE:-HEAD~1}
if ! git rev-parse --verify -q "$base" >/dev/null; then
  echo "buf breaking: no $base to compare with (first commit)"; exit 0
fi
if ! git cat-file -e "$base:proto" 2>/dev/null; then
  echo "buf breaking: $base has no proto/ yet"; exit 0
fi
.venv/bin/buf breaking --against ".git#ref=$base,subdir=proto" proto
echo "buf breaking: no breaking change against $base"
