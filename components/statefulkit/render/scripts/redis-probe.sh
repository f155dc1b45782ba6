#!/bin/sh
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
  # A replica is ready only once it replicates: linked to its master, initial sync done. Before
  # that it holds stale data, and a rollout that moved on could hand the master role to it.
  info=$(cli -h 127.0.0.1 -p "$port" INFO replication | tr -d '\r')
  case "$info" in
    *master_sync_in_progress:1*) echo "redis not ready: initial sync from the master in progress" >&2; exit 1 ;;
    *master_link_status:down*) echo "redis not ready: not linked to its master yet" >&2; exit 1 ;;
  esac
fi
exit 0
