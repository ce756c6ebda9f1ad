#!/usr/bin/env bash
# make-newcommand-captures.sh - make a capture of the commands and subcommands
# that a Redis 8 or Valkey server has and Redis 7.0.15 has not
# (newcmd-<redis|valkey>-<version>.pcap) and its server-side ground truth
# (.truth.json).  See README.md, section "New-command captures".
#
# Usage: sudo test-captures/make-newcommand-captures.sh
#            [--server redis-server|valkey-server] [--out DIR]
#
# Needs: root (network namespace, tcpdump), redis-server + redis-cli (or
# valkey-server + valkey-cli), tcpdump, ip (iproute2), ss, timeout,
# /usr/bin/python3.
#
# Everything runs inside a private network namespace made for this run
# (respnewcmd-<pid>, or NETNS_PREFIX<pid>; deleted on exit), so port 6379 never clashes with
# anything on the host.  The script starts its own server and tcpdump (on the
# namespace's lo), runs newcommand_traffic.py (traffic + server record; its
# control connection is the server's unix socket, never captured), stops
# exactly the processes it started, by PID (also from an EXIT trap), and
# checks the capture: no kernel drops, no TCP retransmission/overlap/hole
# (else it is made again, up to 3 attempts), and the capture agrees with the
# server (newcommand_traffic.py annotate refuses to write a truth otherwise).
# Every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
GEN=$HERE/newcommand_traffic.py
SERVER=redis-server
OUT=$HERE
PORT=6379
START_TIMEOUT=10      # s: server / tcpdump start-up
STOP_TIMEOUT=10       # s: process shutdown
RUN_TIMEOUT=120       # s: one generator run
ATTEMPTS=3

# shellcheck source=capture-common.sh
source "$HERE/capture-common.sh"

start_server() {   # start_server VAR: a fresh server in $TMP/server
  local var=$1 dir=$TMP/server
  rm -rf "$dir"
  # appendonly yes: WAITAOF needs it
  server_bg "$var" "$dir" "$PORT" -- --appendonly yes --appendfsync everysec
  server_up server "${!var}" "$dir" "$PORT"
}

capture() {   # capture NAME: one attempt; returns 1 if the capture must be redone
  local name=$1 s td ok=0 pcap=$TMP/$1.pcap
  rm -f "$pcap"*
  start_server s
  start_tcpdump td "$pcap" "tcp port $PORT"
  timeout -k 5 "$RUN_TIMEOUT" "${IN[@]}" "$PY" "$GEN" run --port "$PORT" \
    --sock "$TMP/server/sock" --server "$SERVER" --sidecar "$TMP/$name.sidecar.json" ||
    die "newcommand_traffic.py run failed (server log: $TMP/server/log; KEEP_WORK=1 keeps it)"
  stop_tcpdump "$td" "$pcap" || ok=1
  stop_server "$s" "$TMP/server"
  ((ok == 0)) || return 1
  "$PY" "$GEN" check-pcap "$pcap" --port "$PORT" || return 1
  "$PY" "$GEN" annotate --sidecar "$TMP/$name.sidecar.json" --pcap "$pcap" \
    --capture "$name.pcap" --truth "$TMP/$name.truth.json" ||
    die "capture and server record disagree (annotate)"
}

main() {
  local name ver
  parse_args 2,8 "$@"
  check_tools
  ver=$("$SERVER" --version | sed -n 's/.* v=\([0-9][0-9.]*\) .*/\1/p')
  [[ -n $ver ]] || die "cannot read the version of $SERVER"
  name=newcmd-${SERVER%-server}-$ver
  make_workspace newcmd-captures respnewcmd-
  retry "$name" "$name" capture "$name"
  publish "$name.pcap" "$name.truth.json"
  log "done:"
  (cd "$OUT" && ls -l "$name.pcap" "$name.truth.json" >&2)
}

main "$@"
