"""`MockRunner`: `run` and `run_failing` bound to one mode, what the pytest fixture hands a test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statefulkit.testing.recording import Deployment
from statefulkit.testing.runner import MODES, Mode, Program, run, run_failing


@dataclass(frozen=True)
class MockRunner:
    mode: Mode

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"MockRunner: mode must be one of {list(MODES)}, got {self.mode!r}")

    @property
    def preview(self) -> bool:
        return self.mode == "preview"

    def run(self, program: Program, **options: Any) -> Deployment:
        """`statefulkit.testing.run` in this mode (same options)."""
        return run(program, preview=self.preview, **options)

    def run_failing(self, program: Program, **options: Any) -> Deployment:
        """`statefulkit.testing.run_failing` in this mode (same options)."""
        return run_failing(program, preview=self.preview, **options)
