"""Cluster tests: the rendered objects applied with kubectl to the local cluster (tools/cluster/up),
its real nodes, and NetworkPolicies evaluated by network-config-analyzer."""

import pytest

from tests.support.cluster_fixtures import local_cluster, real_nodes
from tests.support.local_cluster import LocalCluster

__all__ = ["local_cluster", "real_nodes"]  # fixtures of this folder


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="module")
def cluster(local_cluster: LocalCluster) -> LocalCluster:
    """The local cluster, as the tests of this folder call it (test_cluster_real_node's adds its real
    nodes and an image)."""
    return local_cluster
