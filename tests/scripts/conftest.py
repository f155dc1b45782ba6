"""Script tests: the ensembles' rendered shell scripts run by bash or sh, against fake servers and
fake tools in a fake pod's file system (no root, no real server)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.zookeeper_fakes import FakePod, FourLetterServer


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.scripts)


@pytest.fixture
def four_letter_server() -> Iterator[FourLetterServer]:
    server = FourLetterServer({})
    yield server
    server.close()


@pytest.fixture
def pod(tmp_path: Path) -> FakePod:
    return FakePod(tmp_path)
