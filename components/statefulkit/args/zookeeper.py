"""Typed inputs of ZooKeeperEnsemble: every option, its default and the rules that keep an ensemble correct.

Everything that can reject input is checked here, before anything is rendered or registered; a bad
value fails with a pydantic ValidationError that names the field, the value and the rule.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from statefulkit.args.common import Quantity, StorageSize, at_least, parse_quantity
from statefulkit.args.container import ContainerPort, Resources
from statefulkit.args.ensemble import Claim, EnsembleOptions, StoppingWork
from statefulkit.args.pod import PodContainer, PodParts, own, own_ports, port_label
from statefulkit.args.quorum import QuorumRules
from statefulkit.args.rollout import PodManagementPolicy

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
_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")


TickTime = Annotated[int, at_least("tick_time_ms", 1, "millisecond (the basic time unit of ZooKeeper)")]
InitLimit = Annotated[
    int, at_least("init_limit", 1, "tick (the time followers get to connect to and sync with the leader)")
]
SyncLimit = Annotated[
    int, at_least("sync_limit", 1, "tick (how far a follower may fall behind the leader before it is dropped)")
]


class ZooKeeperArgs(QuorumRules, EnsembleOptions):
    """Everything a ZooKeeperEnsemble renders from. Defaults give a 3-member, quorum-safe ensemble.

    The shared options (namespace, rollout, disruption budget, claims' StorageClass, pod
    extensions, storage size, password Secret, TLS, ...) are WorkloadOptions' and
    EnsembleOptions'; odd sizes and budgets that keep the quorum are QuorumRules'; the rules here
    are ZooKeeper's own."""

    metrics_switch: ClassVar[tuple[str, str]] = ("metrics=False", "set metrics=True")
    tls_keystore: ClassVar[bool] = True  # ZooKeeper reads a PEM key store: key and chain in one file
    renamed_fields: ClassVar[dict[str, str]] = {"storage_class": "create_storage_class"}

    # --- placement and identity
    replicas: int = Field(
        3,
        description="Ensemble members. Default 3 (tolerates 1 failure); 5 tolerates 2. Must be odd unless "
        "allow_even_replicas. Changing it restarts no member: new members add themselves to the running "
        "ensemble and removed ones take themselves out (dynamic reconfiguration), one at a time.",
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

    # --- storage
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
        for key in value:
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
        return value

    # --- cross-field rules

    @model_validator(mode="after")
    def _zookeeper_rules(self) -> ZooKeeperArgs:
        self._check_server_ids()
        self._check_heap()
        if self.plaintext_client_port and self.tls is None:
            raise ValueError(
                "plaintext_client_port=True without tls: it keeps plaintext 2181 open beside the TLS port, "
                "and without tls 2181 is the only client port anyway; set tls or drop plaintext_client_port"
            )
        return self

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

    # --- what the shared rules ask of an ensemble

    def serves_metrics(self) -> bool:
        return self.metrics

    def stopping_work(self) -> StoppingWork:
        return StoppingWork(
            "member_removal_seconds",
            self.member_removal_seconds,
            "a stopping member's removal from the ensemble",
            "the member is killed mid-reconfiguration",
            "the removal",
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
        main = PodContainer(
            name=own(CONTAINER_NAME, "the ZooKeeper server's container"),
            env=[
                own(NAMESPACE_ENV, "the pod's namespace, from the downward API"),
                own(REPLICAS_ENV, "the founding member count, from the bootstrap ConfigMap"),
                own(PASSWORD_ENV, "the super user's password, from its Secret"),
            ],
            port_names=port_names,
            ports=[*ports, *loopback],
        )
        claims = [Claim(DATA_CLAIM, "the dataDir claim", DATA_DIR)]
        if self.data_log_storage_size is not None:
            with_field = ", with data_log_storage_size"
            claims.append(Claim(DATA_LOG_CLAIM, f"the dataLogDir claim{with_field}", DATA_LOG_DIR, with_field))
        return self.ensemble_pod(main, [], claims, CONFIG_DIR)

    @property
    def heap_mib(self) -> int:
        return int(parse_quantity(self.heap) // Decimal(2**20))

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
