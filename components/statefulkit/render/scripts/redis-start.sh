#!/bin/sh
# statefulkit RedisEnsemble: choose this node's role safely, render redis.conf, start redis-server.
set -eu
. "${CONFIG_DIR:-/config}/common.sh"

# Follow a master only when a majority of all members' Sentinels name it: while a failover runs,
# the Sentinels disagree, and following the loudest one could start a second master. While they
# answer but disagree, wait for the failover to finish as well (failover-timeout).
majority=$((REPLICAS / 2 + 1))
master=""
origin=""
top=""
now=$(date +%s)
deadline=$((now + DISCOVERY_TIMEOUT))
disagree_deadline=$((deadline + FAILOVER_TIMEOUT_SECONDS))
while :; do
  vote=$(sentinel_vote all)
  votes=${vote%% *}
  if [ -n "$vote" ] && [ "$votes" -ge "$majority" ]; then
    master=${vote#* }
    origin="$votes of $REPLICAS Sentinels"
    break
  fi
  now=$(date +%s)
  if [ -n "$vote" ]; then
    top=${vote#* }
    [ "$now" -lt "$disagree_deadline" ] || break
  else
    [ "$now" -lt "$deadline" ] || break
  fi
  sleep 1
done
if [ -z "$master" ] && [ -n "$top" ]; then
  # Too few Sentinels agree in time (most pods are down): the best-informed answer still wins
  # over a saved state that predates it.
  master=$top
  origin="the Sentinels that answered (no majority)"
fi
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
