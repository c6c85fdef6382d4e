#!/usr/bin/env bash
# Times `make run` on a fresh clone: seconds from the command to gRPC health SERVING.
#
#   scripts/time-fresh-run.sh                  clone the last commit (what a user gets)
#   scripts/time-fresh-run.sh --working-tree   copy the working tree instead (before a commit)
#
# The clone gets an empty pip cache (as a fresh machine has), so every wheel comes from the
# package index and hnswlib compiles; the daemon listens on a private unix socket (no port
# clash with a daemon already running), then is stopped and the clone removed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d /tmp/sluice-fresh-XXXXXX)"
clone="$tmp/sluice"
pgid=""
cleanup() {
  if [ -n "$pgid" ]; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    # The daemon drains (grace period) and make follows it; only then force what is left.
    for _ in $(seq 60); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
    wait "$pgid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "${1:-}" = "--working-tree" ]; then
  mkdir -p "$clone"
  (cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$clone"
else
  git clone -q --depth 1 "file://$root" "$clone"
fi
cat > "$tmp/config.yaml" <<YAML
server: {listen: ["unix://$tmp/s.sock"], http: "127.0.0.1:0", openai: null}
YAML

start=$(date +%s.%N)
# Its own process group, so that the stop below ends make, pip or the daemon, whichever runs.
PIP_CACHE_DIR="$tmp/pip-cache" setsid make -C "$clone" run CONFIG="$tmp/config.yaml" \
  >"$tmp/run.log" 2>&1 &
pgid=$!
probe='import grpc, sys
from grpc_health.v1 import health_pb2, health_pb2_grpc
with grpc.insecure_channel(sys.argv[1]) as c:
    r = health_pb2_grpc.HealthStub(c).Check(health_pb2.HealthCheckRequest(), timeout=1)
sys.exit(0 if r.status == health_pb2.HealthCheckResponse.SERVING else 1)'
while true; do
  if ! kill -0 "$pgid" 2>/dev/null; then
    echo "make run exited before SERVING:" >&2; tail -30 "$tmp/run.log" >&2; exit 1
  fi
  if [ -S "$tmp/s.sock" ] && "$clone/.venv/bin/python" -c "$probe" "unix://$tmp/s.sock" 2>/dev/null; then
    break
  fi
  sleep 0.5
done
end=$(date +%s.%N)
printf 'fresh clone → make run → gRPC health SERVING: %.0f s\n' "$(echo "$end - $start" | bc)"
