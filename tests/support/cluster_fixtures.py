"""The local cluster's fixtures, shared by the cluster and engine tests (their conftests import
them). A session that runs both folders gets one instance of each per folder: tools/cluster/up
and tools/node/up reuse what runs, and only the instance that started the cluster removes it."""

import os
from collections.abc import Iterator

import pytest

from tests.support.local_cluster import LocalCluster


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    """The local kwok cluster: started (or created) on first use and removed at the end of the
    session, unless it was already running before (then it is left as it was)."""
    was_running = LocalCluster.running()
    cluster = LocalCluster.up()
    yield cluster
    if not was_running:
        LocalCluster.down()


@pytest.fixture(scope="session")
def real_nodes(local_cluster: LocalCluster) -> list[str]:
    """Real nodes in the local cluster (tools/node/up), STATEFULKIT_REAL_NODES of them (default 2):
    pods with REAL_NODE_PLACEMENT run there for real. Removed with the cluster by tools/cluster/down."""
    if os.geteuid() != 0:
        pytest.skip("real nodes need root (containerd, network namespaces, mounts)")
    return local_cluster.add_real_nodes(int(os.environ.get("STATEFULKIT_REAL_NODES") or "2"))
