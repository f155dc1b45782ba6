"""Script tests: the ensembles' rendered shell scripts run by bash or sh, against fake servers and
fake tools in a fake pod's file system (no root, no real server)."""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.scripts)
