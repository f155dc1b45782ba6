"""Pure rendering of a validated StatefulWorkloadArgs into Kubernetes manifest dicts.

No Pulumi import: the namespace may be an Output and is placed in metadata untouched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from statefulkit.args.claims import StorageClassArgs
from statefulkit.args.container import ClientService
from statefulkit.args.options import WorkloadOptions
from statefulkit.args.rollout import OnDelete, RollingUpdate
from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render.monitoring import POD_MONITOR_API, render_pod_monitor
from statefulkit.render.network_policy import render_network_policy
from statefulkit.render.pod import Manifest, render_pod_spec

CONFIG_HASH_ANNOTATION = "statefulkit.io/config-hash"
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
# The provider deletes in the foreground by default: the object stays until the garbage collector
# has removed its dependents, which costs about a second per object on a busy collector (for a
# Service, its EndpointSlices). Only the StatefulSet keeps that, so its delete returns once the
# collector has removed its ControllerRevisions (and its claims, under whenDeleted: Delete); its
# pods are gone before (statefulkit.render.delete_plan).
DELETE_IN_BACKGROUND = {"pulumi.com/deletionPropagationPolicy": "background"}


@dataclass(frozen=True)
class WorkloadNames:
    """The explicit object names; stable DNS and PVC identity depend on them."""

    stateful_set: str
    headless_service: str
    client_service: str
    pdb: str
    config_map: str
    network_policy: str
    pod_monitor: str

    @classmethod
    def of(cls, name: str) -> WorkloadNames:
        return cls(
            stateful_set=name,
            headless_service=f"{name}-headless",
            client_service=name,
            pdb=name,
            config_map=f"{name}-config",
            network_policy=name,
            pod_monitor=name,
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
    network_policy: Manifest | None = None
    pod_monitor: Manifest | None = None


_API_KINDS = {
    "storage_class": ("storage.k8s.io/v1", "StorageClass"),
    "config_map": ("v1", "ConfigMap"),
    "headless_service": ("v1", "Service"),
    "client_service": ("v1", "Service"),
    "stateful_set": ("apps/v1", "StatefulSet"),
    "pdb": ("policy/v1", "PodDisruptionBudget"),
    "network_policy": ("networking.k8s.io/v1", "NetworkPolicy"),
    "pod_monitor": POD_MONITOR_API,
}


def kubernetes_objects(manifests: WorkloadManifests) -> list[Manifest]:
    """Complete API objects (with apiVersion and kind), in an order `kubectl apply` can create them."""
    objects = []
    for field, (api_version, kind) in _API_KINDS.items():
        manifest = getattr(manifests, field)
        if manifest is not None:
            objects.append({"apiVersion": api_version, "kind": kind, **manifest})
    return objects


def selector_labels(name: str, args: StatefulWorkloadArgs) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": args.app_name or name,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": args.component,
    }


def pod_dns_names(names: WorkloadNames, replicas: int, namespace: str, cluster_domain: str) -> list[str]:
    """`<sts>-<i>.<headless>.<ns>.svc.<domain>` for every ordinal."""
    return [
        f"{names.stateful_set}-{i}.{names.headless_service}.{namespace}.svc.{cluster_domain}" for i in range(replicas)
    ]


def script_identity(name: str, cluster_domain: str) -> dict[str, str]:
    """What an ensemble's scripts derive every member's name from, `<STS>-<i>.<HEADLESS>.<ns>.svc.
    <CLUSTER_DOMAIN>` (the namespace they read from the downward API)."""
    names = WorkloadNames.of(name)
    return {"STS": names.stateful_set, "HEADLESS": names.headless_service, "CLUSTER_DOMAIN": cluster_domain}


def config_hash(files: dict[str, str]) -> str:
    """Digest of the config files; a change rolls the pods, which otherwise keep stale config."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def _metadata(name: str, args: StatefulWorkloadArgs, labels: dict[str, str], **extra: Any) -> Manifest:
    meta: Manifest = {"name": name, "namespace": args.namespace, "labels": dict(labels)}
    annotations = {**args.annotations, **extra.pop("annotations", {})}
    if annotations:
        meta["annotations"] = annotations
    return meta


def ensemble_metadata(app_name: str, instance: str, object_name: str, options: WorkloadOptions) -> Manifest:
    """Metadata of an object an ensemble creates beside its workload (a Secret, a ConfigMap, a
    Certificate): its name, the ensemble's namespace and annotations, and its app labels."""
    labels = {
        "app.kubernetes.io/name": app_name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/managed-by": "pulumi",
        **options.labels,
    }
    annotations = {**options.annotations, **DELETE_IN_BACKGROUND}
    return {"name": object_name, "namespace": options.namespace, "labels": labels, "annotations": annotations}


def _update_strategy(args: StatefulWorkloadArgs) -> Manifest:
    strategy = args.update_strategy
    if isinstance(strategy, OnDelete):
        return {"type": "OnDelete"}
    rolling: Manifest = {"partition": strategy.partition}
    if strategy.max_unavailable is not None:
        rolling["maxUnavailable"] = strategy.max_unavailable
    return {"type": "RollingUpdate", "rollingUpdate": rolling}


def await_annotations(args: StatefulWorkloadArgs) -> dict[str, str]:
    """Tell pulumi-kubernetes what "done" means when a rollout is held back on purpose.

    Its default StatefulSet await waits for currentRevision == updateRevision, which a
    partition > 0 (or OnDelete) never reaches; `pulumi up` would hang to its timeout.
    Waiting for every replica to be Ready is the strongest condition that does hold.
    """
    strategy = args.update_strategy
    held_back = isinstance(strategy, OnDelete) or (isinstance(strategy, RollingUpdate) and strategy.partition > 0)
    if not held_back or args.replicas == 0:
        return {}
    return {WAIT_FOR_ANNOTATION: f"jsonpath={{.status.readyReplicas}}={args.replicas}"}


def _volume_claim_templates(args: StatefulWorkloadArgs, selector: dict[str, str]) -> list[Manifest]:
    templates = []
    for claim in args.volume_claims:
        claim_spec: Manifest = {
            "accessModes": list(claim.access_modes),
            "resources": {"requests": {"storage": claim.size}},
        }
        created = args.create_storage_class.name if args.create_storage_class else None
        storage_class = claim.storage_class_name or args.storage_class_name or created
        if storage_class:
            claim_spec["storageClassName"] = storage_class
        templates.append({"metadata": {"name": claim.name, "labels": dict(selector)}, "spec": claim_spec})
    return templates


def _service_ports(args: StatefulWorkloadArgs, only: list[str] | None = None) -> list[Manifest]:
    ports = [p for c in args.all_containers() for p in c.ports if not only or p.name in only]
    return [{"name": p.name, "port": p.container_port, "targetPort": p.name, "protocol": p.protocol} for p in ports]


def render_storage_class(args: StorageClassArgs, labels: dict[str, str]) -> Manifest:
    """A StorageClass (cluster-scoped: named by the spec, not prefixed by a workload)."""
    storage_class: Manifest = {
        "metadata": {"name": args.name, "labels": dict(labels), "annotations": dict(DELETE_IN_BACKGROUND)},
        "provisioner": args.provisioner,
        "parameters": dict(args.parameters),
        "reclaimPolicy": args.reclaim_policy,
        "volumeBindingMode": args.volume_binding_mode,
        "allowVolumeExpansion": args.allow_volume_expansion,
    }
    if args.mount_options:
        storage_class["mountOptions"] = list(args.mount_options)
    return storage_class


@dataclass(frozen=True)
class _Workload:
    """What every object of one workload is rendered from."""

    args: StatefulWorkloadArgs
    names: WorkloadNames
    selector: dict[str, str]
    labels: dict[str, str]  # the selector's, managed-by and the user's

    def metadata(self, name: str, annotations: dict[str, str], labels: dict[str, str] | None = None) -> Manifest:
        return _metadata(name, self.args, self.labels if labels is None else labels, annotations=annotations)


def render_workload(name: str, args: StatefulWorkloadArgs) -> WorkloadManifests:
    """Render every object of a workload named `name` (already validated)."""
    selector = selector_labels(name, args)
    w = _Workload(
        args, WorkloadNames.of(name), selector, {**selector, "app.kubernetes.io/managed-by": "pulumi", **args.labels}
    )
    created = args.create_storage_class
    return WorkloadManifests(
        names=w.names,
        stateful_set=_stateful_set(w),
        headless_service=_headless_service(w),
        client_service=_client_service(w),
        pdb=_pdb(w),
        storage_class=None if created is None else render_storage_class(created, w.labels),
        config_map=_config_map(w),
        network_policy=_network_policy(w),
        pod_monitor=_pod_monitor(w),
    )


def _config_map(w: _Workload) -> Manifest | None:
    if not w.args.config_files:
        return None
    return {"metadata": w.metadata(w.names.config_map, DELETE_IN_BACKGROUND), "data": dict(w.args.config_files)}


def _stateful_set(w: _Workload) -> Manifest:
    args = w.args
    pod_annotations = dict(args.pod_annotations)
    if args.config_files:
        # A change of the config files rolls the pods, which otherwise keep stale config.
        pod_annotations[CONFIG_HASH_ANNOTATION] = config_hash(args.config_files)
    template_meta: Manifest = {"labels": dict(w.labels)}
    if pod_annotations:
        template_meta["annotations"] = pod_annotations
    spec: Manifest = {
        "serviceName": w.names.headless_service,
        "replicas": args.replicas,
        "selector": {"matchLabels": dict(w.selector)},
        "podManagementPolicy": args.pod_management_policy.value,
        "updateStrategy": _update_strategy(args),
        "persistentVolumeClaimRetentionPolicy": {
            "whenDeleted": args.pvc_retention.when_deleted,
            "whenScaled": args.pvc_retention.when_scaled,
        },
        "minReadySeconds": args.min_ready_seconds,
        "template": {"metadata": template_meta, "spec": render_pod_spec(args, w.selector, w.names.config_map)},
    }
    claims = _volume_claim_templates(args, w.selector)
    if claims:
        spec["volumeClaimTemplates"] = claims
    return {"metadata": w.metadata(w.names.stateful_set, await_annotations(args)), "spec": spec}


# Services skip Pulumi's await: the StatefulSet await already waits for Ready pods, and a Service
# of a 0-replica (or still-forming) ensemble would otherwise time out.
SERVICE_ANNOTATIONS = {SKIP_AWAIT_ANNOTATION: "true", **DELETE_IN_BACKGROUND}


def _headless_service(w: _Workload) -> Manifest:
    return {
        "metadata": w.metadata(w.names.headless_service, SERVICE_ANNOTATIONS),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": w.args.publish_not_ready_addresses,
            "selector": dict(w.selector),
            "ports": _service_ports(w.args),
        },
    }


def _client_service(w: _Workload) -> Manifest | None:
    if not w.args.client_service:
        return None
    options = w.args.client_service if isinstance(w.args.client_service, ClientService) else ClientService()
    return {
        "metadata": w.metadata(w.names.client_service, {**options.annotations, **SERVICE_ANNOTATIONS}),
        "spec": {
            "type": options.type,
            "selector": dict(w.selector),
            "ports": _service_ports(w.args, options.port_names),
        },
    }


def _pdb(w: _Workload) -> Manifest | None:
    budget = w.args.effective_disruption_budget()
    if budget is None:
        return None
    bound = (
        {"minAvailable": budget.min_available}
        if budget.min_available is not None
        else {"maxUnavailable": budget.max_unavailable}
    )
    return {
        "metadata": w.metadata(w.names.pdb, DELETE_IN_BACKGROUND),
        "spec": {"selector": {"matchLabels": dict(w.selector)}, **bound},
    }


def _network_policy(w: _Workload) -> Manifest | None:
    spec = render_network_policy(w.args, w.selector)
    if spec is None:
        return None
    return {"metadata": w.metadata(w.names.network_policy, DELETE_IN_BACKGROUND), "spec": spec}


def _pod_monitor(w: _Workload) -> Manifest | None:
    spec = render_pod_monitor(w.args, w.selector)
    if spec is None:
        return None
    assert w.args.pod_monitor is not None
    labels = {**w.labels, **w.args.pod_monitor.labels}
    return {"metadata": w.metadata(w.names.pod_monitor, DELETE_IN_BACKGROUND, labels), "spec": spec}
