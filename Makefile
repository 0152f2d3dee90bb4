# Two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# A stamp per install flavour, so a changed pyproject.toml reinstalls and an unchanged one is instant.
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint typecheck pytest interop bench clean

run: $(RUN_STAMP)
	$(BIN)/mailsetup $(ARGS)

test: $(TEST_STAMP) lint typecheck pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# The suite runs on every CPU (pytest-xdist): most of its time is waiting on real servers,
# ptys and timers, so two workers on two cores take about half the time of one.
PYTEST_JOBS ?= auto

pytest: $(TEST_STAMP)
	@PYTHONPATH=tests $(BIN)/python -m support.preflight
	$(BIN)/pytest -n $(PYTEST_JOBS) $(PYTEST_ARGS)

# Only the suite against Debian's Postfix + Dovecot (needs both installed, and root).
interop: $(TEST_STAMP)
	$(BIN)/pytest tests/interop $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/smtp_latency.py
	$(BIN)/python benchmarks/terminal_bytes.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/serial_line.py
	$(BIN)/python benchmarks/relay.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(RUN_STAMP)

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
