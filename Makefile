# One command each: `make demo` runs the demo, `make test` runs the whole test suite.
# Both install what they need into .venv (Python >= 3.10 on PATH as python3, or PYTHON=...);
# Meltano installs the pipeline's plugins under .meltano/ on first use, with the same Python.
# `make smoke PYTHON=python3.11 VENV=.venv-3.11` runs the quick part of the suite on another
# Python beside the first (CI: the whole suite on 3.13, the smoke on 3.11).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test smoke test-long fuzz lint demo clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstalled only when pyproject.toml changes (the package itself is installed editable).
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# No Meltano, no PostgreSQL: the tap, the loaders and the mapper through their CLIs.
smoke: install
	$(BIN)/python -m pytest -q tests/test_tap.py tests/test_windows.py tests/test_streams.py \
	  tests/test_target_duckdb.py tests/test_threatq.py

# The fault suite's long variant: 20+ kill points over more seeds (adds a few minutes).
test-long: install
	$(BIN)/python -m pytest -m long tests/test_faults.py tests/test_target_threatq.py

# Fresh random examples for the fuzz suite, for FUZZ_MINUTES (make test runs it derandomised).
FUZZ_MINUTES ?= 10
fuzz: install
	$(BIN)/python -m tests.fuzz --minutes $(FUZZ_MINUTES)

demo: install
	$(BIN)/python -m tap_proofpoint_tap.sandboxes.demo

clean:
	rm -rf .venv .venv-* .meltano output *.egg-info .pytest_cache transform/target transform/logs
