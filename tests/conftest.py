"""What every kind of test shares. Each folder's own conftest marks its tests with its kind
(tests/support/kinds.py) and holds the fixtures only that kind needs."""

import os
from collections.abc import Generator

import pytest

from tests.support.kinds import MUST_RUN


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under `make test` (STATEFULKIT_REQUIRE_REAL=1) a test that needs real parts may not skip:
    a skip there would hide that nothing real was checked."""
    report: pytest.TestReport = yield
    required = os.environ.get("STATEFULKIT_REQUIRE_REAL") == "1"
    real = any(item.get_closest_marker(m) for m in MUST_RUN)
    if required and real and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} skipped, but STATEFULKIT_REQUIRE_REAL=1 requires it to run: {report.longrepr}"
    return report
