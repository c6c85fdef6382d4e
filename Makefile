# Sluice — one entry point for set-up, running, tests and checks.
#   make run     installs the daemon alone (Python venv + runtime deps) and serves; CONFIG=FILE
#   make demo    the same install, then a tour of the daemon on fake tiers (no keys)
#   make test    installs everything (generators, clients, deploy tools) and runs the suite
#   make check   lint, types, proto lint/breaking, generated code and docs staleness
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export GOBIN := $(CURDIR)/$(BIN)
# hnswlib compiles from source; -march=native only where the build runs on this machine.
export HNSWLIB_NO_NATIVE ?=

BUF_VERSION := v1.75.0
GRPC_HEALTH_PROBE_VERSION := v0.4.62

.PHONY: help install install-runtime run demo config-doc test test-unit test-integration test-e2e check generate lint types bench bench-peers real-model train-verifier clean

help:
	@echo "make run [CONFIG=FILE]  install the daemon alone and serve (gRPC 127.0.0.1:50051,"
	@echo "                        metrics 127.0.0.1:9090, OpenAI front 127.0.0.1:9091)"
	@echo "make demo               a miss, an exact hit, a semantic hit, an escalation, savings"
	@echo "make test               install everything and run the whole suite"
	@echo "make check              lint, types, import layers, proto, generated code and docs"
	@echo "make generate           regenerate every stub from proto/"
	@echo "make config-doc         regenerate docs/configuration.md from the settings model"
	@echo "make bench              benchmarks (print figures)"
	@echo "make install            everything make test needs; make clean removes .venv"

# ---- install (idempotent: each step is skipped when its stamp is newer than its inputs)
install: $(VENV)/.installed $(BIN)/buf $(BIN)/grpc_health_probe $(VENV)/.codegen tests/e2e/openai_node/node_modules/.installed $(VENV)/.deploy-tools

# promtool, the manifest validator's Go modules, the image's wheelhouse (deploy/README.md).
$(VENV)/.deploy-tools: scripts/install-deploy-tools.sh $(VENV)/.installed pyproject.toml deploy/validate/go.mod deploy/validate/go.sum
	scripts/install-deploy-tools.sh
	touch $@

# The official openai npm package, for the OpenAI front's end-to-end test.
tests/e2e/openai_node/node_modules/.installed: tests/e2e/openai_node/package-lock.json
	npm ci --prefix tests/e2e/openai_node --no-audit --no-fund --loglevel=error
	touch $@

# Generators and the four clients' dependencies (Go modules, npm, Maven, PyPI): idempotent.
$(VENV)/.codegen: scripts/install-codegen.sh $(VENV)/.installed clients/go/go.mod clients/typescript/package-lock.json clients/java/pom.xml clients/python/pyproject.toml
	scripts/install-codegen.sh
	touch $@

# The daemon and its runtime dependencies only: all `make run` and `make demo` need.
install-runtime: $(VENV)/.runtime
$(VENV)/.runtime: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e .
	touch $@

# The development tools on top (linters, mypy, pytest, grpcio-tools, the OpenAI SDK...).
$(VENV)/.installed: pyproject.toml $(VENV)/.runtime
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# redis-server for the fleet tests (they start their own); tests only: `make run` needs no Redis.
$(VENV)/.redis: scripts/install-redis.sh
	scripts/install-redis.sh
	touch $@

$(BIN)/buf:
	go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/grpc_health_probe:
	go install github.com/grpc-ecosystem/grpc-health-probe@$(GRPC_HEALTH_PROBE_VERSION)
	mv $(BIN)/grpc-health-probe $@

# ---- run
run: $(VENV)/.runtime
	$(BIN)/sluice serve $(if $(CONFIG),--config $(CONFIG))

# Starts `sluice serve --demo` on a private socket, sends five requests, prints, stops.
demo: $(VENV)/.runtime
	$(BIN)/sluice demo

# ---- tests (CI runs exactly this): the daemon's suite, then the four generated clients
test: install $(VENV)/.redis
	$(BIN)/pytest -q
	scripts/test-clients.sh

test-unit: install
	$(BIN)/pytest -q tests/unit

test-integration: install $(VENV)/.redis
	$(BIN)/pytest -q tests/integration

test-e2e: install $(VENV)/.redis
	$(BIN)/pytest -q tests/e2e
	scripts/test-clients.sh

# ---- checks
generate: install
	scripts/generate.sh

check: install
	$(BIN)/ruff check daemon tests bench
	$(BIN)/ruff format --check daemon tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/buf lint
	scripts/check-breaking.sh
	scripts/check-generated.sh
	$(BIN)/sluice config-reference --out docs/configuration.md --check
	scripts/check-no-outside-refs.sh
	scripts/check-deploy.sh

# docs/configuration.md from daemon/sluice/config.py (one command; `make check` checks it).
config-doc: $(VENV)/.runtime
	$(BIN)/sluice config-reference --out docs/configuration.md

# A real small LLM (llama.cpp + Gemma 3 270M) for the real_model tests; never part of `make test`.
real-model: install
	scripts/real-model/install.sh

# The cache verifier (models/sluice-verifier): trained on CPU from the public pairs in
# $SLUICE_DATA_DIR/cache (default data/cache; docs/data.md), seed 0, then quantized to int8 and calibrated on that; about 18 minutes
# on 2 idle cores (plus a ~3 GB torch install the first time). CI never trains: it tests the
# committed model.
train-verifier: install
	models/scripts/install-train-env.sh
	$(VENV)/train/bin/python models/scripts/train_verifier.py --out models/sluice-verifier

# ---- benchmarks (print figures; never part of `make test`)
bench-peers: install
	bench/peers/install.sh

bench: install bench-peers
	$(BIN)/python -m bench.embed
	$(BIN)/python -m bench.cache
	$(BIN)/python -m bench.overhead
	$(BIN)/python -m bench.gptcache_side_by_side
	$(BIN)/python -m bench.recall
	$(BIN)/python -m bench.verifier
	$(BIN)/python -m bench.cpu
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.chaos
	$(BIN)/python -m bench.load load --concurrency 100 500 1000 --seconds 15

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
