"""The pytest plugin (entry point `pytest11`): the `pulumi_mocks` fixture, in both modes.

Every test that takes `pulumi_mocks` runs twice, as `[preview]` and as `[update]`.
"""

from __future__ import annotations

import pytest

from statefulkit.testing.runner import MODES
from statefulkit.testing.session import MockRunner


@pytest.fixture(params=MODES)
def pulumi_mocks(request: pytest.FixtureRequest) -> MockRunner:
    """Runs programs under the Kubernetes-like mocks, once as `pulumi preview`, once as `pulumi up`."""
    return MockRunner(request.param)
