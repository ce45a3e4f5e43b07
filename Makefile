# Two commands matter: `make run` (set up, then start dtq with an embedded in-memory Redis on
# port 3000) and `make test` (set up, install the system packages the tests need, then lint,
# type-check and run the tests against a real redis-server the test session starts itself).
#
# Both install from a lock (requirements/*.lock: every package pinned, with hashes), so a fresh
# clone runs against what the tests last passed with; pyproject.toml keeps the package's own
# ranges open for its users. `make lock` refreshes the locks; tests/unit/test_lock.py fails when
# they and pyproject.toml disagree.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_LOCK := requirements/run.lock
TEST_LOCK := requirements/test.lock
IMAGE_LOCK := requirements/image.lock
INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check
UV_VERSION := 0.13.9
UV := $(VENV)/lock-tool/bin/uv
COMPILE := $(UV) pip compile pyproject.toml requirements/build.in --universal --python-version 3.11 \
	--generate-hashes --quiet --custom-compile-command 'make lock'

.PHONY: run test system-packages lint typecheck unit lock bench chaos soak clean ui

# `make run` needs only what `dtq dev` runs; `make test` adds the test tools and the operator.
$(VENV)/.run-installed: $(RUN_LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(INSTALL) --require-hashes -r $(RUN_LOCK)
	$(INSTALL) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.test-installed: $(TEST_LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(INSTALL) --require-hashes -r $(TEST_LOCK)
	$(INSTALL) --no-deps --no-build-isolation -e .
	touch $@

run: $(VENV)/.run-installed
	$(BIN)/dtq dev

test: system-packages lint typecheck
	$(BIN)/pytest

# redis-server, faketime, Chromium, kubectl and curl: installed with apt when missing.
system-packages:
	.ci/system-packages

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

unit: $(VENV)/.test-installed
	$(BIN)/pytest tests/unit

# Re-resolve every dependency and extra to the newest releases pyproject.toml allows; the run
# and image locks are constrained by the test lock, so `make run`, `make test` and the image
# (services/Dockerfile: the package and its operator extra) get the same versions.
lock:
	test -x $(UV) || { $(PYTHON) -m venv $(VENV)/lock-tool && $(VENV)/lock-tool/bin/pip install --quiet uv==$(UV_VERSION); }
	$(COMPILE) --all-extras --upgrade -o $(TEST_LOCK)
	$(COMPILE) --constraint $(TEST_LOCK) -o $(RUN_LOCK)
	$(COMPILE) --constraint $(TEST_LOCK) --extra operator -o $(IMAGE_LOCK)

bench: $(VENV)/.test-installed
	$(BIN)/pip install --quiet -r bench/requirements/harness.txt
	$(BIN)/python -m bench

# The full chaos run; it writes its table (verdicts included when a scenario fails) to
# docs/chaos-last-run.md, to commit with the figures docs/reliability.md cites.
CHAOS_TABLE := docs/chaos-last-run.md
chaos: $(VENV)/.test-installed
	$(BIN)/pytest -m chaos tests/chaos; status=$$?; \
	{ echo "# The last full chaos run"; echo; \
	  echo "Written by \`make chaos\` at \`$$(git rev-parse --short HEAD)\` on $$(date -u +%F\ %H:%M) UTC (exit $$status)."; \
	  echo "Load average as it ended: $$(cut -d' ' -f1-3 /proc/loadavg). Each row is one verdict in tests/chaos/verdicts/."; \
	  echo; $(BIN)/python -m tests.chaos.report --form full; } > $(CHAOS_TABLE); exit $$status

soak: $(VENV)/.test-installed
	$(BIN)/pytest -m soak tests/chaos

# Rebuild the dashboard's committed assets (services/api/ui/static) from ui/ (needs Node and npm).
ui:
	cd ui && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
