"""What a run registered, and queries and assertions over it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from google.protobuf import struct_pb2

from statefulkit.testing.match import MatchError, Mismatch, attempt
from statefulkit.testing.provider import api_version_and_kind
from statefulkit.testing.values import from_struct, unmarked, wire


@dataclass
class Resource:
    """One `RegisterResource` request as the engine received it, and what the mocks answered."""

    type: str
    name: str
    urn: str
    parent: str
    # The request's inputs and the mocks' answer as the engine holds them, converted when first read
    # (most of a large run is never looked at).
    wire_struct: struct_pb2.Struct = field(repr=False)
    outputs_struct: struct_pb2.Struct = field(repr=False)
    custom: bool
    dependencies: list[str]
    # Per top-level input, the URNs its value came from.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    provider: str = ""
    protect: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    deleted_with: str = ""
    # The resource hooks bound to it, by when they run: {"before_delete": ["<hook name>"], ...}.
    hooks: dict[str, list[str]] = field(default_factory=dict)

    @cached_property
    def inputs(self) -> dict[str, Any]:
        """Deserialized; secrets as `Secret`, preview unknowns as `UNKNOWN`."""
        return from_struct(self.wire_struct)

    @cached_property
    def outputs(self) -> dict[str, Any]:
        """What the mocks answered, secrets marked as the engine marks them."""
        return from_struct(self.outputs_struct)

    @property
    def wire(self) -> dict[str, Any]:
        """The inputs in wire form (secrets signature-wrapped, unknowns as the sentinel)."""
        return wire(self.wire_struct)

    @property
    def kind(self) -> str | None:
        """The Kubernetes kind (`StatefulSet`), or None for anything but a Kubernetes object."""
        shape = api_version_and_kind(self.type)
        return shape[1] if shape else None

    @property
    def k8s_name(self) -> Any:
        """The object's `metadata.name`: as given, else as the provider generated it."""
        given = (self.inputs.get("metadata") or {}).get("name")
        return given if given else (self.outputs.get("metadata") or {}).get("name")

    @property
    def namespace(self) -> Any:
        """The object's namespace, as given or as defaulted by the provider."""
        given = (self.inputs.get("metadata") or {}).get("namespace")
        return given if given else (self.outputs.get("metadata") or {}).get("namespace")

    def label(self) -> str:
        return f"{self.kind or self.type} '{self.k8s_name or self.name}'"


def _selects(r: Resource, type: str | None, name: str | None, kind: str | None, k8s_name: str | None) -> bool:
    return (
        (type is None or r.type == type)
        and (name is None or r.name == name)
        and (kind is None or r.kind == kind)
        and (k8s_name is None or r.k8s_name == k8s_name)
    )


def _describe(type: str | None, name: str | None, kind: str | None, k8s_name: str | None) -> str:
    what = kind or type or "resource"
    names = [f"named '{n}'" for n in (k8s_name, name) if n is not None]
    return " ".join([what, *names])


@dataclass
class Deployment:
    """Everything one run registered, in order, with the program's outputs."""

    resources: list[Resource]
    preview: bool
    outputs: dict[str, Any] = field(default_factory=dict)  # what the program returned, resolved
    stack_outputs: dict[str, Any] = field(default_factory=dict)  # `pulumi.export`s, secrets marked
    stack_outputs_wire: dict[str, Any] = field(default_factory=dict)  # the same in wire form
    outputs_registered: list[str] = field(default_factory=list)  # URNs whose outputs were registered
    logs: list[tuple[str, str]] = field(default_factory=list)  # (severity, message) the program logged
    error: BaseException | None = None  # the program's error, when run with check=False

    def select(
        self,
        type: str | None = None,
        *,
        name: str | None = None,
        kind: str | None = None,
        k8s_name: str | None = None,
        parent: Resource | str | None = None,
    ) -> list[Resource]:
        """Resources by Pulumi type, logical name, Kubernetes kind, `metadata.name` and parent."""
        parent_urn = parent.urn if isinstance(parent, Resource) else parent
        return [
            r
            for r in self.resources
            if _selects(r, type, name, kind, k8s_name) and (parent_urn is None or r.parent == parent_urn)
        ]

    def of_type(self, type: str) -> list[Resource]:
        return self.select(type)

    def one(
        self, type: str | None = None, *, name: str | None = None, kind: str | None = None, k8s_name: str | None = None
    ) -> Resource:
        """The single resource selected; otherwise an error naming what there is instead."""
        found = self.select(type, name=name, kind=kind, k8s_name=k8s_name)
        if len(found) == 1:
            return found[0]
        wanted = _describe(type, name, kind, k8s_name)
        if found:
            raise MatchError(f"expected one {wanted}, found {len(found)}: {[r.urn for r in found]}")
        raise MatchError(f"no {wanted}; {self._nearest_names(type, kind, k8s_name or name)}")

    def by_urn(self, urn: str) -> Resource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise MatchError(f"no resource with URN {urn!r}")

    def children(self, component: Resource | str, *, recursive: bool = False) -> list[Resource]:
        """The resources registered with `parent=component` (and their children, if recursive)."""
        urns = {component.urn if isinstance(component, Resource) else component}
        found: list[Resource] = []
        for r in self.resources:  # a child registers after its parent
            if r.parent in urns:
                found.append(r)
                if recursive:
                    urns.add(r.urn)
        return found

    def has_resource(
        self,
        type: str | None = None,
        *,
        name: str | None = None,
        kind: str | None = None,
        k8s_name: str | None = None,
        inputs: Any = None,
    ) -> Resource:
        """The one selected resource whose inputs match the `inputs` pattern (partial, see `match`).

        Captures in the pattern keep the values of that resource only; when the query fails they
        keep nothing. The failure names the nearest candidates and where each differs.
        """
        if inputs is None:
            return self.one(type, name=name, kind=kind, k8s_name=k8s_name)
        wanted = _describe(type, name, kind, k8s_name)
        selected = self.select(type, name=name, kind=kind, k8s_name=k8s_name)
        # Each candidate is tried on its own: what a capture saw in it is kept only if it is the one.
        attempts = [(r, attempt(r.inputs, inputs)) for r in selected]
        matching = [(r, tried) for r, tried in attempts if tried.matched]
        if len(matching) == 1:
            resource, tried = matching[0]
            tried.keep()
            return resource
        if len(matching) > 1:
            urns = [r.urn for r, _ in matching]
            raise MatchError(f"{len(matching)} of {wanted} match, expected one: {urns}")
        scored = [(r, tried.mismatches) for r, tried in attempts]
        if scored:
            scored.sort(key=lambda pair: len(pair[1]))
            lines = [f"{r.label()} {_first(found)}" for r, found in scored[:3]]
            raise MatchError(f"no {wanted} matches the pattern; nearest: " + "; ".join(lines), scored[0][1])
        # Nothing of that name: rank the same kind/type by name, then by how close the inputs are.
        pool = self.select(type, kind=kind)
        ranked = sorted(
            ((r, attempt(r.inputs, inputs).mismatches) for r in pool),  # ranking only: nothing captured
            key=lambda pair: (-_similarity(pair[0], k8s_name or name), len(pair[1])),
        )
        if not ranked:
            raise MatchError(f"no {wanted}; {self._nearest_names(type, kind, k8s_name or name)}")
        shown = [f"'{r.k8s_name or r.name}' ({_first(found) if found else 'matches'})" for r, found in ranked[:3]]
        raise MatchError(f"no {wanted}; nearest: " + ", ".join(shown), ranked[0][1])

    def resource_count_is(self, count: int, type: str | None = None, *, kind: str | None = None) -> None:
        found = self.select(type, kind=kind)
        if len(found) != count:
            names = sorted(str(r.k8s_name or r.name) for r in found)
            raise MatchError(f"expected {count} {kind or type or 'resources'}, found {len(found)}: {names}")

    def stack_output_values(self) -> dict[str, Any]:
        """The stack outputs with `Secret` markers removed (for comparing values)."""
        return {key: unmarked(value) for key, value in self.stack_outputs.items()}

    def _nearest_names(self, type: str | None, kind: str | None, name: str | None) -> str:
        pool = self.select(type, kind=kind)
        if not pool:
            there = sorted({r.kind or r.type for r in self.resources})
            return f"none of that {'kind' if kind else 'type'} was registered (there are: {', '.join(there) or 'none'})"
        names = sorted(str(r.k8s_name or r.name) for r in pool)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.0) if name else names[:3]
        return f"nearest: {', '.join(repr(n) for n in close)}"


def _first(found: list[Mismatch]) -> str:
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    return f"differs {found[0]}{more}"


def _similarity(r: Resource, name: str | None) -> float:
    if name is None:
        return 0.0
    return difflib.SequenceMatcher(None, str(r.k8s_name or r.name), name).ratio()
