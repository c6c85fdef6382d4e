#!/usr/bin/env bash
# Installs the pinned code generators used by scripts/generate-clients.sh, and the
# build/test dependencies of the four clients, from the package registries only
# (Go module proxy, npm, Maven Central, PyPI). Idempotent: each step is skipped when
# its pinned version is already in place, so `make install` can call it every time.
#
#   scripts/install-codegen.sh              generators + client dependencies
#   scripts/install-codegen.sh --codegen    generators only (enough for `make generate`)
#
# Everything lands under .venv: Go plugins in .venv/bin, ts-proto in .venv/tools/node,
# protoc and protoc-gen-grpc-java in .venv/tools/java.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
BIN=$ROOT/$VENV/bin
TOOLS=$ROOT/$VENV/tools

# ---- pinned generator versions (the runtimes in clients/* must be at least these)
PROTOC_GEN_GO_VERSION=v1.36.12          # google.golang.org/protobuf (runtime in clients/go/go.mod)
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2       # google.golang.org/grpc/cmd/protoc-gen-go-grpc
TS_PROTO_VERSION=2.18.0                 # npm ts-proto, run with outputServices=grpc-js
PROTOC_VERSION=4.36.2                   # Maven com.google.protobuf:protoc (protoc 36.2; = protobuf-java)
GRPC_JAVA_GEN_VERSION=1.83.1            # Maven io.grpc:protoc-gen-grpc-java: newest linux-x86_64 file served here (1.84.x, 1.85.x are 404)
MVN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.11.0

mode=${1:-all}
log() { printf '[install-codegen] %s\n' "$*"; }
mkdir -p "$BIN" "$TOOLS"

# ---- Go: protoc-gen-go, protoc-gen-go-grpc (version recorded next to the binary)
install_go_plugin() { # name module version
  local name=$1 module=$2 version=$3 stamp="$TOOLS/$1.version"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then return; fi
  log "go install $module@$version"
  GOBIN=$BIN GOFLAGS=-mod=mod go install "$module@$version"
  echo "$version" >"$stamp"
}
install_go_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_go_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

# ---- TypeScript: ts-proto in its own npm prefix (exact version, no lockfile drift)
if [ "$(cat "$TOOLS/ts-proto.version" 2>/dev/null)" != "$TS_PROTO_VERSION" ] \
   || [ ! -x "$TOOLS/node/node_modules/.bin/protoc-gen-ts_proto" ]; then
  log "npm install ts-proto@$TS_PROTO_VERSION"
  mkdir -p "$TOOLS/node"
  [ -f "$TOOLS/node/package.json" ] || echo '{"private": true}' >"$TOOLS/node/package.json"
  npm install --prefix "$TOOLS/node" --save-exact --no-audit --no-fund --loglevel=error \
    "ts-proto@$TS_PROTO_VERSION"
  echo "$TS_PROTO_VERSION" >"$TOOLS/ts-proto.version"
fi

# ---- Java: protoc and protoc-gen-grpc-java executables from Maven Central
fetch_exe() { # groupId artifactId version dest
  local dest=$4
  if [ -x "$dest" ]; then return; fi
  log "mvn dependency:copy $1:$2:$3:exe:linux-x86_64"
  mvn -q -B --no-transfer-progress "$MVN_DEPENDENCY_PLUGIN:copy" \
    -Dartifact="$1:$2:$3:exe:linux-x86_64" -DoutputDirectory="$TOOLS/java" -Dmdep.stripVersion=false
  mv "$TOOLS/java/$2-$3-linux-x86_64.exe" "$dest"
  chmod +x "$dest"
}
mkdir -p "$TOOLS/java"
fetch_exe com.google.protobuf protoc "$PROTOC_VERSION" "$TOOLS/java/protoc-$PROTOC_VERSION"
fetch_exe io.grpc protoc-gen-grpc-java "$GRPC_JAVA_GEN_VERSION" \
  "$TOOLS/java/protoc-gen-grpc-java-$GRPC_JAVA_GEN_VERSION"
# Stable names for buf.gen.yaml, which cannot read shell variables.
ln -sf "protoc-$PROTOC_VERSION" "$TOOLS/java/protoc"
ln -sf "protoc-gen-grpc-java-$GRPC_JAVA_GEN_VERSION" "$TOOLS/java/protoc-gen-grpc-java"

# ---- Python: grpcio-tools and mypy-protobuf come with the daemon's dev extras.
"$BIN/python" -c 'import grpc_tools.protoc' 2>/dev/null \
  || { echo "grpcio-tools missing: run 'pip install -e .[dev]' first" >&2; exit 1; }

[ "$mode" = "--codegen" ] && exit 0

# ---- client dependencies, so scripts/test-clients.sh runs offline
log "go mod download (clients/go)"
(cd clients/go && go mod download)
if [ ! -d clients/typescript/node_modules ] \
   || [ clients/typescript/package-lock.json -nt clients/typescript/node_modules/.package-lock.json ]; then
  log "npm ci (clients/typescript)"
  (cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error)
fi
log "mvn: resolve clients/java dependencies and plugins (incl. the surefire JUnit provider)"
# A test run that selects no test resolves the plugins and the project's dependencies, but
# not surefire's JUnit provider, which surefire fetches only when it has tests to run: that
# one is fetched by name, at the pom's surefire version.
(cd clients/java && mvn -q -B --no-transfer-progress test -Dtest=NoSuchTest \
   -Dsurefire.failIfNoSpecifiedTests=false)
surefire=$(sed -n '/<artifactId>maven-surefire-plugin</{n;s:.*<version>\(.*\)</version>.*:\1:p;}' \
  clients/java/pom.xml)
[ -n "$surefire" ] || { echo "no maven-surefire-plugin version in clients/java/pom.xml" >&2; exit 1; }
mvn -q -B --no-transfer-progress "$MVN_DEPENDENCY_PLUGIN:get" \
  -Dartifact="org.apache.maven.surefire:surefire-junit-platform:$surefire"
log "pip install -e clients/python"
"$BIN/python" -m pip install -q --no-deps -e clients/python
