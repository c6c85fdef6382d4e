#!/usr/bin/env bash
# Runs the four client test suites (Python, Go, TypeScript, Java) against the real daemon.
# Each suite starts its own daemon on a unix socket (clients/testdata/sluice_under_test.py).
# Every suite runs even when an earlier one failed; the exit code is non-zero if any failed.
# Offline: the dependencies come from scripts/install-codegen.sh (called by `make install`).
#
#   scripts/test-clients.sh                 all four
#   scripts/test-clients.sh python go       a subset (python, go, typescript, java)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
export SLUICE_PYTHON=${SLUICE_PYTHON:-$ROOT/$VENV/bin/python}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(python go typescript java)

run_python() { (cd clients/python && "$ROOT/$VENV/bin/python" -m pytest -p no:cacheprovider); }
run_go() { (cd clients/go && go vet ./... && go test -count=1 -v ./...); }
run_typescript() { (cd clients/typescript && npm test --silent); }
run_java() { (cd clients/java && mvn -o -B --no-transfer-progress -Dstyle.color=never test); }

failed=()
for suite in "${suites[@]}"; do
  echo "=== clients/$suite"
  start=$SECONDS
  if "run_$suite"; then
    echo "=== clients/$suite: ok ($((SECONDS - start)) s)"
  else
    echo "=== clients/$suite: FAILED ($((SECONDS - start)) s)"
    failed+=("$suite")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "client suites failed: ${failed[*]}" >&2
  exit 1
fi
echo "client suites passed: ${suites[*]}"
