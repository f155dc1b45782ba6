"""Init containers: each runs to completion before the next one (and before the pod's containers)."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.support.podsim.common import PodConfigError, PodStartError
from tests.support.podsim.host import _killpg
from tests.support.podsim.identity import _ContainerRun

_TAIL_LINES = 20


def _output_since(log: Path, offset: int) -> str:
    """The last lines written to `log` after `offset`: this run only (the log is kept across starts)."""
    with log.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-_TAIL_LINES:]) or "(no output)"


def run_init_container(
    pod: str,
    c: Mapping[str, Any],
    spawn: Callable[[], _ContainerRun],
    log: Path,
    timeout: float,
) -> None:
    """Start one init container with `spawn` (which appends its output to `log`) and wait for it;
    PodStartError with its last output lines if it exits non-zero or outlives `timeout`."""
    name = str(c["name"])
    if c.get("restartPolicy") == "Always":  # would never complete: fail now, not after the timeout
        raise PodConfigError(f"{pod}: sidecar init container {name!r} (restartPolicy Always) is not simulated")
    offset = log.stat().st_size if log.exists() else 0
    proc = spawn().proc
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _killpg(proc, signal.SIGKILL)
        proc.wait()
        raise PodStartError(
            f"{pod}: init container {name!r} timed out after {timeout:g}s (killed); its output:\n"
            f"{_output_since(log, offset)}"
        ) from None
    if code != 0:
        raise PodStartError(
            f"{pod}: init container {name!r} exited with {code}; its output:\n{_output_since(log, offset)}"
        )
