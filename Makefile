# Two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# A stamp per install flavour, so a changed pyproject.toml reinstalls and an unchanged one is instant.
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# Written last when the venv is made: a .venv without it (an earlier run stopped half-way, or
# a Python without its venv module made only bin/python) is removed and made again.
VENV_STAMP := $(VENV)/.created

.PHONY: run test lint typecheck pytest interop bench clean venv deb

run: $(RUN_STAMP)
	$(BIN)/mailsetup $(ARGS)

test: $(TEST_STAMP) lint typecheck pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# The suite runs on every CPU and one more (pytest-xdist): most of its time is waiting on
# real servers, ptys and timers, so on two cores three workers take 5 minutes where two take
# 7 and one 9; an idle worker takes tests from a busy one (worksteal), so a few long ones do
# not leave it waiting.
PYTEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$((n + 1)))

pytest: $(TEST_STAMP)
	@PYTHONPATH=tests $(BIN)/python -m support.preflight
	$(BIN)/pytest -n $(PYTEST_JOBS) --dist worksteal $(PYTEST_ARGS)

# Only the suite against Debian's Postfix + Dovecot (needs both installed, and root).
interop: $(TEST_STAMP)
	$(BIN)/pytest tests/interop $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/smtp_latency.py
	$(BIN)/python benchmarks/terminal_bytes.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/serial_line.py
	$(BIN)/python benchmarks/relay.py

# Each missing prerequisite stops the build with one line naming what to install.
$(VENV_STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found: install Python 3.11 or newer (Debian/Ubuntu: apt install python3 python3-venv)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "make: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); mailsetup needs 3.11 or newer (PYTHON=python3.11 make ...)" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "make: $(PYTHON) cannot make a venv: install its venv module (Debian/Ubuntu: apt install python3-venv)" >&2; exit 1; }
	rm -rf $(VENV)
	@$(PYTHON) -m venv $(VENV) && $(VENV)/bin/python -m pip install --quiet --upgrade pip \
		|| { rm -rf $(VENV); echo "make: making $(VENV) failed (see above); nothing was left behind" >&2; exit 1; }
	touch $@

$(RUN_STAMP): pyproject.toml $(VENV_STAMP)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(VENV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(RUN_STAMP)

# dist/mailsetup_VERSION_ARCH.deb and dist/mailsetup-mta_VERSION_all.deb (Debian, Ubuntu): see
# packaging/build_deb.py. Needs dpkg-deb and Debian's python3 with its venv module.
deb:
	$(PYTHON) packaging/build_deb.py --out dist

# The venv alone (what `make run` and `make test` first make).
venv: $(VENV_STAMP)

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
