# xmargin: the README's two commands are `make demo` and `make test`.
# Each installs what it needs first (idempotent: a no-op once set up).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The Vyper formatter's own venv (requirements-tools.txt says why).
TOOLS := .tools
# The venv's vyper (so ape-vyper never downloads a compiler) and the npm
# anvil (so ape-foundry can start it) must both be on PATH.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export HYPOTHESIS_PROFILE ?= ci

.PHONY: setup demo node test test-unit test-fuzz test-rest test-integration fuzz fuzz-ape bench bench-gas bench-keeper bench-replica bench-black76 bench-options bench-rpc lint format size clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
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

# CI runs this: lint first, then every test, two processes at a time (one
# per core: the unit tests beside the fuzz tests, then the integration
# tests in whichever core frees first; docs/testing.md). The contracts are
# compiled first so no two compile into .build at once; -O prints each
# one's output whole when it ends.
test: setup lint
	ape compile
	$(MAKE) --no-print-directory -j2 -O test-unit test-fuzz test-integration

test-unit: setup
	ape test tests/unit -q

test-fuzz: setup
	ape test tests/fuzz -q

test-rest: setup
	ape test tests/fuzz tests/integration -q

test-integration: setup
	ape test tests/integration -q

# The long run (issue 22): the fuzz machine on titanoboa's EVM (the same
# compiled contracts), FUZZ_STEPS steps over FUZZ_WORKERS processes, one
# chain each; it prints what the run reached and its steps/s, writes
# reports/fuzz_reach_boa.json, and fails on a broken invariant or a
# required path not reached (docs/testing.md).
FUZZ_STEPS ?= 100000
FUZZ_WORKERS ?= 2
fuzz: setup
	ape compile
	python -m tests.fuzz.run_boa --steps $(FUZZ_STEPS) --workers $(FUZZ_WORKERS)

# The property tests and the Ape-driven machine at the long `fuzz` profile.
fuzz-ape: setup
	HYPOTHESIS_PROFILE=fuzz ape test tests/fuzz tests/unit -q

# Gas per operation against the anchors, keeper throughput on anvil, then
# the keeper's local pass over 100,000 simulated accounts; tables on
# stdout, JSON in benchmarks/results/ (docs/benchmarks.md).
bench: bench-gas bench-keeper bench-replica bench-black76 bench-options

bench-gas: setup
	python benchmarks/gas.py

bench-keeper: setup
	python benchmarks/keeper.py

bench-replica: setup
	python benchmarks/replica.py

bench-black76: setup
	ape compile
	python benchmarks/black76.py

bench-options: setup
	ape compile
	python benchmarks/options.py

# Not part of `bench` (~9 min): JSON-RPC requests and wall time of every
# chain-reading CLI command, each a fresh process, through a proxy that
# adds 100 ms per HTTP request, over a 1,000-account crowd.
bench-rpc: setup
	python benchmarks/rpc_latency.py

# Vyper sources mamushi formats. modules/state.vy is left out: mamushi
# 0.1.2 cannot parse a multi-line `initializes:` and, given one line, wraps
# it into that form and then fails on its own output.
VYPER_FORMATTED := $(filter-out contracts/modules/state.vy,$(sort $(shell find contracts -name '*.vy' -o -name '*.vyi')))

# ruff (lint and format) on all Python, mypy on the package (strict on
# xmargin.maths; pyproject.toml [tool.mypy]), mamushi on the contracts.
lint: setup $(TOOLS)/.installed
	ruff check xmargin scripts bots tests benchmarks
	ruff format --check xmargin scripts bots tests benchmarks
	mypy xmargin
	$(TOOLS)/bin/mamushi --check --line-length 100 $(VYPER_FORMATTED)

format: setup $(TOOLS)/.installed
	ruff format xmargin scripts bots tests benchmarks
	ruff check --fix xmargin scripts bots tests benchmarks
	$(TOOLS)/bin/mamushi --line-length 100 $(VYPER_FORMATTED)

size: setup
	ape run size

clean:
	rm -rf .build .cache .hypothesis .pytest_cache .mypy_cache
