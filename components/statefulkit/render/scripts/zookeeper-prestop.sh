#!/usr/bin/env bash
# preStop of a ZooKeeper ensemble member, rendered by statefulkit. A member about to stop (scale-down,
# rollout, drain) first removes itself from the voting ensemble (reconfig -remove), so the quorum is
# counted over the members that keep running; when it leads, ZooKeeper designates another member as
# leader as the removal commits. Removals of members stopping at once are serialized by ZooKeeper
# ("reconfig in progress"): each retries, within REMOVAL_SECONDS. Whatever fails, the pod still stops,
# listed, and rejoins when it starts again, as after a crash.
set -uo pipefail
. "${BASH_SOURCE[0]%/*}/common.sh"

# --- rendered constants
REMOVAL_SECONDS=@@REMOVAL_SECONDS@@
# --- end of rendered constants

# kubelet keeps no output of a preStop hook: the account of the last stop stays on the data volume,
# and goes to the container's log when the ZooKeeper JVM (its PID 1) lets us write there.
account="$DATA_DIR/statefulkit-prestop.log"
: >"$account"
container_log=/dev/null
[[ -w /proc/1/fd/2 ]] && container_log=/proc/1/fd/2
log() { printf 'statefulkit-zookeeper: preStop: %s\n' "$*" | tee -a "$account" "$container_log" >&2; }

deadline=$((SECONDS + REMOVAL_SECONDS))
# A join still under way at start could add this member back after its removal: stop it first. It
# removes its pid file when it ends (and is then a zombie of the JVM, which never reaps it).
touch "$LEAVING"
joining() {
  local pid state
  pid="$(cat "$JOINER_PID" 2>/dev/null)" && [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state="$(sed -E 's/.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null)" && [[ -n "$state" && "$state" != Z ]]
}
while joining && ((SECONDS < deadline)); do
  sleep 0.2
done

said=""
while ((SECONDS < deadline)); do
  if ! answer="$(membership 127.0.0.1)"; then
    [[ "$said" == serving ]] || log "server $MYID does not serve (no quorum, or an election); retrying"
    said="serving"
    sleep 0.5
    continue
  fi
  if ! lists "$answer" "$MYID"; then
    log "server $MYID does not vote in configuration $(version_of "$answer"); stopping"
    exit 0
  fi
  if (($(voters "$answer") <= 1)); then
    log "server $MYID is the last voting member; it stays listed"
    exit 0
  fi
  left=$((deadline - SECONDS))
  if out="$(admin $((left < ADMIN_TIMEOUT ? left : ADMIN_TIMEOUT)) "127.0.0.1:$PORT" "reconfig -remove $MYID")"; then
    log "removed server $MYID: configuration $(version_of "$out")"
  elif [[ "$out" == *"Reconfig is disabled"* ]]; then
    # A member of an ensemble without dynamic membership (before an upgrade rolled it): it cannot leave.
    log "reconfiguration is disabled in this ensemble; server $MYID stops listed"
    exit 0
  else
    # A leader's own removal drops the connection once it commits; the next round checks.
    log "reconfig -remove $MYID did not succeed (checking, then retrying): $(why "$out")"
    sleep 0.5
  fi
done
log "server $MYID is still listed after ${REMOVAL_SECONDS}s; it stops listed and rejoins when it starts again"
