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

import shlex

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


_START_SCRIPT = r"""#!/usr/bin/env bash
# Start script of a ZooKeeper ensemble member, rendered by statefulkit.
# The member derives everything from its own pod identity:
#   hostname <sts>-<ordinal>                -> myid = ordinal + 1 + SERVER_ID_OFFSET
#   POD_NAMESPACE (downward API)            -> server.<id>=<sts>-<i>.<headless>.<ns>.svc.<domain>:2888:3888;2181
# A myid already on the data volume must match, or the member refuses to start.
# The ConfigMap mount is read-only: the full zoo.cfg is written to the data volume at every start.
set -euo pipefail

# --- rendered constants
@CONSTANTS@
# --- end of rendered constants

log() { printf 'statefulkit-zookeeper: %s\n' "$*" >&2; }
die() {
  log "FATAL: $*"
  exit 1
}

host=""
IFS= read -r host <"$HOSTNAME_FILE" || [[ -n "$host" ]] || die "cannot read the hostname from $HOSTNAME_FILE"
host="${host%%.*}"
ordinal="${host##*-}"
if [[ "$host" != "$STS-$ordinal" || ! "$ordinal" =~ ^(0|[1-9][0-9]*)$ ]]; then
  die "hostname '$host' is not '$STS-<ordinal>'; this script runs only in a pod of StatefulSet $STS"
fi
if ((ordinal >= REPLICAS)); then
  die "$host has ordinal $ordinal, but the ensemble has $REPLICAS members" \
    "(ordinals 0..$((REPLICAS - 1))); its config is stale"
fi
namespace="${POD_NAMESPACE:-}"
[[ -n "$namespace" ]] || die "POD_NAMESPACE is empty; the pod must set it from the downward API (metadata.namespace)"
myid=$((ordinal + 1 + SERVER_ID_OFFSET))

for dir in "$DATA_DIR" ${DATA_LOG_DIR:+"$DATA_LOG_DIR"}; do
  [[ -d "$dir" && -w "$dir" ]] || die "volume $dir is missing or not writable by uid $EUID"
done

myid_file="$DATA_DIR/myid"
if [[ -e "$myid_file" ]]; then
  recorded=""
  IFS= read -r recorded <"$myid_file" || true
  recorded="${recorded//[[:space:]]/}"
  if [[ "$recorded" != "$myid" ]]; then
    die "refusing to start: $myid_file holds myid '$recorded', but $host (ordinal $ordinal) is server $myid." \
      "The volume belongs to another member (a claim bound to the wrong pod, or a changed server_id_offset);" \
      "joining would let two servers vote under one id. Fix the volume, then restart the pod."
  fi
  log "$myid_file matches: $host is server $myid"
else
  [[ ! -d "$DATA_DIR/version-2" ]] || log "WARNING: $DATA_DIR holds data but no myid; claiming it as server $myid"
  printf '%s\n' "$myid" >"$myid_file.tmp"
  mv -f "$myid_file.tmp" "$myid_file"
  log "wrote $myid_file: $host is server $myid"
fi

config="$DATA_DIR/zoo.cfg"
{
  cat "$CONFIG_DIR/$BASE_CONFIG"
  printf '# Members, via the headless Service %s (written by %s at start)\n' "$HEADLESS" "$host"
  for ((i = 0; i < REPLICAS; i++)); do
    printf 'server.%d=%s-%d.%s.%s.svc.%s:%d:%d;%d\n' "$((i + 1 + SERVER_ID_OFFSET))" \
      "$STS" "$i" "$HEADLESS" "$namespace" "$CLUSTER_DOMAIN" "$QUORUM_PORT" "$ELECTION_PORT" "$CLIENT_PORT"
  done
} >"$config.tmp"
mv -f "$config.tmp" "$config"

# ZK_SERVER_HEAP is what the official image's zkEnv.sh reads; SERVER_JVMFLAGS reaches the JVM in every
# zkServer.sh (and comes last, so it wins).
export ZK_SERVER_HEAP="$HEAP_MIB"
export SERVER_JVMFLAGS="-Xms${HEAP_MIB}m -Xmx${HEAP_MIB}m${JVM_FLAGS:+ $JVM_FLAGS}"
log "$host is server $myid of $REPLICAS in namespace $namespace; starting with $config"
exec zkServer.sh start-foreground "$config"
"""


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
    block = "\n".join(f"{key}={shlex.quote(value)}" for key, value in constants.items())
    return _START_SCRIPT.replace("@CONSTANTS@", block)


_PROBE_SCRIPT = r"""#!/usr/bin/env bash
# Probes of a ZooKeeper ensemble member, rendered by statefulkit. Bash and /dev/tcp only: the
# official image has no nc or curl guarantee.
#   probe.sh ready  succeeds only while the server serves as a quorum member: `srvr` answers
#                   Mode: leader, follower or standalone (never while it is looking for a leader).
#   probe.sh live   succeeds while the server process answers `ruok` with `imok`, which it also
#                   does during a leader election, so liveness never kills a member that is voting.
set -u
PORT=@PORT@
READ_TIMEOUT=@READ_TIMEOUT@

ask() {
  local answer="" line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
  printf '%s' "$1" >&3 || return 1
  while true; do
    if IFS= read -r -t "$READ_TIMEOUT" line <&3; then
      answer+="$line"$'\n'
    else
      answer+="$line"
      break
    fi
  done
  exec 3<&-
  printf '%s' "$answer"
}

case "${1:-}" in
ready)
  answer="$(ask srvr)" || { echo "not ready: nothing answers on 127.0.0.1:$PORT"; exit 1; }
  if [[ "$answer" =~ Mode:\ (leader|follower|standalone) ]]; then
    echo "ready: ${BASH_REMATCH[0]}"
    exit 0
  fi
  echo "not ready: srvr answered: ${answer:-(nothing)}"
  exit 1
  ;;
live)
  answer="$(ask ruok)" || { echo "not live: nothing answers on 127.0.0.1:$PORT"; exit 1; }
  if [[ "$answer" == imok* ]]; then
    echo "live: imok"
    exit 0
  fi
  echo "not live: ruok answered: ${answer:-(nothing)}"
  exit 1
  ;;
*)
  echo "usage: $0 ready|live" >&2
  exit 2
  ;;
esac
"""


def render_probe_script() -> str:
    return _PROBE_SCRIPT.replace("@PORT@", str(CLIENT_PORT)).replace("@READ_TIMEOUT@", str(PROBE_READ_TIMEOUT))


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
