"""Packaging tests: the wheel as built from this tree, installed with its dependencies into a fresh
venv as a user does."""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.packaging)
