"""Pure rendering of a validated StatefulWorkloadArgs into Kubernetes manifest dicts.

No Pulumi import: the namespace may be an Output and is placed in metadata untouched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from components.render.pod import Manifest, render_pod_spec
from components.spec.workload import ClientService, OnDelete, RollingUpdate, StatefulWorkloadArgs, StorageClassSpec

CONFIG_HASH_ANNOTATION = "statefulkit.io/config-hash"
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
# The provider deletes in the foreground by default: the object stays until the garbage collector
# has removed its dependents, which costs about a second per object on a busy collector (for a
# Service, its EndpointSlices). Only the StatefulSet keeps that, so its delete returns once its
# pods are gone and the Service it depends on is deleted after them; everything else goes at once.
DELETE_IN_BACKGROUND = {"pulumi.com/deletionPropagationPolicy": "background"}


@dataclass(frozen=True)
class WorkloadNames:
    """The explicit object names; stable DNS and PVC identity depend on them."""

    stateful_set: str
    headless_service: str
    client_service: str
    pdb: str
    config_map: str

    @classmethod
    def of(cls, name: str) -> WorkloadNames:
        return cls(
            stateful_set=name,
            headless_service=f"{name}-headless",
            client_service=name,
            pdb=name,
            config_map=f"{name}-config",
        )


@dataclass(frozen=True)
class WorkloadManifests:
    names: WorkloadNames
    stateful_set: Manifest
    headless_service: Manifest
    client_service: Manifest | None
    pdb: Manifest | None
    storage_class: Manifest | None
    config_map: Manifest | None


_API_KINDS = {
    "storage_class": ("storage.k8s.io/v1", "StorageClass"),
    "config_map": ("v1", "ConfigMap"),
    "headless_service": ("v1", "Service"),
    "client_service": ("v1", "Service"),
    "stateful_set": ("apps/v1", "StatefulSet"),
    "pdb": ("policy/v1", "PodDisruptionBudget"),
}


def kubernetes_objects(manifests: WorkloadManifests) -> list[Manifest]:
    """Complete API objects (with apiVersion and kind), in an order `kubectl apply` can create them."""
    objects = []
    for field, (api_version, kind) in _API_KINDS.items():
        manifest = getattr(manifests, field)
        if manifest is not None:
            objects.append({"apiVersion": api_version, "kind": kind, **manifest})
    return objects


def selector_labels(name: str, spec: StatefulWorkloadArgs) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": spec.app_name or name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": spec.component,
    }


def pod_dns_names(names: WorkloadNames, replicas: int, namespace: str, cluster_domain: str) -> list[str]:
    """`<sts>-<i>.<headless>.<ns>.svc.<domain>` for every ordinal."""
    return [
        f"{names.stateful_set}-{i}.{names.headless_service}.{namespace}.svc.{cluster_domain}" for i in range(replicas)
    ]


def config_hash(files: dict[str, str]) -> str:
    """Digest of the config files; a change rolls the pods, which otherwise keep stale config."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def _metadata(name: str, spec: StatefulWorkloadArgs, labels: dict[str, str], **extra: Any) -> Manifest:
    meta: Manifest = {"name": name, "namespace": spec.namespace, "labels": dict(labels)}
    annotations = {**spec.annotations, **extra.pop("annotations", {})}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _update_strategy(spec: StatefulWorkloadArgs) -> Manifest:
    strategy = spec.update_strategy
    if isinstance(strategy, OnDelete):
        return {"type": "OnDelete"}
    rolling: Manifest = {"partition": strategy.partition}
    if strategy.max_unavailable is not None:
        rolling["maxUnavailable"] = strategy.max_unavailable
    return {"type": "RollingUpdate", "rollingUpdate": rolling}


def await_annotations(spec: StatefulWorkloadArgs) -> dict[str, str]:
    """Tell pulumi-kubernetes what "done" means when a rollout is held back on purpose.

    Its default StatefulSet await waits for currentRevision == updateRevision, which a
    partition > 0 (or OnDelete) never reaches; `pulumi up` would hang to its timeout.
    Waiting for every replica to be Ready is the strongest condition that does hold.
    """
    strategy = spec.update_strategy
    held_back = isinstance(strategy, OnDelete) or (isinstance(strategy, RollingUpdate) and strategy.partition > 0)
    if not held_back or spec.replicas == 0:
        return {}
    return {WAIT_FOR_ANNOTATION: f"jsonpath={{.status.readyReplicas}}={spec.replicas}"}


def _volume_claim_templates(spec: StatefulWorkloadArgs, selector: dict[str, str]) -> list[Manifest]:
    templates = []
    for claim in spec.volume_claims:
        claim_spec: Manifest = {
            "accessModes": list(claim.access_modes),
            "resources": {"requests": {"storage": claim.size}},
        }
        storage_class = claim.storage_class or (spec.storage_class.name if spec.storage_class else None)
        if storage_class:
            claim_spec["storageClassName"] = storage_class
        templates.append({"metadata": {"name": claim.name, "labels": dict(selector)}, "spec": claim_spec})
    return templates


def _service_ports(spec: StatefulWorkloadArgs, only: list[str] | None = None) -> list[Manifest]:
    ports = [p for c in spec.all_containers() for p in c.ports if not only or p.name in only]
    return [{"name": p.name, "port": p.container_port, "targetPort": p.name, "protocol": p.protocol} for p in ports]


def render_storage_class(spec: StorageClassSpec, labels: dict[str, str]) -> Manifest:
    """A StorageClass (cluster-scoped: named by the spec, not prefixed by a workload)."""
    storage_class: Manifest = {
        "metadata": {"name": spec.name, "labels": dict(labels), "annotations": dict(DELETE_IN_BACKGROUND)},
        "provisioner": spec.provisioner,
        "parameters": dict(spec.parameters),
        "reclaimPolicy": spec.reclaim_policy,
        "volumeBindingMode": spec.volume_binding_mode,
        "allowVolumeExpansion": spec.allow_volume_expansion,
    }
    if spec.mount_options:
        storage_class["mountOptions"] = list(spec.mount_options)
    return storage_class


def render_workload(name: str, spec: StatefulWorkloadArgs) -> WorkloadManifests:
    """Render every object of a workload named `name` (already validated)."""
    names = WorkloadNames.of(name)
    selector = selector_labels(name, spec)
    labels = {**selector, "app.kubernetes.io/managed-by": "pulumi", **spec.labels}

    pod_annotations = dict(spec.pod_annotations)
    config_map = None
    if spec.config_files:
        pod_annotations[CONFIG_HASH_ANNOTATION] = config_hash(spec.config_files)
        config_map = {
            "metadata": _metadata(names.config_map, spec, labels, annotations=DELETE_IN_BACKGROUND),
            "data": dict(spec.config_files),
        }
    template_meta: Manifest = {"labels": dict(labels)}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations

    sts_spec: Manifest = {
        "serviceName": names.headless_service,
        "replicas": spec.replicas,
        "selector": {"matchLabels": dict(selector)},
        "podManagementPolicy": spec.pod_management_policy.value,
        "updateStrategy": _update_strategy(spec),
        "persistentVolumeClaimRetentionPolicy": {
            "whenDeleted": spec.pvc_retention.when_deleted,
            "whenScaled": spec.pvc_retention.when_scaled,
        },
        "minReadySeconds": spec.min_ready_seconds,
        "template": {"metadata": template_meta, "spec": render_pod_spec(spec, selector, names.config_map)},
    }
    claims = _volume_claim_templates(spec, selector)
    if claims:
        sts_spec["volumeClaimTemplates"] = claims
    stateful_set = {
        "metadata": _metadata(names.stateful_set, spec, labels, annotations=await_annotations(spec)),
        "spec": sts_spec,
    }

    # Services skip Pulumi's await: the StatefulSet await already waits for Ready pods, and a
    # Service of a 0-replica (or still-forming) ensemble would otherwise time out.
    skip_await = {SKIP_AWAIT_ANNOTATION: "true", **DELETE_IN_BACKGROUND}
    headless_service = {
        "metadata": _metadata(names.headless_service, spec, labels, annotations=skip_await),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": spec.publish_not_ready_addresses,
            "selector": dict(selector),
            "ports": _service_ports(spec),
        },
    }

    client_service = None
    if spec.client_service:
        options = spec.client_service if isinstance(spec.client_service, ClientService) else ClientService()
        client_service = {
            "metadata": _metadata(
                names.client_service, spec, labels, annotations={**options.annotations, **skip_await}
            ),
            "spec": {
                "type": options.type,
                "selector": dict(selector),
                "ports": _service_ports(spec, options.port_names),
            },
        }

    pdb = None
    budget = spec.effective_disruption_budget()
    if budget is not None:
        bound = (
            {"minAvailable": budget.min_available}
            if budget.min_available is not None
            else {"maxUnavailable": budget.max_unavailable}
        )
        pdb = {
            "metadata": _metadata(names.pdb, spec, labels, annotations=DELETE_IN_BACKGROUND),
            "spec": {"selector": {"matchLabels": dict(selector)}, **bound},
        }

    storage_class = None if spec.storage_class is None else render_storage_class(spec.storage_class, labels)

    return WorkloadManifests(
        names=names,
        stateful_set=stateful_set,
        headless_service=headless_service,
        client_service=client_service,
        pdb=pdb,
        storage_class=storage_class,
        config_map=config_map,
    )
