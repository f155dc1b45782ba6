"""Cluster tests: the rendered objects applied with kubectl to the local cluster (tools/cluster/up),
its real nodes, and NetworkPolicies evaluated by network-config-analyzer."""

import pytest

from tests.support.cluster_fixtures import local_cluster, real_nodes

__all__ = ["local_cluster", "real_nodes"]  # fixtures of this folder


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.cluster)
