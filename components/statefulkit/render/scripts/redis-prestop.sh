#!/bin/sh
# statefulkit RedisEnsemble: preStop of the redis container. A master that is about to stop
# (rollout, drain, scale-down) hands its role to a replica first, instead of leaving the Sentinels
# to notice after down-after-milliseconds: it stops acknowledging writes, lets the replicas catch
# up, and has Sentinel fail over. Bounded by HANDOFF_SECONDS; whatever fails, the pod still stops
# (and the Sentinels fail over the usual way).
. "${CONFIG_DIR:-/config}/common.sh"
[ "$HANDOFF_SECONDS" -gt 0 ] || exit 0
here() { cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
[ "$(here ROLE 2>/dev/null | head -n 1)" = master ] || exit 0
replicas=$(here INFO replication 2>/dev/null | tr -d '\r' | awk -F: '$1 == "connected_slaves" { print $2 + 0 }')
if [ "${replicas:-0}" -lt 1 ]; then
  log "preStop: master without a connected replica; nothing to hand over to"
  exit 0
fi
end=$(( $(date +%s) + HANDOFF_SECONDS ))
# From here on no write is acknowledged by this pod: writers wait, then reach the new master.
here CLIENT PAUSE $((HANDOFF_SECONDS * 1000)) WRITE >/dev/null
# Every write acknowledged so far reaches every replica before one of them takes over: with
# writes paused the replicas catch up, and Sentinel then picks one that holds all of them.
until [ "$(here WAIT "$replicas" 1000 2>/dev/null | head -n 1)" -ge "$replicas" ] 2>/dev/null; do
  if [ "$(date +%s)" -ge "$end" ]; then
    log "preStop: the replicas did not catch up within ${HANDOFF_SECONDS}s; stopping without a handoff"
    exit 0
  fi
done
log "preStop: $replicas replica(s) caught up; handing the master role over"
# Another pod's Sentinel runs the failover: the kubelet stops a pod's containers in parallel, so
# this pod's own Sentinel gets its SIGTERM as this hook starts and would take the failover down with it.
asked=""
i=0
while [ "$i" -lt "$REPLICAS" ] && [ -z "$asked" ]; do
  if [ "$i" != "$ORDINAL" ] &&
    [ "$(cli -h "$(fqdn "$i")" -p "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_NAME" 2>/dev/null | head -n 1)" = OK ]; then
    asked=$(fqdn "$i")
  fi
  i=$((i + 1))
done
[ -n "$asked" ] || log "preStop: no other pod's Sentinel accepted SENTINEL FAILOVER"
# Done only once a majority of the Sentinels names the new master: stopping while the failover's
# leader has not yet told the others would leave a promoted replica that nobody follows, and the
# writes it takes would be thrown away.
majority=$((REPLICAS / 2 + 1))
new_master() {
  named=0
  i=0
  while [ "$i" -lt "$REPLICAS" ]; do
    reply=$(cli -h "$(fqdn "$i")" -p "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_NAME" \
      2>/dev/null | head -n 1)
    if [ -n "$reply" ] && [ "$reply" != "$SELF" ]; then
      named=$((named + 1))
      master=$reply
    fi
    i=$((i + 1))
  done
  [ "$named" -ge "$majority" ] && echo "$master"
}
until master=$(new_master); do
  if [ "$(date +%s)" -ge "$end" ]; then
    log "preStop: no majority of the Sentinels names a new master after ${HANDOFF_SECONDS}s; stopping anyway"
    exit 0
  fi
  sleep 0.2
done
log "preStop: the Sentinels name $master as the master now"
