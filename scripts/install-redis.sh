#!/usr/bin/env bash
# Installs redis-server for the fleet tests (tests/support/redis.py starts real ones) when it
# is not on PATH: Debian's package (Redis 7), from apt. Idempotent: does nothing when present.
# Only the tests need it: `make run` and the standalone daemon never start or need Redis.
set -euo pipefail

log() { printf '[install-redis] %s\n' "$*"; }

if command -v redis-server >/dev/null 2>&1; then
  log "$(redis-server --version | cut -d' ' -f1-3): present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  log "redis-server is not installed and this is not a Debian/Ubuntu machine (no apt-get):"
  log "install Redis 7 (or Valkey) so that redis-server is on PATH, then run make test again"
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  log "redis-server is not installed and installing it needs root: run as root,"
  log "  apt-get install -y redis-server"
  log "(or install sudo), then run make test again"
  exit 1
fi
log "apt-get install redis-server (the tests start their own; no service is enabled here)"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# --no-install-recommends: the tests need the server binary, not redis-tools' extras.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# The package enables a system-wide redis on :6379; the tests never use it, and a machine
# that only runs tests does not need it running.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${SUDO[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
log "$(redis-server --version | cut -d' ' -f1-3): installed"
