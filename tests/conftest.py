import os
from collections.abc import Generator, Iterator

import pytest

from statefulkit.testing import MockRunner
from tests.support.kube import Cluster
from tools.engine import Engine
from tools.images.build import RECIPES, build

# The passphrase of the secrets of every stack the engine tests create (in their own backend).
TEST_PASSPHRASE = "statefulkit-tests"  # noqa: S105 - a test-only passphrase


@pytest.fixture
def preview(pulumi_mocks: MockRunner) -> bool:
    """Every mock test runs as `pulumi preview` and as `pulumi up` (the modes of the shipped
    `pulumi_mocks` fixture, so a test may take either)."""
    return pulumi_mocks.preview


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[Cluster]:
    """The local kwok cluster for e2e tests: started (or created) on first use and removed at the
    end of the session, unless it was already running before (then it is left as it was)."""
    was_running = Cluster.running()
    cluster = Cluster.up()
    yield cluster
    if not was_running:
        Cluster.down()


@pytest.fixture(autouse=True, scope="module")
def volumes_available(request: pytest.FixtureRequest) -> None:
    """Each engine test module starts with the local cluster's volumes Available again: every
    stack a module destroys leaves its claims' volumes Released (reclaim policy Retain), and the
    cluster has nine a node. tools/cluster/up on a running cluster only recycles them (~1 s)."""
    if request.node.get_closest_marker("engine") and Cluster.running():
        Cluster.up()


@pytest.fixture(scope="session")
def real_nodes(local_cluster: Cluster) -> list[str]:
    """Real nodes in the local cluster (tools/node/up), STATEFULKIT_REAL_NODES of them (default 2):
    pods with REAL_NODE_PLACEMENT run there for real. Removed with the cluster by tools/cluster/down."""
    if os.geteuid() != 0:
        pytest.skip("real nodes need root (containerd, network namespaces, mounts)")
    return local_cluster.add_real_nodes(int(os.environ.get("STATEFULKIT_REAL_NODES") or "2"))


@pytest.fixture(scope="session")
def debian_images(real_nodes: list[str]) -> dict[str, str]:
    """kind (zookeeper, redis) -> the image tools/images/build makes of Debian's packages, imported
    into the real nodes (pods use them with imagePullPolicy Never)."""
    return {kind: build(recipe)[0] for kind, recipe in RECIPES.items()}


@pytest.fixture(scope="session")
def engine(local_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The real Pulumi engine and kubernetes provider on the local cluster, with a file backend of
    the session's own (so no test sees a user's state)."""
    state = tmp_path_factory.mktemp("pulumi-state")
    return Engine.local(backend_url=f"file://{state}", kubeconfig=local_cluster.kubeconfig, passphrase=TEST_PASSPHRASE)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under `make test` (STATEFULKIT_REQUIRE_REAL=1) a real-server or e2e test may not skip:
    a skip there would hide that nothing real was checked."""
    report: pytest.TestReport = yield
    required = os.environ.get("STATEFULKIT_REQUIRE_REAL") == "1"
    real = any(item.get_closest_marker(m) for m in ("realserver", "e2e", "engine"))
    if required and real and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} skipped, but STATEFULKIT_REQUIRE_REAL=1 requires it to run: {report.longrepr}"
    return report
