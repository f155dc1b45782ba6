"""Typed inputs of RedisEnsemble: replication with Sentinel failover, every option with its default.

Validation lives here: a bad value fails with a pydantic ValidationError naming the field, the
value and the rule, before anything is registered. The model hides raw inputs in its error text
(`hide_input_in_errors`) because a misplaced password must never be echoed into a log; every rule
therefore writes the offending (non-secret) value into its own message.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, get_args

import pulumi
from pydantic import AfterValidator, ConfigDict, Field, PlainValidator, field_validator, model_validator

from statefulkit.args.common import (
    PortNumber,
    StorageSize,
    StrictModel,
    at_least,
    memory_bytes,
    parse_quantity,
    secret_check,
)
from statefulkit.args.container import ContainerPort, Resources
from statefulkit.args.ensemble import Claim, EnsembleOptions, StoppingWork
from statefulkit.args.pod import PodContainer, PodParts, own, own_ports
from statefulkit.args.redis_commands import DEFAULT_RENAMED_COMMANDS, check_renamed_commands
from statefulkit.args.sentinel import SentinelSettings

# The official image, pinned. Debian-based: sh, redis-cli, coreutils (timeout, od) and awk.
REDIS_IMAGE = "redis:8.10.2"
REDIS_PORT = 6379
SENTINEL_PORT = 26379
# A maintained exporter (github.com/oliver006/redis_exporter); tests run Debian's build of it.
EXPORTER_IMAGE = "oliver006/redis_exporter:v1.67.0"
EXPORTER_PORT = 9121
# What the ensemble puts into its pods (components/statefulkit/render/redis.py renders them; a
# user's sidecars, volumes and variables may not take these names and paths: `own_pod`).
REDIS_CONTAINER = "redis"
SENTINEL_CONTAINER = "sentinel"
EXPORTER_CONTAINER = "metrics"
REDIS_PORT_NAME = "redis"
SENTINEL_PORT_NAME = "sentinel"
EXPORTER_PORT_NAME = "metrics"
DATA_VOLUME = "data"
DATA_DIR = "/data"
CONFIG_DIR = "/config"
# The variables of the Redis and Sentinel containers: their pod's name and namespace, where the
# scripts are, and (with auth) the password, from its Secret.
POD_NAME_ENV = "POD_NAME"
NAMESPACE_ENV = "POD_NAMESPACE"
CONFIG_DIR_ENV = "CONFIG_DIR"
PASSWORD_ENV = "REDIS_PASSWORD"  # noqa: S105 - a variable name, not a password

MaxmemoryPolicy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]
MAXMEMORY_POLICIES: tuple[str, ...] = get_args(MaxmemoryPolicy)

# Directives the component renders itself; extra_config may not override them.
MANAGED_DIRECTIVES = frozenset(
    {
        "port",
        "bind",
        "dir",
        "daemonize",
        "include",
        "replicaof",
        "slaveof",
        "replica-announce-ip",
        "slave-announce-ip",
        "replica-announce-port",
        "requirepass",
        "masterauth",
        "masteruser",
        "user",
        "aclfile",
        "protected-mode",
        "appendonly",
        "appendfsync",
        "maxmemory",
        "maxmemory-policy",
        "rename-command",
        "min-replicas-to-write",
        "min-replicas-max-lag",
        "logfile",
        "pidfile",
    }
)

_MASTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DIRECTIVE = re.compile(r"^[a-z][a-z0-9-]*$")
MIN_MAXMEMORY = 1024**2


def _maxmemory(value: int | str | None) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"maxmemory={value!r} is not a size; use bytes or a string like '256mb'")
    size = memory_bytes(value)
    if size < MIN_MAXMEMORY:
        raise ValueError(
            f"maxmemory={value!r} is {size} bytes; it must be at least 1mb (1048576 bytes), or None for no limit"
        )
    return value


def _maxmemory_policy(value: Any) -> str:
    if value not in MAXMEMORY_POLICIES:
        raise ValueError(
            f"maxmemory_policy={value!r} is not a Redis eviction policy; use one of {list(MAXMEMORY_POLICIES)}"
        )
    return str(value)


def _master_name(value: Any) -> str:
    if not isinstance(value, str) or not _MASTER_NAME.match(value):
        raise ValueError(
            f"master_name={value!r} must be 1-64 letters, digits, '.', '_' or '-' starting with a letter "
            "or digit (it is a word in sentinel.conf)"
        )
    return value


SecretInput = Annotated[
    pulumi.Output[str] | None,
    secret_check(
        "password",
        "a Redis password",
        'pulumi.Config().require_secret("redisPassword") (set it with `pulumi config set --secret redisPassword ...`)',
        'reference an existing Kubernetes Secret with existing_secret={"name": ..., "key": ...}',
    ),
]
MemorySize = Annotated[int | str | None, AfterValidator(_maxmemory)]


class RedisExporter(StrictModel):
    """A Prometheus exporter sidecar (oliver006/redis_exporter) scraping this pod's Redis over
    localhost, with the ensemble's password; its /metrics serves on `port`."""

    image: str = Field(EXPORTER_IMAGE, min_length=1, pattern=r"^\S+$", description=f"Default {EXPORTER_IMAGE!r}.")
    port: PortNumber = Field(EXPORTER_PORT, description=f"Port of /metrics. Default {EXPORTER_PORT}.")
    include_system_metrics: bool = Field(False, description="Host memory and similar. Default false.")
    check_keys: list[str] = Field(
        default_factory=list,
        description="Key patterns whose values or lengths are exported (each scan costs the server). Default [].",
    )
    resources: Resources | None = Field(
        default_factory=lambda: Resources(requests={"cpu": "10m", "memory": "32Mi"}, limits={"memory": "128Mi"}),
        description="Default: requests 10m CPU, 32Mi; limit 128Mi.",
    )

    @field_validator("check_keys")
    @classmethod
    def _one_pattern_each(cls, value: list[str]) -> list[str]:
        bad = [pattern for pattern in value if not pattern or "," in pattern]
        if bad:
            raise ValueError(f"check_keys: {bad} are not key patterns (non-empty, no ',': the exporter splits on it)")
        return value

    @field_validator("port")
    @classmethod
    def _not_a_redis_port(cls, value: int) -> int:
        if value in (REDIS_PORT, SENTINEL_PORT):
            raise ValueError(f"port={value} is taken by Redis or Sentinel in the same pod; use another (default 9121)")
        return value


class RedisArgs(EnsembleOptions):
    """Everything RedisEnsemble renders from: the shared options (EnsembleOptions) and Redis's own.
    Pods always start in Parallel: after a full outage every node must come back to find the last
    master. Defaults are the safe ones (ARCHITECTURE.md)."""

    model_config = ConfigDict(hide_input_in_errors=True)
    renamed_fields: ClassVar[dict[str, str]] = {"storage_class": "storage_class_name", "metrics": "exporter"}
    metrics_switch: ClassVar[tuple[str, str]] = (
        "exporter is None",
        "set exporter=RedisExporter() to add the exporter",
    )
    backup_layout: ClassVar[str | None] = "redis-rdb"

    replicas: Annotated[int, at_least("replicas", 1)] = Field(
        3, description="Pods: one primary, replicas-1 replicas, a Sentinel in each. Default 3."
    )
    allow_small_sentinel_quorum: bool = Field(
        False, description="Accept fewer than 3 pods, where losing one pod loses the Sentinel majority. Default false."
    )
    image: str = Field(REDIS_IMAGE, min_length=1, pattern=r"^\S+$", description=f"Default {REDIS_IMAGE!r}.")
    master_name: Annotated[str, PlainValidator(_master_name)] = Field(
        "mymaster", description="The name Sentinel monitors the master under. Default 'mymaster'."
    )

    auth: bool = Field(True, description="Require a password (server and Sentinel). Default true; False needs intent.")
    password: SecretInput = Field(
        None, description="Output[str] secret, e.g. config.require_secret('redisPassword'). Default None."
    )

    sentinel: SentinelSettings = Field(default_factory=SentinelSettings, description="Default SentinelSettings().")
    exporter: RedisExporter | None = Field(
        None, description="RedisExporter(...) adds the exporter sidecar (and its port to the pods). Default None."
    )

    storage_size: StorageSize = Field("8Gi", description="PVC size per pod. Default '8Gi'.")
    appendonly: bool = Field(True, description="AOF persistence on the volume. Default true.")
    appendfsync: Literal["always", "everysec", "no"] = Field(
        "everysec", description="AOF fsync policy. Default everysec."
    )
    maxmemory: MemorySize = Field(None, description="Memory cap, bytes or '256mb'/'1gb'/'1Gi'. Default None (no cap).")
    maxmemory_policy: Annotated[MaxmemoryPolicy, PlainValidator(_maxmemory_policy)] = Field(
        "noeviction", description="Eviction policy at maxmemory. Default 'noeviction' (writes fail, data stays)."
    )
    renamed_commands: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RENAMED_COMMANDS),
        description="Command -> new name ('' disables it). Default FLUSHALL/FLUSHDB/DEBUG disabled, CONFIG->SK_CONFIG.",
    )
    min_replicas_to_write: Annotated[int, at_least("min_replicas_to_write", 0)] = Field(
        0, description="Master refuses writes with fewer connected replicas. Default 0 (off)."
    )
    min_replicas_max_lag: Annotated[int, at_least("min_replicas_max_lag", 1)] = Field(
        10, description="Seconds of lag for a replica to count towards min_replicas_to_write. Default 10."
    )
    discovery_timeout_seconds: Annotated[int, at_least("discovery_timeout_seconds", 0)] = Field(
        10, description="How long a starting node polls the Sentinels for the master before bootstrapping. Default 10."
    )
    master_handoff_seconds: Annotated[int, at_least("master_handoff_seconds", 0)] = Field(
        15,
        description="A master that is about to stop (rollout, drain, scale-down) first hands its role to a "
        "replica: it stops acknowledging writes, lets the replicas catch up and has Sentinel fail over, for at "
        "most this long. 0: no handoff (the Sentinels notice only after down-after). Default 15; must leave "
        "time within termination_grace_period_seconds.",
    )

    resources: Resources | None = Field(None, description="Redis container resources. Default unset.")
    sentinel_resources: Resources | None = Field(None, description="Sentinel container resources. Default unset.")
    run_as_user: Annotated[int, at_least("run_as_user", 1)] = Field(
        999, description="Non-root UID; 999 is `redis` in the official image. Default 999."
    )
    run_as_group: Annotated[int, at_least("run_as_group", 0)] = Field(999, description="Default 999.")
    fs_group: Annotated[int, at_least("fs_group", 0)] = Field(999, description="Default 999.")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> RedisArgs:
        _check_sentinel(self)
        _check_auth(self)
        _check_memory(self)
        check_renamed_commands(self.renamed_commands)
        _check_extra_config(self)
        if self.min_replicas_to_write > self.replicas - 1:
            raise ValueError(
                f"min_replicas_to_write={self.min_replicas_to_write} with replicas={self.replicas}: a master has "
                f"at most {self.replicas - 1} replica(s), so it would refuse every write"
            )
        if self.backup is not None and self.replicas < 2:
            raise ValueError(
                f"backup with replicas={self.replicas}: a backup is copied from a replica, never the master, so it "
                "needs replicas >= 2"
            )
        return self

    def serves_metrics(self) -> bool:
        return self.exporter is not None

    def stopping_work(self) -> StoppingWork | None:
        if not self.master_handoff_seconds:
            return None
        return StoppingWork(
            "master_handoff_seconds",
            self.master_handoff_seconds,
            "the handoff",
            "the master is killed mid-handoff",
            "the handoff",
        )

    def own_pod(self) -> PodParts:
        redis_names, redis_ports = own_ports(
            [ContainerPort(name=REDIS_PORT_NAME, container_port=REDIS_PORT)], "Redis's"
        )
        main = PodContainer(
            name=own(REDIS_CONTAINER, "the Redis server's container"),
            env=[
                own(POD_NAME_ENV, "the pod's name, from the downward API"),
                own(NAMESPACE_ENV, "the pod's namespace, from the downward API"),
                own(CONFIG_DIR_ENV, "where the scripts are"),
                *([own(PASSWORD_ENV, "the password, from its Secret, with auth")] if self.auth else []),
            ],
            port_names=redis_names,
            ports=redis_ports,
        )
        sentinel_port = ContainerPort(name=SENTINEL_PORT_NAME, container_port=SENTINEL_PORT)
        sentinel_names, sentinel_ports = own_ports([sentinel_port], "Sentinel's")
        containers = [
            PodContainer(
                name=own(SENTINEL_CONTAINER, "the Sentinel container"), port_names=sentinel_names, ports=sentinel_ports
            ),
        ]
        if self.exporter is not None:
            exporter_port = ContainerPort(name=EXPORTER_PORT_NAME, container_port=self.exporter.port)
            names, ports = own_ports([exporter_port], "the exporter's", {EXPORTER_PORT_NAME: "exporter"})
            exporter = own(EXPORTER_CONTAINER, "the exporter's container, with exporter")
            containers.append(PodContainer(name=exporter, port_names=names, ports=ports))
        return self.ensemble_pod(main, containers, [Claim(DATA_VOLUME, "the data claim", DATA_DIR)], CONFIG_DIR)

    def effective_quorum(self) -> int:
        """The configured quorum, or a majority of the pods (one Sentinel per pod)."""
        return self.sentinel.quorum if self.sentinel.quorum is not None else self.replicas // 2 + 1

    def maxmemory_bytes(self) -> int | None:
        return None if self.maxmemory is None else memory_bytes(self.maxmemory)


def _check_sentinel(args: RedisArgs) -> None:
    if args.replicas < 3 and not args.allow_small_sentinel_quorum:
        raise ValueError(
            f"replicas={args.replicas}: Sentinel needs at least 3 pods, so that a majority of Sentinels "
            "survives the loss of one pod and can authorize a failover; use 3 or more, or set "
            "allow_small_sentinel_quorum=True to accept no automatic failover"
        )
    quorum = args.sentinel.quorum
    if quorum is not None and quorum > args.replicas:
        raise ValueError(
            f"sentinel.quorum={quorum} is larger than the {args.replicas} Sentinels (one per pod); "
            f"use a value between 1 and {args.replicas}"
        )


def _check_auth(args: RedisArgs) -> None:
    if not args.auth:
        if args.password is not None or args.existing_secret is not None:
            given = "password" if args.password is not None else "existing_secret"
            raise ValueError(f"auth=False but {given} is set; remove it or keep auth=True")
        return
    if args.password is None and args.existing_secret is None:
        raise ValueError(
            "auth=True (the default) needs a password source: password=pulumi.Output.secret(...) or "
            'pulumi.Config().require_secret("redisPassword"), or existing_secret={"name": ..., "key": ...}; '
            "to run without a password set auth=False explicitly"
        )
    if args.password is not None and args.existing_secret is not None:
        raise ValueError("password and existing_secret are both set; give exactly one password source")


def _check_memory(args: RedisArgs) -> None:
    size = args.maxmemory_bytes()
    limit = args.resources.limits.get("memory") if args.resources else None
    if size is not None and limit is not None and Decimal(size) >= parse_quantity(limit):
        raise ValueError(
            f"maxmemory={args.maxmemory!r} ({size} bytes) is not below resources.limits.memory={limit!r}; "
            "Redis needs headroom above maxmemory for replication buffers and the fork of AOF rewrites, "
            "or the container is OOM-killed"
        )


def _check_extra_config(args: RedisArgs) -> None:
    for key in args.extra_config:
        if not _DIRECTIVE.match(key):
            raise ValueError(f"extra_config: {key!r} is not a redis.conf directive name (lowercase, digits, '-')")
        if key in MANAGED_DIRECTIVES:
            raise ValueError(
                f"extra_config[{key!r}]: this directive is managed by RedisEnsemble; use its typed field "
                "(or it is set per pod at start)"
            )
