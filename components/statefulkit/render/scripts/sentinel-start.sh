#!/bin/sh
# statefulkit RedisEnsemble: render sentinel.conf (writable, on the data volume) and start Sentinel.
set -eu
. "${CONFIG_DIR:-/config}/common.sh"

# Sentinel counts down-after-milliseconds from its own start: starting it before the Redis
# servers answer would turn every restart into a failover. So wait for this pod's Redis first
# (after a full outage all servers come up together, once their discovery timeout passes) ...
if ! wait_until_up 127.0.0.1 $((DISCOVERY_TIMEOUT + 30)); then
  log "this pod's Redis does not answer; starting Sentinel anyway"
fi

vote=$(sentinel_vote peers)
master=${vote#* }
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
  # Keep this Sentinel's identity, epochs and peers across restarts, but only peers that are still
  # members: after a scale-down the removed pods' Sentinels would otherwise stay counted for good
  # (a Sentinel forgets a peer only on SENTINEL RESET).
  if [ -f "$conf" ]; then
    members=""
    i=0
    while [ "$i" -lt "$REPLICAS" ]; do
      members="$members $(fqdn "$i")"
      i=$((i + 1))
    done
    awk -v m="$MASTER_NAME" -v members="$members" '
      BEGIN { n = split(members, list, " "); for (i = 1; i <= n; i++) member[list[i]] = 1 }
      $1 == "sentinel" && ($2 == "myid" || $2 == "current-epoch") { print; next }
      $1 == "sentinel" && ($2 == "config-epoch" || $2 == "leader-epoch") && $3 == m { print; next }
      $1 == "sentinel" && $2 == "known-sentinel" && $3 == m && ($4 in member) { print }
    ' "$conf"
  fi
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

log "Sentinel monitors $MASTER_NAME at $master (from $origin)"
exec redis-server "$conf" --sentinel
