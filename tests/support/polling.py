"""The one way the tests wait: poll a condition until it holds, or fail naming what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    what: str,
    condition: Callable[[], T | None],
    *,
    timeout: float = 120.0,
    interval: float = 0.5,
    tolerate: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `condition` until it returns something truthy and return that. An exception listed in
    `tolerate` (a client not yet able to connect) counts as "not yet". On timeout raise
    TimeoutError naming `what`, the last value and the last tolerated error."""
    deadline = time.monotonic() + timeout
    value: T | None = None
    error: BaseException | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except tolerate as exc:
            error = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"timed out after {timeout:.0f}s waiting for {what} (last value {value!r}, last error {error!r})"
            )
        time.sleep(interval)
