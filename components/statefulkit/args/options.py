"""What every workload and ensemble shares: where and how its StatefulSet runs, and the rules of it.

StatefulWorkloadArgs and every ensemble's Args (through EnsembleOptions, args/ensemble.py) derive
from WorkloadOptions; an ensemble hands these fields to its StatefulWorkload unchanged
(`workload_options()`), and each rule about them is written here once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from statefulkit.args.claims import PvcRetentionPolicy, StorageClassArgs
from statefulkit.args.common import (
    DnsSubdomain,
    LabelKey,
    LabelValue,
    NameInput,
    at_least,
    blocks_every_disruption,
)
from statefulkit.args.container import Container
from statefulkit.args.extensions import PodExtensions
from statefulkit.args.placement import AntiAffinity, Toleration
from statefulkit.args.rollout import DisruptionBudget, OnDelete, RollingUpdate, UpdateStrategy

# Labels that select the pods; user labels may not override them.
SELECTOR_KEYS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")


class WorkloadOptions(PodExtensions):
    """Placement, identity, rollout, disruption and storage options of a StatefulSet and its pods.

    Subclasses may change a default (an ensemble's image, its replica count, Redis's UID), never
    a meaning."""

    namespace: NameInput = Field("default", description="str or Output[str]. Default 'default'.")
    replicas: Annotated[int, at_least("replicas", 0)] = Field(1, description="Pod count. Default 1.")
    image: str = Field(min_length=1, pattern=r"^\S+$", description="Container image. Required.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(None, description="Default unset.")
    update_strategy: UpdateStrategy = Field(
        default_factory=RollingUpdate,
        description="Default RollingUpdate(partition=0): one pod at a time, highest ordinal first; raise the "
        "partition for a canary.",
    )
    disruption_budget: DisruptionBudget | Literal["auto"] | None = Field(
        "auto", description="Default 'auto': maxUnavailable 1 when replicas >= 2, no PDB below. None: no PDB."
    )
    pvc_retention: PvcRetentionPolicy = Field(default_factory=PvcRetentionPolicy, description="Default Retain/Retain.")
    anti_affinity: AntiAffinity = Field(default_factory=AntiAffinity, description="Default preferred per hostname.")
    termination_grace_period_seconds: Annotated[int, at_least("termination_grace_period_seconds", 0)] = Field(
        30, description="Seconds a pod gets to stop (a Redis master hands over to a replica first). Default 30."
    )
    storage_class_name: DnsSubdomain | None = Field(
        None,
        description="Existing StorageClass of the claims. Default: the created one (create_storage_class), "
        "else the cluster default.",
    )
    create_storage_class: StorageClassArgs | None = Field(
        None, description="A StorageClass to create (and use for the claims). Default None: none is created."
    )
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="Added to every object. Default {}.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Added to every object. Default {}.")
    pod_annotations: dict[str, str] = Field(default_factory=dict, description="Added to the pods. Default {}.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Default {}.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Default [].")
    priority_class_name: str | None = Field(None, description="Default unset.")
    delete_hook: bool = Field(
        True,
        description="Default true: every delete of the StatefulSet passes through statefulkit's before-delete "
        "hook (pods drained one at a time before a destroy; a larger storage size grows the claims in place, "
        "no pod restarts); a destroy must then run the program (`pulumi destroy --run-program`). False, for "
        "environments that cannot run the program on destroy: no delete hook, so a plain `pulumi destroy` "
        "works, but a destroy stops every pod at once and a larger storage size replaces the StatefulSet "
        "(every pod restarts at once; the claims are grown once it is created again).",
    )
    cluster_domain: DnsSubdomain = Field("cluster.local", description="Cluster DNS domain. Default cluster.local.")
    run_as_user: Annotated[int, at_least("run_as_user", 1)] = Field(
        1000, description="Non-root UID (restricted PSS). Default 1000."
    )
    run_as_group: Annotated[int, at_least("run_as_group", 0)] = Field(1000, description="Default 1000.")
    fs_group: Annotated[int, at_least("fs_group", 0)] = Field(
        1000, description="Group owning the volumes. Default 1000."
    )
    sidecars: list[Container] = Field(default_factory=list, description="Extra containers per pod. Default [].")
    init_containers: list[Container] = Field(
        default_factory=list,
        description="Run to completion, in order, before the pod's containers start; no probes, ports or "
        "pre_stop. Default [].",
    )

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

    @model_validator(mode="after")
    def _shared_rules(self) -> WorkloadOptions:
        check_partition(self.update_strategy, self.replicas)
        check_added_containers(self)
        if isinstance(self.disruption_budget, DisruptionBudget):
            check_not_blocking(self.disruption_budget, self.replicas)
        created = self.create_storage_class
        if created is not None and self.storage_class_name not in (None, created.name):
            raise ValueError(
                f"storage_class_name={self.storage_class_name!r} differs from the created "
                f"create_storage_class.name={created.name!r}; the created class would go unused. Set one of them"
            )
        return self

    def workload_options(self) -> dict[str, Any]:
        """These options as keyword arguments of StatefulWorkloadArgs."""
        return {field: getattr(self, field) for field in WorkloadOptions.model_fields}

    def effective_disruption_budget(self) -> DisruptionBudget | None:
        if self.disruption_budget == "auto":
            return DisruptionBudget(max_unavailable=1) if self.replicas >= 2 else None
        return self.disruption_budget


def check_added_containers(options: WorkloadOptions) -> None:
    """Init containers run to completion: nothing may probe, reach or stop them. Every container's
    own mounts name an extra volume."""
    for container in options.init_containers:
        kept = [f for f in ("readiness_probe", "liveness_probe", "startup_probe", "pre_stop") if getattr(container, f)]
        if kept or container.ports:
            raise ValueError(
                f"init_containers: {container.name!r} sets {kept + ['ports'] * bool(container.ports)}; an init "
                "container runs to completion before the others start, so it takes no probes, ports or pre_stop"
            )
    volumes = [v.name for v in options.extra_volumes]
    for container in [*options.sidecars, *options.init_containers]:
        unknown = [m.name for m in container.volume_mounts if m.name not in volumes]
        if unknown:
            raise ValueError(
                f"volume_mounts of container {container.name!r}: {unknown} name no volume of extra_volumes ({volumes})"
            )


def check_partition(strategy: RollingUpdate | OnDelete, replicas: int) -> None:
    if isinstance(strategy, RollingUpdate) and strategy.partition > replicas:
        raise ValueError(
            f"update_strategy.partition={strategy.partition} is greater than replicas={replicas}; "
            "a partition must be between 0 and replicas"
        )


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
