#!/bin/sh
# statefulkit RedisEnsemble: settings and helpers shared by the start scripts and probes.
# POSIX sh. The namespace comes from the pod (fieldRef), the password from a Secret (secretKeyRef).
STS=@@STS@@
HEADLESS=@@HEADLESS@@
CLUSTER_DOMAIN=@@CLUSTER_DOMAIN@@
REPLICAS=@@REPLICAS@@
MASTER_NAME=@@MASTER_NAME@@
REDIS_PORT=@@REDIS_PORT@@
SENTINEL_PORT=@@SENTINEL_PORT@@
DATA_DIR=@@DATA_DIR@@
CONFIG_DIR=@@CONFIG_DIR@@
AUTH=@@AUTH@@
TLS_DIR=@@TLS_DIR@@
DISCOVERY_TIMEOUT=@@DISCOVERY_TIMEOUT@@
DOWN_AFTER_SECONDS=@@DOWN_AFTER_SECONDS@@
HANDOFF_SECONDS=@@HANDOFF_SECONDS@@
FAILOVER_TIMEOUT_SECONDS=@@FAILOVER_TIMEOUT_SECONDS@@
SENTINEL_SAVED="$DATA_DIR/sentinel/sentinel.conf"

POD_NAME="${POD_NAME:-$(cat /proc/sys/kernel/hostname)}"
: "${POD_NAMESPACE:?POD_NAMESPACE must be set (fieldRef metadata.namespace)}"
ORDINAL="${POD_NAME##*-}"

log() { echo "statefulkit[$POD_NAME]: $*" >&2; }

fqdn() { echo "$STS-$1.$HEADLESS.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN"; }
SELF="$(fqdn "$ORDINAL")"

if [ "$AUTH" = 1 ]; then
  if [ -z "${REDIS_PASSWORD:-}" ]; then
    log "REDIS_PASSWORD is empty: the password Secret is missing its key"
    exit 1
  fi
  # redis-cli reads the password from here: never on a command line, never in a file.
  REDISCLI_AUTH="$REDIS_PASSWORD"
  export REDISCLI_AUTH
fi

# With TLS (TLS_DIR set) every connection is TLS, presenting this pod's certificate: the servers
# may require one (client_certificates).
if [ -n "$TLS_DIR" ]; then
  cli() {
    timeout 3 redis-cli --no-auth-warning --tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/tls.crt" \
      --key "$TLS_DIR/tls.key" "$@"
  }
else
  cli() { timeout 3 redis-cli --no-auth-warning "$@"; }
fi

# A redis.conf string holding $1 with every byte hex-escaped: any password survives quoting.
conf_quote() {
  printf '"%s"' "$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n' | sed 's/../\\x&/g')"
}

# "<votes> <host>": the master named by most reachable Sentinels, and how many name it (empty if
# none answers); $1 = all | peers (skip this pod's own).
sentinel_vote() {
  i=0
  while [ "$i" -lt "$REPLICAS" ]; do
    if [ "$1" = all ] || [ "$i" != "$ORDINAL" ]; then
      reply=$(cli -h "$(fqdn "$i")" -p "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_NAME" \
        2>/dev/null | head -n 1)
      case "$reply" in
        "" | *[!A-Za-z0-9.-]*) ;;
        *) echo "$reply" ;;
      esac
    fi
    i=$((i + 1))
  done | sort | uniq -c | sort -rn | awk 'NR == 1 { print $1, $2 }'
}

# True once a Redis server answers on $1 at all (PONG, LOADING, BUSY ...): the process is up.
up() { cli -h "$1" -p "$REDIS_PORT" PING >/dev/null 2>&1; }

# Wait until `up $1`, at most $2 seconds; false on timeout.
wait_until_up() {
  end=$(( $(date +%s) + $2 ))
  until up "$1"; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 1
  done
}

# The master this pod's Sentinel last saved on the data volume (empty if none).
saved_master() {
  [ -f "$SENTINEL_SAVED" ] || return 0
  awk -v m="$MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $4; exit }' "$SENTINEL_SAVED"
}
