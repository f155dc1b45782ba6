"""A workload's storage: its volume claims, their retention, and a StorageClass to create."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from statefulkit.args.common import (
    AbsolutePath,
    DnsLabel,
    DnsSubdomain,
    StorageSize,
    StrictModel,
)

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


class PvcRetentionPolicy(StrictModel):
    """What happens to the PVCs when the StatefulSet is deleted or scaled down."""

    when_deleted: Literal["Retain", "Delete"] = Field("Retain", description="Default Retain.")
    when_scaled: Literal["Retain", "Delete"] = Field("Retain", description="Default Retain.")
