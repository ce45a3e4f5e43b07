# Two commands matter: `make run` (set up, then start dtq with an embedded in-memory Redis on
# port 3000) and `make test` (set up, then lint, type-check and run the tests against a real
# redis-server the test session starts itself).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench chaos soak clean ui

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[operator,test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dtq dev

test: lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP)
	$(BIN)/pip install --quiet -r bench/requirements/harness.txt
	$(BIN)/python -m bench

chaos: $(STAMP)
	$(BIN)/pytest -m chaos tests/chaos

soak: $(STAMP)
	$(BIN)/pytest -m soak tests/chaos

# Rebuild the dashboard's committed assets (services/api/ui/static) from ui/ (needs Node and npm).
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
