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

from dataclasses import dataclass
from typing import Any

from statefulkit.args.parts import ClientService, ContainerPort, EnvVar, KeyRef, Probe, VolumeClaim
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
from statefulkit.render.pod import Manifest
from statefulkit.render.shell import render_script
from statefulkit.render.tls import with_tls
from statefulkit.render.workload import (
    WorkloadManifests,
    WorkloadNames,
    ensemble_metadata,
    pod_dns_names,
    render_workload,
)

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
# The super user's password: a Secret key, read by the pods into PASSWORD_ENV.
PASSWORD_KEY = "password"  # noqa: S105 - the Secret key name
# The replica count a brand-new ensemble founds itself with: a ConfigMap key, read into REPLICAS_ENV.
REPLICAS_KEY = "replicas"


@dataclass(frozen=True)
class ZooKeeperNames:
    """The workload's object names plus the ensemble's own (the StatefulWorkload keeps its scheme)."""

    workload: WorkloadNames
    bootstrap_config_map: str
    admin_secret: str

    @classmethod
    def of(cls, name: str) -> ZooKeeperNames:
        return cls(
            workload=WorkloadNames.of(name),
            bootstrap_config_map=f"{name}-bootstrap",
            admin_secret=f"{name}-admin",
        )


def connect_string(name: str, args: ZooKeeperArgs, namespace: str) -> str:
    """`host:2181,...` over every member's FQDN, for clients that want the whole ensemble."""
    hosts = pod_dns_names(WorkloadNames.of(name), args.replicas, namespace, args.cluster_domain)
    port = member_port(args)
    return ",".join(f"{host}:{port}" for host in hosts)


def render_bootstrap_config_map(name: str, args: ZooKeeperArgs) -> Manifest:
    """`<name>-bootstrap`: the replica count, which a member needs only to found a brand-new ensemble.

    It is a ConfigMap of its own, read through configMapKeyRef, because everything in `<name>-config`
    is hashed into the pod template: with the count there, a scale would restart every member. Here a
    scale changes this object and `spec.replicas` only; running members keep running, and the
    membership follows the pods that start and stop (start.sh, prestop.sh)."""
    return {
        "metadata": ensemble_metadata(APP_NAME, name, ZooKeeperNames.of(name).bootstrap_config_map, args),
        "data": {REPLICAS_KEY: str(args.replicas)},
    }


def render_admin_secret(name: str, args: ZooKeeperArgs, password: Any) -> Manifest:
    """The Secret `<name>-admin` the component creates; `password` is passed through (a secret Output)."""
    return {
        "metadata": ensemble_metadata(APP_NAME, name, ZooKeeperNames.of(name).admin_secret, args),
        "type": "Opaque",
        "stringData": {PASSWORD_KEY: password},
    }


def password_ref(name: str, args: ZooKeeperArgs, secret_name: Any = None) -> KeyRef:
    """Where the pods read the super user's password: the user's Secret, or the one the component
    creates (`secret_name` may be its Output name, so that the StatefulSet depends on it)."""
    if args.existing_secret is not None:
        return args.existing_secret
    default = ZooKeeperNames.of(name).admin_secret
    return KeyRef(name=secret_name if secret_name is not None else default, key=PASSWORD_KEY)


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


def serves_plaintext(args: ZooKeeperArgs) -> bool:
    return args.serves_plaintext()


def render_common_script(name: str, args: ZooKeeperArgs) -> str:
    names = WorkloadNames.of(name)
    return render_script(
        "zookeeper-common.sh",
        STS=names.stateful_set,
        HEADLESS=names.headless_service,
        SERVER_ID_OFFSET=args.server_id_offset,
        CLUSTER_DOMAIN=args.cluster_domain,
        PORT=member_port(args),
        # A member's line in the dynamic configuration, not zoo.cfg, says where its plaintext port
        # listens; ZooKeeper requires one, so without plaintext clients it is the pod's loopback.
        CLIENT_SPEC=f";{CLIENT_PORT}" if serves_plaintext(args) else f";127.0.0.1:{CLIENT_PORT}",
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


def zookeeper_ports(args: ZooKeeperArgs) -> list[ContainerPort]:
    return args.container_ports()


def zookeeper_workload_args(name: str, args: ZooKeeperArgs, secret_name: Any = None) -> StatefulWorkloadArgs:
    """The StatefulWorkloadArgs a ZooKeeperEnsemble named `name` builds its StatefulWorkload from.

    `secret_name` overrides the name of the component-created password Secret (the component passes
    its Output name, so the StatefulSet waits for it); it is ignored with existing_secret. The
    bootstrap ConfigMap goes by its plain name: see ZooKeeperEnsemble for why."""
    claims = [VolumeClaim(name=DATA_CLAIM, size=args.storage_size, mount_path=DATA_DIR)]
    if args.data_log_storage_size is not None:
        claims.append(VolumeClaim(name=DATA_LOG_CLAIM, size=args.data_log_storage_size, mount_path=DATA_LOG_DIR))
    options = with_tls(args.workload_options(), name, args.tls, keystore=True)
    return StatefulWorkloadArgs(
        **options,
        container_name=CONTAINER_NAME,
        ports=zookeeper_ports(args),
        command=["bash", f"{CONFIG_DIR}/{START_SCRIPT_FILE}"],
        env=[
            EnvVar(name=NAMESPACE_ENV, field_path="metadata.namespace"),
            # By reference, not by value: the count changes with a scale, the pod template must not.
            EnvVar(
                name=REPLICAS_ENV,
                config_map_key_ref=KeyRef(name=ZooKeeperNames.of(name).bootstrap_config_map, key=REPLICAS_KEY),
            ),
            EnvVar(name=PASSWORD_ENV, secret_key_ref=password_ref(name, args, secret_name)),
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
        config_files=render_config_files(name, args),
        config_mount_path=CONFIG_DIR,
        config_file_mode=0o555,
        app_name=APP_NAME,
        component="server",
        # Members must resolve each other before any of them is Ready (no quorum without peers).
        publish_not_ready_addresses=True,
        client_service=ClientService(
            port_names=[port.name for port in zookeeper_ports(args) if port.reachable_by == "clients"],
            type=args.client_service_type,
            annotations=args.client_service_annotations,
        ),
    )


def render_zookeeper(name: str, args: ZooKeeperArgs) -> WorkloadManifests:
    """Every manifest the ensemble's StatefulWorkload registers (what the tests run with podsim);
    the ensemble's own objects are `render_bootstrap_config_map` and `render_admin_secret`."""
    return render_workload(name, zookeeper_workload_args(name, args))
