# Dozor: `make run` starts the bot on config.toml, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config.toml

.PHONY: run test lint bench bench-full lemma-table check clean

$(BIN)/python:
	@echo "dozor set-up 1/3: creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	@echo "dozor set-up 2/3: upgrading pip"
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "dozor set-up 3/3: installing Dozor and its dependencies (about a minute)"
	$(BIN)/python -m pip install --progress-bar on -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "dozor set-up 3/3: installing Dozor, its dependencies and the test tools"
	$(BIN)/python -m pip install --progress-bar on -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@echo "dozor: starting on $(CONFIG); the dozor command is .venv/bin/dozor (or: source .venv/bin/activate)"
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
	$(BIN)/python -m tests.lemma_table

lemma-table: $(VENV)/.installed-test
	$(BIN)/python -m tests.lemma_table

bench-full: $(VENV)/.installed-test
	$(BIN)/python -m tests.bench_scale --json bench-results.json

lint: $(VENV)/.installed-test
	$(BIN)/ruff check bot watchers tests
	$(BIN)/ruff format --check bot watchers tests

clean:
	rm -rf $(VENV) dozor.db dozor.db-wal dozor.db-shm dozor.matcher dozor.forms.matcher .pytest_cache bench-results.json
