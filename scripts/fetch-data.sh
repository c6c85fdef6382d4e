#!/usr/bin/env bash
# Downloads the public evaluation and training sets (docs/data.md) into DIR, default
# $SLUICE_DATA_DIR, else data/ (git-ignored), and checks each file's sha256 against the copy
# the figures in docs/ were measured on (scripts/data-sources.tsv). Files already there with
# the right sha256 are kept. Never run by make run/test/check: the tests that need the data
# skip without it.
#
#   scripts/fetch-data.sh [DIR] [PREFIX...]    e.g. scripts/fetch-data.sh data cache/ routing/gsm8k
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-${SLUICE_DATA_DIR:-data}}"
shift || true
prefixes=("$@")
failed=0
changed=0
while IFS=$'\t' read -r path url sha; do
  case "$path" in '#'* | '') continue ;; esac
  if [ ${#prefixes[@]} -gt 0 ]; then
    wanted=0
    for p in "${prefixes[@]}"; do case "$path" in "$p"*) wanted=1 ;; esac; done
    [ "$wanted" = 1 ] || continue
  fi
  file="$dest/$path"
  if [ -f "$file" ] && echo "$sha  $file" | sha256sum -c --status; then continue; fi
  mkdir -p "$(dirname "$file")"
  if ! curl -fsSL --retry 3 "$url" -o "$file.part"; then
    echo "could not download $url" >&2; rm -f "$file.part"; failed=1; continue
  fi
  mv "$file.part" "$file"
  if ! echo "$sha  $file" | sha256sum -c --status; then
    echo "$path differs from the copy docs/ measured (sha256 $sha): upstream changed" >&2
    changed=1
  fi
  echo "fetched $path"
done < scripts/data-sources.tsv
[ "$failed" = 0 ] || exit 1
[ "$changed" = 0 ] || echo "some files changed upstream: figures may differ from docs/" >&2
echo "data in $dest"
