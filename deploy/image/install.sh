#!/usr/bin/env bash
# The image's install steps, as one script: deploy/Dockerfile RUNs it in its build stage, and
# scripts/check-deploy.sh runs it into a temporary prefix (then smoke-tests the result), so a
# broken image recipe fails CI even though no Docker engine runs there.
#
#   deploy/image/install.sh --src DIR --prefix DIR [--python PYTHON]
#
# Result, all under PREFIX (the image uses /opt/sluice):
#   PREFIX/bin/sluice, PREFIX/bin/python   a virtualenv with the daemon and its pinned dependencies
#   PREFIX/models/all-MiniLM-L6-v2/        the default embedding model (SLUICE_MODEL_DIR)
#   PREFIX/models/sluice-verifier/      the cache verifier (SLUICE_VERIFIER_DIR)
# Nothing under PREFIX is written at run time (bytecode is compiled here), so the image runs
# with a read-only root file system.
#
# HNSWLIB_NO_NATIVE=1 (set here unless the caller sets it): hnswlib compiles from source and
# would otherwise build with -march=native, i.e. for the build machine's CPU, not the node's.
set -euo pipefail

SRC= PREFIX= PYTHON=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case $1 in
    --src) SRC=$2; shift 2 ;;
    --prefix) PREFIX=$2; shift 2 ;;
    --python) PYTHON=$2; shift 2 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$SRC" ] && [ -n "$PREFIX" ] || { echo "usage: install.sh --src DIR --prefix DIR" >&2; exit 2; }
SRC=$(cd "$SRC" && pwd)
MODEL=all-MiniLM-L6-v2
VERIFIER=sluice-verifier
export HNSWLIB_NO_NATIVE=${HNSWLIB_NO_NATIVE:-1}
export PIP_DISABLE_PIP_VERSION_CHECK=1
log() { printf '[image/install] %s\n' "$*"; }

for f in pyproject.toml daemon/sluice/__init__.py "models/$MODEL/model.onnx" "models/$VERIFIER/model.onnx"; do
  [ -f "$SRC/$f" ] || { echo "install.sh: $SRC/$f is missing" >&2; exit 1; }
done

# Build from a copy: setuptools writes build/ and *.egg-info beside the sources, and the
# source tree may be someone's working copy (CI) or read-only.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$SRC/pyproject.toml" "$stage/"
# pyproject.toml names README.md as the long description; the build only needs it to exist.
if [ -f "$SRC/README.md" ]; then cp "$SRC/README.md" "$stage/"; else echo "# Sluice" >"$stage/README.md"; fi
mkdir -p "$stage/daemon"
(cd "$SRC/daemon" && tar --exclude='__pycache__' --exclude='*.egg-info' -cf - sluice) |
  (cd "$stage/daemon" && tar -xf -)

if [ -e "$PREFIX" ] && [ -n "$(ls -A "$PREFIX")" ] && [ ! -f "$PREFIX/pyvenv.cfg" ]; then
  echo "install.sh: $PREFIX exists and is not a virtualenv; refusing to clear it" >&2; exit 1
fi
log "virtualenv at $PREFIX ($("$PYTHON" --version))"
"$PYTHON" -m venv --clear "$PREFIX"
"$PREFIX/bin/python" -m pip install -q --no-compile "$stage"

log "model $MODEL"
mkdir -p "$PREFIX/models/$MODEL"
cp "$SRC/models/$MODEL/"{model.onnx,model.int8.onnx,tokenizer.json,config.json,LICENSE,README.md} \
  "$PREFIX/models/$MODEL/"
log "verifier $VERIFIER"
mkdir -p "$PREFIX/models/$VERIFIER"
cp "$SRC/models/$VERIFIER/"{model.onnx,tokenizer.json,verifier.json,README.md} \
  "$PREFIX/models/$VERIFIER/"

# pip is not needed at run time; bytecode is compiled now because the root FS is read-only later.
"$PREFIX/bin/python" -m pip uninstall -q -y pip
find "$PREFIX" -name '__pycache__' -prune -exec rm -rf {} +
"$PREFIX/bin/python" -m compileall -q -j 0 "$PREFIX/lib" >/dev/null
chmod -R a+rX,go-w "$PREFIX"
log "done: $("$PREFIX/bin/sluice" --version)"
