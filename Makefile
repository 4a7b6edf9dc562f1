# Loanwatch developer commands. `make test` and `make demo` each do their own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install lint typecheck test test-unit test-slow fuzz stack-up stack-down stack-status demo bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

stack-up: install
	$(BIN)/loanwatch stack up

stack-down: install
	$(BIN)/loanwatch stack down

stack-status: install
	$(BIN)/loanwatch stack status

# Lint, type-check, start the stack, run every test; stop the stack again unless
# it was already running before (a developer's own stack is left as found).
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	@if $(BIN)/loanwatch stack status >/dev/null 2>&1; then was_up=1; else was_up=0; fi; \
	$(BIN)/loanwatch stack up || exit $$?; \
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$was_up = 0 ]; then $(BIN)/loanwatch stack down; fi; \
	exit $$rc

# Unit tests of the pure core only: no services needed.
test-unit: install
	$(BIN)/python -m pytest -m 'not integration' tests/unit

# The slow tests alone (also part of `make test`): long-running commands pointed at a
# closed port and watched for a few seconds each (they must report the outage once and
# keep retrying), and a worker whose Kafka goes away and comes back (a private broker
# the test starts and kills, about a minute). Starts the stack: `alerts run` needs
# Redis while Kafka is unreachable.
test-slow: install
	$(BIN)/loanwatch stack up
	$(BIN)/python -m pytest -m slow tests

# The fuzz tests alone, many random cases each (FUZZ_EXAMPLES, default 5000);
# the shortest input behind each failure is kept in tests/fuzz_corpus/ and replayed
# by `make test` from then on. Starts the stack: the HTTP endpoints' fuzz tests need Redis.
fuzz: install
	$(BIN)/loanwatch stack up
	HYPOTHESIS_PROFILE=fuzz FUZZ_KEEP=1 $(BIN)/python -m pytest -m fuzz --timeout=3600 tests

demo: install
	$(BIN)/loanwatch stack up
	$(BIN)/loanwatch demo

clean:
	-$(BIN)/loanwatch stack down
	rm -rf .state .pytest_cache .ruff_cache .mypy_cache
