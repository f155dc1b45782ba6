"""Pure rendering of a ZooKeeperArgs into the StatefulWorkloadArgs of its workload, plus the application files.

No Pulumi import. The namespace (possibly an Output) is never read here: the scripts take it from the
pod's own environment (downward API `metadata.namespace`), so the ConfigMap is plain text that does
not wait on any Output. The name of the password Secret may be an Output (the component passes it
so that the StatefulSet waits for the Secret); it is passed through.

Membership is dynamic (ZooKeeper's reconfig): `zoo.cfg` has `reconfigEnabled=true`,
`standaloneEnabled=false` and a `dynamicConfigFile` on the data volume, which ZooKeeper rewrites
itself after every membership change. The replica count is used only to found a brand-new
ensemble, so it lives outside the hashed ConfigMap (see `render_bootstrap_config_map`): a scale
changes no pod template and restarts no member.

Files in the `<name>-config` ConfigMap (mounted read-only at /config; their hash rolls the pods):
- `zoo-base.cfg`: every static zoo.cfg property.
- `common.sh`: the member's identity (hostname `<sts>-<ordinal>` -> myid) and how it talks to peers
  (four-letter words, zkCli.sh as the super user).
- `start.sh`: checks or writes `myid`, picks the membership to start with (the one ZooKeeper
  recorded, the current one from a live peer, or a new ensemble), writes zoo.cfg to the data volume,
  adds itself to the ensemble once synced, and execs `zkServer.sh start-foreground <that file>`.
- `prestop.sh`: a stopping member removes itself from the voting ensemble first.
- `probe.sh`: `ready` (serving as a voting member) and `live` (ruok answers imok), bash and /dev/tcp only.
"""

from __future__ import annotations

from typing import Any

from statefulkit.args.claims import VolumeClaim
from statefulkit.args.container import ClientService, EnvVar, KeyRef, Probe
from statefulkit.args.tls import TLS_DIR, TLS_KEYSTORE, TlsArgs
from statefulkit.args.workload import StatefulWorkloadArgs

# What the ensemble puts into its pods is declared with its args (ZooKeeperArgs.own_pod
# checks a user's additions against it); the renderer uses the same names.
from statefulkit.args.zookeeper import (
    ADMIN_PORT,
    CLIENT_PORT,
    CONFIG_DIR,
    CONTAINER_NAME,
    DATA_CLAIM,
    DATA_DIR,
    DATA_LOG_CLAIM,
    DATA_LOG_DIR,
    ELECTION_PORT,
    METRICS_PORT,
    NAMESPACE_ENV,
    PASSWORD_ENV,
    QUORUM_PORT,
    REPLICAS_ENV,
    SECURE_CLIENT_PORT,
    ZooKeeperArgs,
)
from statefulkit.render.ensemble import EnsembleRender
from statefulkit.render.pod import Manifest
from statefulkit.render.shell import render_script
from statefulkit.render.workload import script_identity

APP_NAME = "zookeeper"
BASE_CONFIG_FILE = "zoo-base.cfg"
COMMON_SCRIPT_FILE = "common.sh"
START_SCRIPT_FILE = "start.sh"
PRESTOP_SCRIPT_FILE = "prestop.sh"
PROBE_SCRIPT_FILE = "probe.sh"
# Where start.sh writes the complete config: the data volume is the one place that is always
# writable, and ZooKeeper rewrites this file and its dynamic membership file there after a reconfig.
RENDERED_CONFIG = f"{DATA_DIR}/zoo.cfg"
PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
# Seconds a probe waits for a four-letter-word answer; below the probes' timeoutSeconds.
PROBE_READ_TIMEOUT = 4
# Seconds a start or stop script gives a peer to answer a four-letter word, and one zkCli.sh run.
PEER_TIMEOUT = 3
ADMIN_TIMEOUT = 15
# The replica count a brand-new ensemble founds itself with: a ConfigMap key, read into REPLICAS_ENV.
REPLICAS_KEY = "replicas"


def render_base_config(name: str, args: ZooKeeperArgs) -> str:
    """The static part of zoo.cfg; start.sh adds the dynamicConfigFile line."""
    lines = [
        f"# zoo.cfg of ZooKeeper ensemble {name}, rendered by statefulkit.",
        f"# {START_SCRIPT_FILE} copies it to {RENDERED_CONFIG} at every start and adds the dynamicConfigFile",
        "# ZooKeeper last recorded (the membership); edit the ZooKeeperArgs, not this file.",
        f"tickTime={args.tick_time_ms}",
        f"initLimit={args.init_limit}",
        f"syncLimit={args.sync_limit}",
        f"dataDir={DATA_DIR}",
    ]
    if args.data_log_storage_size is not None:
        lines.append(f"dataLogDir={DATA_LOG_DIR}")
    lines += [
        f"maxClientCnxns={args.max_client_connections}",
        f"autopurge.snapRetainCount={args.autopurge_snap_retain_count}",
        f"autopurge.purgeInterval={args.autopurge_purge_interval_hours}",
        f"4lw.commands.whitelist={','.join(args.four_letter_words)}",
        # Membership changes through reconfig (as the super user), and a single member is a quorum of
        # one rather than a standalone server, so that it can grow without a restart.
        "standaloneEnabled=false",
        "reconfigEnabled=true",
        # Bind quorum/election ports on all addresses, not on whatever the own FQDN resolved to at start.
        "quorumListenOnAllIPs=true",
        f"admin.enableServer={'true' if args.admin_server else 'false'}",
    ]
    if args.admin_server:
        lines.append(f"admin.serverPort={ADMIN_PORT}")
    if args.metrics:
        lines += [
            f"metricsProvider.className={PROMETHEUS_PROVIDER}",
            f"metricsProvider.httpPort={METRICS_PORT}",
            "metricsProvider.exportJvmInfo=true",
        ]
    if args.tls is not None:
        lines += _tls_config(args.tls)
    if args.extra_config:
        lines.append("# extra_config")
        lines += [f"{key}={value}" for key, value in sorted(args.extra_config.items())]
    return "\n".join(lines) + "\n"


def _tls_config(tls: TlsArgs) -> list[str]:
    """TLS client port (Netty) and quorum TLS, both from the PEM key store start.sh assembles from
    the certificate Secret (ZooKeeper reads the key and its chain from one file)."""
    stores = []
    for prefix in ("ssl", "ssl.quorum"):
        stores += [
            f"{prefix}.keyStore.location={TLS_KEYSTORE}",
            f"{prefix}.keyStore.type=PEM",
            f"{prefix}.trustStore.location={TLS_DIR}/ca.crt",
            f"{prefix}.trustStore.type=PEM",
        ]
    return [
        f"secureClientPort={SECURE_CLIENT_PORT}",
        "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
        "sslQuorum=true",
        *stores,
        f"ssl.clientAuth={'need' if tls.client_certificates else 'none'}",
    ]


def member_port(args: ZooKeeperArgs) -> int:
    """The client port clients and the members' own scripts use: the TLS one when there is TLS."""
    return CLIENT_PORT if args.tls is None else SECURE_CLIENT_PORT


def render_common_script(name: str, args: ZooKeeperArgs) -> str:
    return render_script(
        "zookeeper-common.sh",
        **script_identity(name, args.cluster_domain),
        SERVER_ID_OFFSET=args.server_id_offset,
        PORT=member_port(args),
        # A member's line in the dynamic configuration, not zoo.cfg, says where its plaintext port
        # listens; ZooKeeper requires one, so without plaintext clients it is the pod's loopback.
        CLIENT_SPEC=f";{CLIENT_PORT}" if args.serves_plaintext() else f";127.0.0.1:{CLIENT_PORT}",
        QUORUM_PORT=QUORUM_PORT,
        ELECTION_PORT=ELECTION_PORT,
        CONFIG_DIR=CONFIG_DIR,
        DATA_DIR=DATA_DIR,
        DATA_LOG_DIR=DATA_LOG_DIR if args.data_log_storage_size is not None else "",
        HOSTNAME_FILE="/proc/sys/kernel/hostname",
        PEER_TIMEOUT=PEER_TIMEOUT,
        ADMIN_TIMEOUT=ADMIN_TIMEOUT,
        TLS_DIR=TLS_DIR if args.tls is not None else "",
        TLS_KEYSTORE=TLS_KEYSTORE if args.tls is not None else "",
    )


def render_start_script(args: ZooKeeperArgs) -> str:
    return render_script(
        "zookeeper-start.sh",
        BASE_CONFIG=BASE_CONFIG_FILE,
        HEAP_MIB=args.heap_mib,
        JVM_FLAGS=" ".join(args.jvm_flags),
        BOOTSTRAP_WAIT=args.bootstrap_wait_seconds,
    )


def render_prestop_script(args: ZooKeeperArgs) -> str:
    return render_script("zookeeper-prestop.sh", REMOVAL_SECONDS=args.member_removal_seconds)


def render_probe_script(args: ZooKeeperArgs) -> str:
    return render_script(
        "zookeeper-probe.sh",
        PORT=member_port(args),
        READ_TIMEOUT=PROBE_READ_TIMEOUT,
        TLS_DIR=TLS_DIR if args.tls is not None else "",
    )


def _probe_command(mode: str) -> list[str]:
    return ["bash", f"{CONFIG_DIR}/{PROBE_SCRIPT_FILE}", mode]


def render_config_files(name: str, args: ZooKeeperArgs) -> dict[str, str]:
    """Everything in the hashed ConfigMap: nothing here depends on the replica count or a secret."""
    return {
        BASE_CONFIG_FILE: render_base_config(name, args),
        COMMON_SCRIPT_FILE: render_common_script(name, args),
        START_SCRIPT_FILE: render_start_script(args),
        PRESTOP_SCRIPT_FILE: render_prestop_script(args),
        PROBE_SCRIPT_FILE: render_probe_script(args),
    }


class ZooKeeperRender(EnsembleRender[ZooKeeperArgs]):
    """A ZooKeeper ensemble: its workload, the super user's Secret `<name>-admin` and the
    bootstrap ConfigMap `<name>-bootstrap`."""

    app_name = APP_NAME
    secret_suffix = "admin"  # noqa: S105 - a name suffix

    def bootstrap_config_map_name(self) -> str:
        return f"{self.name}-bootstrap"

    def certified_services(self) -> list[str]:
        return [self.workload_names.headless_service, self.workload_names.client_service]

    def connect_string(self, namespace: str) -> str:
        """`host:2181,...` over every member's FQDN, for clients that want the whole ensemble."""
        port = member_port(self.args)
        return ",".join(f"{host}:{port}" for host in self.pod_dns_names(namespace))

    def config_maps(self) -> list[Manifest]:
        """`<name>-bootstrap`: the replica count, which a member needs only to found a brand-new
        ensemble.

        It is a ConfigMap of its own, read through configMapKeyRef, because everything in
        `<name>-config` is hashed into the pod template: with the count there, a scale would restart
        every member. Here a scale changes this object and `spec.replicas` only; running members
        keep running, and the membership follows the pods that start and stop (start.sh, prestop.sh)."""
        return [
            {
                "metadata": self.metadata(self.bootstrap_config_map_name()),
                "data": {REPLICAS_KEY: str(self.args.replicas)},
            }
        ]

    def workload_args(self, secret_name: Any = None) -> StatefulWorkloadArgs:
        """The bootstrap ConfigMap goes by its plain name: see ZooKeeperEnsemble for why."""
        args = self.args
        password = self.password_ref(secret_name)
        assert password is not None  # the super user always has one
        claims = [VolumeClaim(name=DATA_CLAIM, size=args.storage_size, mount_path=DATA_DIR)]
        if args.data_log_storage_size is not None:
            claims.append(VolumeClaim(name=DATA_LOG_CLAIM, size=args.data_log_storage_size, mount_path=DATA_LOG_DIR))
        options = self.workload_options()
        return StatefulWorkloadArgs(
            **options,
            container_name=CONTAINER_NAME,
            ports=args.container_ports(),
            command=["bash", f"{CONFIG_DIR}/{START_SCRIPT_FILE}"],
            env=[
                EnvVar(name=NAMESPACE_ENV, field_path="metadata.namespace"),
                # By reference, not by value: the count changes with a scale, the pod template must not.
                EnvVar(
                    name=REPLICAS_ENV,
                    config_map_key_ref=KeyRef(name=self.bootstrap_config_map_name(), key=REPLICAS_KEY),
                ),
                EnvVar(name=PASSWORD_ENV, secret_key_ref=password),
                *args.extra_env,
            ],
            volume_claims=claims,
            pod_management_policy=args.pod_management_policy,
            resources=args.resources,
            # Serving as a voting member, not merely running: a RollingUpdate moves on only when the
            # replaced member has synced and added itself back, so an update never takes two members out at once.
            readiness_probe=Probe(
                exec_command=_probe_command("ready"), period_seconds=5, timeout_seconds=5, failure_threshold=2
            ),
            # ruok: the process is up. Generous, because a member stays unready through a long election.
            liveness_probe=Probe(
                exec_command=_probe_command("live"), period_seconds=15, timeout_seconds=5, failure_threshold=8
            ),
            # Up to 5 minutes to find the ensemble and load a large snapshot before liveness starts counting.
            startup_probe=Probe(
                exec_command=_probe_command("live"), period_seconds=5, timeout_seconds=5, failure_threshold=60
            ),
            # A stopping member takes itself out of the voting ensemble first (bounded by
            # member_removal_seconds, which the args keep inside the grace period).
            pre_stop=["bash", f"{CONFIG_DIR}/{PRESTOP_SCRIPT_FILE}"],
            config_files=self.config_files(render_config_files(self.name, args)),
            config_mount_path=CONFIG_DIR,
            config_file_mode=0o555,
            app_name=APP_NAME,
            component="server",
            # Members must resolve each other before any of them is Ready (no quorum without peers).
            publish_not_ready_addresses=True,
            client_service=ClientService(
                port_names=[port.name for port in args.container_ports() if port.reachable_by == "clients"],
                type=args.client_service_type,
                annotations=args.client_service_annotations,
            ),
        )
