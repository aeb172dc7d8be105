# Two commands for a new user: `make up` (run everything) and `make test` (check everything).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install up test lint typecheck pytest migrate seed setup-search-attributes bench lock clean-data help client

help:
	@echo "make up    - install, migrate, seed demo data, start Temporal dev server + worker + API"
	@echo "make test  - ruff, mypy, pytest (SQLite, or PostgreSQL when DATABASE_URL is set)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.lock clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	# the API client and its `brandrelay` command (its one dependency, httpx, is locked above)
	$(BIN)/python -m pip install --quiet --no-deps -e clients/python
	touch $@

install: $(VENV)/.installed

up: install
	@mkdir -p .data
	$(BIN)/python -m scripts.migrate
	$(BIN)/python -m scripts.seed
	$(BIN)/honcho start -f Procfile

migrate: install
	$(BIN)/python -m scripts.migrate

seed: install
	$(BIN)/python -m scripts.seed

setup-search-attributes: install
	$(BIN)/python -m core.temporal_setup

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Worker processes for the suite (pytest-xdist): the tests mostly wait on servers (Temporal,
# PostgreSQL, Chromium), so more processes than cores pays; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 3
pytest: install
	$(BIN)/pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 2 $(PYTEST_ARGS)

test: lint typecheck pytest

client: install  # regenerate clients/python from the app's OpenAPI document
	$(BIN)/python -m scripts.generate_client

bench: install
	$(BIN)/python -m bench.run_all

lock:
	rm -rf /tmp/brandrelay-lock && $(PYTHON) -m venv /tmp/brandrelay-lock
	/tmp/brandrelay-lock/bin/pip install --quiet ".[test]"
	{ echo "# Locked, fully pinned dependency set (runtime + test tooling) for Python 3.11."; \
	  echo "# Regenerate with: make lock"; \
	  /tmp/brandrelay-lock/bin/pip freeze --exclude brandrelay --exclude brandrelay-client; } > requirements.lock

clean-data:
	rm -rf .data
