# Dozor: `make run` starts the bot on config.toml, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.toml

.PHONY: run test lint bench bench-full check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/python -m bot run --config $(CONFIG)

check: $(VENV)/.installed
	$(BIN)/dozor check --config $(CONFIG)

test: $(VENV)/.installed-test
	$(BIN)/ruff check bot watchers tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python -m tests.bench --json bench-results.json
	$(BIN)/python -m tests.bench_scale --quick --json bench-results.json

bench-full: $(VENV)/.installed-test
	$(BIN)/python -m tests.bench_scale --json bench-results.json

lint: $(VENV)/.installed-test
	$(BIN)/ruff check bot watchers tests
	$(BIN)/ruff format --check bot watchers tests

clean:
	rm -rf $(VENV) dozor.db dozor.db-wal dozor.db-shm .pytest_cache bench-results.json
