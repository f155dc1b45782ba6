# statefulkit: `make up` deploys the dev stack; `make test` runs every check.
# Every install step lives here or in tools/, so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv system-deps deps lint unit dependency-bounds test bench clean up down preview backup toolchain cluster-up cluster-down

help:
	@echo "make up      deploy the dev stack (pulumi up --stack dev) on \$$KUBECONFIG or the local cluster"
	@echo "make down    destroy the dev stack (STACK=staging|prod for the others)"
	@echo "make preview preview the dev stack"
	@echo "make backup  back up every ensemble of the stack that has a backup block, now (STACK=...)"
	@echo "make cluster-up / cluster-down   the local kwok cluster (built from source); STATEFULKIT_REAL_NODES=N adds real nodes"
	@echo "make toolchain                   build the cached toolchain (pulumi, kubernetes provider, kubernetes, kubelet, etcd, kwok, coredns, versitygw)"
	@echo "make test    install what is missing, then lint + every test (every folder of tests/)"
	@echo "make unit    unit tests only (tests/unit: Pulumi mocks, no servers)"
	@echo "             one test or a few: make unit ARGS=\"-k name\" or make unit ARGS=tests/unit/test_x.py::test_y"
	@echo "             (ARGS goes to pytest; make test takes it too)"
	@echo "make dependency-bounds          unit tests + mypy at the lowest and the newest versions pyproject.toml admits"
	@echo "make lint    ruff + mypy (strict on the statefulkit package)"
	@echo "make bench   benchmarks"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	touch $@

venv: $(STAMP)

# Debian packages: the local cluster's real nodes (containerd, runc, the CNI plugins) need them for
# `make up` as much as the real-server tests (ZooKeeper, Redis, Sentinel, the exporter) do.
system-deps:
	tools/system-deps

# For the tests, also ZooKeeper's Prometheus provider from Maven Central (Debian does not package
# it), ZooKeeper 3.9.5's jars (the snapshot command's tests; Debian has 3.8) and the NetworkPolicy
# analyzer the cluster tests evaluate the rendered policies with.
deps: system-deps
	tools/zookeeper-metrics-jars >/dev/null
	tools/zookeeper-jars 3.9.5 >/dev/null
	tools/network-policy-analyzer >/dev/null

# The ensembles' shell scripts source common.sh inside the pod (SC1091; its variables, SC2153), and it
# defines what the others use (SC2034).
SCRIPTS := components/statefulkit/render/scripts
lint: venv deps
	shellcheck -e SC1091,SC2153 $(filter-out $(SCRIPTS)/%-common.sh,$(wildcard $(SCRIPTS)/*.sh)) \
	  tools/cluster/up tools/cluster/down tools/system-deps tools/zookeeper-metrics-jars tools/zookeeper-jars \
	  tools/network-policy-analyzer tools/node/up tools/node/down .ci/run
	shellcheck -e SC2034 $(SCRIPTS)/redis-common.sh $(SCRIPTS)/zookeeper-common.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/composition/__main__.py  # separate: a second __main__ module

# The unit tests and the example's own mock tests (tools/dependency_bounds.py runs the same). ARGS goes
# to pytest as it is; a path in it (tests/..., examples/...) replaces these.
UNIT_TESTS := tests/unit examples/composition
unit: venv
	$(BIN)/python -m pytest $(if $(filter tests/% examples/%,$(ARGS)),,$(UNIT_TESTS)) $(ARGS)

# requirements.txt pins what .venv (and so CI) runs, but users get whatever pyproject.toml's ranges
# admit: the unit tests and mypy also run at both ends of them, each in a venv of its own
# (.venv-lowest, .venv-highest), reused while pip resolves the same versions.
dependency-bounds:
	$(PYTHON) tools/dependency-bounds

# Script, real-server, engine, cluster and packaging tests must run here: a skip of one is turned
# into a failure. The toolchain is built first (not inside a test, where a cold build would count
# against its timeout). CI's log ends with the slowest tests.
test: venv deps toolchain lint dependency-bounds
	STATEFULKIT_REQUIRE_REAL=1 $(BIN)/python -m pytest --durations=25 $(ARGS)

bench: venv
	$(BIN)/python -m benchmarks.render_vs_raw
	$(BIN)/python -m benchmarks.harness_vs_plain
	$(BIN)/python -m benchmarks.backup_restore

STACK ?= dev

# The program through the real Pulumi engine (tools/deploy.py): $KUBECONFIG, else the local cluster,
# whose real node needs the Debian packages (a cluster of your own needs none of them).
LOCAL_CLUSTER_DEPS := $(if $(KUBECONFIG),,system-deps)
up: venv $(LOCAL_CLUSTER_DEPS)
	$(BIN)/python -m tools.deploy up --stack $(STACK)

down: venv
	$(BIN)/python -m tools.deploy down --stack $(STACK)

# A backup of every ensemble of the stack that backs up, now; prints each snapshot id.
backup: venv
	$(BIN)/python -m tools.deploy backup --stack $(STACK)

preview: venv $(LOCAL_CLUSTER_DEPS)
	$(BIN)/python -m tools.deploy preview --stack $(STACK)

toolchain:
	tools/toolchain/build --strict

cluster-up: system-deps
	tools/cluster/up

cluster-down:
	tools/cluster/down

clean:
	rm -rf $(VENV) .venv-lowest .venv-highest .mypy_cache .ruff_cache .hypothesis
