"""What a user adds to the pods of any workload or ensemble: zone spread, extra volumes and
mounts, the service account, pull secrets, security settings that stay within the `restricted`
Pod Security Standard (a setting that would break it is refused here, naming the rule, before
anything reaches a cluster), and who may connect to them (the NetworkPolicy)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from statefulkit.args.common import (
    AbsolutePath,
    DnsLabel,
    DnsSubdomain,
    LabelKey,
    LabelValue,
    StrictModel,
    duplicates,
    refusal,
)

ZONE_KEY = "topology.kubernetes.io/zone"
# The only capability the restricted standard lets a container add.
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


class TopologySpread(StrictModel):
    """A topologySpreadConstraint over the workload's own pods."""

    topology_key: LabelKey = Field(
        ZONE_KEY, description=f"Node label whose values are the domains. Default {ZONE_KEY}."
    )
    max_skew: int = Field(1, ge=1, description="Most pods one domain may have beyond the least loaded. Default 1.")
    when_unsatisfiable: Literal["ScheduleAnyway", "DoNotSchedule"] = Field(
        "ScheduleAnyway",
        description="Default ScheduleAnyway: a preference, so nodes without the label (a cluster without "
        "zones) still take pods. DoNotSchedule keeps pods Pending rather than skewed, and skips such nodes.",
    )
    min_domains: int | None = Field(
        None, ge=1, description="With DoNotSchedule: count missing domains as empty up to this many. Default unset."
    )

    @model_validator(mode="after")
    def _min_domains_needs_do_not_schedule(self) -> TopologySpread:
        if self.min_domains is not None and self.when_unsatisfiable != "DoNotSchedule":
            raise ValueError(
                f"min_domains={self.min_domains} with when_unsatisfiable={self.when_unsatisfiable!r}: Kubernetes "
                "accepts min_domains only with DoNotSchedule"
            )
        return self


def default_spread() -> list[TopologySpread]:
    return [TopologySpread()]


class ExtraVolume(StrictModel):
    """A pod volume from exactly one source the restricted standard allows (no hostPath)."""

    name: DnsLabel = Field(description="Volume name, referenced by volume mounts. Required.")
    config_map: DnsSubdomain | None = Field(None, description="Name of a ConfigMap to mount.")
    secret: DnsSubdomain | None = Field(None, description="Name of a Secret to mount.")
    empty_dir: bool = Field(False, description="A scratch directory that lives as long as the pod.")
    memory: bool = Field(False, description="With empty_dir: in memory (tmpfs), never on a disk. Default false.")
    persistent_volume_claim: DnsSubdomain | None = Field(None, description="Name of an existing claim.")
    default_mode: int | None = Field(None, ge=0, le=0o777, description="File mode (config_map, secret). Default unset.")

    @model_validator(mode="after")
    def _one_source(self) -> ExtraVolume:
        sources = [self.config_map, self.secret, self.persistent_volume_claim, True if self.empty_dir else None]
        if sum(s is not None for s in sources) != 1:
            raise ValueError(
                f"extra volume {self.name!r}: set exactly one of config_map, secret, empty_dir, persistent_volume_claim"
            )
        if self.memory and not self.empty_dir:
            raise ValueError(f"extra volume {self.name!r}: memory applies only to empty_dir")
        if self.default_mode is not None and self.config_map is None and self.secret is None:
            raise ValueError(f"extra volume {self.name!r}: default_mode applies only to config_map and secret")
        return self


class VolumeMount(StrictModel):
    name: DnsLabel = Field(description="An extra volume's name. Required.")
    mount_path: AbsolutePath = Field(description="Absolute path in the container. Required.")
    read_only: bool = Field(False, description="Default false.")
    sub_path: str | None = Field(None, min_length=1, description="Mount one path inside the volume. Default unset.")

    @field_validator("sub_path")
    @classmethod
    def _relative_inside(cls, value: str | None) -> str | None:
        if value is not None and (value.startswith("/") or ".." in value.split("/")):
            raise ValueError(f"sub_path={value!r} must be a relative path inside the volume (no leading '/', no '..')")
        return value


class PodSecurity(StrictModel):
    """Security settings beyond the fixed restricted baseline (non-root, no privilege escalation,
    all capabilities dropped, RuntimeDefault seccomp); every value here keeps the pod restricted."""

    seccomp_profile: str = Field(
        "RuntimeDefault",
        description="RuntimeDefault, or 'Localhost/<profile path on the node>'. Default RuntimeDefault.",
    )
    add_capabilities: list[str] = Field(
        default_factory=list, description="Capabilities added to every container; only NET_BIND_SERVICE. Default []."
    )
    supplemental_groups: list[int] = Field(default_factory=list, description="Extra GIDs of the pod. Default [].")
    fs_group_change_policy: Literal["OnRootMismatch", "Always"] = Field(
        "OnRootMismatch", description="Default OnRootMismatch: volume ownership is changed only when it differs."
    )

    @field_validator("seccomp_profile")
    @classmethod
    def _restricted_seccomp(cls, value: str) -> str:
        if value != "RuntimeDefault" and not (value.startswith("Localhost/") and len(value) > len("Localhost/")):
            raise ValueError(
                f"seccomp_profile={value!r}: the restricted Pod Security Standard requires RuntimeDefault or a "
                "Localhost profile ('Localhost/<path>'); Unconfined is forbidden"
            )
        return value

    @field_validator("add_capabilities")
    @classmethod
    def _restricted_capabilities(cls, value: list[str]) -> list[str]:
        forbidden = sorted(set(value) - RESTRICTED_CAPABILITIES)
        if forbidden:
            raise ValueError(
                f"add_capabilities={value!r}: the restricted Pod Security Standard allows adding only "
                f"NET_BIND_SERVICE, not {forbidden}"
            )
        return value

    @field_validator("supplemental_groups")
    @classmethod
    def _not_root_group(cls, value: list[int]) -> list[int]:
        if any(gid < 1 for gid in value):
            raise ValueError(f"supplemental_groups={value!r}: group ids must be at least 1 (0 is root's group)")
        return value


class TrafficSource(StrictModel):
    """Pods a NetworkPolicy lets in: those with `pod_labels` (None: any pod) in the namespaces with
    `namespace_labels` (None: the workload's own namespace; {}: every namespace)."""

    namespace_labels: dict[LabelKey, LabelValue] | None = Field(None, description="Default None: this namespace.")
    pod_labels: dict[LabelKey, LabelValue] | None = Field(None, description="Default None: any pod.")


class NetworkPolicyArgs(StrictModel):
    """An ingress NetworkPolicy over the workload's pods: members reach each other on every port
    but `pod` ones, clients reach the `clients` ports, metrics sources the `metrics` ports; nothing
    else gets in (egress is not restricted)."""

    clients: list[TrafficSource] = Field(
        default_factory=lambda: [TrafficSource()], description="Default: any pod of the same namespace."
    )
    metrics: list[TrafficSource] = Field(
        default_factory=list, description="Default []: no scraper; name your Prometheus here."
    )


class PodMonitorArgs(StrictModel):
    """A prometheus-operator PodMonitor over the workload's pods, scraping every `metrics` port."""

    interval_seconds: int = Field(30, ge=1, description="Scrape interval. Default 30.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Extra labels, for the Prometheus's podMonitorSelector. Default {}."
    )


class PodExtensions(StrictModel):
    """The pod-level fields every Args model shares (see WorkloadOptions)."""

    topology_spread: list[TopologySpread] = Field(
        default_factory=default_spread,
        description="Default: spread over zones (ScheduleAnyway, max skew 1), which only matters when nodes "
        "carry topology.kubernetes.io/zone. [] for none.",
    )
    extra_volumes: list[ExtraVolume] = Field(default_factory=list, description="Pod volumes to add. Default [].")
    extra_volume_mounts: list[VolumeMount] = Field(
        default_factory=list, description="Mounts of extra volumes in the main container. Default []."
    )
    service_account_name: DnsSubdomain | None = Field(None, description="Default unset: the namespace's default.")
    automount_service_account_token: bool = Field(
        False, description="Default false: the pods get no API token unless asked."
    )
    image_pull_secrets: list[DnsSubdomain] = Field(default_factory=list, description="Secret names. Default [].")
    security: PodSecurity = Field(default_factory=PodSecurity, description="Default: the restricted baseline.")
    network_policy: NetworkPolicyArgs | None = Field(
        default_factory=NetworkPolicyArgs,
        description="Default: members and same-namespace clients only. None: no NetworkPolicy.",
    )
    pod_monitor: PodMonitorArgs | None = Field(
        None,
        description="PodMonitorArgs(...) creates a monitoring.coreos.com/v1 PodMonitor (the prometheus-operator "
        "CRD must be installed); with a NetworkPolicy, network_policy.metrics must name the Prometheus pods, or "
        "every scrape would be blocked. Default None.",
    )

    @field_validator("topology_spread")
    @classmethod
    def _one_constraint_per_key(cls, value: list[TopologySpread]) -> list[TopologySpread]:
        repeated = duplicates([(c.topology_key, c.when_unsatisfiable) for c in value])
        if repeated:
            raise ValueError(
                f"topology_spread: {repeated} given twice; Kubernetes allows one constraint per topology_key "
                "and when_unsatisfiable"
            )
        return value

    @model_validator(mode="after")
    def _monitor_can_scrape(self) -> PodExtensions:
        """A PodMonitor scrapes through the workload's own NetworkPolicy: it needs a metrics source
        there. None is admitted by default, because no default can know where Prometheus runs, and
        admitting every pod would open the metrics ports to the whole cluster."""
        policy = self.network_policy
        if self.pod_monitor is not None and policy is not None and not policy.metrics:
            message = (
                "pod_monitor is set but network_policy.metrics=[] admits no metrics source, so the workload's "
                "own NetworkPolicy would block every scrape; name the Prometheus pods in network_policy.metrics "
                "(e.g. {namespace_labels: {kubernetes.io/metadata.name: monitoring}, pod_labels: "
                "{app.kubernetes.io/name: prometheus}}), or set network_policy=None for no NetworkPolicy"
            )
            raise refusal(type(self).__name__, [(("pod_monitor",), self.pod_monitor.model_dump(), message)])
        return self

    @model_validator(mode="after")
    def _mounts_name_extra_volumes(self) -> PodExtensions:
        names = [v.name for v in self.extra_volumes]
        repeated = duplicates(names)
        if repeated:
            raise ValueError(f"extra_volumes: duplicate volume name(s) {repeated}")
        unknown = [m.name for m in self.extra_volume_mounts if m.name not in names]
        if unknown:
            raise ValueError(f"extra_volume_mounts: {unknown} name no volume of extra_volumes ({names})")
        return self
