"""Run a Pulumi program under mocks and record exactly what it registered.

The recording monitor keeps each RegisterResource request, so tests see the inputs as the
engine would (after serialisation), plus parent, dependencies and resource options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

SECRET_SIG = rpc._special_secret_sig


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    raw: dict[str, Any]
    dependencies: list[str]
    replace_on_changes: list[str]
    delete_before_replace: bool
    retain_on_delete: bool
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    # Per top-level input, the URNs its value came from (the engine replaces a dependent along
    # with a delete-before-replace of any of them).
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def k8s_name(self) -> Any:
        return self.inputs.get("metadata", {}).get("name")


@dataclass
class Deployment:
    resources: list[Registered]
    outputs: dict[str, Any] = field(default_factory=dict)
    outputs_registered: list[str] = field(default_factory=list)

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Registered:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.outputs_registered: list[str] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = _struct_to_dict(request.object)
            self.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs=rpc.deserialize_properties(request.object),
                    raw=raw,
                    dependencies=list(request.dependencies),
                    replace_on_changes=list(request.replaceOnChanges),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    retain_on_delete=bool(request.retainOnDelete),
                    ignore_changes=list(request.ignoreChanges),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
                )
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.outputs_registered.append(request.urn)
        return super().RegisterResourceOutputs(request)


def _struct_to_dict(struct: Any) -> dict[str, Any]:
    return dict(json_format.MessageToDict(struct))


def run_program(program: Callable[[], Any], *, preview: bool) -> Deployment:
    """Run `program` under mocks; if it returns a dict of Outputs, resolve them into `outputs`.

    Raises if a returned Output never resolved, so a test cannot pass on a callback that
    did not run.
    """
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="statefulkit", stack="test", preview=preview, monitor=monitor)
    resolved: dict[str, Any] = {}
    returned: dict[str, Any] = {}

    @pulumi.runtime.test
    def body() -> Any:
        result = program()
        if not result:
            return None
        returned.update(result)
        return pulumi.Output.all(**result).apply(resolved.update)

    body()
    missing = set(returned) - set(resolved)
    assert not missing, f"outputs {sorted(missing)} never resolved: their callbacks did not run"
    return Deployment(resources=monitor.registered, outputs=resolved, outputs_registered=monitor.outputs_registered)


def run_failing_program(program: Callable[[], Any], *, preview: bool) -> tuple[BaseException, list[Registered]]:
    """Run a program expected to raise; return the error and whatever it registered first."""
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="statefulkit", stack="test", preview=preview, monitor=monitor)

    @pulumi.runtime.test
    def body() -> Any:
        program()

    try:
        body()
    except Exception as error:  # the caller asserts on the exact type
        return error, monitor.registered
    raise AssertionError("the program was expected to raise, but it completed")
