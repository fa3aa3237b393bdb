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

# mypy belongs in setup.py's test extra; setup.py is being changed by #9a, so until that
# lands lint installs mypy into the venv itself (remove this rule then).
$(BIN)/mypy: | $(BIN)/ctsd
	$(BIN)/pip install --quiet 'mypy>=1.10'

# ruff; mypy --strict (mypy.ini); the import layers, cycles and module sizes.
lint: venv $(BIN)/mypy
	$(BIN)/ruff check ctsd handlers schemas tests bench scripts
	$(BIN)/mypy
	$(BIN)/python scripts/check_layers.py

test: venv services lint
	$(BIN)/pytest -q -p no:cacheprovider

bench: venv services
	$(BIN)/python bench/run_bench.py
