"""Real-server tests: real ZooKeeper and Redis servers run by podsim from the rendered objects
(tests/support/podsim/, root and network namespaces), podsim's own self-tests, and the images
tools/images builds of Debian's packages."""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.realserver)
