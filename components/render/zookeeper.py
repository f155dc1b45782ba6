"""Pure rendering of a ZooKeeperArgs into the StatefulWorkloadArgs of its workload, plus the application files.

No Pulumi import. The namespace (possibly an Output) is never read here: the start script takes it
from the pod's own environment (downward API `metadata.namespace`), so the ConfigMap is plain text
that does not wait on any Output.

Files in the `<name>-config` ConfigMap (mounted read-only at /config):
- `zoo-base.cfg`: every static zoo.cfg property.
- `start.sh`: derives the member's identity from its hostname `<sts>-<ordinal>`, checks or writes
  `myid`, writes the full zoo.cfg (base + one `server.<id>` line per member) to the data volume and
  execs `zkServer.sh start-foreground <that file>`.
- `probe.sh`: `ready` (srvr answers Mode leader/follower/standalone) and `live` (ruok answers imok),
  in bash with /dev/tcp only.
"""

from __future__ import annotations

from components.args.parts import ClientService, ContainerPort, EnvVar, Probe, VolumeClaim
from components.args.workload import StatefulWorkloadArgs
from components.args.zookeeper import (
    ADMIN_PORT,
    CLIENT_PORT,
    ELECTION_PORT,
    METRICS_PORT,
    QUORUM_PORT,
    ZooKeeperArgs,
)
from components.render.shell import render_script
from components.render.workload import WorkloadManifests, WorkloadNames, pod_dns_names, render_workload

CONTAINER_NAME = "zookeeper"
APP_NAME = "zookeeper"
CONFIG_DIR = "/config"
DATA_DIR = "/data"
DATA_LOG_DIR = "/datalog"
DATA_CLAIM = "data"
DATA_LOG_CLAIM = "datalog"
BASE_CONFIG_FILE = "zoo-base.cfg"
START_SCRIPT_FILE = "start.sh"
PROBE_SCRIPT_FILE = "probe.sh"
# Where start.sh writes the complete config: the data volume is the one place that is always writable.
RENDERED_CONFIG = f"{DATA_DIR}/zoo.cfg"
PROMETHEUS_PROVIDER = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
# Seconds a probe waits for a four-letter-word answer; below the probes' timeoutSeconds.
PROBE_READ_TIMEOUT = 4


def server_line(server_id: int, host: str) -> str:
    return f"server.{server_id}={host}:{QUORUM_PORT}:{ELECTION_PORT};{CLIENT_PORT}"


def server_lines(name: str, args: ZooKeeperArgs, namespace: str) -> list[str]:
    """The `server.<id>` lines start.sh writes in `namespace` (a plain str): one per member."""
    hosts = pod_dns_names(WorkloadNames.of(name), args.replicas, namespace, args.cluster_domain)
    return [server_line(server_id, host) for server_id, host in zip(args.server_ids(), hosts, strict=True)]


def connect_string(name: str, args: ZooKeeperArgs, namespace: str) -> str:
    """`host:2181,...` over every member's FQDN, for clients that want the whole ensemble."""
    hosts = pod_dns_names(WorkloadNames.of(name), args.replicas, namespace, args.cluster_domain)
    return ",".join(f"{host}:{CLIENT_PORT}" for host in hosts)


def render_base_config(name: str, args: ZooKeeperArgs) -> str:
    """The static part of zoo.cfg; start.sh appends the server lines."""
    lines = [
        f"# zoo.cfg of ZooKeeper ensemble {name}, rendered by statefulkit.",
        f"# {START_SCRIPT_FILE} copies it to {RENDERED_CONFIG} at every start and appends one",
        "# server.<id> line per member; edit the ZooKeeperArgs, not this file.",
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
        # One member runs standalone; the server list is static (no dynamic reconfig).
        "standaloneEnabled=true",
        "reconfigEnabled=false",
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
    if args.extra_config:
        lines.append("# extra_config")
        lines += [f"{key}={value}" for key, value in sorted(args.extra_config.items())]
    return "\n".join(lines) + "\n"


def render_start_script(name: str, args: ZooKeeperArgs) -> str:
    names = WorkloadNames.of(name)
    constants = {
        "STS": names.stateful_set,
        "HEADLESS": names.headless_service,
        "REPLICAS": str(args.replicas),
        "SERVER_ID_OFFSET": str(args.server_id_offset),
        "CLUSTER_DOMAIN": args.cluster_domain,
        "CLIENT_PORT": str(CLIENT_PORT),
        "QUORUM_PORT": str(QUORUM_PORT),
        "ELECTION_PORT": str(ELECTION_PORT),
        "CONFIG_DIR": CONFIG_DIR,
        "BASE_CONFIG": BASE_CONFIG_FILE,
        "DATA_DIR": DATA_DIR,
        "DATA_LOG_DIR": DATA_LOG_DIR if args.data_log_storage_size is not None else "",
        "HEAP_MIB": str(args.heap_mib),
        "JVM_FLAGS": " ".join(args.jvm_flags),
        "HOSTNAME_FILE": "/proc/sys/kernel/hostname",
    }
    return render_script("zookeeper-start.sh", **constants)


def render_probe_script() -> str:
    return render_script("zookeeper-probe.sh", PORT=CLIENT_PORT, READ_TIMEOUT=PROBE_READ_TIMEOUT)


def _probe_command(mode: str) -> list[str]:
    return ["bash", f"{CONFIG_DIR}/{PROBE_SCRIPT_FILE}", mode]


def render_config_files(name: str, args: ZooKeeperArgs) -> dict[str, str]:
    return {
        BASE_CONFIG_FILE: render_base_config(name, args),
        START_SCRIPT_FILE: render_start_script(name, args),
        PROBE_SCRIPT_FILE: render_probe_script(),
    }


def zookeeper_ports(args: ZooKeeperArgs) -> list[ContainerPort]:
    ports = [
        ContainerPort(name="client", container_port=CLIENT_PORT),
        ContainerPort(name="quorum", container_port=QUORUM_PORT),
        ContainerPort(name="election", container_port=ELECTION_PORT),
    ]
    if args.admin_server:
        ports.append(ContainerPort(name="admin", container_port=ADMIN_PORT))
    if args.metrics:
        ports.append(ContainerPort(name="metrics", container_port=METRICS_PORT))
    return ports


def zookeeper_workload_args(name: str, args: ZooKeeperArgs) -> StatefulWorkloadArgs:
    """The StatefulWorkloadArgs a ZooKeeperEnsemble named `name` builds its StatefulWorkload from."""
    claims = [VolumeClaim(name=DATA_CLAIM, size=args.storage_size, mount_path=DATA_DIR)]
    if args.data_log_storage_size is not None:
        claims.append(VolumeClaim(name=DATA_LOG_CLAIM, size=args.data_log_storage_size, mount_path=DATA_LOG_DIR))
    return StatefulWorkloadArgs(
        **args.workload_options(),
        container_name=CONTAINER_NAME,
        ports=zookeeper_ports(args),
        command=["bash", f"{CONFIG_DIR}/{START_SCRIPT_FILE}"],
        env=[EnvVar(name="POD_NAMESPACE", field_path="metadata.namespace")],
        volume_claims=claims,
        pod_management_policy=args.pod_management_policy,
        resources=args.resources,
        # Serving as a quorum member, not merely running: a RollingUpdate moves on only when the
        # replaced member has rejoined, so an update never takes two members out at once.
        readiness_probe=Probe(
            exec_command=_probe_command("ready"), period_seconds=5, timeout_seconds=5, failure_threshold=2
        ),
        # ruok: the process is up. Generous, because a member stays unready through a long election.
        liveness_probe=Probe(
            exec_command=_probe_command("live"), period_seconds=15, timeout_seconds=5, failure_threshold=8
        ),
        # Up to 5 minutes to load a large snapshot before liveness starts counting.
        startup_probe=Probe(
            exec_command=_probe_command("live"), period_seconds=5, timeout_seconds=5, failure_threshold=60
        ),
        config_files=render_config_files(name, args),
        config_mount_path=CONFIG_DIR,
        config_file_mode=0o555,
        app_name=APP_NAME,
        component="server",
        # Members must resolve each other before any of them is Ready (no quorum without peers).
        publish_not_ready_addresses=True,
        client_service=ClientService(
            port_names=["client"], type=args.client_service_type, annotations=args.client_service_annotations
        ),
    )


def render_zookeeper(name: str, args: ZooKeeperArgs) -> WorkloadManifests:
    """Every manifest the ensemble's StatefulWorkload registers (what the tests run with podsim)."""
    return render_workload(name, zookeeper_workload_args(name, args))
