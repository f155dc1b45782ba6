"""Typed inputs of StatefulWorkload: the shared options plus the pod itself, and their rules."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, model_validator

from statefulkit.args.claims import VolumeClaim
from statefulkit.args.common import AbsolutePath, DnsLabel, LabelValue, StrictModel, WorkloadName
from statefulkit.args.container import ClientService, Container, EnvList, Ports, Probe, Resources
from statefulkit.args.options import WorkloadOptions
from statefulkit.args.pod import (
    CONFIG_VOLUME,
    PROBES,
    PodContainer,
    PodParts,
    check_pod,
    env_parts,
    own,
    port_parts,
    written,
)
from statefulkit.args.rollout import PodManagementPolicy

__all__ = ["CONFIG_VOLUME", "StatefulWorkloadArgs", "WorkloadNameModel", "validate_name"]

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class StatefulWorkloadArgs(WorkloadOptions):
    """Everything a StatefulWorkload renders from: the shared options, the pod's containers and files.
    Defaults are the safe ones (ARCHITECTURE.md)."""

    renamed_fields: ClassVar[dict[str, str]] = {"storage_class": "create_storage_class"}

    container_name: DnsLabel = Field("main", description="Name of the main container. Default 'main'.")
    ports: Ports = Field(default_factory=list, description="Main container ports, list or {name: port}. Default [].")
    command: list[str] = Field(default_factory=list, description="Default []: the image's entrypoint.")
    args: list[str] = Field(default_factory=list, description="Default [].")
    env: EnvList = Field(default_factory=list, description="List of EnvVar or {name: value}. Default [].")
    volume_claims: list[VolumeClaim] = Field(default_factory=list, description="Default [] (no PVCs).")
    pod_management_policy: PodManagementPolicy = Field(
        PodManagementPolicy.ORDERED_READY, description="Default OrderedReady."
    )
    resources: Resources | None = Field(None, description="Main container resources. Default unset.")
    readiness_probe: Probe | None = Field(None, description="Default unset.")
    liveness_probe: Probe | None = Field(None, description="Default unset.")
    startup_probe: Probe | None = Field(None, description="Default unset.")
    pre_stop: list[str] | None = Field(
        None, min_length=1, description="Main container: command run before it is stopped. Default unset."
    )
    config_files: dict[str, str] = Field(
        default_factory=dict, description="Files rendered into the `<name>-config` ConfigMap. Default {}."
    )
    config_mount_path: AbsolutePath = Field("/config", description="Where config_files are mounted. Default /config.")
    config_file_mode: int = Field(0o555, ge=0, le=0o777, description="File mode of config_files. Default 0o555.")
    app_name: DnsLabel | None = Field(None, description="app.kubernetes.io/name. Default: the workload name.")
    component: LabelValue = Field("server", description="app.kubernetes.io/component. Default 'server'.")
    publish_not_ready_addresses: bool = Field(False, description="Headless DNS lists unready pods. Default false.")
    client_service: bool | ClientService = Field(False, description="True or ClientService(...). Default false.")
    min_ready_seconds: int = Field(0, ge=0, description="Default 0.")
    read_only_root_filesystem: bool = Field(False, description="Default false.")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> StatefulWorkloadArgs:
        check_pod(self.pod_parts(), type(self).__name__)
        _check_config_keys(self)
        _check_exposed(self)
        return self

    def pod_parts(self) -> PodParts:
        """The pod as its rules see it (statefulkit.args.pod): everything in it is the user's,
        but the volume of config_files."""
        port_names, ports = port_parts(self.ports, ("ports",))
        main = PodContainer(
            name=written(self.container_name, ("container_name",)),
            env=env_parts(self.env, ("env",)),
            port_names=port_names,
            ports=ports,
            probes=[((kind,), kind, probe) for kind in PROBES if (probe := getattr(self, kind)) is not None],
        )
        config = [own(CONFIG_VOLUME, "the volume of config_files")] if self.config_files else []
        claims = list(enumerate(self.volume_claims))
        return PodParts(
            owner="the workload",
            containers=[main],
            volumes=[*config, *(written(c.name, ("volume_claims", i, "name")) for i, c in claims)],
            shared_mounts=[
                *(written(c.mount_path, ("volume_claims", i, "mount_path")) for i, c in claims),
                *([written(self.config_mount_path, ("config_mount_path",))] if self.config_files else []),
            ],
        ).with_additions(self)

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
            pre_stop=self.pre_stop,
            volume_mounts=self.extra_volume_mounts,
        )
        return [main, *self.sidecars]


def _check_config_keys(args: StatefulWorkloadArgs) -> None:
    bad_keys = [key for key in args.config_files if not _CONFIG_KEY.match(key) or len(key) > 253]
    if bad_keys:
        raise ValueError(f"config_files: key(s) {bad_keys} are not valid ConfigMap keys ([-._a-zA-Z0-9]+)")


def _check_exposed(args: StatefulWorkloadArgs) -> None:
    """The client Service and the PodMonitor name ports the pods declare."""
    ports = [p for c in args.all_containers() for p in c.ports]
    port_names = {p.name for p in ports}
    if isinstance(args.client_service, ClientService):
        unknown = [name for name in args.client_service.port_names if name not in port_names]
        if unknown:
            raise ValueError(f"client_service.port_names: {unknown} are not declared ports ({sorted(port_names)})")
    if args.client_service and not ports:
        raise ValueError("client_service: the workload declares no ports, so a client Service would route nowhere")
    if args.pod_monitor is not None and not any(p.reachable_by == "metrics" for p in ports):
        raise ValueError(
            "pod_monitor: no port serves metrics (reachable_by='metrics'), so the PodMonitor would scrape "
            "nothing; turn the ensemble's metrics on, or declare the port"
        )


class WorkloadNameModel(StrictModel):
    """Validates a component's resource name, which prefixes every Kubernetes object it creates."""

    name: WorkloadName = Field(description="Resource and StatefulSet name: DNS-1035, at most 52 characters.")


def validate_name(name: str) -> str:
    """Return `name` if it can name a StatefulSet and its headless Service, else raise ValidationError."""
    return WorkloadNameModel(name=name).name
