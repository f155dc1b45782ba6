"""Run a whole Pulumi program under mocks, fed the stack config the way the engine feeds it.

`engine_config` turns a project's Pulumi.yaml declarations plus one stack file into what the
language host hands the program: every key namespaced (`<project>:<key>`), project defaults
applied, required keys enforced, typed keys checked, maps and lists as JSON strings, scalars as
strings, and the secret keys listed (their plain values supplied by the test, as `pulumi config
set --secret` would store them encrypted).

`run_stack` runs the program's directory with `runpy` inside `pulumi.runtime.run_in_stack`, the
same wrapper the Python language host uses, so `pulumi.export` ends in the root stack's
`RegisterResourceOutputs`: the recorded wire form shows exactly what would land in the state
(secrets carry the secret signature, unknowns the unknown sentinel).
"""

from __future__ import annotations

import copy
import hashlib
import json
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pulumi
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks_runtime
from pulumi.runtime import rpc, settings
from pulumi.runtime.sync_await import _sync_await

from tests.support.pulumi_mocks import Deployment, _Mocks, _RecordingMonitor
from tests.support.tokens import NS, SC
from tools.engine import project_settings, stack_file

REPO = Path(__file__).resolve().parents[2]
# Types whose objects are cluster-scoped; every other Kubernetes object lives in a namespace.
CLUSTER_SCOPED = {NS, SC}
# The project config types the Pulumi.yaml schema allows (maps are declared without a type).
SIMPLE_TYPES = {"string", "integer", "boolean", "array"}


_NO_STACK_YET = object()


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


def _wire(value: Any) -> str:
    """How the engine passes one config value: structured values as JSON, scalars as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


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
    return EngineConfig(values={k: _wire(v) for k, v in merged.items()}, secret_keys=secret_keys)


class AutoNamingMocks(_Mocks):
    """Mocks that name a Kubernetes object without `metadata.name` the way pulumi-kubernetes does
    (`<logical name>-<random suffix>`), so a value that only the created object knows is observable."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, state = super().new_resource(args)
        metadata = state.get("metadata")
        if args.typ.startswith("kubernetes:") and isinstance(metadata, dict) and not metadata.get("name"):
            suffix = hashlib.sha256(args.name.encode()).hexdigest()[:8]
            state["metadata"] = {**metadata, "name": f"{args.name}-{suffix}"}
        return resource_id, state


class _StackMonitor(_RecordingMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.outputs_of: dict[str, dict[str, Any]] = {}

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.outputs_of[request.urn] = dict(json_format.MessageToDict(request.outputs))
        return super().RegisterResourceOutputs(request)


@dataclass
class StackRun:
    deployment: Deployment
    exports_raw: dict[str, Any] = field(default_factory=dict)  # wire form: secrets keep their signature
    exports: dict[str, Any] = field(default_factory=dict)  # deserialized (secrets still wrapped)
    error: BaseException | None = None

    def export_values(self) -> dict[str, Any]:
        """The exports with secret wrappers removed (for comparing values)."""
        return {k: _unwrap(v) for k, v in self.exports.items()}


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _unwrap(value["value"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _run_main(program_dir: Path) -> None:
    """What the Python language host does with the program directory."""
    runpy.run_path(str(program_dir), run_name="__main__")


def run_stack(
    program_dir: Path,
    config: EngineConfig,
    *,
    project: str,
    preview: bool,
    mocks: pulumi.runtime.Mocks | None = None,
    stack: str = "test",
) -> StackRun:
    """Run the program in `program_dir` as `pulumi up`/`preview` would, under recording mocks.

    A program error is returned in `StackRun.error` (with whatever was registered before it).
    """
    mocks = mocks or _Mocks()
    monitor = _StackMonitor(mocks)
    pulumi.runtime.set_all_config(dict(config.values), list(config.secret_keys))
    try:
        # set_mocks would register (and at once close) a root stack of its own unless one exists;
        # the placeholder stops it, so the program's stack is the one run_in_stack creates, runs
        # and closes, exactly as under `pulumi up`.
        settings.ROOT.set(cast(Any, _NO_STACK_YET))
        pulumi_mocks_runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
        settings.ROOT.set(None)
        settings.SETTINGS.rpc_manager.clear()
        error: BaseException | None = None
        try:
            _sync_await(pulumi.runtime.run_in_stack(lambda: _run_main(program_dir)))
        except Exception as exc:  # the caller asserts on it
            error = exc
    finally:
        settings.ROOT.set(None)
        pulumi.runtime.set_all_config({}, [])
    stack_urns = [urn for urn in monitor.outputs_of if "::pulumi:pulumi:Stack::" in urn]
    assert len(stack_urns) == 1, f"expected one root stack, found {stack_urns}"
    raw = monitor.outputs_of[stack_urns[0]]
    struct = json_format.ParseDict(raw, struct_pb2.Struct())
    return StackRun(
        deployment=Deployment(resources=monitor.registered, outputs_registered=monitor.outputs_registered),
        exports_raw=raw,
        exports=dict(rpc.deserialize_properties(struct, keep_unknowns=True)),
        error=error,
    )


def plain_occurrences(value: Any, needle: str, path: str = "") -> list[str]:
    """Paths where `needle` appears outside a secret-wrapped value (in wire or deserialized form)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return []  # a secret: encrypted in the state
        found = [f"{path}.{key} (key)" for key in value if needle in str(key)]
        for key, item in value.items():
            found += plain_occurrences(item, needle, f"{path}.{key}")
        return found
    if isinstance(value, list | tuple):
        return [hit for i, item in enumerate(value) for hit in plain_occurrences(item, needle, f"{path}[{i}]")]
    return [path or "."] if needle in str(value) else []
