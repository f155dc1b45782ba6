#!/usr/bin/env bash
# Start script of a ZooKeeper ensemble member, rendered by statefulkit.
# The member derives everything from its own pod identity:
#   hostname <sts>-<ordinal>                -> myid = ordinal + 1 + SERVER_ID_OFFSET
#   POD_NAMESPACE (downward API)            -> server.<id>=<sts>-<i>.<headless>.<ns>.svc.<domain>:2888:3888;2181
# A myid already on the data volume must match, or the member refuses to start.
# The ConfigMap mount is read-only: the full zoo.cfg is written to the data volume at every start.
set -euo pipefail

# --- rendered constants
STS=@@STS@@
HEADLESS=@@HEADLESS@@
REPLICAS=@@REPLICAS@@
SERVER_ID_OFFSET=@@SERVER_ID_OFFSET@@
CLUSTER_DOMAIN=@@CLUSTER_DOMAIN@@
CLIENT_PORT=@@CLIENT_PORT@@
QUORUM_PORT=@@QUORUM_PORT@@
ELECTION_PORT=@@ELECTION_PORT@@
CONFIG_DIR=@@CONFIG_DIR@@
BASE_CONFIG=@@BASE_CONFIG@@
DATA_DIR=@@DATA_DIR@@
DATA_LOG_DIR=@@DATA_LOG_DIR@@
HEAP_MIB=@@HEAP_MIB@@
JVM_FLAGS=@@JVM_FLAGS@@
HOSTNAME_FILE=@@HOSTNAME_FILE@@
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
