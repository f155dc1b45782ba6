"""Mocks that answer like the kubernetes provider where a program can tell the difference.

Echoing the inputs back hides what the provider fills in. These mocks add what a program may read
from a created object: `apiVersion`/`kind`, the generated `metadata.name` (`<logical name>-<8 hex>`,
derived from the name so runs repeat), `metadata.namespace` "default" for namespaced kinds, and in
an update `uid`, `creationTimestamp` and a `status` for the common kinds. In a preview the provider
does not know those yet: they are left out, so `status` is unknown and an `apply` on it does not run.
Secrecy (Secret `data`/`stringData` and any secret input) is kept by the monitor, as by the engine.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import uuid
from typing import Any, Final

import pulumi

# Kinds whose objects live outside any namespace (the provider leaves `metadata.namespace` unset).
CLUSTER_SCOPED_KINDS: Final = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
CREATED_AT: Final = "2024-01-01T00:00:00Z"
# Types the provider registers that are not Kubernetes objects (providers, multi-object components).
_NOT_OBJECTS: Final = ("kubernetes:yaml", "kubernetes:helm.sh", "kubernetes:kustomize", "pulumi:providers:")


def api_version_and_kind(type_token: str) -> tuple[str, str] | None:
    """`kubernetes:apps/v1:StatefulSet` -> ("apps/v1", "StatefulSet"); core types are plain "v1"."""
    if not type_token.startswith("kubernetes:") or type_token.startswith(_NOT_OBJECTS):
        return None
    _, group_version, kind = type_token.split(":", 2)
    group, _, version = group_version.rpartition("/")
    return (version if group == "core" else group_version), kind


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class KubernetesMocks(pulumi.runtime.Mocks):
    """Answers `kubernetes:*` registrations like the provider; anything else echoes its inputs.

    Subclass and override `new_resource`/`call` to answer other providers or invokes; call
    `super().new_resource(args)` to keep the Kubernetes behaviour.
    """

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state: dict[str, Any] = copy.deepcopy(dict(args.inputs))
        shape = api_version_and_kind(args.typ)
        if shape is None:
            return f"{args.name}-id", state
        api_version, kind = shape
        state.setdefault("apiVersion", api_version)
        state.setdefault("kind", kind)
        metadata: dict[str, Any] = dict(state.get("metadata") or {})
        if not metadata.get("name"):
            metadata["name"] = f"{args.name}-{_digest(args.typ, args.name)[:8]}"
        if kind not in CLUSTER_SCOPED_KINDS and not metadata.get("namespace"):
            metadata["namespace"] = "default"
        name, namespace = str(metadata["name"]), metadata.get("namespace")
        object_id = f"{namespace}/{name}" if namespace else name
        state["metadata"] = metadata
        if not pulumi.runtime.is_dry_run():
            key = _digest(args.typ, object_id)
            metadata.setdefault("uid", str(uuid.UUID(key[:32])))
            metadata.setdefault("creationTimestamp", CREATED_AT)
            metadata.setdefault("resourceVersion", str(int(key[:6], 16)))
            metadata.setdefault("generation", 1)
            _fill_live_fields(kind, state, key)
        return object_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _fill_live_fields(kind: str, state: dict[str, Any], key: str) -> None:
    """What the API server and the controllers add once the object exists."""
    spec: dict[str, Any] = state.get("spec") or {}
    replicas = spec.get("replicas", 1)
    if kind == "StatefulSet":
        revision = f"{state['metadata'].get('name')}-{key[:10]}"
        state["status"] = {
            "observedGeneration": 1,
            "replicas": replicas,
            "readyReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
    elif kind == "Deployment":
        state["status"] = {
            "observedGeneration": 1,
            "replicas": replicas,
            "readyReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        }
    elif kind == "Service":
        if spec.get("clusterIP") != "None" and spec.get("type") != "ExternalName":
            address = f"10.96.{int(key[:2], 16)}.{int(key[2:4], 16) % 254 + 1}"
            state["spec"] = {**spec, "clusterIP": spec.get("clusterIP") or address}
            state["spec"]["clusterIPs"] = [state["spec"]["clusterIP"]]
        state["status"] = {"loadBalancer": {}}
    elif kind == "PersistentVolumeClaim":
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        state["spec"] = {**spec, "volumeName": f"pvc-{uuid.UUID(key[:32])}"}
        state["status"] = {"phase": "Bound", "accessModes": spec.get("accessModes", [])}
        state["status"]["capacity"] = {"storage": storage}
    elif kind == "Namespace":
        state["spec"] = {"finalizers": ["kubernetes"], **spec}
        state["status"] = {"phase": "Active"}
    elif kind == "PodDisruptionBudget":
        state["status"] = {"observedGeneration": 1, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    elif kind == "Pod":
        state["status"] = {"phase": "Running", "podIP": f"10.244.0.{int(key[:2], 16) % 254 + 1}"}
    elif kind == "Secret":
        state["type"] = state.get("type") or "Opaque"
        # The API server folds stringData into data (base64); both stay secret outputs.
        folded = {k: base64.b64encode(str(v).encode()).decode() for k, v in (state.get("stringData") or {}).items()}
        if folded or state.get("data"):
            state["data"] = {**(state.get("data") or {}), **folded}
