#!/bin/sh
# statefulkit restore check: before any pod of the new ensemble starts, the snapshot must be
# readable. A failure ends the Job with restic's message (its log is the termination message), so
# `up` stops with it instead of waiting for pods whose init container would fail the same way.
set -eu
if [ "$SNAPSHOT" = latest ]; then
  found=$(restic --no-cache snapshots --latest 1 --json)
  case "$found" in
    "" | "[]" | null)
      echo "no snapshot in $RESTIC_REPOSITORY: there is nothing to restore" >&2
      exit 1
      ;;
  esac
else
  restic --no-cache cat snapshot "$SNAPSHOT" >/dev/null
fi
echo "snapshot $SNAPSHOT of $RESTIC_REPOSITORY is readable"
