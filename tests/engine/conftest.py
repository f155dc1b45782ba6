"""Engine tests: the real Pulumi engine and kubernetes provider (tools/engine.py) deploying to the
local cluster, and on its real nodes the images tools/images builds of Debian's packages."""

import pytest

from tests.support.cluster_fixtures import local_cluster, real_nodes
from tests.support.engine_project import TEST_PASSPHRASE
from tests.support.local_cluster import LocalCluster
from tools.engine import Engine
from tools.images.build import RECIPES, build

__all__ = ["local_cluster", "real_nodes"]  # fixtures of this folder, besides those defined here


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.engine)


@pytest.fixture(autouse=True, scope="module")
def volumes_available() -> None:
    """Each engine test module starts with the local cluster's volumes Available again: every
    stack a module destroys leaves its claims' volumes Released (reclaim policy Retain), and the
    cluster has nine a node. tools/cluster/up on a running cluster only recycles them (~1 s)."""
    if LocalCluster.running():
        LocalCluster.up()


@pytest.fixture(scope="session")
def debian_images(real_nodes: list[str]) -> dict[str, str]:
    """kind (zookeeper, redis) -> the image tools/images/build makes of Debian's packages, imported
    into the real nodes (pods use them with imagePullPolicy Never)."""
    return {kind: build(recipe)[0] for kind, recipe in RECIPES.items()}


@pytest.fixture(scope="session")
def engine(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The real Pulumi engine and kubernetes provider on the local cluster, with a file backend of
    the session's own (so no test sees a user's state)."""
    state = tmp_path_factory.mktemp("pulumi-state")
    return Engine.local(backend_url=f"file://{state}", kubeconfig=local_cluster.kubeconfig, passphrase=TEST_PASSPHRASE)
