"""Typed inputs of StatefulWorkload: every option, its default and its rules."""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from typing import Annotated, Any, Literal

import pulumi
from pydantic import BeforeValidator, Field, PlainValidator, field_validator, model_validator

from components.spec.common import (
    AbsolutePath,
    DnsLabel,
    DnsSubdomain,
    IntOrPercent,
    LabelKey,
    LabelValue,
    PortName,
    PortNumber,
    Quantity,
    StorageSize,
    StrictModel,
    WorkloadName,
    blocks_every_disruption,
    is_output_like,
    parse_quantity,
)

# Labels that select the pods; user labels may not override them.
SELECTOR_KEYS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _name_input(value: Any) -> Any:
    """A namespace or object name: a DNS-1123 label, or a Pulumi Output resolved at deploy time."""
    if is_output_like(value):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is neither a string nor a Pulumi Output[str]")
    if len(value) > 63 or not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", value):
        raise ValueError(f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63)")
    return value


# str, or an Output[str] from another resource (a Namespace's metadata.name, a Secret's name).
NameInput = Annotated[str | pulumi.Output[str], PlainValidator(_name_input)]


class PodManagementPolicy(StrEnum):
    """How the StatefulSet controller creates and removes pods when scaling (not when updating)."""

    ORDERED_READY = "OrderedReady"
    PARALLEL = "Parallel"


class RollingUpdate(StrictModel):
    """Replace pods from the highest ordinal down; only ordinals >= partition are updated."""

    type: Literal["RollingUpdate"] = "RollingUpdate"
    partition: int = Field(0, ge=0, description="Ordinals below this keep the old revision. Default 0.")
    max_unavailable: IntOrPercent | None = Field(
        None,
        description="Pods down at once in an update (MaxUnavailableStatefulSet feature). Default unset (1).",
    )

    @model_validator(mode="after")
    def _max_unavailable_positive(self) -> RollingUpdate:
        if self.max_unavailable in (0, "0%"):
            raise ValueError(
                f"max_unavailable={self.max_unavailable!r}: must be at least 1 (or a percentage above 0%), "
                "otherwise the rollout can never proceed"
            )
        return self


class OnDelete(StrictModel):
    """Update a pod only when someone deletes it."""

    type: Literal["OnDelete"] = "OnDelete"

    @model_validator(mode="before")
    @classmethod
    def _reject_rolling_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("max_unavailable", "partition"):
                if key in data:
                    raise ValueError(
                        f"{key}={data[key]!r} does not apply to OnDelete (pods change only when deleted); "
                        f"use RollingUpdate({key}=...)"
                    )
        return data


UpdateStrategy = Annotated[RollingUpdate | OnDelete, Field(discriminator="type")]


AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]


class VolumeClaim(StrictModel):
    """One volumeClaimTemplate: a PVC per pod, named `<name>-<statefulset>-<ordinal>`."""

    name: DnsLabel = Field(description="Template name; the PVC of pod i is `<name>-<sts>-<i>`. Required.")
    size: StorageSize = Field(description="Requested storage, a Kubernetes quantity such as '10Gi'. Required.")
    mount_path: AbsolutePath = Field(description="Where every container mounts the volume. Required.")
    access_modes: list[AccessMode] = Field(
        default_factory=lambda: list[AccessMode](["ReadWriteOnce"]),
        min_length=1,
        description="Default ['ReadWriteOnce'].",
    )
    storage_class: DnsSubdomain | None = Field(
        None, description="StorageClass name. Default: the created StorageClass if any, else the cluster default."
    )


class StorageClassSpec(StrictModel):
    """A StorageClass created with the workload. Its provisioner and parameters are immutable."""

    name: DnsSubdomain = Field(description="Cluster-wide StorageClass name. Required.")
    provisioner: str = Field(min_length=1, description="CSI driver or in-tree provisioner. Required.")
    parameters: dict[str, str] = Field(default_factory=dict, description="Provisioner parameters. Default {}.")
    reclaim_policy: Literal["Retain", "Delete"] = Field("Retain", description="Default Retain: data outlives the PVC.")
    volume_binding_mode: Literal["WaitForFirstConsumer", "Immediate"] = Field(
        "WaitForFirstConsumer", description="Default WaitForFirstConsumer: the volume follows the pod's zone."
    )
    allow_volume_expansion: bool = Field(True, description="Default true: PVCs can grow in place.")
    mount_options: list[str] = Field(default_factory=list, description="Default [].")


class DisruptionBudget(StrictModel):
    """PodDisruptionBudget bounds: exactly one of min_available / max_unavailable."""

    min_available: IntOrPercent | None = Field(None, description="Pods that must stay up. Default unset.")
    max_unavailable: IntOrPercent | None = Field(None, description="Pods that may be evicted at once. Default unset.")
    allow_blocking: bool = Field(
        False, description="Accept a budget that forbids every eviction (it blocks node drains). Default false."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DisruptionBudget:
        if (self.min_available is None) == (self.max_unavailable is None):
            raise ValueError(
                f"min_available={self.min_available!r}, max_unavailable={self.max_unavailable!r}: "
                "set exactly one of them"
            )
        return self


class PvcRetentionPolicy(StrictModel):
    """What happens to the PVCs when the StatefulSet is deleted or scaled down."""

    when_deleted: Literal["Retain", "Delete"] = Field("Retain", description="Default Retain.")
    when_scaled: Literal["Retain", "Delete"] = Field("Retain", description="Default Retain.")


class AntiAffinity(StrictModel):
    """Spread pods across topology domains; the term selects exactly the workload's own pods."""

    mode: Literal["preferred", "required", "none"] = Field("preferred", description="Default preferred.")
    topology_key: LabelKey = Field("kubernetes.io/hostname", description="Default kubernetes.io/hostname.")
    weight: int = Field(100, ge=1, le=100, description="Weight of the preferred term. Default 100.")


class ContainerPort(StrictModel):
    name: PortName = Field(description="IANA_SVC_NAME, at most 15 characters. Required.")
    container_port: PortNumber = Field(description="Port the process listens on. Required.")
    protocol: Literal["TCP", "UDP", "SCTP"] = Field("TCP", description="Default TCP.")


def _ports_from_mapping(value: Any) -> Any:
    # Stack config is friendlier as {name: port}; keep the list form for full control.
    if isinstance(value, dict):
        return [{"name": k, "container_port": v} for k, v in value.items()]
    return value


Ports = Annotated[list[ContainerPort], BeforeValidator(_ports_from_mapping)]


class KeyRef(StrictModel):
    name: NameInput = Field(description="Secret or ConfigMap name (str or Output[str]). Required.")
    key: str = Field(min_length=1, description="Key inside it. Required.")


class EnvVar(StrictModel):
    """An environment variable: exactly one of value, secret_key_ref, config_map_key_ref, field_path."""

    name: str = Field(pattern=_ENV_NAME.pattern, description="Variable name. Required.")
    value: str | None = None
    secret_key_ref: KeyRef | None = None
    config_map_key_ref: KeyRef | None = None
    field_path: str | None = Field(None, description="Downward API field, e.g. metadata.name.")

    @model_validator(mode="after")
    def _one_source(self) -> EnvVar:
        sources = [self.value, self.secret_key_ref, self.config_map_key_ref, self.field_path]
        if sum(s is not None for s in sources) != 1:
            raise ValueError(
                f"env {self.name!r}: set exactly one of value, secret_key_ref, config_map_key_ref, field_path"
            )
        return self


def _env_from_mapping(value: Any) -> Any:
    if isinstance(value, dict):
        return [{"name": k, "value": v} for k, v in value.items()]
    return value


EnvList = Annotated[list[EnvVar], BeforeValidator(_env_from_mapping)]


class HttpGet(StrictModel):
    path: str = Field("/", description="Default '/'.")
    port: PortNumber | PortName = Field(description="Port number or declared port name. Required.")
    scheme: Literal["HTTP", "HTTPS"] = Field("HTTP", description="Default HTTP.")


class Probe(StrictModel):
    """A probe with exactly one handler: exec_command, tcp_port or http_get."""

    exec_command: list[str] | None = Field(None, min_length=1, description="Command run in the container.")
    tcp_port: PortNumber | PortName | None = Field(None, description="Port number or declared port name.")
    http_get: HttpGet | None = None
    initial_delay_seconds: int = Field(0, ge=0, description="Default 0.")
    period_seconds: int = Field(10, ge=1, description="Default 10.")
    timeout_seconds: int = Field(1, ge=1, description="Default 1.")
    failure_threshold: int = Field(3, ge=1, description="Default 3.")
    success_threshold: int = Field(1, ge=1, description="Default 1 (must be 1 for liveness and startup).")

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        handlers = [self.exec_command, self.tcp_port, self.http_get]
        if sum(h is not None for h in handlers) != 1:
            raise ValueError("set exactly one of exec_command, tcp_port, http_get")
        return self

    def port_reference(self) -> int | str | None:
        if self.tcp_port is not None:
            return self.tcp_port
        return self.http_get.port if self.http_get is not None else None


class Resources(StrictModel):
    requests: dict[str, Quantity] = Field(default_factory=dict, description="Default {}.")
    limits: dict[str, Quantity] = Field(default_factory=dict, description="Default {}.")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for key, request in self.requests.items():
            limit = self.limits.get(key)
            if limit is not None and parse_quantity(request) > parse_quantity(limit):
                raise ValueError(
                    f"requests.{key}={request!r} exceeds limits.{key}={limit!r}; a request must fit its limit"
                )
        return self


class Toleration(StrictModel):
    key: str | None = None
    operator: Literal["Exists", "Equal"] = Field("Equal", description="Default Equal.")
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(None, ge=0)


class Container(StrictModel):
    """A sidecar: a second process in every pod (Redis runs Sentinel this way)."""

    name: DnsLabel = Field(description="Container name. Required.")
    image: str | None = Field(None, min_length=1, description="Default: the workload's image.")
    command: list[str] = Field(default_factory=list, description="Default []: the image's entrypoint.")
    args: list[str] = Field(default_factory=list, description="Default [].")
    env: EnvList = Field(default_factory=list, description="Default [].")
    ports: Ports = Field(default_factory=list, description="Default [].")
    resources: Resources | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None


class ClientService(StrictModel):
    """A ClusterIP (or other) Service named like the workload, for clients that want any member."""

    port_names: list[PortName] = Field(default_factory=list, description="Ports to expose. Default []: all.")
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field("ClusterIP", description="Default ClusterIP.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Default {}.")


class PodOptions(StrictModel):
    """Metadata, scheduling and pod identity options every ensemble passes straight to its pods
    and objects (RedisArgs overrides the UID/GID defaults with its image's)."""

    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="Added to every object. Default {}.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Added to every object. Default {}.")
    pod_annotations: dict[str, str] = Field(default_factory=dict, description="Added to the pods. Default {}.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Default {}.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Default [].")
    priority_class_name: str | None = Field(None, description="Default unset.")
    cluster_domain: DnsSubdomain = Field("cluster.local", description="Cluster DNS domain. Default cluster.local.")
    run_as_user: int = Field(1000, ge=1, description="Non-root UID (restricted PSS). Default 1000.")
    run_as_group: int = Field(1000, ge=0, description="Default 1000.")
    fs_group: int = Field(1000, ge=0, description="Group owning the volumes. Default 1000.")

    @field_validator("labels")
    @classmethod
    def _labels_not_selector(cls, value: dict[str, str]) -> dict[str, str]:
        clash = [key for key in value if key in SELECTOR_KEYS]
        if clash:
            raise ValueError(
                f"labels: {clash} are selector labels, set from the name (and app_name/component); "
                "they cannot be set here"
            )
        return value

    def pod_options(self) -> dict[str, Any]:
        """These options as keyword arguments of StatefulWorkloadArgs."""
        return {field: getattr(self, field) for field in PodOptions.model_fields}


class StatefulWorkloadArgs(PodOptions):
    """Everything a StatefulWorkload renders from. Defaults are the safe ones from DESIGN.md."""

    namespace: NameInput = Field("default", description="str or Output[str]. Default 'default'.")
    replicas: int = Field(1, ge=0, description="Pod count. Default 1.")
    image: str = Field(min_length=1, pattern=r"^\S+$", description="Container image. Required.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(None, description="Default unset.")
    container_name: DnsLabel = Field("main", description="Name of the main container. Default 'main'.")
    ports: Ports = Field(default_factory=list, description="Main container ports, list or {name: port}. Default [].")
    command: list[str] = Field(default_factory=list, description="Default []: the image's entrypoint.")
    args: list[str] = Field(default_factory=list, description="Default [].")
    env: EnvList = Field(default_factory=list, description="List of EnvVar or {name: value}. Default [].")
    volume_claims: list[VolumeClaim] = Field(default_factory=list, description="Default [] (no PVCs).")
    storage_class: StorageClassSpec | None = Field(None, description="Default None: no StorageClass is created.")
    pod_management_policy: PodManagementPolicy = Field(
        PodManagementPolicy.ORDERED_READY, description="Default OrderedReady."
    )
    update_strategy: UpdateStrategy = Field(
        default_factory=RollingUpdate, description="Default RollingUpdate(partition=0)."
    )
    disruption_budget: DisruptionBudget | Literal["auto"] | None = Field(
        "auto", description="Default 'auto': maxUnavailable 1 when replicas >= 2, no PDB below. None: no PDB."
    )
    pvc_retention: PvcRetentionPolicy = Field(default_factory=PvcRetentionPolicy, description="Default Retain/Retain.")
    anti_affinity: AntiAffinity = Field(default_factory=AntiAffinity, description="Default preferred per hostname.")
    resources: Resources | None = Field(None, description="Main container resources. Default unset.")
    readiness_probe: Probe | None = Field(None, description="Default unset.")
    liveness_probe: Probe | None = Field(None, description="Default unset.")
    startup_probe: Probe | None = Field(None, description="Default unset.")
    sidecars: list[Container] = Field(default_factory=list, description="Extra containers per pod. Default [].")
    config_files: dict[str, str] = Field(
        default_factory=dict, description="Files rendered into the `<name>-config` ConfigMap. Default {}."
    )
    config_mount_path: AbsolutePath = Field("/config", description="Where config_files are mounted. Default /config.")
    config_file_mode: int = Field(0o555, ge=0, le=0o777, description="File mode of config_files. Default 0o555.")
    app_name: DnsLabel | None = Field(None, description="app.kubernetes.io/name. Default: the workload name.")
    component: LabelValue = Field("server", description="app.kubernetes.io/component. Default 'server'.")
    publish_not_ready_addresses: bool = Field(False, description="Headless DNS lists unready pods. Default false.")
    client_service: bool | ClientService = Field(False, description="True or ClientService(...). Default false.")
    termination_grace_period_seconds: int = Field(30, ge=0, description="Default 30.")
    min_ready_seconds: int = Field(0, ge=0, description="Default 0.")
    read_only_root_filesystem: bool = Field(False, description="Default false.")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> StatefulWorkloadArgs:
        _check_update_strategy(self)
        _check_disruption_budget(self)
        _check_mounts(self)
        _check_containers(self)
        return self

    def all_containers(self) -> list[Container]:
        """The main container as a Container, then the sidecars."""
        # Already validated as part of this model: construct without validating again.
        main = Container.model_construct(
            name=self.container_name,
            image=self.image,
            command=self.command,
            args=self.args,
            env=self.env,
            ports=self.ports,
            resources=self.resources,
            readiness_probe=self.readiness_probe,
            liveness_probe=self.liveness_probe,
            startup_probe=self.startup_probe,
        )
        return [main, *self.sidecars]

    def effective_disruption_budget(self) -> DisruptionBudget | None:
        if self.disruption_budget == "auto":
            return DisruptionBudget(max_unavailable=1) if self.replicas >= 2 else None
        return self.disruption_budget


def _check_update_strategy(spec: StatefulWorkloadArgs) -> None:
    check_partition(spec.update_strategy, spec.replicas)


def check_partition(strategy: RollingUpdate | OnDelete, replicas: int) -> None:
    if isinstance(strategy, RollingUpdate) and strategy.partition > replicas:
        raise ValueError(
            f"update_strategy.partition={strategy.partition} is greater than replicas={replicas}; "
            "a partition must be between 0 and replicas"
        )


def _check_disruption_budget(spec: StatefulWorkloadArgs) -> None:
    if isinstance(spec.disruption_budget, DisruptionBudget):
        check_not_blocking(spec.disruption_budget, spec.replicas)


def check_not_blocking(budget: DisruptionBudget, replicas: int) -> None:
    """Refuse a budget that never allows an eviction (node drains would hang), unless forced."""
    if budget.allow_blocking or not blocks_every_disruption(replicas, budget.min_available, budget.max_unavailable):
        return
    field, value = (
        ("min_available", budget.min_available)
        if budget.min_available is not None
        else ("max_unavailable", budget.max_unavailable)
    )
    raise ValueError(
        f"disruption_budget.{field}={value!r} with replicas={replicas} never allows an eviction, "
        "so node drains would hang; relax it or set allow_blocking=True"
    )


def _duplicates(values: list[Any]) -> list[Any]:
    return [value for value, count in Counter(values).items() if count > 1]


def _check_mounts(spec: StatefulWorkloadArgs) -> None:
    names = _duplicates([claim.name for claim in spec.volume_claims])
    if names:
        raise ValueError(f"volume_claims: duplicate claim name(s) {names}; each claim name must be unique")
    paths = [claim.mount_path for claim in spec.volume_claims]
    if spec.config_files:
        paths.append(spec.config_mount_path)
    dup_paths = _duplicates(paths)
    if dup_paths:
        raise ValueError(
            f"volume_claims/config_mount_path: duplicate mount path(s) {dup_paths}; each volume needs its own path"
        )
    bad_keys = [key for key in spec.config_files if not _CONFIG_KEY.match(key) or len(key) > 253]
    if bad_keys:
        raise ValueError(f"config_files: key(s) {bad_keys} are not valid ConfigMap keys ([-._a-zA-Z0-9]+)")


def _check_containers(spec: StatefulWorkloadArgs) -> None:
    containers = spec.all_containers()
    dup_containers = _duplicates([c.name for c in containers])
    if dup_containers:
        raise ValueError(
            f"sidecars: duplicate container name(s) {dup_containers} (the main one is {spec.container_name!r})"
        )
    ports = [p for c in containers for p in c.ports]
    dup_names = _duplicates([p.name for p in ports])
    if dup_names:
        raise ValueError(f"ports: duplicate port name(s) {dup_names}; port names must be unique in a pod")
    dup_numbers = _duplicates([(p.container_port, p.protocol) for p in ports])
    if dup_numbers:
        raise ValueError(f"ports: port number(s) {dup_numbers} declared twice in one pod")
    port_names = {p.name for p in ports}
    for container in containers:
        dup_env = _duplicates([e.name for e in container.env])
        if dup_env:
            raise ValueError(f"env of container {container.name!r}: duplicate variable(s) {dup_env}")
        for kind in ("readiness_probe", "liveness_probe", "startup_probe"):
            probe: Probe | None = getattr(container, kind)
            if probe is None:
                continue
            ref = probe.port_reference()
            if isinstance(ref, str) and ref not in port_names:
                raise ValueError(f"{kind} of container {container.name!r}: port {ref!r} is not a declared port name")
            if kind != "readiness_probe" and probe.success_threshold != 1:
                raise ValueError(f"{kind}.success_threshold={probe.success_threshold}: must be 1 for {kind}")
    if isinstance(spec.client_service, ClientService):
        unknown = [name for name in spec.client_service.port_names if name not in port_names]
        if unknown:
            raise ValueError(f"client_service.port_names: {unknown} are not declared ports ({sorted(port_names)})")
    if spec.client_service and not ports:
        raise ValueError("client_service: the workload declares no ports, so a client Service would route nowhere")


class WorkloadNameModel(StrictModel):
    """Validates a component's resource name, which prefixes every Kubernetes object it creates."""

    name: WorkloadName = Field(description="Resource and StatefulSet name: DNS-1035, at most 52 characters.")


def validate_name(name: str) -> str:
    """Return `name` if it can name a StatefulSet and its headless Service, else raise ValidationError."""
    return WorkloadNameModel(name=name).name
