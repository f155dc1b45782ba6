"""What every ensemble shares on top of WorkloadOptions, and the rules of it.

An ensemble (ZooKeeperArgs, RedisArgs, and whatever comes next) renders its main container and the
objects beside its workload itself; what it exposes to its user is declared here once: the
size of its data claim, its password Secret, TLS, extra config lines and extra variables, and its
backups and restores (for an ensemble that sets `backup_layout`). Each
ensemble says, through the methods at the end, what it puts into its pods, whether it serves
metrics, and what a stopping pod still has to do; the shared rules below judge those.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Self

from pydantic import Field, field_validator, model_validator

from statefulkit.args.backup import RESTORE_CONTAINER, BackupArgs, RestoreArgs
from statefulkit.args.common import StorageSize
from statefulkit.args.container import EnvList, KeyRef
from statefulkit.args.options import WorkloadOptions
from statefulkit.args.pod import CONFIG_VOLUME, Part, PodContainer, PodParts, check_pod, own
from statefulkit.args.tls import TlsArgs, own_tls_parts

# Seconds the grace period must leave after a stopping pod's own work (leaving the ensemble,
# handing a role over), for the server itself to shut down.
SHUTDOWN_SECONDS = 5


@dataclass(frozen=True)
class Claim:
    """A data claim an ensemble mounts in its pods, for `own_pod`'s messages."""

    volume: str
    what: str  # "the dataDir claim"
    path: str
    when: str = ""  # ", with data_log_storage_size": the field that adds it


@dataclass(frozen=True)
class StoppingWork:
    """What a stopping pod does before its server shuts down, bounded by `field` (seconds)."""

    field: str
    seconds: int
    what: str  # "the handoff"
    cut_short: str  # what a kill in the middle of it means
    shorten: str  # the noun of the fix: "shorten the handoff"


class EnsembleOptions(WorkloadOptions):
    """ZooKeeperArgs and RedisArgs: the ensemble renders its main container, a user adds to it.

    What the user adds (extra_env, extra_volumes and extra_volume_mounts, sidecars, init
    containers) must not clash with what the ensemble puts into the pod itself (`own_pod`): the
    rules of statefulkit.args.pod, which StatefulWorkloadArgs runs over the rendered pod, run here
    first, so a clash names the user's field before anything renders."""

    # How the ensemble's own metrics are switched on, for the pod_monitor rule's message.
    metrics_switch: ClassVar[tuple[str, str]] = ("metrics is off", "turn metrics on")
    # With tls, the main container assembles a key store (a memory-backed volume of its own).
    tls_keystore: ClassVar[bool] = False
    # How a restore lays the snapshot's files out on a data volume (restore-seed.sh's LAYOUT), or
    # None while the ensemble cannot back up.
    backup_layout: ClassVar[str | None] = None

    storage_size: StorageSize = Field("10Gi", description="The data claim of each member. Default 10Gi.")
    existing_secret: KeyRef | None = Field(
        None,
        description="An existing Secret {name, key} holding the ensemble's password (no whitespace in it). "
        "Default None: the component creates the Secret.",
    )
    tls: TlsArgs | None = Field(
        None,
        description="TlsArgs(...): the ensemble's links over TLS (which ones: the ensemble's reference). "
        "Default None: plaintext.",
    )
    extra_config: dict[str, str] = Field(
        default_factory=dict,
        description="More lines of the server's config file {key: value}; keys the ensemble renders itself are "
        "refused. Default {}.",
    )
    extra_env: EnvList = Field(
        default_factory=list,
        description="Added to the main container's environment, list of EnvVar or {name: value}; a variable "
        "the ensemble sets itself is refused. Default [].",
    )

    backup: BackupArgs | None = Field(
        None,
        description="BackupArgs(...): restic snapshots on a schedule, to an S3-compatible store. Default None.",
    )
    restore: RestoreArgs | None = Field(
        None,
        description="RestoreArgs(...): seed the empty data volumes of a new ensemble from a snapshot before the "
        "first start. Default None.",
    )

    def own_pod(self) -> PodParts:
        """What the ensemble renders into its pods itself with these options: its containers (the
        main one first), their variables and ports, its volumes and their mount paths."""
        raise NotImplementedError(f"{type(self).__name__} must say what it puts into its pods (own_pod)")

    def ensemble_pod(
        self, main: PodContainer, others: list[PodContainer], claims: list[Claim], config_dir: str
    ) -> PodParts:
        """What every ensemble's pod holds: its containers (`main` gets the TLS mounts), its data
        claims, the config files and scripts at `config_dir`, and with tls the certificate (and
        the key store, for an ensemble whose main container assembles one)."""
        tls_volumes: list[Part] = []
        if self.tls is not None:
            tls_volumes, tls_mounts = own_tls_parts(keystore=self.tls_keystore)
            main = replace(main, mounts=[*main.mounts, *tls_mounts])
        restore = (
            [PodContainer(name=own(RESTORE_CONTAINER, "the restore's init container, with restore"), init=True)]
            if self.restore is not None
            else []
        )
        return PodParts(
            owner="the ensemble",
            containers=[main, *others, *restore],
            volumes=[
                *(own(claim.volume, claim.what) for claim in claims),
                own(CONFIG_VOLUME, "the config files and scripts"),
                *tls_volumes,
            ],
            shared_mounts=[
                *(own(claim.path, f"where claim {claim.volume!r} is mounted{claim.when}") for claim in claims),
                own(config_dir, "where the config files and scripts are mounted"),
            ],
        )

    def serves_metrics(self) -> bool:
        """Whether the pods expose a metrics port a PodMonitor can scrape."""
        raise NotImplementedError(f"{type(self).__name__} must say whether it serves metrics (serves_metrics)")

    def stopping_work(self) -> StoppingWork | None:
        """What a stopping pod does before shutting down, or None."""
        return None

    @field_validator("extra_config")
    @classmethod
    def _single_line_values(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if "\n" in item or "\r" in item:
                raise ValueError(f"extra_config[{key!r}]={item!r}: a value must be a single line")
        return value

    @model_validator(mode="after")
    def _additions_fit_the_pod(self) -> Self:
        check_pod(self.own_pod().with_additions(self, env_field="extra_env"), type(self).__name__)
        return self

    @model_validator(mode="after")
    def _backups(self) -> Self:
        if self.backup_layout is None:
            for given in ("backup", "restore"):
                if getattr(self, given) is not None:
                    raise ValueError(f"{given} is set, but {type(self).__name__} cannot back up or restore yet")
        return self

    @model_validator(mode="after")
    def _ensemble_rules(self) -> Self:
        if self.pod_monitor is not None and not self.serves_metrics():
            off, fix = self.metrics_switch
            raise ValueError(f"pod_monitor is set but {off}: the PodMonitor would scrape nothing; {fix}")
        work, grace = self.stopping_work(), self.termination_grace_period_seconds
        if work is not None and work.seconds + SHUTDOWN_SECONDS > grace:
            raise ValueError(
                f"{work.field}={work.seconds} with termination_grace_period_seconds={grace}: {work.what} must end "
                f"at least {SHUTDOWN_SECONDS} s before the grace period does, or {work.cut_short}; raise the grace "
                f"period or shorten {work.shorten}"
            )
        return self
