"""How recorded values look: secrets stay marked and unknowns stay visible.

The engine receives a secret as a signature-wrapped object and a value not known in preview as an
unknown sentinel; a test should see both as such, not as plain data or as None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from google.protobuf import json_format, struct_pb2
from pulumi.output import Unknown as _SdkUnknown
from pulumi.runtime import rpc

SECRET_SIG: Final[str] = rpc._special_secret_sig
SIG_KEY: Final[str] = rpc._special_sig_key


@dataclass(frozen=True)
class Secret:
    """A value the engine holds as a secret. Its repr hides the value, so a failure message or a
    search of a resource's repr never prints it; compare `.value` (or match with `Secret(...)`)."""

    value: Any

    def __repr__(self) -> str:
        return "Secret(***)"


class _Unknown:
    """A value not known until the update (only in preview)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


def is_wire_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def marked(value: Any) -> Any:
    """A deserialized value with secret envelopes turned into `Secret` and unknowns into `UNKNOWN`."""
    if is_wire_secret(value):
        return Secret(marked(value["value"]))
    if isinstance(value, _SdkUnknown):
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only doubles; Kubernetes fields are integers
    if isinstance(value, dict):
        return {key: marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [marked(item) for item in value]
    return value


def unmarked(value: Any) -> Any:
    """The plain value: `Secret` wrappers removed (for comparing values, or feeding them back)."""
    if isinstance(value, Secret):
        return unmarked(value.value)
    if isinstance(value, dict):
        return {key: unmarked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unmarked(item) for item in value]
    return value


def contains_secret(value: Any) -> bool:
    if isinstance(value, Secret):
        return True
    if isinstance(value, dict):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return False


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Properties as the engine received them, deserialized and marked."""
    return dict(marked(rpc.deserialize_properties(struct, keep_unknowns=True)))


def wire(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Properties in wire form (secrets as signature-wrapped objects, unknowns as the sentinel)."""
    return dict(json_format.MessageToDict(struct))
