"""Typed parts of a workload: update strategy, claims, StorageClass, budget, probes, containers.

Each mirrors a piece of a Kubernetes object, with its default and its rules; the Args models
(components/statefulkit/args/workload.py, zookeeper.py, redis.py) are made of them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

import pulumi
from pydantic import BeforeValidator, Field, PlainValidator, model_validator

from statefulkit.args.common import (
    AbsolutePath,
    DnsLabel,
    DnsSubdomain,
    IntOrPercent,
    LabelKey,
    PortName,
    PortNumber,
    Quantity,
    StorageSize,
    StrictModel,
    is_output_like,
    parse_quantity,
)
from statefulkit.args.extensions import VolumeMount

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


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

    renamed_fields: ClassVar[dict[str, str]] = {"storage_class": "storage_class_name"}

    name: DnsLabel = Field(description="Template name; the PVC of pod i is `<name>-<sts>-<i>`. Required.")
    size: StorageSize = Field(description="Requested storage, a Kubernetes quantity such as '10Gi'. Required.")
    mount_path: AbsolutePath = Field(description="Where every container mounts the volume. Required.")
    access_modes: list[AccessMode] = Field(
        default_factory=lambda: list[AccessMode](["ReadWriteOnce"]),
        min_length=1,
        description="Default ['ReadWriteOnce'].",
    )
    storage_class_name: DnsSubdomain | None = Field(
        None,
        description="StorageClass of this claim. Default: the workload's storage_class_name, else the created "
        "class, else the cluster default.",
    )


class StorageClassArgs(StrictModel):
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
    reachable_by: Literal["clients", "peers", "metrics", "pod"] = Field(
        "clients",
        description="Who the NetworkPolicy lets in: clients (and the members), only the members (peers), "
        "the metrics sources, or nobody from outside the pod. Default clients.",
    )


def _from_mapping(value_field: str) -> BeforeValidator:
    """Stack config is friendlier as {name: value}; the list form keeps full control."""

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return [{"name": k, value_field: v} for k, v in value.items()]
        return value

    return BeforeValidator(convert)


Ports = Annotated[list[ContainerPort], _from_mapping("container_port")]


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


EnvList = Annotated[list[EnvVar], _from_mapping("value")]


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
    """A sidecar (a second process in every pod; Redis runs Sentinel this way) or an init container."""

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
    pre_stop: list[str] | None = Field(
        None,
        min_length=1,
        description="Command run in the container before it is stopped (its time counts against the grace "
        "period). Default unset.",
    )
    volume_mounts: list[VolumeMount] = Field(
        default_factory=list, description="Mounts of extra volumes, beyond the claims and config. Default []."
    )


class ClientService(StrictModel):
    """A ClusterIP (or other) Service named like the workload, for clients that want any member."""

    port_names: list[PortName] = Field(default_factory=list, description="Ports to expose. Default []: all.")
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field("ClusterIP", description="Default ClusterIP.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Default {}.")
