import pytest


@pytest.fixture(params=[True, False], ids=["preview", "update"])
def preview(request: pytest.FixtureRequest) -> bool:
    """Every mock test runs as `pulumi preview` and as `pulumi up`."""
    return bool(request.param)
