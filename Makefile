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

.PHONY: setup demo test test-unit test-integration fuzz bench lint format size clean

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

test: setup
	ape test tests -q

test-unit: setup
	ape test tests/unit -q

test-integration: setup
	ape test tests/integration -q

fuzz: setup
	HYPOTHESIS_PROFILE=fuzz ape test tests/fuzz tests/unit -q

bench: setup
	python benchmarks/gas.py

lint: setup
	ruff check xmargin scripts tests benchmarks
	ruff format --check xmargin scripts tests benchmarks

format: setup
	ruff format xmargin scripts tests benchmarks
	ruff check --fix xmargin scripts tests benchmarks

size: setup
	ape run size

clean:
	rm -rf .build .cache .hypothesis .pytest_cache
