# Sluice — one entry point for set-up, running, tests and checks.
#   make run     installs everything (idempotent) and starts the daemon on its embedded defaults
#   make test    installs everything and runs the whole suite
#   make check   lint, types, proto lint/breaking, generated-code staleness
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

.PHONY: help install run test test-unit test-integration test-e2e check generate lint types bench bench-peers real-model train-verifier clean

help:
	@echo "make run | make test | make check | make generate | make bench"

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

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(BIN)/buf:
	go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/grpc_health_probe:
	go install github.com/grpc-ecosystem/grpc-health-probe@$(GRPC_HEALTH_PROBE_VERSION)
	mv $(BIN)/grpc-health-probe $@

# ---- run
run: install
	$(BIN)/sluice serve

# ---- tests (CI runs exactly this): the daemon's suite, then the four generated clients
test: install
	$(BIN)/pytest -q
	scripts/test-clients.sh

test-unit: install
	$(BIN)/pytest -q tests/unit

test-integration: install
	$(BIN)/pytest -q tests/integration

test-e2e: install
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
	scripts/check-deploy.sh

# A real small LLM (llama.cpp + Gemma 3 270M) for the real_model tests; never part of `make test`.
real-model: install
	scripts/real-model/install.sh

# The cache verifier (models/sluice-verifier): trained on CPU from the public pairs in
# ../shared/data/cache, seed 0, then quantized to int8 and calibrated on that; about 18 minutes
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
