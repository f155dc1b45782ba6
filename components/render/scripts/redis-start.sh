#!/bin/sh
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
