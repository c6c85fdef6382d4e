#!/usr/bin/env bash
# Installs what scripts/check-deploy.sh needs, from the package registries only (Go module
# proxy, PyPI). Idempotent: each step is skipped while its pinned version / inputs match the
# stamp next to it, so `make install` can call it every time.
#   promtool            .venv/bin/promtool (go install, service discovery left out)
#   deploy/validate     its Go modules downloaded and its test binary compiled (build cache)
#   wheelhouse          .venv/tools/wheelhouse: wheels for the image's pinned dependencies,
#                       so the image install smoke test runs offline (PIP_NO_INDEX)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
BIN=$ROOT/$VENV/bin
TOOLS=$ROOT/$VENV/tools

# Go module tag of Prometheus v3.16.0. `remove_all_sd` drops the service-discovery SDKs
# (AWS, Azure, GCE, ...) that `check rules` / `test rules` never use: a much smaller build.
PROMTOOL_VERSION=v0.316.0

log() { printf '[install-deploy-tools] %s\n' "$*"; }
mkdir -p "$BIN" "$TOOLS"
stamp_ok() { [ "$(cat "$TOOLS/$1.stamp" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$TOOLS/$1.stamp"; }

# ---- promtool
if [ -x "$BIN/promtool" ] && stamp_ok promtool "$PROMTOOL_VERSION"; then :; else
  log "go install promtool@$PROMTOOL_VERSION (one-off, a few minutes)"
  GOBIN=$BIN go install -tags remove_all_sd \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
  stamp promtool "$PROMTOOL_VERSION"
fi

# ---- deploy/validate: modules + a compiled test binary in the build cache
key=$(cat deploy/validate/go.mod deploy/validate/go.sum | sha256sum | cut -c1-16)
if stamp_ok validate "$key"; then :; else
  log "deploy/validate: go mod download, compile"
  (cd deploy/validate && go mod download && go test -count=1 -run '^$' ./... >/dev/null)
  stamp validate "$key"
fi

# ---- wheelhouse for the image install smoke test
key=$(sha256sum pyproject.toml | cut -c1-16)
if [ -d "$TOOLS/wheelhouse" ] && stamp_ok wheelhouse "$key"; then :; else
  log "wheelhouse: the image's pinned dependencies"
  reqs=$(mktemp)
  trap 'rm -f "$reqs"' EXIT
  "$BIN/python" - >"$reqs" <<'PY'
import tomllib
d = tomllib.load(open("pyproject.toml", "rb"))
print("\n".join(d["project"]["dependencies"] + d["build-system"]["requires"]))
PY
  rm -rf "$TOOLS/wheelhouse"
  HNSWLIB_NO_NATIVE=1 "$BIN/python" -m pip wheel -q --wheel-dir "$TOOLS/wheelhouse" -r "$reqs"
  stamp wheelhouse "$key"
fi
log "ok"
