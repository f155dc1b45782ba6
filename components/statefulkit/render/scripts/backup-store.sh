#!/bin/sh
# statefulkit backup: store what the fetch left in $BACKUP_DIR as a restic snapshot, tagged with
# where and when it was taken, then apply the retention. Runs in the restic image (POSIX sh).
set -eu
ENSEMBLE=@@ENSEMBLE@@
STATEFULKIT_VERSION=@@STATEFULKIT_VERSION@@
RETENTION=@@RETENTION@@

log() { echo "statefulkit-backup[$ENSEMBLE]: $*" >&2; }

[ -s "$BACKUP_DIR/backup.tags" ] || { log "the fetch left no backup.tags in $BACKUP_DIR"; exit 1; }

# A repository that does not exist yet is created; any other failure (a wrong password, a store
# that does not answer) ends the job with restic's own message, and the job is retried.
if ! out=$(restic cat config 2>&1 >/dev/null); then
  case "$out" in
    *"Is there a repository at the following location?"* | *"repository does not exist"*)
      log "no repository at $RESTIC_REPOSITORY yet: creating it"
      restic init
      ;;
    *)
      log "the repository cannot be opened: $out"
      exit 1
      ;;
  esac
fi

set -- --tag "ensemble=$ENSEMBLE" --tag "statefulkit=$STATEFULKIT_VERSION"
while IFS= read -r tag; do
  [ -z "$tag" ] || set -- "$@" --tag "$tag"
done < "$BACKUP_DIR/backup.tags"

# The absolute path: a restore finds the files under backup/ whatever restic's version.
out=$(restic backup --host "$ENSEMBLE" "$@" "$BACKUP_DIR")
echo "$out" >&2
snapshot=$(echo "$out" | sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p')
[ -n "$snapshot" ] || { log "restic printed no snapshot id"; exit 1; }

# shellcheck disable=SC2086 # RETENTION is a list of --keep-* flags
restic forget --host "$ENSEMBLE" --prune $RETENTION >&2
log "snapshot $snapshot saved ($(tr '\n' ' ' < "$BACKUP_DIR/backup.tags"))"
echo "snapshot=$snapshot"
