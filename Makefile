# One entry point for people and CI. `make run` serves; `make test` checks everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv services run test lint bench

$(BIN)/ctsd: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/ctsd

venv: $(BIN)/ctsd

services:
	./scripts/ensure-services.sh

# The embedded default: SQLite file ./ctsd.sqlite, noauth, events kept in the outbox.
run: venv
	$(BIN)/ctsd serve

# ruff; mypy --strict (mypy.ini); the import layers, cycles and module sizes.
lint: venv
	$(BIN)/ruff check ctsd handlers schemas tests bench scripts
	$(BIN)/mypy
	$(BIN)/python scripts/check_layers.py

test: venv services lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: venv services
	$(BIN)/python bench/run_bench.py
