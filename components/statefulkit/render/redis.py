"""Pure rendering of RedisArgs: redis.conf, sentinel.conf, the start scripts and the workload spec.

No Pulumi import. The namespace and the password Secret's name may be Pulumi Outputs: they are
passed through untouched. The password itself is never rendered here: the scripts read it from
an environment variable (secretKeyRef) and write it into the pod's writable config at start.

How a pod picks its role (redis-start.sh), safe after failovers:
1. Ask every pod's Sentinel (`SENTINEL get-master-addr-by-name`); follow the host a majority of
   all members' Sentinels name (itself: start as master). While Sentinels answer but no majority
   agrees (a failover is running), wait up to discovery_timeout_seconds + failover-timeout, then
   follow the most named host; while none answers, wait discovery_timeout_seconds.
2. No Sentinel reachable: follow the master this pod's own Sentinel saved on the data volume
   (sentinel.conf survives restarts), so a full restart keeps the last elected master.
3. Neither (a new ensemble): ordinal 0 starts as master, the others follow `<name>-0`.
Nodes are named by FQDN, never by pod IP (`replica-announce-ip`, Sentinel `announce-hostnames`).
Sentinel (sentinel-start.sh) starts only once this pod's Redis answers, and declares every other pod
a known replica, so a restart is never mistaken for a failure and a fresh Sentinel can fail over at once.
"""

from __future__ import annotations

from typing import Any

from statefulkit.args.claims import VolumeClaim
from statefulkit.args.container import ClientService, Container, EnvVar, KeyRef, Probe
from statefulkit.args.extensions import VolumeMount

# What the ensemble puts into its pods is declared with its args (RedisArgs.own_pod
# checks a user's additions against it); the renderer uses the same names.
from statefulkit.args.redis import (
    CONFIG_DIR,
    CONFIG_DIR_ENV,
    DATA_DIR,
    DATA_VOLUME,
    EXPORTER_CONTAINER,
    EXPORTER_PORT_NAME,
    NAMESPACE_ENV,
    PASSWORD_ENV,
    POD_NAME_ENV,
    REDIS_CONTAINER,
    REDIS_PORT,
    REDIS_PORT_NAME,
    SENTINEL_CONTAINER,
    SENTINEL_PORT,
    SENTINEL_PORT_NAME,
    RedisArgs,
    RedisExporter,
)
from statefulkit.args.redis_commands import SENTINEL_COMMANDS
from statefulkit.args.rollout import PodManagementPolicy
from statefulkit.args.tls import TLS_DIR, TlsArgs
from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.render.backup import BackupFetch
from statefulkit.render.ensemble import EnsembleRender
from statefulkit.render.shell import render_script
from statefulkit.render.tls import tls_mounts
from statefulkit.render.workload import script_identity

APP_NAME = "redis"

REDIS_CONF = "redis.conf"
SENTINEL_CONF = "sentinel.conf"
COMMON_SH = "common.sh"
REDIS_START = "redis-start.sh"
SENTINEL_START = "sentinel-start.sh"
PROBE_SH = "probe.sh"
PRESTOP_SH = "prestop.sh"
BACKUP_FETCH = "redis-backup-fetch.sh"


# --------------------------------------------------------------------------- config files


def render_redis_conf(args: RedisArgs) -> str:
    """The static part of redis.conf; redis-start.sh adds the per-pod role, announce name and auth."""
    lines = [
        "# statefulkit RedisEnsemble: static settings. The start script copies this file to the data",
        "# volume and appends replica-announce-ip, replicaof and the password lines (from the Secret).",
        *_listen(REDIS_PORT, args.tls),
        "bind * -::*",
        # Auth (or an explicit auth=False) replaces protected mode; pods must reach each other.
        "protected-mode no",
        "daemonize no",
        'logfile ""',
        f"dir {DATA_DIR}",
        f"appendonly {'yes' if args.appendonly else 'no'}",
        f"appendfsync {args.appendfsync}",
        "replica-read-only yes",
        "replica-serve-stale-data yes",
        f"min-replicas-to-write {args.min_replicas_to_write}",
        f"min-replicas-max-lag {args.min_replicas_max_lag}",
    ]
    maxmemory = args.maxmemory_bytes()
    if maxmemory is not None:
        lines.append(f"maxmemory {maxmemory}")
    lines.append(f"maxmemory-policy {args.maxmemory_policy}")
    for command, alias in sorted(args.renamed_commands.items()):
        lines.append(f'rename-command {command.upper()} "{alias}"')
    for key, value in sorted(args.extra_config.items()):
        lines.append(f"{key} {value}")
    return "\n".join(lines) + "\n"


def _listen(port: int, tls: TlsArgs | None) -> list[str]:
    """Plaintext on `port`, or TLS only there, replication (and Sentinel's links) included."""
    if tls is None:
        return [f"port {port}"]
    return [
        "port 0",
        f"tls-port {port}",
        f"tls-cert-file {TLS_DIR}/tls.crt",
        f"tls-key-file {TLS_DIR}/tls.key",
        f"tls-ca-cert-file {TLS_DIR}/ca.crt",
        "tls-replication yes",
        f"tls-auth-clients {'yes' if tls.client_certificates else 'optional'}",
    ]


def render_sentinel_conf(args: RedisArgs) -> str:
    """sentinel.conf template: @SELF@ and @MASTER@ are filled in per pod by sentinel-start.sh."""
    master = args.master_name
    s = args.sentinel
    lines = [
        "# statefulkit RedisEnsemble: Sentinel template. sentinel-start.sh fills in @SELF@ (this pod's",
        "# FQDN) and @MASTER@ (the current master's FQDN), adds the password lines and keeps the",
        "# identity and epochs Sentinel saved on the data volume.",
        *_listen(SENTINEL_PORT, args.tls),
        "bind * -::*",
        "protected-mode no",
        "daemonize no",
        'logfile ""',
        f"dir {DATA_DIR}/sentinel",
        # Hostnames, not pod IPs, identify nodes: an IP changes when a pod is rescheduled.
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        "sentinel announce-ip @SELF@",
        f"sentinel announce-port {SENTINEL_PORT}",
        f"sentinel monitor {master} @MASTER@ {REDIS_PORT} {args.effective_quorum()}",
        f"sentinel down-after-milliseconds {master} {s.down_after_milliseconds}",
        f"sentinel failover-timeout {master} {s.failover_timeout_milliseconds}",
        f"sentinel parallel-syncs {master} {s.parallel_syncs}",
    ]
    # Redis rejects `rename-command` in Sentinel mode; Sentinel is told instead which names the
    # servers use for the commands it sends during a failover.
    for command, alias in sorted(args.renamed_commands.items()):
        if alias and command.upper() in SENTINEL_COMMANDS:
            lines.append(f"sentinel rename-command {master} {command.upper()} {alias}")
    return "\n".join(lines) + "\n"


def render_common_sh(name: str, args: RedisArgs) -> str:
    return render_script(
        "redis-common.sh",
        **script_identity(name, args.cluster_domain),
        REPLICAS=args.replicas,
        MASTER_NAME=args.master_name,
        REDIS_PORT=REDIS_PORT,
        SENTINEL_PORT=SENTINEL_PORT,
        DATA_DIR=DATA_DIR,
        CONFIG_DIR=CONFIG_DIR,
        AUTH=1 if args.auth else 0,
        TLS_DIR=TLS_DIR if args.tls is not None else "",
        DISCOVERY_TIMEOUT=args.discovery_timeout_seconds,
        DOWN_AFTER_SECONDS=args.sentinel.down_after_seconds,
        HANDOFF_SECONDS=args.master_handoff_seconds,
        FAILOVER_TIMEOUT_SECONDS=args.sentinel.failover_timeout_seconds,
    )


def render_config_files(name: str, args: RedisArgs) -> dict[str, str]:
    """Everything in the ConfigMap: templates and scripts, with no password and no namespace."""
    return {
        REDIS_CONF: render_redis_conf(args),
        SENTINEL_CONF: render_sentinel_conf(args),
        COMMON_SH: render_common_sh(name, args),
        REDIS_START: render_script("redis-start.sh"),
        SENTINEL_START: render_script("sentinel-start.sh"),
        PROBE_SH: render_script("redis-probe.sh"),
        PRESTOP_SH: render_script("redis-prestop.sh"),
    }


# --------------------------------------------------------------------------- workload


def _env(password: KeyRef | None) -> list[EnvVar]:
    env = [
        EnvVar(name=POD_NAME_ENV, field_path="metadata.name"),
        EnvVar(name=NAMESPACE_ENV, field_path="metadata.namespace"),
        EnvVar(name=CONFIG_DIR_ENV, value=CONFIG_DIR),
    ]
    if password is not None:
        env.append(EnvVar(name=PASSWORD_ENV, secret_key_ref=password))
    return env


def _probes(role: str, liveness_delay_seconds: int) -> dict[str, Probe]:
    """Readiness and liveness of one container, both through probe.sh; liveness waits for start-up."""

    def probe(kind: str, **timing: int) -> Probe:
        return Probe(exec_command=["sh", f"{CONFIG_DIR}/{PROBE_SH}", role, kind], timeout_seconds=5, **timing)

    return {
        "readiness_probe": probe("ready", period_seconds=5),
        "liveness_probe": probe(
            "live", period_seconds=10, failure_threshold=6, initial_delay_seconds=liveness_delay_seconds
        ),
    }


def _tls_mounts(args: RedisArgs) -> list[VolumeMount]:
    """The certificate Secret, read-only at /tls, in every container that talks to Redis."""
    return [] if args.tls is None else tls_mounts()


def _exporter(exporter: RedisExporter, args: RedisArgs, password: KeyRef | None) -> Container:
    """The exporter scrapes its own pod's Redis over localhost, as the ensemble's clients log in."""
    scheme = "redis" if args.tls is None else "rediss"
    env = [
        EnvVar(name="REDIS_ADDR", value=f"{scheme}://localhost:{REDIS_PORT}"),
        EnvVar(name="REDIS_EXPORTER_WEB_LISTEN_ADDRESS", value=f":{exporter.port}"),
        # CONFIG is renamed by default (renamed_commands); the exporter reads maxmemory etc. through it.
        EnvVar(name="REDIS_EXPORTER_CONFIG_COMMAND", value=args.renamed_commands.get("CONFIG", "CONFIG") or "CONFIG"),
    ]
    if password is not None:
        env.append(EnvVar(name="REDIS_PASSWORD", secret_key_ref=password))
    if args.tls is not None:
        for variable, file in (("CA_CERT", "ca.crt"), ("CLIENT_CERT", "tls.crt"), ("CLIENT_KEY", "tls.key")):
            env.append(EnvVar(name=f"REDIS_EXPORTER_TLS_{variable}_FILE", value=f"{TLS_DIR}/{file}"))
    if exporter.include_system_metrics:
        env.append(EnvVar(name="REDIS_EXPORTER_INCL_SYSTEM_METRICS", value="true"))
    if exporter.check_keys:
        env.append(EnvVar(name="REDIS_EXPORTER_CHECK_KEYS", value=",".join(exporter.check_keys)))
    return Container(
        name=EXPORTER_CONTAINER,
        image=exporter.image,
        env=env,
        volume_mounts=_tls_mounts(args),
        ports=[{"name": EXPORTER_PORT_NAME, "container_port": exporter.port, "reachable_by": "metrics"}],
        resources=exporter.resources,
        # No probe: a failing exporter must not take Redis out of its Services or hold a rollout.
    )


class RedisRender(EnsembleRender[RedisArgs]):
    """Redis replication with a Sentinel in every pod: its workload and, with auth, the password
    Secret `<name>-auth`. The workload's client Service is the Sentinel Service: Sentinel-aware
    clients ask it for the master."""

    app_name = APP_NAME
    secret_suffix = "auth"  # noqa: S105 - a name suffix

    def sentinel_service_name(self) -> str:
        return self.workload_names.client_service

    def certified_services(self) -> list[str]:
        return [self.workload_names.headless_service, self.sentinel_service_name()]

    def needs_password(self) -> bool:
        return self.args.auth

    def config_dir(self) -> str:
        return CONFIG_DIR

    def data_claim(self) -> tuple[str, str]:
        return DATA_VOLUME, DATA_DIR

    def restore_layout(self) -> dict[str, str]:
        return {**super().restore_layout(), "APPENDONLY": "yes" if self.args.appendonly else "no"}

    def backup_fetch(self) -> BackupFetch:
        """An RDB from the replica furthest along (redis-backup-fetch.sh), over the Redis port."""
        password = self.password_ref()
        tls = self.args.tls
        mounts = (
            []
            if tls is None
            else [({"name": "tls", "secret": {"secretName": tls.secret(self.name), "defaultMode": 0o440}}, TLS_DIR)]
        )
        return BackupFetch(
            script=BACKUP_FETCH,
            text=render_script(BACKUP_FETCH),
            port=REDIS_PORT,
            env=[] if password is None else [EnvVar(name=PASSWORD_ENV, secret_key_ref=password)],
            mounts=mounts,
        )

    def sentinel_addresses(self, namespace: str) -> list[str]:
        """`<pod fqdn>:26379` for every pod: what a Sentinel-aware client is configured with."""
        return [f"{fqdn}:{SENTINEL_PORT}" for fqdn in self.pod_dns_names(namespace)]

    def workload_args(self, secret_name: Any = None) -> StatefulWorkloadArgs:
        args, password = self.args, self.password_ref(secret_name)
        env = _env(password)
        sentinel = Container(
            name=SENTINEL_CONTAINER,
            volume_mounts=_tls_mounts(args),
            command=["sh", f"{CONFIG_DIR}/{SENTINEL_START}"],
            env=env,
            ports=[{"name": SENTINEL_PORT_NAME, "container_port": SENTINEL_PORT}],
            resources=args.sentinel_resources,
            # Sentinel-start may wait for this pod's Redis and for the master before Sentinel runs.
            **_probes("sentinel", args.discovery_timeout_seconds + args.sentinel.down_after_seconds + 30),
        )
        exporter = [] if args.exporter is None else [_exporter(args.exporter, args, password)]
        options = self.workload_options()
        options["sidecars"] = [sentinel, *exporter, *args.sidecars]
        return StatefulWorkloadArgs(
            **options,
            container_name=REDIS_CONTAINER,
            ports=[{"name": REDIS_PORT_NAME, "container_port": REDIS_PORT}],
            command=["sh", f"{CONFIG_DIR}/{REDIS_START}"],
            env=[*env, *args.extra_env],
            resources=args.resources,
            # Redis-start waits for the Sentinels, longer while they disagree (a failover is running).
            **_probes("redis", args.discovery_timeout_seconds + args.sentinel.failover_timeout_seconds),
            # A master hands its role over before it stops (prestop.sh; no-op on a replica).
            pre_stop=["sh", f"{CONFIG_DIR}/{PRESTOP_SH}"] if args.master_handoff_seconds else None,
            volume_claims=[VolumeClaim(name=DATA_VOLUME, size=args.storage_size, mount_path=DATA_DIR)],
            # Role selection goes through the Sentinels, so pods need not start in order; after a full
            # outage all of them come back at once and find the last master from the saved state.
            pod_management_policy=PodManagementPolicy.PARALLEL,
            config_files=self.config_files(render_config_files(self.name, args)),
            config_mount_path=CONFIG_DIR,
            app_name=APP_NAME,
            component="server",
            # Peers must resolve each other (and the Sentinels the master) before anyone is Ready.
            publish_not_ready_addresses=True,
            client_service=ClientService(port_names=[SENTINEL_PORT_NAME]),
        )
