#!/usr/bin/env bash
# Smoke-tests what deploy/image/install.sh put under PREFIX, the way the image runs it:
# as uid 65532 (when run as root), with an empty environment but SLUICE_MODEL_DIR, from /
# (so nothing is imported from the source tree), on the config the Kubernetes manifests ship.
#   deploy/image/smoke.sh PREFIX
# Checks: `sluice check-config` accepts the shipped config; the daemon becomes SERVING
# (grpc_health_probe exits 0, /metrics says sluice_ready 1); SIGTERM → exit 0 with a final
# snapshot written; nothing under PREFIX was written (read-only root file system).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PREFIX=$(cd "$1" && pwd)
PROBE=${GRPC_HEALTH_PROBE:-$ROOT/.venv/bin/grpc_health_probe}
CONFIG=deploy/kubernetes/base/sluice.yaml
log() { printf '[image/smoke] %s\n' "$*"; }
fail() { printf '[image/smoke] FAIL: %s\n' "$*" >&2; [ -f "${work:-}/daemon.log" ] && tail -30 "$work/daemon.log" >&2; exit 1; }

[ -x "$PROBE" ] || fail "grpc_health_probe not found at $PROBE (make install)"
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
chmod 755 "$work"

# --content-only: the Secret's files exist in the pod, not here (the rewritten copy below
# is checked in full, files included).
"$PREFIX/bin/sluice" check-config --content-only "$CONFIG" >/dev/null || fail "check-config $CONFIG"

# The shipped config, with the Secret's mount point moved to a temporary directory.
mkdir -p "$work/secrets" "$work/snapshots"
sed "s#/var/run/secrets/sluice/#$work/secrets/#" "$CONFIG" >"$work/sluice.yaml"
for key in openai-api-key anthropic-api-key; do echo "not-a-real-key" >"$work/secrets/$key"; done
SLUICE_MODEL_DIR="$PREFIX/models/all-MiniLM-L6-v2" SLUICE_VERIFIER_DIR="$PREFIX/models/sluice-verifier" \
  "$PREFIX/bin/sluice" check-config "$work/sluice.yaml" --snapshot-dir "$work/snapshots" >/dev/null ||
  fail "check-config (rewritten)"

as_user=()
if [ "$(id -u)" = 0 ]; then
  chown -R 65532:65532 "$work"
  as_user=(/usr/bin/setpriv --reuid 65532 --regid 65532 --clear-groups)
fi
touch "$work/marker"
(cd / && exec env -i PATH=/usr/bin:/bin SLUICE_MODEL_DIR="$PREFIX/models/all-MiniLM-L6-v2" \
  SLUICE_VERIFIER_DIR="$PREFIX/models/sluice-verifier" \
  "${as_user[@]}" "$PREFIX/bin/sluice" serve --config "$work/sluice.yaml" \
  --listen "unix://$work/s.sock" --http 127.0.0.1:0 --openai 127.0.0.1:0 \
  --snapshot-dir "$work/snapshots" \
  --ready-file "$work/ready.json") >"$work/daemon.log" 2>&1 &
pid=$!

for _ in $(seq 1 900); do
  [ -f "$work/ready.json" ] && break
  kill -0 "$pid" 2>/dev/null || fail "the daemon exited before it was ready"
  sleep 0.2
done
[ -f "$work/ready.json" ] || fail "not ready after 180 s"
out=$("$PROBE" "-addr=unix://$work/s.sock" -connect-timeout=2s -rpc-timeout=2s 2>&1) ||
  fail "grpc_health_probe did not exit 0: $out"
"$PREFIX/bin/python" - "$work/ready.json" <<'PY' || fail "/metrics"
import json, sys, urllib.request
http = json.load(open(sys.argv[1]))["http"]
body = urllib.request.urlopen(f"http://{http}/metrics", timeout=10).read().decode()
assert "\nsluice_ready 1.0\n" in body, "sluice_ready is not 1"
PY
grep -q '"event": *"verifier_loaded"' "$work/daemon.log" || fail "the verifier did not load from the image"
log "SERVING as uid $(stat -c %u "$work/s.sock"), probe ok, /metrics ok, verifier loaded"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
[ -f "$work/snapshots/CURRENT" ] || fail "no final snapshot after SIGTERM"
changed=$(find "$PREFIX" -newer "$work/marker" | head -5)
[ -z "$changed" ] || fail "the daemon wrote under PREFIX (read-only in the image): $changed"
log "SIGTERM: exit 0, snapshot written, PREFIX untouched"
