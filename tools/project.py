"""A Pulumi project's own files, read as the CLI reads them: Pulumi.yaml and where its stack files
live. Plain YAML, nothing of the engine: tools/engine.py, tools/deploy.py and the unit tests that
feed a program its stack config (tests/support/stack_config.py) share it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def project_settings(project_dir: Path) -> dict[str, Any]:
    """The project's Pulumi.yaml."""
    data: dict[str, Any] = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    return data


def stack_file(project_dir: Path, stack: str) -> Path:
    """Where the project keeps the stack's config (its `stackConfigDir`)."""
    return project_dir / str(project_settings(project_dir).get("stackConfigDir", ".")) / f"Pulumi.{stack}.yaml"
