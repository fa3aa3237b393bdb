# One entry point for people and CI. `make run` serves; `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

PORT ?= 5005

.PHONY: venv services run test lint bench

# Stamp files, not $(BIN)/ctsd: `make run` creates that too, without the test tools.
$(VENV)/.installed-test: setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-serving

venv: $(VENV)/.installed-test

services:
	./scripts/ensure-services.sh

# `make run` needs only what serving needs: a venv with ctsd and its runtime
# dependencies (no test tools), made once; `make test` adds the test extra to it.
$(VENV)/.installed-serving: setup.py pyproject.toml
	@echo "make run: installing ctsd and its runtime dependencies into $(VENV) (once)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet -e .
	@touch $@

# The embedded default: SQLite file ./ctsd.sqlite, noauth, events kept in the outbox.
run: $(VENV)/.installed-serving
	@$(BIN)/python scripts/run-banner.py $(PORT)
	$(BIN)/ctsd serve --port $(PORT)

# ruff; mypy --strict (mypy.ini); the import layers, cycles and module sizes.
lint: venv
	$(BIN)/ruff check ctsd handlers schemas tests bench scripts
	$(BIN)/mypy
	$(BIN)/python scripts/check_layers.py

test: venv services lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: venv services
	$(BIN)/python bench/run_bench.py
