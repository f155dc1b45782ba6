#!/usr/bin/env bash
# Start script of a ZooKeeper ensemble member, rendered by statefulkit. The membership is ZooKeeper's
# own (dynamic reconfiguration): this script only picks what the member starts with.
#   a live peer lists it, its volume holds data      -> the current configuration (after a crash)
#   a live peer lists it, its volume is empty (lost)  -> removed through that peer first, then as below,
#                                                       so it never votes with an empty log
#   a live peer does not list it (new, or it removed  -> the current configuration plus itself; once
#   itself when it stopped)                              synced it adds itself (reconfig -add)
#   no peer serves, ZooKeeper recorded a membership   -> that membership (the whole ensemble restarts)
#   that lists it
#   no peer serves, empty volume, ordinal < the       -> a brand-new ensemble of members 0..n-1
#   bootstrap count (BOOTSTRAP_REPLICAS)
# A myid already on the data volume must match, or the member refuses to start. The ConfigMap mount is
# read-only: zoo.cfg is written to the data volume at every start, pointing at the chosen membership
# file; ZooKeeper rewrites both there after each reconfig, and this script never overwrites its files.
set -euo pipefail
. "${BASH_SOURCE[0]%/*}/common.sh"

# --- rendered constants
BASE_CONFIG=@@BASE_CONFIG@@
HEAP_MIB=@@HEAP_MIB@@
JVM_FLAGS=@@JVM_FLAGS@@
BOOTSTRAP_WAIT=@@BOOTSTRAP_WAIT@@
# --- end of rendered constants

bootstrap_replicas="${BOOTSTRAP_REPLICAS:-}"
[[ "$bootstrap_replicas" =~ ^[1-9][0-9]*$ ]] ||
  die "BOOTSTRAP_REPLICAS='$bootstrap_replicas' is not a member count; the pod reads it from the ConfigMap $STS-bootstrap"

for dir in "$DATA_DIR" ${DATA_LOG_DIR:+"$DATA_LOG_DIR"}; do
  [[ -d "$dir" && -w "$dir" ]] || die "volume $dir is missing or not writable by uid $EUID"
done

myid_file="$DATA_DIR/myid"
if [[ -e "$myid_file" ]]; then
  recorded=""
  IFS= read -r recorded <"$myid_file" || true
  recorded="${recorded//[[:space:]]/}"
  if [[ "$recorded" != "$MYID" ]]; then
    die "refusing to start: $myid_file holds myid '$recorded', but $HOST (ordinal $ORDINAL) is server $MYID." \
      "The volume belongs to another member (a claim bound to the wrong pod, or a changed server_id_offset);" \
      "joining would let two servers vote under one id. Fix the volume, then restart the pod."
  fi
  log "$myid_file matches: $HOST is server $MYID"
else
  [[ ! -d "$DATA_DIR/version-2" ]] || log "WARNING: $DATA_DIR holds data but no myid; claiming it as server $MYID"
  printf '%s\n' "$MYID" >"$myid_file.tmp"
  mv -f "$myid_file.tmp" "$myid_file"
  log "wrote $myid_file: $HOST is server $MYID"
fi
rm -f "$LEAVING" "$JOINER_PID"

# ZooKeeper's PEM key store is one file: the key, then its chain, assembled in memory at each start
# (so a renewed certificate is picked up by the next restart), before any zkCli.sh needs it.
if [[ -n "$TLS_KEYSTORE" ]]; then
  (umask 077 && cat "$TLS_DIR/tls.key" "$TLS_DIR/tls.crt" >"$TLS_KEYSTORE.tmp") ||
    die "cannot assemble $TLS_KEYSTORE from $TLS_DIR (is the certificate Secret mounted, with tls.key and tls.crt?)"
  mv -f "$TLS_KEYSTORE.tmp" "$TLS_KEYSTORE"
fi

# Writes $2 to file $1 atomically (a torn membership file would stop ZooKeeper from starting).
write_file() {
  printf '%s\n' "$2" >"$1.tmp"
  mv -f "$1.tmp" "$1"
}

config="$DATA_DIR/zoo.cfg"
# ZooKeeper's next membership while a reconfig is under way; meaningless for a member that starts anew.
pending="$config.dynamic.next"

# The membership ZooKeeper last recorded on this volume (the dynamicConfigFile it points zoo.cfg at).
recorded=""
if [[ -f "$config" ]]; then
  recorded="$(sed -n 's/^dynamicConfigFile=//p' "$config" | tail -n 1)"
  [[ -n "$recorded" && -f "$recorded" ]] || recorded=""
  if [[ -z "$recorded" ]] && grep -q '^server\.' "$config"; then
    # Written before membership was dynamic: the static server list is the membership it recorded.
    recorded="$config.dynamic.static"
    write_file "$recorded" "$(grep '^server\.' "$config")"
  fi
fi

# Whether the volumes hold a ZooKeeper history: ZooKeeper writes a snapshot at its first start, and
# the transaction log lives on the data log volume when there is one.
has_history() {
  compgen -G "$DATA_DIR/version-2/snapshot.*" >/dev/null ||
    compgen -G "${DATA_LOG_DIR:-$DATA_DIR}/version-2/log.*" >/dev/null || return 1
  [[ -z "$DATA_LOG_DIR" || -d "$DATA_LOG_DIR/version-2" ]]
}

# Who to ask for the current membership: the members of the bootstrap count, those below this
# ordinal, and every host ZooKeeper recorded (members added later).
peers=()
for ((i = 0; i < (bootstrap_replicas > ORDINAL ? bootstrap_replicas : ORDINAL); i++)); do
  ((i == ORDINAL)) || peers+=("$(fqdn "$i")")
done
if [[ -n "$recorded" ]]; then
  while IFS= read -r peer; do
    [[ "$peer" == "$SELF" || " ${peers[*]} " == *" $peer "* ]] || peers+=("$peer")
  done < <(sed -nE 's/^server\.[0-9]+=([^:;]+):.*/\1/p' "$recorded")
fi

# True if any peer runs ZooKeeper at all (answers ruok, serving or not).
any_running() {
  local peer
  for peer in "${peers[@]}"; do
    [[ "$(four "$peer" ruok)" == imok ]] && return 0
  done
  return 1
}

# The newest configuration any peer serves (highest version); fails when none serves.
current_membership() {
  local peer answer version best="" best_version=-1
  for peer in "${peers[@]}"; do
    answer="$(membership "$peer")" || continue
    version="$(version_of "$answer")"
    [[ "$version" =~ ^[0-9a-f]{1,15}$ ]] || continue
    if ((16#$version > best_version)); then
      best="$answer"
      best_version=$((16#$version))
    fi
  done
  [[ -n "$best" ]] && printf '%s\n' "$best"
}

mode=""
said=""
waiting_since=$SECONDS
while [[ -z "$mode" ]]; do
  if current="$(current_membership)"; then
    version="$(version_of "$current")"
    if ! lists "$current" "$MYID"; then
      mode="join"
    elif has_history; then
      mode="member"
    else
      log "server $MYID is listed in the ensemble (configuration $version) but its volume holds no data: the" \
        "volume was lost. Removing server $MYID through a peer first, so that it never votes with an empty log"
      servers="$(sed -nE 's/^server\.[0-9]+=([^:;]+):.*/\1/p' <<<"$current" | grep -vxF "$SELF" |
        sed "s/\$/:$PORT/" | paste -sd, -)" || true
      if out="$(admin "$ADMIN_TIMEOUT" "$servers" "reconfig -remove $MYID")"; then
        log "removed server $MYID through $servers"
      else
        log "reconfig -remove $MYID through $servers failed, retrying: $(why "$out")"
        sleep 1
      fi
      continue
    fi
  elif [[ -n "$recorded" ]] && lists "$(<"$recorded")" "$MYID"; then
    mode="restart"
  elif [[ -z "$recorded" ]] && ! has_history && ((ORDINAL < bootstrap_replicas)); then
    # Peers that run but do not serve are either founding the ensemble too or electing a leader
    # (after which this member, if it was listed, must not vote with its empty volume): wait out an
    # election before founding a new ensemble.
    if ! any_running || ((SECONDS - waiting_since >= BOOTSTRAP_WAIT)); then
      mode="bootstrap"
    elif [[ "$said" != bootstrap ]]; then
      log "peers run, but none serves: waiting up to ${BOOTSTRAP_WAIT}s for a quorum before founding a new ensemble"
      said="bootstrap"
    fi
  elif [[ "$said" != wait ]]; then
    log "no peer serves the ensemble yet; server $MYID waits for one, to join the ensemble through it"
    said="wait"
  fi
  [[ -n "$mode" ]] || sleep 1
done

case "$mode" in
member)
  # Listed, with its data (it crashed, or could not remove itself): the current membership, in the
  # file ZooKeeper itself would have written for that version.
  dynamic="$config.dynamic.$version"
  [[ -e "$dynamic" ]] || write_file "$dynamic" "$(grep '^server\.' <<<"$current")"
  log "$HOST is server $MYID, listed in configuration $version; rejoining with it"
  ;;
restart)
  dynamic="$recorded"
  log "$HOST is server $MYID; no peer serves, so it starts with the membership it recorded ($dynamic)"
  ;;
join)
  # Listing the current members and only itself as a new voter lets it find the leader and sync as a
  # non-voting follower; it cannot form a quorum with another joiner. The version-less file name
  # (version 0) makes it adopt the leader's configuration.
  dynamic="$config.dynamic.joining"
  write_file "$dynamic" "$(grep '^server\.' <<<"$current" | grep -v "^server\.$MYID=" || true)
$SELF_SPEC"
  rm -f "$pending"
  log "$HOST is server $MYID, not in configuration $version; joining the ensemble, then adding itself"
  ;;
bootstrap)
  dynamic="$config.dynamic.bootstrap"
  lines=""
  for ((i = 0; i < bootstrap_replicas; i++)); do
    lines+="$(server_spec "$i")"$'\n'
  done
  write_file "$dynamic" "${lines%$'\n'}"
  rm -f "$pending"
  log "$HOST is server $MYID; founding a new ensemble of $bootstrap_replicas member(s) in namespace $NAMESPACE"
  ;;
esac

{
  cat "$CONFIG_DIR/$BASE_CONFIG"
  printf 'dynamicConfigFile=%s\n' "$dynamic"
} >"$config.tmp"
mv -f "$config.tmp" "$config"

# Runs beside ZooKeeper until this member votes: once its server serves (it has synced with the
# leader, as a non-voting follower when it is not listed) it adds itself. A member marked as leaving
# (prestop.sh) stops trying, so it cannot be added back after its removal.
become_voter() {
  set +e
  printf '%s\n' "$BASHPID" >"$JOINER_PID"
  local delay=1 answer out
  while [[ ! -e "$LEAVING" ]]; do
    if answer="$(membership 127.0.0.1)"; then
      if lists "$answer" "$MYID" && listed_as_self "$answer"; then
        log "server $MYID votes in configuration $(version_of "$answer")"
        break
      elif lists "$answer" "$MYID"; then
        # plaintext_client_port changed: the listing says which client port a member opens.
        log "server $MYID votes, listed with another client port; reconfig -add $SELF_SPEC"
      else
        log "synced with the leader as a non-voting follower; reconfig -add $SELF_SPEC"
      fi
      if out="$(admin "$ADMIN_TIMEOUT" "127.0.0.1:$PORT" "reconfig -add $SELF_SPEC")"; then
        continue
      fi
      log "reconfig -add failed (retrying in ${delay}s): $(why "$out")"
      sleep "$delay"
      ((delay < 8)) && delay=$((delay * 2))
    else
      sleep 0.5
    fi
  done
  rm -f "$JOINER_PID"
}
become_voter &

# The super user's digest: base64(sha1("super:<password>")), what `addauth digest super:<password>`
# is checked against. Computed here (printf is a builtin, so the password is on no command line).
hex="$(printf '%s' "super:$SUPER_PASSWORD" | sha1sum)"
hex="${hex%% *}"
# shellcheck disable=SC2001,SC2059 # sed: the format is the digest as \xNN escapes, which printf turns into its bytes
digest="$(printf "$(sed 's/../\\x&/g' <<<"$hex")" | base64)"

# ZK_SERVER_HEAP is what the official image's zkEnv.sh reads; SERVER_JVMFLAGS reaches the JVM in every
# zkServer.sh (and comes last, so it wins). The digest goes there, not the password.
export ZK_SERVER_HEAP="$HEAP_MIB"
export SERVER_JVMFLAGS="-Xms${HEAP_MIB}m -Xmx${HEAP_MIB}m -Dzookeeper.DigestAuthenticationProvider.superDigest=super:$digest${JVM_FLAGS:+ $JVM_FLAGS}"
log "$HOST is server $MYID in namespace $NAMESPACE; starting with $config ($mode, $dynamic)"
exec zkServer.sh start-foreground "$config"
