# One command each: `make demo` runs the demo, `make test` runs the whole test suite.
# Both install what they need into .venv (Python >= 3.10 on PATH as python3, or PYTHON=...),
# with the exact versions of requirements/dev.lock; the checkers go into .venv-lint
# (requirements/lint.lock). Meltano installs the pipeline's plugins under .meltano/ on first use.
# `make test-fast PYTHON=python3.10 VENV=.venv-3.10` runs the fast tier on another Python beside
# the first (CI: the whole suite on 3.13, the fast tier on 3.10).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LINT := .venv-lint/bin
EXTRAS := duckdb,dbt,report,sandbox
# pytest-xdist workers: most of the end-to-end tier waits on subprocesses and stand-ins, so
# four share two cores well (measured in the README).
WORKERS ?= 4

.PHONY: install test test-fast test-e2e test-long fuzz lint lock demo clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip>=25.1'

# Reinstalled only when the project's requirements change (the package is installed editable).
$(VENV)/.installed: pyproject.toml requirements/dev.lock | $(BIN)/activate
	$(BIN)/pip install --quiet -c requirements/dev.lock -e '.[$(EXTRAS)]' --group dev
	touch $@

$(LINT)/activate:
	$(PYTHON) -m venv .venv-lint
	$(LINT)/pip install --quiet --upgrade 'pip>=25.1'

.venv-lint/.installed: pyproject.toml requirements/lint.lock | $(LINT)/activate
	$(LINT)/pip install --quiet -c requirements/lint.lock --group lint
	touch $@

# singer-io's singer-check-tap, which the end-to-end tier runs on the tap's and the mapper's output.
.venv-check/.installed: pyproject.toml requirements/check.lock
	$(PYTHON) -m venv .venv-check
	.venv-check/bin/pip install --quiet --upgrade 'pip>=25.1'
	.venv-check/bin/pip install --quiet -c requirements/check.lock --group check
	touch $@

install: $(VENV)/.installed

# ruff (check and format), mypy strict over the package (reading .venv's packages), the
# import contracts of pyproject.toml.
lint: install .venv-lint/.installed
	$(LINT)/ruff check .
	$(LINT)/ruff format --check .
	$(LINT)/mypy
	$(LINT)/lint-imports --no-cache

test: lint .venv-check/.installed
	$(BIN)/python -m pytest -n $(WORKERS)

# In process, no subprocess, no real waits: seconds.
test-fast: install
	$(BIN)/python -m pytest -m fast

test-e2e: install .venv-check/.installed
	$(BIN)/python -m pytest -n $(WORKERS) -m "not fast"

# The fault suite's long variant: 20+ kill points over more seeds (adds a few minutes).
test-long: install
	$(BIN)/python -m pytest -n $(WORKERS) -m long

# Fresh random examples for the fuzz suite, for FUZZ_MINUTES (make test runs it derandomised).
FUZZ_MINUTES ?= 10
fuzz: install
	$(BIN)/python -m tests.fuzz --minutes $(FUZZ_MINUTES)

# Refresh the locks after changing a requirement: the newest versions that satisfy
# pyproject.toml on Python 3.10 to 3.13 (the checkers: 3.11 on), resolved by uv; pip installs
# them as it is configured.
lock: $(LINT)/activate
	$(LINT)/pip install --quiet uv
	$(LINT)/uv pip compile --quiet --universal --python-version 3.10 \
	  pyproject.toml --all-extras --group dev -o requirements/dev.lock
	$(LINT)/uv pip compile --quiet --universal --python-version 3.11 \
	  --group pyproject.toml:lint -o requirements/lint.lock
	$(LINT)/uv pip compile --quiet --universal --python-version 3.10 \
	  --group pyproject.toml:check -o requirements/check.lock

demo: install
	$(BIN)/python -m tap_proofpoint_tap.sandboxes.demo

clean:
	rm -rf .venv .venv-* .meltano output *.egg-info .pytest_cache transform/target transform/logs
