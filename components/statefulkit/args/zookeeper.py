"""Typed inputs of ZooKeeperEnsemble: every option, its default and the rules that keep an ensemble correct.

Everything that can reject input is checked here, before anything is rendered or registered; a bad
value fails with a pydantic ValidationError that names the field, the value and the rule.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from statefulkit.args.common import Quantity, StorageSize, at_least, parse_quantity, scaled_count
from statefulkit.args.options import EnsembleOptions
from statefulkit.args.parts import (
    ContainerPort,
    DisruptionBudget,
    KeyRef,
    PodManagementPolicy,
    Resources,
    RollingUpdate,
)
from statefulkit.args.pod import CONFIG_VOLUME, PodContainer, PodParts, own, own_ports, port_label
from statefulkit.args.tls import TlsArgs, own_tls_parts

# The official image (Docker Official Images `zookeeper`, Ubuntu-based, bash, uid 1000, zkServer.sh on PATH).
DEFAULT_IMAGE = "zookeeper:3.9.4"
CLIENT_PORT = 2181
QUORUM_PORT = 2888
ELECTION_PORT = 3888
ADMIN_PORT = 8080
METRICS_PORT = 7000
SECURE_CLIENT_PORT = 2281
# What the ensemble puts into its pods (components/statefulkit/render/zookeeper.py renders them; a
# user's sidecars, volumes and variables may not take these names and paths: `own_pod`).
CONTAINER_NAME = "zookeeper"
CONFIG_DIR = "/config"
DATA_DIR = "/data"
DATA_LOG_DIR = "/datalog"
DATA_CLAIM = "data"
DATA_LOG_CLAIM = "datalog"
NAMESPACE_ENV = "POD_NAMESPACE"
# The super user's password, read from its Secret into this variable.
PASSWORD_ENV = "ZK_SUPER_PASSWORD"  # noqa: S105 - a variable name, not a password
# The replica count a brand-new ensemble founds itself with, read from the bootstrap ConfigMap.
REPLICAS_ENV = "BOOTSTRAP_REPLICAS"
# ZooKeeper server ids must lie in 1..255 (254 with TTL nodes / extended types).
MAX_SERVER_ID = 255
MIN_HEAP_MIB = 32

FourLetterWord = Literal[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro",
    "mntr", "ruok", "srst", "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
]  # fmt: skip
# The probes send srvr, conf and ruok, and a starting member reads the current membership from its
# peers with conf; without them in the whitelist every pod would be unready, killed or unable to join.
REQUIRED_WORDS: tuple[FourLetterWord, ...] = ("srvr", "ruok", "conf")
DEFAULT_FOUR_LETTER_WORDS: list[FourLetterWord] = ["srvr", "ruok", "mntr", "conf", "isro"]

# zoo.cfg keys the ensemble renders itself; extra_config may not override them.
MANAGED_CONFIG_KEYS = frozenset(
    {
        "tickTime", "initLimit", "syncLimit", "dataDir", "dataLogDir", "clientPort", "clientPortAddress",
        "autopurge.snapRetainCount", "autopurge.purgeInterval", "4lw.commands.whitelist", "maxClientCnxns",
        "admin.enableServer", "admin.serverPort", "standaloneEnabled", "reconfigEnabled",
        "quorumListenOnAllIPs", "dynamicConfigFile", "secureClientPort", "secureClientPortAddress", "sslQuorum",
        "serverCnxnFactory",
    }
)  # fmt: skip
MANAGED_CONFIG_PREFIXES = ("server.", "group.", "weight.", "metricsProvider.")
# Settings that would let a client change the membership without the super user's password.
UNSAFE_SETTINGS = ("skipACL", "DigestAuthenticationProvider.superDigest")
# Seconds the grace period must leave after the member's removal, for ZooKeeper to shut down.
SHUTDOWN_SECONDS = 5
_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")


def quorum_size(replicas: int) -> int:
    """Members that must be up for the ensemble to serve: a strict majority."""
    return replicas // 2 + 1


def fault_tolerance(replicas: int) -> int:
    """Members that may fail while a quorum remains."""
    return replicas - quorum_size(replicas)


TickTime = Annotated[int, at_least("tick_time_ms", 1, "millisecond (the basic time unit of ZooKeeper)")]
InitLimit = Annotated[
    int, at_least("init_limit", 1, "tick (the time followers get to connect to and sync with the leader)")
]
SyncLimit = Annotated[
    int, at_least("sync_limit", 1, "tick (how far a follower may fall behind the leader before it is dropped)")
]


class ZooKeeperArgs(EnsembleOptions):
    """Everything a ZooKeeperEnsemble renders from. Defaults give a 3-member, quorum-safe ensemble.

    The shared options (namespace, rollout, disruption budget, claims' StorageClass, pod
    extensions, ...) are WorkloadOptions' and EnsembleOptions'; the rules here are ZooKeeper's
    (odd sizes, a budget that keeps the quorum)."""

    renamed_fields: ClassVar[dict[str, str]] = {"storage_class": "create_storage_class"}

    # --- placement and identity
    replicas: int = Field(
        3,
        description="Ensemble members. Default 3 (tolerates 1 failure); 5 tolerates 2. Must be odd unless "
        "allow_even_replicas. Changing it restarts no member: new members add themselves to the running "
        "ensemble and removed ones take themselves out (dynamic reconfiguration), one at a time.",
    )
    allow_even_replicas: bool = Field(
        False,
        description="Accept an even member count (it adds no fault tolerance, only write latency). Default false.",
    )
    server_id_offset: int = Field(
        0,
        ge=0,
        description="myid = ordinal + 1 + server_id_offset (for ensembles that share ids with others). Default 0.",
    )

    # --- image and JVM
    image: str = Field(
        DEFAULT_IMAGE,
        min_length=1,
        pattern=r"^\S+$",
        description="Container image; what the scripts need of it (zkServer.sh, zkCli.sh, bash, openssl with TLS, "
        f"uid 1000, ...) is tools/images/README.md's contract. Default {DEFAULT_IMAGE!r} (official).",
    )
    heap: Quantity = Field(
        "512Mi",
        description="JVM heap (-Xms = -Xmx), a quantity in whole MiB; must stay below resources.limits.memory. "
        "Default 512Mi.",
    )
    jvm_flags: list[str] = Field(
        default_factory=list, description="Extra JVM flags (not -Xmx/-Xms: use heap). Default []."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(requests={"cpu": "250m", "memory": "1Gi"}, limits={"memory": "1Gi"}),
        description="Container resources. Default requests cpu 250m / memory 1Gi, limits memory 1Gi.",
    )

    # --- zoo.cfg
    tick_time_ms: TickTime = Field(2000, description="tickTime in ms. Default 2000.")
    init_limit: InitLimit = Field(10, description="initLimit in ticks. Default 10 (20 s).")
    sync_limit: SyncLimit = Field(5, description="syncLimit in ticks. Default 5 (10 s).")
    max_client_connections: int = Field(
        60, ge=0, description="maxClientCnxns per client IP (0: unlimited). Default 60."
    )
    autopurge_snap_retain_count: int = Field(
        3, description="autopurge.snapRetainCount: snapshots (and their logs) kept. At least 3. Default 3."
    )
    autopurge_purge_interval_hours: int = Field(
        24, ge=0, description="autopurge.purgeInterval in hours (0 disables purging: the disk fills). Default 24."
    )
    four_letter_words: list[FourLetterWord] = Field(
        default_factory=lambda: list(DEFAULT_FOUR_LETTER_WORDS),
        min_length=1,
        description="4lw.commands.whitelist; must contain srvr, ruok and conf (the probes and the membership "
        "scripts use them). Default [srvr, ruok, mntr, conf, isro].",
    )
    tls: TlsArgs | None = Field(
        None,
        description="TlsArgs(...): quorum and election links over TLS, and the TLS client port 2281, the only "
        "client port (the members' own scripts use it too) unless plaintext_client_port. Default None: "
        "plaintext 2181.",
    )
    plaintext_client_port: bool = Field(
        False,
        description="With tls: keep serving plaintext 2181 to clients beside 2281, while clients move over to "
        "TLS (each member drops or adds its listener through a reconfig as it restarts, so a rolling update "
        "switches it). Requires tls (without it 2181 is the only client port). Default false.",
    )
    admin_server: bool = Field(True, description="Jetty AdminServer on port 8080. Default true.")
    metrics: bool = Field(
        True,
        description="Prometheus metrics provider on port 7000 (needs the zookeeper-prometheus-metrics jar, "
        "which the official image and tools/images' Debian image ship). Default true.",
    )
    extra_config: dict[str, str] = Field(
        default_factory=dict,
        description="Additional zoo.cfg properties; keys the ensemble manages (server.*, dataDir, ...) are refused. "
        "Default {}.",
    )

    # --- storage
    storage_size: StorageSize = Field("10Gi", description="dataDir volume (snapshots, myid) per member. Default 10Gi.")
    data_log_storage_size: StorageSize | None = Field(
        None,
        description="Separate dataLogDir volume (transaction log) per member, for a dedicated disk. "
        "Default None: the log lives in dataDir.",
    )

    # --- rollout

    pod_management_policy: PodManagementPolicy = Field(
        PodManagementPolicy.PARALLEL,
        description="Default Parallel: every member starts at once, which a new ensemble needs (no member "
        "becomes Ready before a quorum exists, so OrderedReady would wait forever on member 0). Trade-off: "
        "scale-down removes members at once too; updates are unaffected (RollingUpdate is always one at a "
        "time). Immutable: changing it replaces the StatefulSet.",
    )

    # --- membership changes and their authorization
    existing_secret: KeyRef | None = Field(
        None,
        description="An existing Secret {name, key} holding the password of ZooKeeper's super user, which the "
        "members use to reconfigure the ensemble (no whitespace in it). Default None: the component creates "
        "the Secret `<name>-admin` with a random password, generated once and kept on later runs.",
    )
    member_removal_seconds: Annotated[
        int, at_least("member_removal_seconds", 5, "seconds (each try runs zkCli.sh, a JVM)")
    ] = Field(
        20,
        description="A member that stops gracefully (scale-down, rollout, drain) first removes itself from the "
        "voting ensemble, retrying for at most this long; if it cannot (no quorum), it stops still listed and "
        "rejoins like a crashed member. Default 20; must end at least 5 s before "
        "termination_grace_period_seconds does.",
    )

    # --- client Service
    client_service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        "ClusterIP", description="Type of the client Service (its port: 2181, or 2281 with tls). Default ClusterIP."
    )
    client_service_annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations of the client Service. Default {}."
    )

    # --- single-field rules with messages that explain the ZooKeeper reason

    @field_validator("replicas")
    @classmethod
    def _replicas_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(
                f"replicas={value}: a ZooKeeper ensemble needs at least 1 member (3 or 5 for fault tolerance)"
            )
        return value

    @field_validator("autopurge_snap_retain_count")
    @classmethod
    def _retain_at_least_three(cls, value: int) -> int:
        if value < 3:
            raise ValueError(
                f"autopurge_snap_retain_count={value}: ZooKeeper keeps at least 3 snapshots (it silently raises "
                "smaller values to 3); set 3 or more"
            )
        return value

    @field_validator("heap")
    @classmethod
    def _heap_whole_mib(cls, value: str) -> str:
        size = parse_quantity(value)
        if size < MIN_HEAP_MIB * 2**20:
            raise ValueError(f"heap={value!r} is below {MIN_HEAP_MIB}Mi; a ZooKeeper JVM cannot run in less")
        if size % 2**20:
            raise ValueError(f"heap={value!r} is not a whole number of MiB (the JVM flag is -Xmx<n>m); use e.g. 512Mi")
        return value

    @field_validator("jvm_flags")
    @classmethod
    def _no_heap_flags(cls, value: list[str]) -> list[str]:
        for flag in value:
            if flag.startswith(("-Xmx", "-Xms", "-XX:MaxRAMPercentage", "-XX:InitialRAMPercentage")):
                raise ValueError(f"jvm_flags: {flag!r} sets the heap size; use the heap field instead")
            if any(f"zookeeper.{setting}" in flag for setting in UNSAFE_SETTINGS):
                raise ValueError(
                    f"jvm_flags: {flag!r} would let clients reconfigure the ensemble without the super user's "
                    "password (the super user is set from the password Secret)"
                )
            if not flag or any(ch.isspace() for ch in flag) or "'" in flag:
                raise ValueError(f"jvm_flags: {flag!r} must be one non-empty flag without whitespace or quotes")
        return value

    @field_validator("four_letter_words")
    @classmethod
    def _probe_words_allowed(cls, value: list[FourLetterWord]) -> list[FourLetterWord]:
        missing = [word for word in REQUIRED_WORDS if word not in value]
        if missing:
            raise ValueError(
                f"four_letter_words={value}: must contain {missing}; the readiness probe sends srvr and conf, "
                "the liveness probe ruok, and a starting member reads the membership from its peers with conf"
            )
        return list(dict.fromkeys(value))

    @field_validator("extra_config")
    @classmethod
    def _extra_config_unmanaged(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not _CONFIG_KEY.match(key):
                raise ValueError(f"extra_config: key {key!r} is not a zoo.cfg property name ([A-Za-z][A-Za-z0-9._-]*)")
            if key.removeprefix("zookeeper.") in UNSAFE_SETTINGS:
                raise ValueError(
                    f"extra_config: {key!r} would let clients reconfigure the ensemble without the super user's "
                    "password (the super user is set from the password Secret)"
                )
            if key in MANAGED_CONFIG_KEYS or key.startswith(MANAGED_CONFIG_PREFIXES):
                raise ValueError(
                    f"extra_config: {key!r} is rendered by the ensemble itself; set the typed field instead"
                )
            if "\n" in item or "\r" in item:
                raise ValueError(f"extra_config[{key!r}]={item!r}: a value must be a single line")
        return value

    # --- cross-field rules

    @model_validator(mode="after")
    def _ensemble_rules(self) -> ZooKeeperArgs:
        self._check_even()
        self._check_server_ids()
        self._check_heap()
        self._check_disruption_budget()
        self._check_update_strategy()
        self._check_grace_period()
        if self.plaintext_client_port and self.tls is None:
            raise ValueError(
                "plaintext_client_port=True without tls: it keeps plaintext 2181 open beside the TLS port, "
                "and without tls 2181 is the only client port anyway; set tls or drop plaintext_client_port"
            )
        if self.pod_monitor is not None and not self.metrics:
            raise ValueError(
                "pod_monitor is set but metrics=False: the PodMonitor would scrape nothing; set metrics=True"
            )
        return self

    def _check_even(self) -> None:
        n = self.replicas
        if n % 2 == 0 and not self.allow_even_replicas:
            raise ValueError(
                f"replicas={n} is even: {n} members need {quorum_size(n)} for quorum and tolerate "
                f"{fault_tolerance(n)} failure(s), the same as {n - 1} members, so the even member adds no fault "
                f"tolerance (only write latency); use {n - 1} or {n + 1}, or set allow_even_replicas=True"
            )

    def _check_server_ids(self) -> None:
        last = self.replicas + self.server_id_offset
        if last > MAX_SERVER_ID:
            raise ValueError(
                f"server_id_offset={self.server_id_offset} with replicas={self.replicas} gives server ids up to "
                f"{last}; ZooKeeper server ids must be between 1 and {MAX_SERVER_ID}"
            )

    def _check_heap(self) -> None:
        limit = self.resources.limits.get("memory")
        if limit is not None and parse_quantity(self.heap) >= parse_quantity(limit):
            raise ValueError(
                f"heap={self.heap!r} is not below resources.limits.memory={limit!r}; the JVM needs memory beyond "
                "its heap (metaspace, threads, buffers), so the container would be OOM-killed. Lower heap or "
                "raise the limit"
            )

    def _check_disruption_budget(self) -> None:
        budget = self.disruption_budget
        if not isinstance(budget, DisruptionBudget):
            return
        n, spare = self.replicas, fault_tolerance(self.replicas)
        if budget.max_unavailable is not None:
            field, value, evictable = "max_unavailable", budget.max_unavailable, scaled_count(budget.max_unavailable, n)
        else:
            assert budget.min_available is not None
            field, value = "min_available", budget.min_available
            evictable = n - scaled_count(budget.min_available, n)
        if evictable > spare:
            raise ValueError(
                f"disruption_budget.{field}={value!r} with replicas={n} lets evictions take down {evictable} "
                f"member(s) at once, but quorum needs {quorum_size(n)} of {n} up (at most {spare} may be down); "
                f"use max_unavailable={spare} or less"
                + ("" if spare else " (or None: a single member cannot be evicted without downtime)")
            )

    def _check_update_strategy(self) -> None:
        strategy = self.update_strategy
        if isinstance(strategy, RollingUpdate) and strategy.max_unavailable is not None:
            down = scaled_count(strategy.max_unavailable, self.replicas)
            if down > fault_tolerance(self.replicas) and self.replicas > 1:
                raise ValueError(
                    f"update_strategy.max_unavailable={strategy.max_unavailable!r} with replicas={self.replicas} "
                    f"restarts {down} members at once, which breaks quorum (at most "
                    f"{fault_tolerance(self.replicas)} may be down)"
                )

    def _check_grace_period(self) -> None:
        removal, grace = self.member_removal_seconds, self.termination_grace_period_seconds
        if removal + SHUTDOWN_SECONDS > grace:
            raise ValueError(
                f"member_removal_seconds={removal} with termination_grace_period_seconds={grace}: a stopping "
                f"member's removal from the ensemble must end at least {SHUTDOWN_SECONDS} s before the grace "
                "period does, or the member is killed mid-reconfiguration; raise the grace period or shorten "
                "the removal"
            )

    # --- derived values

    def serves_plaintext(self) -> bool:
        """Whether clients reach plaintext 2181 (without tls, or with plaintext_client_port)."""
        return self.tls is None or self.plaintext_client_port

    def container_ports(self) -> list[ContainerPort]:
        """The ports of the ZooKeeper container, and who the NetworkPolicy lets reach them."""
        ports = []
        if self.serves_plaintext():
            ports.append(ContainerPort(name="client", container_port=CLIENT_PORT))
        if self.tls is not None:
            ports.append(ContainerPort(name="secure-client", container_port=SECURE_CLIENT_PORT))
        ports += [
            ContainerPort(name="quorum", container_port=QUORUM_PORT, reachable_by="peers"),
            ContainerPort(name="election", container_port=ELECTION_PORT, reachable_by="peers"),
        ]
        if self.admin_server:
            # The AdminServer can reconfigure and dump the ensemble: nobody outside the pod reaches it.
            ports.append(ContainerPort(name="admin", container_port=ADMIN_PORT, reachable_by="pod"))
        if self.metrics:
            ports.append(ContainerPort(name="metrics", container_port=METRICS_PORT, reachable_by="metrics"))
        return ports

    def own_pod(self) -> PodParts:
        when = {"secure-client": "tls", "admin": "admin_server", "metrics": "metrics"}
        port_names, ports = own_ports(self.container_ports(), "ZooKeeper's", when)
        loopback = []
        if not self.serves_plaintext():
            # Dynamic membership needs a plaintext client address: with tls alone it is the loopback's.
            why = "ZooKeeper's plaintext listener on the pod's loopback, which dynamic membership needs, with tls"
            loopback = [own((CLIENT_PORT, "TCP"), why, port_label(CLIENT_PORT, "TCP"))]
        tls_volumes, tls_mounts = own_tls_parts(keystore=True) if self.tls is not None else ([], [])
        data_log = self.data_log_storage_size is not None
        main = PodContainer(
            name=own(CONTAINER_NAME, "the ZooKeeper server's container"),
            env=[
                own(NAMESPACE_ENV, "the pod's namespace, from the downward API"),
                own(REPLICAS_ENV, "the founding member count, from the bootstrap ConfigMap"),
                own(PASSWORD_ENV, "the super user's password, from its Secret"),
            ],
            port_names=port_names,
            ports=[*ports, *loopback],
            mounts=tls_mounts,
        )
        return PodParts(
            owner="the ensemble",
            containers=[main],
            volumes=[
                own(DATA_CLAIM, "the dataDir claim"),
                *([own(DATA_LOG_CLAIM, "the dataLogDir claim, with data_log_storage_size")] if data_log else []),
                own(CONFIG_VOLUME, "the config files and scripts"),
                *tls_volumes,
            ],
            shared_mounts=[
                own(DATA_DIR, f"where claim {DATA_CLAIM!r} is mounted"),
                *(
                    [own(DATA_LOG_DIR, f"where claim {DATA_LOG_CLAIM!r} is mounted, with data_log_storage_size")]
                    if data_log
                    else []
                ),
                own(CONFIG_DIR, "where the config files and scripts are mounted"),
            ],
        )

    @property
    def heap_mib(self) -> int:
        return int(parse_quantity(self.heap) // Decimal(2**20))

    def effective_disruption_budget(self) -> DisruptionBudget | None:
        """'auto' lets one member go at a time, unless the ensemble cannot lose any member and keep
        its quorum (1 or 2 members): then there is no PDB, as for any single replica, since a
        budget could only block every drain."""
        if self.disruption_budget == "auto":
            return DisruptionBudget(max_unavailable=1) if fault_tolerance(self.replicas) >= 1 else None
        return self.disruption_budget

    def workload_options(self) -> dict[str, Any]:
        # The workload's own 'auto' knows nothing of quorums: hand it the resolved budget.
        return {**super().workload_options(), "disruption_budget": self.effective_disruption_budget()}

    def server_ids(self) -> list[int]:
        """myid of each ordinal, in ordinal order."""
        return [i + 1 + self.server_id_offset for i in range(self.replicas)]

    @property
    def bootstrap_wait_seconds(self) -> int:
        """How long a member with an empty volume waits for a serving peer before it founds a new
        ensemble while peers run but none serves: longer than an election after a lost leader
        (syncLimit to notice, initLimit to sync), so a replaced member never bootstraps past a
        live ensemble that is merely electing."""
        return -(-(self.init_limit + self.sync_limit) * self.tick_time_ms // 1000)
