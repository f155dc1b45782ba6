#!/bin/sh
# statefulkit restore: before this member's server first starts, fill its empty data volume from
# a restic snapshot. A volume that holds data is never overwritten unless OVERWRITE=1; a volume
# restored once (it holds the marker) is left alone at every later start.
# Runs in the restic image (POSIX sh). LAYOUT says where the ensemble's server reads the files:
#   redis-rdb  ordinal 0 only, dump.rdb (and with APPENDONLY=yes an AOF whose base is it); the
#              others start empty and sync from it as replicas.
set -eu
MARKER=@@MARKER@@
BACKUP_DIR=@@BACKUP_DIR@@  # where the backup job kept the files; restic restores that path

ORDINAL="${POD_NAME##*-}"
CLAIM="$CLAIM_PREFIX-$ORDINAL"
log() { echo "statefulkit-restore[$POD_NAME]: $*" >&2; }

if [ -f "$DATA_DIR/$MARKER" ]; then
  log "claim $CLAIM was restored before ($(cat "$DATA_DIR/$MARKER")): nothing to do"
  exit 0
fi

# What the volume holds, but a file system's own lost+found and what a failed attempt of this
# script left half-restored (it starts over).
staging="$DATA_DIR/.restore-staging"
held=""
for entry in "$DATA_DIR"/* "$DATA_DIR"/.[!.]* "$DATA_DIR"/..?*; do
  [ -e "$entry" ] || continue
  case "$entry" in "$DATA_DIR/lost+found" | "$staging") continue ;; esac
  held="$held${entry##*/}
"
done
if [ -n "$held" ]; then
  if [ "$OVERWRITE" != 1 ]; then
    log "refusing to restore: pod $POD_NAME's claim $CLAIM already holds data ($(printf '%s' "$held" | head -n 5 | tr '\n' ' ')). Nothing was changed. Restore into an empty claim, or set restore.overwrite_existing_data=True to replace this data."
    exit 1
  fi
  log "overwrite_existing_data: removing what claim $CLAIM holds ($(printf '%s' "$held" | tr '\n' ' '))"
  printf '%s' "$held" | while IFS= read -r entry; do rm -rf "${DATA_DIR:?}/$entry"; done
fi

case "$LAYOUT" in
  redis-rdb) seeds=$([ "$ORDINAL" = 0 ] && echo yes || echo no) ;;
  *) seeds=yes ;;
esac
if [ "$seeds" = no ]; then
  log "ordinal $ORDINAL starts empty and syncs from the restored master"
  echo "replica of a restore from $SNAPSHOT" > "$DATA_DIR/$MARKER"
  exit 0
fi

# Every failure here (unknown snapshot, wrong password, store down) is restic's message, and the
# volume holds nothing but the staging folder: the next attempt starts over.
rm -rf "$staging"
restic --no-cache restore "$SNAPSHOT" --target "$staging"
from="$staging$BACKUP_DIR"
[ -f "$from/backup.tags" ] || { log "snapshot $SNAPSHOT holds no statefulkit backup (no $BACKUP_DIR/backup.tags)"; exit 1; }

case "$LAYOUT" in
  redis-rdb)
    [ -s "$from/dump.rdb" ] || { log "snapshot $SNAPSHOT holds no dump.rdb"; exit 1; }
    cp "$from/dump.rdb" "$DATA_DIR/dump.rdb"
    if [ "$APPENDONLY" = yes ]; then
      # With appendonly on, Redis loads only its AOF; one whose base is the RDB makes it load the data.
      mkdir -p "$DATA_DIR/appendonlydir"
      cp "$from/dump.rdb" "$DATA_DIR/appendonlydir/appendonly.aof.1.base.rdb"
      echo "file appendonly.aof.1.base.rdb seq 1 type b" > "$DATA_DIR/appendonlydir/appendonly.aof.manifest"
    fi
    ;;
  *)
    log "unknown LAYOUT $LAYOUT"
    exit 1
    ;;
esac
tags=$(tr '\n' ' ' < "$from/backup.tags")
rm -rf "$staging"
echo "snapshot $SNAPSHOT: $tags" > "$DATA_DIR/$MARKER"
log "claim $CLAIM seeded from snapshot $SNAPSHOT ($tags)"
