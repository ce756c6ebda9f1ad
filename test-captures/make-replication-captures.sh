#!/usr/bin/env bash
# make-replication-captures.sh - regenerate the Redis replication and CLIENT
# REPLY test captures (repl-*.pcap) and their server-side ground truth
# (repl-*.truth.json).  See README.md, section "Replication captures".
#
# Usage: sudo test-captures/make-replication-captures.sh
#            [--server redis-server|valkey-server] [--out DIR] [scenario ...]
#        scenarios: disk diskless psync tunnel clientreply (default: all)
#                   diskless-nochannel (Redis 8 only: repl-rdb-channel no)
#        REPL_SERVER_OPTS="--opt val ..." (environment): extra options for both
#        servers of the replication scenarios (e.g. Valkey's
#        --dual-channel-replication-enabled yes); for exploring, the truths
#        may not cover what they change.
#
# Needs: root (network namespace, tcpdump), redis-server + redis-cli (or
# valkey-server + valkey-cli), spiped (tunnel), tcpdump, ip (iproute2),
# timeout, /usr/bin/python3.
#
# Everything runs inside a private network namespace made for this run
# (resprepl-<pid>, or $NETNS_PREFIX<pid>; deleted on exit), so the fixed ports 6379/6380/6479/6579
# never clash with anything on the host.  The script starts its own servers,
# spiped pair and tcpdump (on the namespace's lo) per capture, runs
# replication_traffic.py (traffic + server record), stops exactly the
# processes it started, by PID (also from an EXIT trap), and checks each
# capture: no kernel drops, no TCP retransmission/overlap/hole (else it is
# made again, up to 3 attempts), and the capture agrees with the servers
# (replication_traffic.py annotate refuses to write a truth otherwise).
# Every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
GEN=$HERE/replication_traffic.py
KEY=$HERE/spiped-test.key
SERVER=redis-server
OUT=$HERE
ALL="disk diskless psync tunnel clientreply"
KNOWN="$ALL diskless-nochannel"
MASTER_PORT=6379
REPLICA_PORT=6380
TUNNEL_PORT=6479      # spiped -d listens here: the encrypted leg (captured)
PLAIN_PORT=6579       # spiped -e listens here: the replica's "master"
PASSWORD=repl-test-password
PRELOAD_KEYS=3000
START_TIMEOUT=10      # s: server / spiped / tcpdump start-up
STOP_TIMEOUT=10       # s: process shutdown
RUN_TIMEOUT=120       # s: one generator run
ATTEMPTS=3

# shellcheck source=capture-common.sh
source "$HERE/capture-common.sh"

# start_server VAR NAME PORT [options...]: sets VAR (PID); dir $TMP/NAME
start_server() {
  local var=$1 name=$2 port=$3 pid
  shift 3
  server_bg pid "$TMP/$name" "$port" -- "$@"
  printf -v "$var" '%s' "$pid"
  server_up "$name" "$pid" "$TMP/$name" "$port"
}

gen() { timeout -k 5 "$RUN_TIMEOUT" "${IN[@]}" "$PY" "$GEN" "$@" || die "replication_traffic.py $1 failed"; }

# capture_repl SCENARIO: one attempt; returns 1 if the capture must be redone
capture_repl() {
  local sc=$1 m r td td2="" sd="" se="" diskless=no target=$MASTER_PORT ok=0
  local pcap=$TMP/repl-$sc.pcap clear=$TMP/repl-$sc-clear.pcap
  rm -rf "${TMP:?}/master" "${TMP:?}/replica" "$pcap"* "$clear"*
  local slow=()
  [[ $sc == diskless* ]] && diskless=yes
  # Redis 8 only (older servers refuse the option): the classic diskless sync,
  # $EOF-framed RDB on the one connection, instead of the RDB channel
  local nochan=()
  [[ $sc == diskless-nochannel ]] && nochan=(--repl-rdb-channel no)
  local extra=()
  [[ -n ${REPL_SERVER_OPTS:-} ]] && read -r -a extra <<<"$REPL_SERVER_OPTS"
  # disk: slow the BGSAVE down (600 us a key, ~1.8 s) so that the master sends
  # keepalive newlines between +FULLRESYNC and the RDB
  [[ $sc == disk ]] && slow=(--rdb-key-save-delay 600)
  start_server m master "$MASTER_PORT" --requirepass "$PASSWORD" \
    --repl-ping-replica-period 1 --repl-diskless-sync "$diskless" \
    --repl-diskless-sync-delay 2 "${slow[@]+"${slow[@]}"}" "${nochan[@]+"${nochan[@]}"}" \
    "${extra[@]+"${extra[@]}"}"
  "$PY" "$GEN" preload --sock "$TMP/master/sock" --password "$PASSWORD" --keys "$PRELOAD_KEYS" ||
    die "preload failed"
  if [[ $sc == tunnel ]]; then
    bg sd spiped -d -s "[127.0.0.1]:$TUNNEL_PORT" -t "[127.0.0.1]:$MASTER_PORT" -k "$KEY" -F -f -o 10
    bg se spiped -e -s "[127.0.0.1]:$PLAIN_PORT" -t "[127.0.0.1]:$TUNNEL_PORT" -k "$KEY" -F -f -o 10
    wait_until "spiped -d on $TUNNEL_PORT" "$sd" listening "$TUNNEL_PORT"
    wait_until "spiped -e on $PLAIN_PORT" "$se" listening "$PLAIN_PORT"
    target=$PLAIN_PORT
    start_tcpdump td "$pcap" "tcp port $TUNNEL_PORT"
    start_tcpdump td2 "$clear" "tcp port $MASTER_PORT"
  else
    start_tcpdump td "$pcap" "tcp port $MASTER_PORT"
  fi
  "$PY" "$GEN" baseline --sock "$TMP/master/sock" --password "$PASSWORD" \
    --out "$TMP/$sc.baseline.json" || die "baseline failed"
  # the whole link is captured: the replica connects only now
  start_server r replica "$REPLICA_PORT" --replicaof 127.0.0.1 "$target" \
    --masterauth "$PASSWORD" --repl-diskless-load disabled --rdb-del-sync-files no \
    "${nochan[@]+"${nochan[@]}"}" "${extra[@]+"${extra[@]}"}"
  gen run "$sc" --sidecar "$TMP/$sc.sidecar.json" --server "$SERVER" \
    --master-port "$MASTER_PORT" --master-sock "$TMP/master/sock" --master-log "$TMP/master/log" \
    --replica-port "$REPLICA_PORT" --replica-sock "$TMP/replica/sock" \
    --replica-dir "$TMP/replica" --replica-log "$TMP/replica/log" --password "$PASSWORD" \
    --master-baseline "$TMP/$sc.baseline.json"
  stop_tcpdump "$td" "$pcap" || ok=1
  [[ -n $td2 ]] && { stop_tcpdump "$td2" "$clear" || ok=1; }
  stop_server "$r" "$TMP/replica"
  [[ -n $se ]] && stop_pid "$se" TERM
  [[ -n $sd ]] && stop_pid "$sd" TERM
  stop_server "$m" "$TMP/master" "$PASSWORD"
  ((ok == 0)) || return 1
  if [[ $sc == tunnel ]]; then
    "$PY" "$GEN" check-pcap "$pcap" --port "$TUNNEL_PORT" || return 1
    "$PY" "$GEN" check-pcap "$clear" --port "$MASTER_PORT" || return 1
    "$PY" "$GEN" annotate --sidecar "$TMP/$sc.sidecar.json" --pcap "$clear" \
      --capture "repl-$sc-clear.pcap" --truth "$TMP/repl-$sc.truth.json" \
      --tunnel-pcap "$pcap" --tunnel-port "$TUNNEL_PORT" --plain-port "$PLAIN_PORT" ||
    die "capture and server record disagree (annotate)"
  else
    "$PY" "$GEN" check-pcap "$pcap" --port "$MASTER_PORT" || return 1
    "$PY" "$GEN" annotate --sidecar "$TMP/$sc.sidecar.json" --pcap "$pcap" \
      --capture "repl-$sc.pcap" --truth "$TMP/repl-$sc.truth.json" ||
    die "capture and server record disagree (annotate)"
  fi
}

capture_clientreply() {
  local m td ok=0 pcap=$TMP/repl-clientreply.pcap
  rm -rf "${TMP:?}/master" "$pcap"*
  start_server m master "$MASTER_PORT"
  start_tcpdump td "$pcap" "tcp port $MASTER_PORT"
  gen run clientreply --sidecar "$TMP/clientreply.sidecar.json" --server "$SERVER" \
    --master-port "$MASTER_PORT" --master-sock "$TMP/master/sock"
  stop_tcpdump "$td" "$pcap" || ok=1
  stop_server "$m" "$TMP/master"
  ((ok == 0)) || return 1
  "$PY" "$GEN" check-pcap "$pcap" --port "$MASTER_PORT" || return 1
  "$PY" "$GEN" annotate --sidecar "$TMP/clientreply.sidecar.json" --pcap "$pcap" \
    --capture repl-clientreply.pcap --truth "$TMP/repl-clientreply.truth.json" ||
    die "capture and server record disagree (annotate)"
}

# capture SCENARIO: one attempt of either kind
capture() {
  if [[ $1 == clientreply ]]; then capture_clientreply; else capture_repl "$1"; fi
}

run_scenario() {
  local sc=$1
  retry "scenario $sc ($SERVER)" "repl-$sc" capture "$sc"
  if [[ $sc == tunnel ]]; then
    publish repl-tunnel.pcap repl-tunnel-clear.pcap repl-tunnel.truth.json
  else
    publish "repl-$sc.pcap" "repl-$sc.truth.json"
  fi
}

main() {
  local s
  parse_args 2,9 "$@"
  check_tools
  [[ " ${SCENARIOS[*]} " == *" tunnel "* ]] && { command -v spiped >/dev/null || die "missing tool: spiped"; }
  [[ -s $KEY ]] || die "missing $KEY"
  make_workspace repl-captures resprepl-
  for s in "${SCENARIOS[@]}"; do run_scenario "$s"; done
  log "done:"
  (cd "$OUT" && ls -l repl-*.pcap repl-*.truth.json >&2)
}

main "$@"
