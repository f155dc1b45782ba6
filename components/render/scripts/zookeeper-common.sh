#!/usr/bin/env bash
# Shared by start.sh and prestop.sh of a ZooKeeper ensemble member (sourced), rendered by statefulkit.
# The member derives its identity from its pod and talks to its peers through them:
#   hostname <sts>-<ordinal>           -> myid = ordinal + 1 + SERVER_ID_OFFSET
#   POD_NAMESPACE (downward API)       -> peers at <sts>-<i>.<headless>.<ns>.svc.<domain>
#   ZK_SUPER_PASSWORD (Secret)         -> zkCli.sh runs as ZooKeeper's super user, whom reconfig requires

# --- rendered constants
STS=@@STS@@
HEADLESS=@@HEADLESS@@
SERVER_ID_OFFSET=@@SERVER_ID_OFFSET@@
CLUSTER_DOMAIN=@@CLUSTER_DOMAIN@@
CLIENT_PORT=@@CLIENT_PORT@@
QUORUM_PORT=@@QUORUM_PORT@@
ELECTION_PORT=@@ELECTION_PORT@@
CONFIG_DIR=@@CONFIG_DIR@@
DATA_DIR=@@DATA_DIR@@
DATA_LOG_DIR=@@DATA_LOG_DIR@@
HOSTNAME_FILE=@@HOSTNAME_FILE@@
PEER_TIMEOUT=@@PEER_TIMEOUT@@
ADMIN_TIMEOUT=@@ADMIN_TIMEOUT@@
# --- end of rendered constants

# prestop.sh marks a leaving member here; start.sh's join attempt stops when it sees the mark.
LEAVING="$DATA_DIR/statefulkit-leaving"
JOINER_PID="$DATA_DIR/statefulkit-joiner.pid"

log() { printf 'statefulkit-zookeeper: %s\n' "$*" >&2; }
die() {
  log "FATAL: $*"
  exit 1
}

HOST=""
IFS= read -r HOST <"$HOSTNAME_FILE" || [[ -n "$HOST" ]] || die "cannot read the hostname from $HOSTNAME_FILE"
HOST="${HOST%%.*}"
ORDINAL="${HOST##*-}"
if [[ "$HOST" != "$STS-$ORDINAL" || ! "$ORDINAL" =~ ^(0|[1-9][0-9]*)$ ]]; then
  die "hostname '$HOST' is not '$STS-<ordinal>'; this script runs only in a pod of StatefulSet $STS"
fi
NAMESPACE="${POD_NAMESPACE:-}"
[[ -n "$NAMESPACE" ]] || die "POD_NAMESPACE is empty; the pod must set it from the downward API (metadata.namespace)"
MYID=$((ORDINAL + 1 + SERVER_ID_OFFSET))
SUPER_PASSWORD="${ZK_SUPER_PASSWORD:-}"
[[ -n "$SUPER_PASSWORD" ]] || die "ZK_SUPER_PASSWORD is empty: the pod reads it from the password Secret (secretKeyRef)"
[[ "$SUPER_PASSWORD" != *[[:space:]]* ]] || die "the super user's password contains whitespace, which zkCli.sh would split"

# fqdn <ordinal>: a member's name through the headless Service.
fqdn() { printf '%s-%s.%s.%s.svc.%s' "$STS" "$1" "$HEADLESS" "$NAMESPACE" "$CLUSTER_DOMAIN"; }
SELF="$(fqdn "$ORDINAL")"
# This member's line in the dynamic configuration: a voter, serving clients on every address.
SELF_SPEC="server.$MYID=$SELF:$QUORUM_PORT:$ELECTION_PORT:participant;$CLIENT_PORT"

# four <host> <word>: the answer to a four-letter word; fails when nothing answers within PEER_TIMEOUT.
four() {
  # shellcheck disable=SC2016 # the inner script's own positional parameters
  timeout "$PEER_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf %s "$2" >&3 && cat <&3' \
    "$1" "$CLIENT_PORT" "$2" 2>/dev/null
}

# membership <host>: the configuration <host> has committed, as `server.<id>=...` lines and a last
# `version=<hex>` line; fails unless <host> serves (while it looks for a leader, conf says it does not).
membership() {
  local answer
  answer="$(four "$1" conf)" || return 1
  [[ "$answer" == *"membership:"* ]] || return 1
  grep -E '^(server\.[0-9]+|version)=' <<<"${answer#*membership:}"
}

# lists <membership> <id>: whether server <id> votes in that configuration (a server line without a
# role, as a static zoo.cfg has them, is a participant).
lists() { grep -E "^server\\.$2=" <<<"$1" | grep -qvE ':observer(;|$)'; }
voters() { grep -E '^server\.[0-9]+=' <<<"$1" | grep -cvE ':observer(;|$)' || true; }
version_of() { sed -n 's/^version=//p' <<<"$1"; }

# why <zkCli.sh answer>: the line that says why a command failed (never the one with the password).
why() {
  local line
  line="$(grep -v addauth <<<"$1" | grep -E 'KeeperErrorCode|Insufficient permission|not valid|Exception:' |
    tail -n 1)" || line="$(grep -v addauth <<<"$1" | tail -n 1)"
  printf '%s' "${line:-no answer in time}"
}

# admin <seconds> <host:port> <command>...: zkCli.sh runs the commands on that server as the super user
# and prints its answer; fails unless the last command succeeded or when it takes longer than <seconds>.
# The password reaches zkCli.sh on its standard input, never on a command line.
admin() {
  local limit="$1" server="$2"
  shift 2
  { printf 'addauth digest super:%s\n' "$SUPER_PASSWORD" && printf '%s\n' "$@"; } |
    ZK_CLIENT_HEAP=64 timeout "$limit" zkCli.sh -server "$server" 2>&1
}
