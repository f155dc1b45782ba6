"""The kinds of test, one folder and one marker each (each folder's conftest marks what it collects)."""

# unit: Pulumi mocks and pure functions, no servers (`make unit`);
# scripts: the ensembles' shell scripts run by bash/sh against fake servers and tools;
# realserver: real ZooKeeper/Redis servers in podsim's network namespaces, and the Debian images;
# engine: the real Pulumi engine and kubernetes provider on the local cluster;
# cluster: the local cluster driven with kubectl;
# packaging: the wheel built and installed into a fresh venv, as a user does.
KINDS = ("unit", "scripts", "realserver", "engine", "cluster", "packaging")

# The kinds that need real parts (a shell, root, servers, a cluster, the package index): under
# `make test` (STATEFULKIT_REQUIRE_REAL=1) a skip of one of their tests is a failure.
MUST_RUN = ("scripts", "realserver", "engine", "cluster", "packaging")
