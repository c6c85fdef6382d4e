#!/usr/bin/env bash
# Fails when a file of the repository points at a document outside it: a user's clone has
# neither the planning folder's design notes nor the data folder beside the repository
# (docs/data.md says where each data set comes from and where to put it).
set -euo pipefail
cd "$(dirname "$0")/.."
# Spelt in pieces so that this file does not cite what it looks for.
up='\.\.' folder='shar''ed' design='DES''IGN'
pattern="$up/$folder|$folder/data|$design\.md"
# Tracked files and new ones not yet committed; this script names the pattern, so not itself.
if git grep --untracked -n -I -E "$pattern" -- . ':!scripts/check-no-outside-refs.sh'; then
  echo "the lines above refer to files outside the repository: cite docs/ (docs/data.md" >&2
  echo "for data sets) or take a path argument / SLUICE_DATA_DIR instead" >&2
  exit 1
fi
