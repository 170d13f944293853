# Local tasks. Needs only python3 (>= 3.11, with the venv module) and make.
# The virtualenv is .venv; it is (re)installed whenever pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.DEFAULT_GOAL := test
.PHONY: run test lint bench chaos clean venv browser

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "error: $(PYTHON) is older than 3.11; run 'make PYTHON=python3.11 ...'" >&2; exit 1; }
	@rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "error: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt install python3-venv)" >&2; \
		exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps: base install (for run) and dev install (tests, lint, bench).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

venv: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/coordination dev

# The dashboard page is tested in a real headless browser: Debian's chromium, with a CJK font
# so that Chinese renders. Installed here where apt-get can (as root); elsewhere see README.
browser:
	@if command -v apt-get >/dev/null 2>&1 && { ! command -v chromium >/dev/null 2>&1 || \
		! dpkg-query -W -f='$${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed"; }; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk \
		|| echo "warning: could not install chromium; the browser test will say how" >&2; \
	fi

test: $(VENV)/.installed-dev browser
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

# Liveness under load and faults, from the outside (issue 8): CHAOS_ARGS=--quick for a short run.
chaos: $(VENV)/.installed-dev
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
