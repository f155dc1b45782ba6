"""Run a whole Pulumi program under mocks, fed the stack config the way the engine feeds it.

`engine_config` turns a project's Pulumi.yaml declarations plus one stack file into what the
language host hands the program: every key namespaced (`<project>:<key>`), project defaults
applied, required keys enforced, typed keys checked, maps and lists as JSON strings, scalars as
strings, and the secret keys listed (their plain values supplied by the test, as `pulumi config
set --secret` would store them encrypted).

`run_stack` runs the program's directory with the shipped harness (`statefulkit.testing`), which
runs it inside a root stack as the Python language host does, so `pulumi.export` ends in the
stack's outputs: the recorded wire form shows exactly what would land in the state (secrets carry
the secret signature, unknowns the unknown sentinel).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from statefulkit.testing import SECRET_SIG, SIG_KEY, Deployment, config_value, program_at, run
from tests.support.tokens import NS, SC
from tools.project import project_settings, stack_file

REPO = Path(__file__).resolve().parents[2]
# Types whose objects are cluster-scoped; every other Kubernetes object lives in a namespace.
CLUSTER_SCOPED = {NS, SC}
# The project config types the Pulumi.yaml schema allows (maps are declared without a type).
SIMPLE_TYPES = {"string", "integer", "boolean", "array"}


class EngineConfigError(Exception):
    """What `pulumi up` reports before the program starts (missing or ill-typed config)."""


@dataclass
class EngineConfig:
    values: dict[str, str]
    secret_keys: list[str]


def stack_values(project_dir: Path, stack: str) -> dict[str, Any]:
    """The `config:` section of a stack file, keys as written (a deep copy tests may edit)."""
    loaded = yaml.safe_load(stack_file(project_dir, stack).read_text()) or {}
    return copy.deepcopy(loaded.get("config") or {})


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _has_type(type_name: str, value: Any) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.lstrip("-").isdigit()
        )
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    return isinstance(value, list)


def engine_config(
    project_dir: Path, values: Mapping[str, Any], *, secrets: Mapping[str, str], stack: str = "test"
) -> EngineConfig:
    """Merge the project's config declarations into a stack's values, as the engine does before a run."""
    project = project_settings(project_dir)
    name = project["name"]
    merged: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue  # encrypted in the file: the test supplies the plain value through `secrets`
        merged[_full_key(name, key)] = value
    for key, value in secrets.items():
        merged[_full_key(name, key)] = value
        secret_keys.append(_full_key(name, key))

    missing = []
    for key, declared in (project.get("config") or {}).items():
        full = _full_key(name, key)
        # A shorthand `key: value` declares a default (project keys) or sets a value (other namespaces).
        declaration = declared if isinstance(declared, dict) else {"default": declared}
        if full not in merged:
            if "default" in declaration or "value" in declaration:
                merged[full] = declaration.get("default", declaration.get("value"))
            else:
                missing.append(key)
            continue
        if declaration.get("secret") and full not in secret_keys:
            raise EngineConfigError(f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret")
        type_name = declaration.get("type")
        if type_name is not None and not _has_type(type_name, merged[full]):
            raise EngineConfigError(f"Stack '{stack}' with configuration key '{key}' must be of type '{type_name}'")
    if missing:
        raise EngineConfigError(f"Stack '{stack}' is missing configuration value(s) {sorted(missing)}")
    return EngineConfig(values={k: config_value(v) for k, v in merged.items()}, secret_keys=secret_keys)


@dataclass
class StackRun:
    deployment: Deployment
    exports_raw: dict[str, Any] = field(default_factory=dict)  # wire form: secrets keep their signature
    exports: dict[str, Any] = field(default_factory=dict)  # deserialized (secrets as `Secret`)
    error: BaseException | None = None

    def export_values(self) -> dict[str, Any]:
        """The exports with secret wrappers removed (for comparing values)."""
        return self.deployment.stack_output_values()


def run_stack(
    program_dir: Path,
    config: EngineConfig,
    *,
    project: str,
    preview: bool,
    stack: str = "test",
) -> StackRun:
    """Run the program in `program_dir` as `pulumi up`/`preview` would, under the shipped mocks.

    A program error is returned in `StackRun.error` (with whatever was registered before it).
    """
    secret = set(config.secret_keys)
    deployment = run(
        program_at(program_dir),
        preview=preview,
        config={k: v for k, v in config.values.items() if k not in secret},
        secrets={k: v for k, v in config.values.items() if k in secret},
        project=project,
        stack=stack,
        check=False,
    )
    return StackRun(
        deployment=deployment,
        exports_raw=deployment.stack_outputs_wire,
        exports=deployment.stack_outputs,
        error=deployment.error,
    )


def plain_occurrences(value: Any, needle: str, path: str = "") -> list[str]:
    """Paths where `needle` appears outside a secret-wrapped value (in wire or deserialized form)."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return []  # a secret: encrypted in the state
        found = [f"{path}.{key} (key)" for key in value if needle in str(key)]
        for key, item in value.items():
            found += plain_occurrences(item, needle, f"{path}.{key}")
        return found
    if isinstance(value, list | tuple):
        return [hit for i, item in enumerate(value) for hit in plain_occurrences(item, needle, f"{path}[{i}]")]
    return [path or "."] if needle in str(value) else []
