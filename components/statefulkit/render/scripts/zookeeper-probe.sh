#!/usr/bin/env bash
# Probes of a ZooKeeper ensemble member, rendered by statefulkit. Bash and /dev/tcp only (the
# official image has no nc or curl guarantee); with TLS, `openssl s_client` (openssl comes with
# ca-certificates, which the official image has).
#   probe.sh ready  succeeds only while the server serves as a voting member: `srvr` answers Mode:
#                   leader, follower or standalone (never while it is looking for a leader), and the
#                   configuration `conf` reports lists this server (its serverId) as a participant: a
#                   new member that has synced but not yet added itself, or one that removed itself
#                   before stopping, is not ready.
#   probe.sh live   succeeds while the server process answers `ruok` with `imok`, which it also
#                   does during a leader election, so liveness never kills a member that is voting.
set -u
PORT=@@PORT@@
READ_TIMEOUT=@@READ_TIMEOUT@@
TLS_DIR=@@TLS_DIR@@

ask() {
  if [[ -n "$TLS_DIR" ]]; then
    # Its own server on the loopback address: nothing to verify. The answer decides, not the exit
    # status (openssl may report the server's close).
    local answer
    answer="$(printf '%s' "$1" | timeout "$READ_TIMEOUT" openssl s_client -quiet -connect "127.0.0.1:$PORT" \
      -cert "$TLS_DIR/tls.crt" -key "$TLS_DIR/tls.key" 2>/dev/null)"
    [[ -n "$answer" ]] && printf '%s' "$answer"
    return
  fi
  local answer="" line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
  printf '%s' "$1" >&3 || return 1
  while true; do
    if IFS= read -r -t "$READ_TIMEOUT" line <&3; then
      answer+="$line"$'\n'
    else
      answer+="$line"
      break
    fi
  done
  exec 3<&-
  printf '%s' "$answer"
}

case "${1:-}" in
ready)
  answer="$(ask srvr)" || { echo "not ready: nothing answers on 127.0.0.1:$PORT"; exit 1; }
  if [[ ! "$answer" =~ Mode:\ (leader|follower|standalone) ]]; then
    echo "not ready: srvr answered: ${answer:-(nothing)}"
    exit 1
  fi
  mode="${BASH_REMATCH[0]}"
  config="$(ask conf)" || { echo "not ready: conf went unanswered"; exit 1; }
  if [[ ! "$config" =~ serverId=([0-9]+) ]]; then
    echo "not ready: conf answered: ${config:-(nothing)}"
    exit 1
  fi
  id="${BASH_REMATCH[1]}"
  if ! grep -qE "^server\.$id=[^;]*:participant(;|\$)" <<<"$config"; then
    echo "not ready: serving ($mode), but server $id does not vote in the ensemble's configuration"
    exit 1
  fi
  echo "ready: $mode"
  exit 0
  ;;
live)
  answer="$(ask ruok)" || { echo "not live: nothing answers on 127.0.0.1:$PORT"; exit 1; }
  if [[ "$answer" == imok* ]]; then
    echo "live: imok"
    exit 0
  fi
  echo "not live: ruok answered: ${answer:-(nothing)}"
  exit 1
  ;;
*)
  echo "usage: $0 ready|live" >&2
  exit 2
  ;;
esac
