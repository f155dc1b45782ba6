"""The mock monitor that records each registration and keeps secrets as the engine does."""

from __future__ import annotations

from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as sdk_mocks

from statefulkit.testing.recording import Resource
from statefulkit.testing.values import SECRET_SIG, SIG_KEY, wire

STACK_TYPE = "pulumi:pulumi:Stack"
HOOK_KINDS = ("before_create", "after_create", "before_update", "after_update", "before_delete", "after_delete")


class _PlainInputs(pulumi.runtime.Mocks):
    """Hands the user's mocks plain inputs (secrets unwrapped), as a provider sees them."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        self.mocks = mocks

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        args.inputs = from_plain_wire(args.inputs)
        return self.mocks.new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return self.mocks.call(args)


def from_plain_wire(value: Any) -> Any:
    """SDK-deserialized values keep secrets as signature-wrapped dicts: unwrap them."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return from_plain_wire(value["value"])
        return {key: from_plain_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_plain_wire(item) for item in value]
    return value


class RecordingMonitor(sdk_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(_PlainInputs(mocks))
        self.registered: list[Resource] = []
        self.outputs_of: dict[str, dict[str, Any]] = {}  # wire form, by URN

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """A URN as the engine makes it: the parent's whole type chain, without the root stack's
        (the SDK's mocks keep only the parent's own type, and the stack's)."""
        if parent and "::pulumi:pulumi:Stack::" not in parent:
            type_ = f"{parent.split('::')[2]}${type_}"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
        if request.type == STACK_TYPE:
            return response
        # The engine keeps an output secret when its input was, or when the program asked. (A scan of
        # each input's encoding for the secret signature: deserializing every input costs more.)
        signature = SECRET_SIG.encode()
        secret_keys = {k for k, v in request.object.fields.items() if signature in v.SerializeToString()}
        secret_keys |= set(request.additionalSecretOutputs)
        if secret_keys & set(response.object.keys()):  # rebuilt only when something needs wrapping
            answered = json_format.MessageToDict(response.object)
            for key in secret_keys & set(answered):
                if not (isinstance(answered[key], dict) and answered[key].get(SIG_KEY) == SECRET_SIG):
                    answered[key] = {SIG_KEY: SECRET_SIG, "value": answered[key]}
            response.object.Clear()
            response.object.update(answered)
        self.registered.append(
            Resource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                wire_struct=request.object,
                outputs_struct=response.object,
                custom=bool(request.custom),
                dependencies=list(request.dependencies),
                property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
                provider=request.provider,
                protect=bool(request.protect),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                retain_on_delete=bool(request.retainOnDelete),
                ignore_changes=list(request.ignoreChanges),
                additional_secret_outputs=list(request.additionalSecretOutputs),
                deleted_with=request.deletedWith,
                hooks={
                    when: list(names)
                    for when in HOOK_KINDS
                    if request.HasField("hooks") and (names := getattr(request.hooks, when))
                },
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.outputs_of[request.urn] = wire(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]
