#!/usr/bin/env bash
# Offline validation of deploy/ (`make check`; tools from scripts/install-deploy-tools.sh).
# Nothing is fetched: Go runs with GOPROXY=off, pip with PIP_NO_INDEX.
#   1. manifests  kustomize builds every kustomization; each resource decodes strictly into
#                 its Kubernetes / Prometheus Operator Go type; the pod specs agree with the
#                 daemon config they ship, and `sluice check-config` accepts each pod's
#                 ConfigMap with its container args; a NetworkPolicy admits only the
#                 metrics port (deploy/validate, go test)
#   2. alerts     promtool check rules + promtool test rules on the PrometheusRule's groups
#   3. image      deploy/image/install.sh into a temporary prefix, then deploy/image/smoke.sh
# tests/deploy (pytest, part of `make test`) checks the alerts' and dashboard's metric names
# against the real daemon's /metrics.
#   scripts/check-deploy.sh [manifests|alerts|image]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin
TOOLS=$ROOT/.venv/tools
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(manifests alerts image)
log() { printf '[check-deploy] %s\n' "$*"; }
tmp=$(mktemp -d)
current=
finish() {
  local rc=$?
  rm -rf "$tmp"
  [ "$rc" = 0 ] || log "${current:-setup}: FAILED (exit $rc)"
}
trap finish EXIT
chmod 755 "$tmp"  # the image smoke test runs the daemon as uid 65532 from here

manifests() {
  # The daemon's own validation runs inside: the venv's CLI (make install).
  (cd deploy/validate && SLUICE_BIN=$BIN/sluice GOPROXY=off GOFLAGS="-mod=readonly -buildvcs=false" \
    go test -count=1 ./...)
}

alerts() {
  if [ ! -x "$BIN/promtool" ]; then
    echo "promtool missing: run scripts/install-deploy-tools.sh" >&2
    return 1
  fi
  "$BIN/python" - deploy/alerts/prometheusrule.yaml "$tmp/sluice-rules.yaml" <<'PY'
import sys, yaml
rule = yaml.safe_load(open(sys.argv[1]))
assert rule["kind"] == "PrometheusRule", rule["kind"]
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
PY
  cp deploy/alerts/tests.yaml "$tmp/"
  "$BIN/promtool" check rules "$tmp/sluice-rules.yaml"
  "$BIN/promtool" test rules "$tmp/tests.yaml"
}

image() {
  if [ -d "$TOOLS/wheelhouse" ]; then
    export PIP_NO_INDEX=1 PIP_FIND_LINKS=$TOOLS/wheelhouse
  else
    log "no wheelhouse (scripts/install-deploy-tools.sh): installing from the index"
  fi
  deploy/image/install.sh --src . --prefix "$tmp/opt/sluice"
  deploy/image/smoke.sh "$tmp/opt/sluice"
}

for step in "${steps[@]}"; do
  case $step in manifests | alerts | image) ;; *) echo "unknown step $step" >&2; exit 2 ;; esac
  current=$step start=$SECONDS
  log "$step"
  "$step"  # not behind || : that would switch off set -e inside the function
  log "$step: ok ($((SECONDS - start)) s)"
done
current=
