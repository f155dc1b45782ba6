"""Pure rendering of RedisArgs: redis.conf, sentinel.conf, the start scripts and the workload spec.

No Pulumi import. The namespace and the password Secret's name may be Pulumi Outputs: they are
passed through untouched. The password itself is never rendered here: the scripts read it from
an environment variable (secretKeyRef) and write it into the pod's writable config at start.

How a pod picks its role (redis-start.sh), safe after failovers:
1. Ask every pod's Sentinel (`SENTINEL get-master-addr-by-name`) until one answers or
   discovery_timeout_seconds pass; follow the host most Sentinels name (itself: start as master).
2. No Sentinel reachable: follow the master this pod's own Sentinel saved on the data volume
   (sentinel.conf survives restarts), so a full restart keeps the last elected master.
3. Neither (a new ensemble): ordinal 0 starts as master, the others follow `<name>-0`.
Nodes are named by FQDN, never by pod IP (`replica-announce-ip`, Sentinel `announce-hostnames`).
Sentinel (sentinel-start.sh) starts only once this pod's Redis answers, and declares every other pod
a known replica, so a restart is never mistaken for a failure and a fresh Sentinel can fail over at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.args.parts import ClientService, Container, EnvVar, KeyRef, PodManagementPolicy, Probe, VolumeClaim
from components.args.redis import REDIS_PORT, SENTINEL_COMMANDS, SENTINEL_PORT, RedisArgs
from components.args.workload import StatefulWorkloadArgs
from components.render.pod import Manifest
from components.render.workload import DELETE_IN_BACKGROUND, WorkloadNames, pod_dns_names

DATA_VOLUME = "data"
DATA_DIR = "/data"
CONFIG_DIR = "/config"
REDIS_CONTAINER = "redis"
SENTINEL_CONTAINER = "sentinel"
PASSWORD_ENV = "REDIS_PASSWORD"  # noqa: S105 - a variable name, not a password
PASSWORD_KEY = "password"  # noqa: S105 - the Secret key name
APP_NAME = "redis"

REDIS_CONF = "redis.conf"
SENTINEL_CONF = "sentinel.conf"
COMMON_SH = "common.sh"
REDIS_START = "redis-start.sh"
SENTINEL_START = "sentinel-start.sh"
PROBE_SH = "probe.sh"


@dataclass(frozen=True)
class RedisNames:
    """Object names derived from the component name (the StatefulWorkload keeps its own scheme)."""

    stateful_set: str
    headless_service: str
    sentinel_service: str
    config_map: str
    secret: str

    @classmethod
    def of(cls, name: str) -> RedisNames:
        workload = WorkloadNames.of(name)
        return cls(
            stateful_set=workload.stateful_set,
            headless_service=workload.headless_service,
            sentinel_service=workload.client_service,
            config_map=workload.config_map,
            secret=f"{name}-auth",
        )


def password_ref(name: str, args: RedisArgs, secret_name: Any = None) -> KeyRef | None:
    """Where the pods read the password: the user's Secret, or the one the component creates
    (`secret_name` may be that Secret's Output name, so the StatefulSet depends on it)."""
    if not args.auth:
        return None
    if args.existing_secret is not None:
        return args.existing_secret
    return KeyRef(name=secret_name if secret_name is not None else RedisNames.of(name).secret, key=PASSWORD_KEY)


def render_auth_secret(name: str, args: RedisArgs, password: Any) -> Manifest:
    """The Secret the component creates; `password` is passed through (the component hands a secret Output)."""
    return {
        "metadata": {
            "name": RedisNames.of(name).secret,
            "namespace": args.namespace,
            "labels": {
                "app.kubernetes.io/name": APP_NAME,
                "app.kubernetes.io/instance": name,
                "app.kubernetes.io/managed-by": "pulumi",
                **args.labels,
            },
            "annotations": {**args.annotations, **DELETE_IN_BACKGROUND},
        },
        "type": "Opaque",
        "stringData": {PASSWORD_KEY: password},
    }


def pod_fqdns(name: str, args: RedisArgs, namespace: str) -> list[str]:
    return pod_dns_names(WorkloadNames.of(name), args.replicas, namespace, args.cluster_domain)


def sentinel_addresses(name: str, args: RedisArgs, namespace: str) -> list[str]:
    """`<pod fqdn>:26379` for every pod: what a Sentinel-aware client is configured with."""
    return [f"{fqdn}:{SENTINEL_PORT}" for fqdn in pod_fqdns(name, args, namespace)]


# --------------------------------------------------------------------------- config files


def render_redis_conf(args: RedisArgs) -> str:
    """The static part of redis.conf; redis-start.sh adds the per-pod role, announce name and auth."""
    lines = [
        "# statefulkit RedisEnsemble: static settings. The start script copies this file to the data",
        "# volume and appends replica-announce-ip, replicaof and the password lines (from the Secret).",
        f"port {REDIS_PORT}",
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


def render_sentinel_conf(args: RedisArgs) -> str:
    """sentinel.conf template: @SELF@ and @MASTER@ are filled in per pod by sentinel-start.sh."""
    master = args.master_name
    s = args.sentinel
    lines = [
        "# statefulkit RedisEnsemble: Sentinel template. sentinel-start.sh fills in @SELF@ (this pod's",
        "# FQDN) and @MASTER@ (the current master's FQDN), adds the password lines and keeps the",
        "# identity and epochs Sentinel saved on the data volume.",
        f"port {SENTINEL_PORT}",
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
    names = RedisNames.of(name)
    return f"""#!/bin/sh
# statefulkit RedisEnsemble: settings and helpers shared by the start scripts and probes.
# POSIX sh. The namespace comes from the pod (fieldRef), the password from a Secret (secretKeyRef).
STS={names.stateful_set}
HEADLESS={names.headless_service}
CLUSTER_DOMAIN={args.cluster_domain}
REPLICAS={args.replicas}
MASTER_NAME={args.master_name}
REDIS_PORT={REDIS_PORT}
SENTINEL_PORT={SENTINEL_PORT}
DATA_DIR={DATA_DIR}
CONFIG_DIR={CONFIG_DIR}
AUTH={1 if args.auth else 0}
DISCOVERY_TIMEOUT={args.discovery_timeout_seconds}
DOWN_AFTER_SECONDS={-(-args.sentinel.down_after_milliseconds // 1000)}
SENTINEL_SAVED="$DATA_DIR/sentinel/sentinel.conf"

POD_NAME="${{POD_NAME:-$(cat /proc/sys/kernel/hostname)}}"
: "${{POD_NAMESPACE:?POD_NAMESPACE must be set (fieldRef metadata.namespace)}}"
ORDINAL="${{POD_NAME##*-}}"

log() {{ echo "statefulkit[$POD_NAME]: $*" >&2; }}

fqdn() {{ echo "$STS-$1.$HEADLESS.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN"; }}
SELF="$(fqdn "$ORDINAL")"

if [ "$AUTH" = 1 ]; then
  if [ -z "${{{PASSWORD_ENV}:-}}" ]; then
    log "{PASSWORD_ENV} is empty: the password Secret is missing its key"
    exit 1
  fi
  # redis-cli reads the password from here: never on a command line, never in a file.
  REDISCLI_AUTH="${PASSWORD_ENV}"
  export REDISCLI_AUTH
fi

cli() {{ timeout 3 redis-cli --no-auth-warning "$@"; }}

# A redis.conf string holding $1 with every byte hex-escaped: any password survives quoting.
conf_quote() {{
  printf '"%s"' "$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \\n' | sed 's/../\\\\x&/g')"
}}

# The master host named by most reachable Sentinels; $1 = all | peers (skip this pod's own).
ask_sentinels() {{
  i=0
  while [ "$i" -lt "$REPLICAS" ]; do
    if [ "$1" = all ] || [ "$i" != "$ORDINAL" ]; then
      reply=$(cli -h "$(fqdn "$i")" -p "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_NAME" \\
        2>/dev/null | head -n 1)
      case "$reply" in
        "" | *[!A-Za-z0-9.-]*) ;;
        *) echo "$reply" ;;
      esac
    fi
    i=$((i + 1))
  done | sort | uniq -c | sort -rn | awk 'NR == 1 {{ print $2 }}'
}}

# True once a Redis server answers on $1 at all (PONG, LOADING, BUSY ...): the process is up.
up() {{ cli -h "$1" -p "$REDIS_PORT" PING >/dev/null 2>&1; }}

# Wait until `up $1`, at most $2 seconds; false on timeout.
wait_until_up() {{
  end=$(( $(date +%s) + $2 ))
  until up "$1"; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 1
  done
}}

# The master this pod's Sentinel last saved on the data volume (empty if none).
saved_master() {{
  [ -f "$SENTINEL_SAVED" ] || return 0
  awk -v m="$MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == m {{ print $4; exit }}' "$SENTINEL_SAVED"
}}
"""


REDIS_START_SH = """#!/bin/sh
# statefulkit RedisEnsemble: choose this node's role safely, render redis.conf, start redis-server.
set -eu
. "${CONFIG_DIR:-/config}/common.sh"

master=""
origin=""
deadline=$(( $(date +%s) + DISCOVERY_TIMEOUT ))
while :; do
  master=$(ask_sentinels all)
  if [ -n "$master" ]; then origin="the Sentinels"; break; fi
  [ "$(date +%s)" -lt "$deadline" ] || break
  sleep 1
done
if [ -z "$master" ]; then
  master=$(saved_master)
  [ -z "$master" ] || origin="the Sentinel state saved on this pod's volume"
fi
if [ -z "$master" ]; then
  # Only a brand-new ensemble gets here: no Sentinel anywhere knows a master.
  master=$(fqdn 0)
  origin="bootstrap (no Sentinel knows a master)"
fi

mkdir -p "$DATA_DIR/conf"
umask 077
conf="$DATA_DIR/conf/redis.conf"
{
  cat "$CONFIG_DIR/redis.conf"
  echo "replica-announce-ip $SELF"
  if [ "$master" != "$SELF" ]; then
    echo "replicaof $master $REDIS_PORT"
  fi
  if [ "$AUTH" = 1 ]; then
    echo "requirepass $(conf_quote "$REDIS_PASSWORD")"
    echo "masterauth $(conf_quote "$REDIS_PASSWORD")"
  fi
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

if [ "$master" = "$SELF" ]; then
  log "starting as master (from $origin)"
else
  log "starting as replica of $master (from $origin)"
fi
exec redis-server "$conf"
"""


SENTINEL_START_SH = """#!/bin/sh
# statefulkit RedisEnsemble: render sentinel.conf (writable, on the data volume) and start Sentinel.
set -eu
. "${CONFIG_DIR:-/config}/common.sh"

# Sentinel counts down-after-milliseconds from its own start: starting it before the Redis
# servers answer would turn every restart into a failover. So wait for this pod's Redis first
# (after a full outage all servers come up together, once their discovery timeout passes) ...
if ! wait_until_up 127.0.0.1 $((DISCOVERY_TIMEOUT + 30)); then
  log "this pod's Redis does not answer; starting Sentinel anyway"
fi

master=$(ask_sentinels peers)
origin="the other Sentinels"
if [ -z "$master" ]; then
  master=$(saved_master)
  origin="the state saved on this pod's volume"
fi
if [ -z "$master" ]; then
  master=$(fqdn 0)
  origin="bootstrap"
fi

# ... and give the master, if it is another pod, down-after-milliseconds to answer.
if [ "$master" != "$SELF" ] && ! wait_until_up "$master" "$DOWN_AFTER_SECONDS"; then
  log "master $master does not answer yet"
fi

mkdir -p "$DATA_DIR/sentinel"
umask 077
conf="$SENTINEL_SAVED"
{
  sed -e "s/@SELF@/$SELF/g" -e "s/@MASTER@/$master/g" "$CONFIG_DIR/sentinel.conf"
  if [ "$AUTH" = 1 ]; then
    echo "sentinel auth-pass $MASTER_NAME $(conf_quote "$REDIS_PASSWORD")"
    echo "requirepass $(conf_quote "$REDIS_PASSWORD")"
  fi
  # Every other pod is a replica: declaring them up front lets this Sentinel fail over at once,
  # instead of waiting for the master's INFO (every 10 s) that a crashed master never sends. A pod
  # that wrongly claims to be master is turned back into a replica (+convert-to-slave).
  i=0
  while [ "$i" -lt "$REPLICAS" ]; do
    host=$(fqdn "$i")
    [ "$host" = "$master" ] || echo "sentinel known-replica $MASTER_NAME $host $REDIS_PORT"
    i=$((i + 1))
  done
  # Keep this Sentinel's identity, epochs and peers across restarts.
  if [ -f "$conf" ]; then
    awk -v m="$MASTER_NAME" '
      $1 == "sentinel" && ($2 == "myid" || $2 == "current-epoch") { print; next }
      $1 == "sentinel" && ($2 == "config-epoch" || $2 == "leader-epoch" || $2 == "known-sentinel") && $3 == m { print }
    ' "$conf"
  fi
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

log "Sentinel monitors $MASTER_NAME at $master (from $origin)"
exec redis-server "$conf" --sentinel
"""


PROBE_SH_TEMPLATE = """#!/bin/sh
# statefulkit RedisEnsemble probe: probe.sh redis|sentinel ready|live
. "${CONFIG_DIR:-/config}/common.sh"
port=$REDIS_PORT
[ "$1" = sentinel ] && port=$SENTINEL_PORT
reply=$(cli -h 127.0.0.1 -p "$port" PING 2>&1 | head -n 1)
case "$2:$reply" in
  ready:PONG) ;;
  # Alive but busy: loading the AOF, running a script, or a replica without its master.
  live:PONG | live:LOADING* | live:BUSY* | live:MASTERDOWN*) exit 0 ;;
  *) echo "$1 not $2: $reply" >&2; exit 1 ;;
esac
if [ "$1" = redis ]; then
  # A replica is not ready while it loads the master's initial snapshot.
  if cli -h 127.0.0.1 -p "$port" INFO replication | grep -q '^master_sync_in_progress:1'; then
    echo "redis not ready: initial sync from the master in progress" >&2
    exit 1
  fi
fi
exit 0
"""


def render_config_files(name: str, args: RedisArgs) -> dict[str, str]:
    """Everything in the ConfigMap: templates and scripts, with no password and no namespace."""
    return {
        REDIS_CONF: render_redis_conf(args),
        SENTINEL_CONF: render_sentinel_conf(args),
        COMMON_SH: render_common_sh(name, args),
        REDIS_START: REDIS_START_SH,
        SENTINEL_START: SENTINEL_START_SH,
        PROBE_SH: PROBE_SH_TEMPLATE,
    }


# --------------------------------------------------------------------------- workload


def _env(password: KeyRef | None) -> list[EnvVar]:
    env = [
        EnvVar(name="POD_NAME", field_path="metadata.name"),
        EnvVar(name="POD_NAMESPACE", field_path="metadata.namespace"),
        EnvVar(name="CONFIG_DIR", value=CONFIG_DIR),
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


def build_workload_args(name: str, args: RedisArgs, secret_name: Any = None) -> StatefulWorkloadArgs:
    """The StatefulWorkloadArgs RedisEnsemble hands its child StatefulWorkload.

    `secret_name` overrides the name of the component-created password Secret (the component passes
    the Secret's Output name, which makes the StatefulSet wait for it); ignored with existing_secret.
    """
    env = _env(password_ref(name, args, secret_name))
    down_after_seconds = -(-args.sentinel.down_after_milliseconds // 1000)
    sentinel = Container(
        name=SENTINEL_CONTAINER,
        command=["sh", f"{CONFIG_DIR}/{SENTINEL_START}"],
        env=env,
        ports=[{"name": "sentinel", "container_port": SENTINEL_PORT}],
        resources=args.sentinel_resources,
        # Sentinel-start may wait for this pod's Redis and for the master before Sentinel runs.
        **_probes("sentinel", args.discovery_timeout_seconds + down_after_seconds + 30),
    )
    return StatefulWorkloadArgs(
        **args.workload_options(),
        container_name=REDIS_CONTAINER,
        ports=[{"name": "redis", "container_port": REDIS_PORT}],
        command=["sh", f"{CONFIG_DIR}/{REDIS_START}"],
        env=env,
        resources=args.resources,
        **_probes("redis", args.discovery_timeout_seconds),
        sidecars=[sentinel],
        volume_claims=[VolumeClaim(name=DATA_VOLUME, size=args.storage_size, mount_path=DATA_DIR)],
        # Role selection goes through the Sentinels, so pods need not start in order; after a full
        # outage all of them come back at once and find the last master from the saved state.
        pod_management_policy=PodManagementPolicy.PARALLEL,
        config_files=render_config_files(name, args),
        config_mount_path=CONFIG_DIR,
        app_name=APP_NAME,
        component="server",
        # Peers must resolve each other (and the Sentinels the master) before anyone is Ready.
        publish_not_ready_addresses=True,
        client_service=ClientService(port_names=["sentinel"]),
    )
