import os
from collections.abc import Generator, Iterator

import pytest

from tests.support.kube import Cluster


@pytest.fixture(params=[True, False], ids=["preview", "update"])
def preview(request: pytest.FixtureRequest) -> bool:
    """Every mock test runs as `pulumi preview` and as `pulumi up`."""
    return bool(request.param)


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[Cluster]:
    """The local kwok cluster for e2e tests: started (or created) on first use and removed at the
    end of the session, unless it was already running before (then it is left as it was)."""
    was_running = Cluster.running()
    cluster = Cluster.up()
    yield cluster
    if not was_running:
        Cluster.down()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under `make test` (STATEFULKIT_REQUIRE_REAL=1) a real-server or e2e test may not skip:
    a skip there would hide that nothing real was checked."""
    report: pytest.TestReport = yield
    required = os.environ.get("STATEFULKIT_REQUIRE_REAL") == "1"
    real = item.get_closest_marker("realserver") or item.get_closest_marker("e2e")
    if required and real and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} skipped, but STATEFULKIT_REQUIRE_REAL=1 requires it to run: {report.longrepr}"
    return report
