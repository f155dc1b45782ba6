# statefulkit: `make up` deploys the dev stack; `make test` runs every check.
# Every install step lives here or in tools/, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv deps lint unit test bench clean

help:
	@echo "make up      deploy the dev stack (pulumi up --stack dev)"
	@echo "make test    install what is missing, then lint + every test"
	@echo "make unit    unit tests only (Pulumi mocks, no servers)"
	@echo "make lint    ruff + mypy (strict on components/)"
	@echo "make bench   benchmarks"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(STAMP)

# Debian packages for the real-server tests (ZooKeeper, Redis, Sentinel, iproute2).
deps:
	tools/system-deps

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: venv
	$(BIN)/python -m pytest -m "not realserver and not e2e"

# Real-server tests must run here: a skip of one of them is turned into a failure.
test: venv deps lint
	STATEFULKIT_REQUIRE_REAL=1 $(BIN)/python -m pytest

bench: venv
	$(BIN)/python -m benchmarks.render_vs_raw

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis
