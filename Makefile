# xmargin: the README's two commands are `make demo` and `make test`.
# Each installs what it needs first (idempotent: a no-op once set up).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The venv's vyper (so ape-vyper never downloads a compiler) and the npm
# anvil (so ape-foundry can start it) must both be on PATH.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export HYPOTHESIS_PROFILE ?= ci

.PHONY: setup demo node test test-unit test-integration fuzz bench bench-gas bench-keeper lint format size clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	ape run demo --network ethereum:local:foundry

# A long-lived local chain for the CLI (docs/cli.md): anvil on 127.0.0.1:8545,
# which `--network ethereum:local:node` reaches. Stop it with Ctrl-C.
node: setup
	anvil --host 127.0.0.1 --port 8545

test: setup
	ape test tests -q

test-unit: setup
	ape test tests/unit -q

test-integration: setup
	ape test tests/integration -q

fuzz: setup
	HYPOTHESIS_PROFILE=fuzz ape test tests/fuzz tests/unit -q

# Gas per operation against the anchors, then keeper throughput on anvil;
# tables on stdout, JSON in benchmarks/results/ (docs/benchmarks.md).
bench: bench-gas bench-keeper

bench-gas: setup
	python benchmarks/gas.py

bench-keeper: setup
	python benchmarks/keeper.py

# ruff (lint and format) on all Python, mypy on the package (strict on
# xmargin.maths; pyproject.toml [tool.mypy]).
lint: setup
	ruff check xmargin scripts tests benchmarks
	ruff format --check xmargin scripts tests benchmarks
	mypy xmargin

format: setup
	ruff format xmargin scripts tests benchmarks
	ruff check --fix xmargin scripts tests benchmarks

size: setup
	ape run size

clean:
	rm -rf .build .cache .hypothesis .pytest_cache
