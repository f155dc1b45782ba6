#!/bin/sh
# statefulkit RedisEnsemble backup: copy an RDB from a replica, never the master, into $BACKUP_DIR,
# with what it was taken at in $BACKUP_DIR/backup.tags (one restic tag a line). Runs in the
# ensemble's image in the backup job; common.sh is the ensemble's own (its config ConfigMap).
set -eu
. "${CONFIG_DIR:-/config}/common.sh"

# `INFO replication` of $1, one key:value a line (empty if it does not answer).
replication() { cli -h "$1" -p "$REDIS_PORT" INFO replication 2>/dev/null | tr -d '\r' || true; }
value() { echo "$1" | sed -n "s/^$2://p"; }

# The replica furthest along among those whose link to the master is up.
best=""
best_offset=-1
i=0
while [ "$i" -lt "$REPLICAS" ]; do
  info=$(replication "$(fqdn "$i")")
  offset=$(value "$info" slave_repl_offset)
  if [ "$(value "$info" role)" = slave ] && [ "$(value "$info" master_link_status)" = up ] &&
    [ -n "$offset" ] && [ "$offset" -gt "$best_offset" ]; then
    best=$i
    best_offset=$offset
    master=$(value "$info" master_host)
    replid=$(value "$info" master_replid)
  fi
  i=$((i + 1))
done
if [ -z "$best" ]; then
  log "no replica with a live link to its master answers: a backup is copied from a replica, never the master"
  exit 1
fi
source_pod="$STS-$best"
run_id=$(cli -h "$master" -p "$REDIS_PORT" INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^run_id://p' || true)

# redis-cli --rdb asks the replica for a full sync's RDB: the replica forks and streams it.
set --
[ -z "$TLS_DIR" ] || set -- --tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/tls.crt" --key "$TLS_DIR/tls.key"
redis-cli --no-auth-warning "$@" -h "$(fqdn "$best")" -p "$REDIS_PORT" --rdb "$BACKUP_DIR/dump.rdb" >&2
[ -s "$BACKUP_DIR/dump.rdb" ] || { log "$source_pod sent an empty RDB"; exit 1; }

{
  echo "source=$source_pod"
  echo "time=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "offset=$best_offset"
  echo "master=${master%%.*}"
  echo "master_run_id=$run_id"
  echo "master_replid=$replid"
} > "$BACKUP_DIR/backup.tags"
log "copied an RDB of $(wc -c < "$BACKUP_DIR/dump.rdb") bytes from replica $source_pod at offset $best_offset"
