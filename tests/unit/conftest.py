"""Unit tests: Pulumi mocks and pure functions, no servers. Collecting them imports neither the
engine runner nor the image builder (tests/unit/test_layout.py)."""

import pytest

from statefulkit.testing import MockRunner


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.unit)


@pytest.fixture
def preview(pulumi_mocks: MockRunner) -> bool:
    """Every mock test runs as `pulumi preview` and as `pulumi up` (the modes of the shipped
    `pulumi_mocks` fixture, so a test may take either)."""
    return pulumi_mocks.preview
