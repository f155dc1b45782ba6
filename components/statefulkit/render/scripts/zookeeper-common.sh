#!/usr/bin/env bash
# Shared by start.sh and prestop.sh of a ZooKeeper ensemble member (sourced), rendered by statefulkit.
# The member derives its identity from its pod and talks to its peers through them:
#   hostname <sts>-<ordinal>           -> myid = ordinal + 1 + SERVER_ID_OFFSET
#   POD_NAMESPACE (downward API)       -> peers at <sts>-<i>.<headless>.<ns>.svc.<domain>
#   ZK_SUPER_PASSWORD (Secret)         -> zkCli.sh runs as ZooKeeper's super user, whom reconfig requires
# With TLS (TLS_DIR set) every word to a member goes to its TLS client port, through `openssl s_client`
# (four-letter words) and zkCli.sh's Netty client, presenting this member's certificate.

# --- rendered constants
STS=@@STS@@
HEADLESS=@@HEADLESS@@
SERVER_ID_OFFSET=@@SERVER_ID_OFFSET@@
CLUSTER_DOMAIN=@@CLUSTER_DOMAIN@@
PORT=@@PORT@@
CLIENT_SPEC=@@CLIENT_SPEC@@
QUORUM_PORT=@@QUORUM_PORT@@
ELECTION_PORT=@@ELECTION_PORT@@
CONFIG_DIR=@@CONFIG_DIR@@
DATA_DIR=@@DATA_DIR@@
DATA_LOG_DIR=@@DATA_LOG_DIR@@
HOSTNAME_FILE=@@HOSTNAME_FILE@@
PEER_TIMEOUT=@@PEER_TIMEOUT@@
ADMIN_TIMEOUT=@@ADMIN_TIMEOUT@@
TLS_DIR=@@TLS_DIR@@
TLS_KEYSTORE=@@TLS_KEYSTORE@@
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
# server_spec <ordinal>: a member's line in the dynamic configuration: a voter, with its plaintext
# client address: every address (CLIENT_SPEC ";2181"), or, with TLS only, the pod's loopback
# (";127.0.0.1:2181"), since ZooKeeper refuses to add a member without one.
server_spec() {
  printf 'server.%s=%s:%s:%s:participant%s' "$(($1 + 1 + SERVER_ID_OFFSET))" "$(fqdn "$1")" "$QUORUM_PORT" \
    "$ELECTION_PORT" "$CLIENT_SPEC"
}
SELF_SPEC="$(server_spec "$ORDINAL")"

# four <host> <word>: the answer to a four-letter word; fails when nothing answers within PEER_TIMEOUT.
# Over TLS a peer must show a certificate of the CA for its own name; this member's own server, on the
# loopback address, is asked without checks.
four() {
  local answer
  if [[ -z "$TLS_DIR" ]]; then
    # shellcheck disable=SC2016 # the inner script's own positional parameters
    answer="$(timeout "$PEER_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf %s "$2" >&3 && cat <&3' \
      "$1" "$PORT" "$2" 2>/dev/null)"
  else
    local verify=(-verify_return_error -verify_hostname "$1")
    [[ "$1" == 127.0.0.1 ]] && verify=()
    # openssl may report an unclean close after the whole answer arrived: the answer decides.
    answer="$(printf %s "$2" | timeout "$PEER_TIMEOUT" openssl s_client -quiet -connect "$1:$PORT" \
      -CAfile "$TLS_DIR/ca.crt" -cert "$TLS_DIR/tls.crt" -key "$TLS_DIR/tls.key" "${verify[@]}" 2>/dev/null)"
  fi
  [[ -n "$answer" ]] && printf '%s' "$answer"
}

# listed_as_self <membership>: whether this member is listed with the client address SELF_SPEC has
# (ZooKeeper prints ";2181" as ";0.0.0.0:2181"), so that a changed plaintext_client_port reaches
# ZooKeeper's membership.
listed_as_self() {
  local line want="${CLIENT_SPEC#;}"
  line="$(grep -E "^server\.$MYID=" <<<"$1")" || return 1
  [[ "$want" == *:* ]] || want="0.0.0.0:$want"
  [[ "${line##*;}" == "$want" ]]
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

# admin <seconds> <host:port,...> <command>...: zkCli.sh runs the commands on one of those servers as the
# super user and prints its answer; fails unless the last command succeeded or when it takes longer than
# <seconds>. The password reaches zkCli.sh on its standard input, never on a command line.
admin() {
  local limit="$1" servers="$2" flags=""
  shift 2
  if [[ -n "$TLS_DIR" ]]; then
    flags="-Dzookeeper.client.secure=true -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty"
    flags+=" -Dzookeeper.ssl.keyStore.location=$TLS_KEYSTORE -Dzookeeper.ssl.keyStore.type=PEM"
    flags+=" -Dzookeeper.ssl.trustStore.location=$TLS_DIR/ca.crt -Dzookeeper.ssl.trustStore.type=PEM"
    # Its own server on the loopback address has no certificate for that name.
    [[ "$servers" == "127.0.0.1:$PORT" ]] && flags+=" -Dzookeeper.ssl.hostnameVerification=false"
  fi
  { printf 'addauth digest super:%s\n' "$SUPER_PASSWORD" && printf '%s\n' "$@"; } |
    CLIENT_JVMFLAGS="$flags ${CLIENT_JVMFLAGS:-}" ZK_CLIENT_HEAP=64 timeout "$limit" zkCli.sh -server "$servers" 2>&1
}
