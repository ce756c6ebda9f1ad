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
# (resprepl-<pid>, deleted on exit), so the fixed ports 6379/6380/6479/6579
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

NS=""
TMP=""
PIDS=()

log() { printf '[make-replication-captures] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../tools/child-processes.sh
source "$HERE/../tools/child-processes.sh"

cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$pid" TERM; done
  if [[ -n $NS ]]; then ip netns delete "$NS" 2>/dev/null || log "could not delete netns $NS"; fi
  if [[ -n ${KEEP_WORK:-} && -n $TMP ]]; then log "kept $TMP"
  elif [[ -n $TMP && -d $TMP ]]; then rm -rf -- "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

IN=()   # "${IN[@]}" CMD: run CMD in the namespace (ip execs it: same PID)
inns() { "${IN[@]}" "$@"; }

# bg VAR CMD...: start CMD in the namespace in the background, record its PID
# (a simple command, not a function, so that $! is the program itself)
bg() {
  local var=$1
  shift
  "${IN[@]}" "$@" &
  PIDS+=("$!")
  printf -v "$var" '%s' "$!"
}

wait_until() {   # wait_until WHAT PID CMD...: bounded poll while PID lives
  local what=$1 pid=$2 deadline=$((SECONDS + START_TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || die "$what: process $pid exited"
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 0.05
  done
}

listening() { inns ss -Hltn "sport = :$1" | grep -q .; }

# start_server VAR NAME PORT [options...]: sets VAR (PID); dir $TMP/NAME
start_server() {
  local var=$1 name=$2 port=$3 dir pid
  shift 3
  dir=$TMP/$name
  mkdir -p "$dir"
  bg pid "$SERVER" --port "$port" --bind 127.0.0.1 --protected-mode yes \
    --save '' --appendonly no --daemonize no --dir "$dir" --dbfilename dump.rdb \
    --unixsocket "$dir/sock" --unixsocketperm 700 \
    --loglevel verbose --logfile "$dir/log" "$@"
  printf -v "$var" '%s' "$pid"
  wait_until "$name socket" "$pid" test -S "$dir/sock"
  wait_until "$name port $port" "$pid" listening "$port"
}

stop_server() {   # stop_server PID NAME [password]
  local pid=$1 name=$2 pw=${3:-} auth=()
  [[ -n $pw ]] && auth=(-a "$pw" --no-auth-warning)
  timeout 5 "$CLI" -s "$TMP/$name/sock" "${auth[@]+"${auth[@]}"}" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$pid" TERM
}

# start_tcpdump VAR FILE FILTER
start_tcpdump() {
  local var=$1 file=$2 filter=$3 pid
  "${IN[@]}" tcpdump -i lo -U --immediate-mode -B 16384 -Z root -w "$file" "$filter" 2>"$file.err" &
  pid=$!
  PIDS+=("$pid")
  wait_until "tcpdump for $file" "$pid" grep -q 'listening on' "$file.err"
  sleep 0.3
  printf -v "$var" '%s' "$pid"
}

stop_tcpdump() {   # stop_tcpdump PID FILE: returns 1 on kernel drops
  sleep 0.5
  stop_pid "$1" INT
  grep -q '^0 packets dropped by kernel' "$2.err" && return 0
  log "tcpdump for $2 dropped packets or did not report: $(cat "$2.err")"
  return 1
}

gen() { timeout -k 5 "$RUN_TIMEOUT" "${IN[@]}" "$PY" "$GEN" "$@" || die "replication_traffic.py $1 failed"; }

publish() {   # publish FILE...: into OUT
  local f
  for f in "$@"; do
    mv -f -- "$TMP/$f" "$OUT/$f"
    chmod 644 "$OUT/$f"
  done
}

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
  stop_server "$r" replica
  [[ -n $se ]] && stop_pid "$se" TERM
  [[ -n $sd ]] && stop_pid "$sd" TERM
  stop_server "$m" master "$PASSWORD"
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
  stop_server "$m" master
  ((ok == 0)) || return 1
  "$PY" "$GEN" check-pcap "$pcap" --port "$MASTER_PORT" || return 1
  "$PY" "$GEN" annotate --sidecar "$TMP/clientreply.sidecar.json" --pcap "$pcap" \
    --capture repl-clientreply.pcap --truth "$TMP/repl-clientreply.truth.json" ||
    die "capture and server record disagree (annotate)"
}

run_scenario() {
  local sc=$1 attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    log "scenario $sc ($SERVER), attempt $attempt"
    if [[ $sc == clientreply ]]; then
      if capture_clientreply; then publish repl-clientreply.pcap repl-clientreply.truth.json; return 0; fi
    elif capture_repl "$sc"; then
      if [[ $sc == tunnel ]]; then
        publish repl-tunnel.pcap repl-tunnel-clear.pcap repl-tunnel.truth.json
      else
        publish "repl-$sc.pcap" "repl-$sc.truth.json"
      fi
      return 0
    fi
    log "repl-$sc: kernel drops or a TCP retransmission/hole, capturing again"
  done
  die "repl-$sc: no clean capture in $ATTEMPTS attempts"
}

main() {
  local s scenarios=()
  while (($#)); do
    case $1 in
      --server) SERVER=${2:?--server needs a value}; shift 2 ;;
      --out) OUT=${2:?--out needs a directory}; shift 2 ;;
      -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}"; exit 0 ;;
      -*) die "unknown option $1" ;;
      *) scenarios+=("$1"); shift ;;
    esac
  done
  ((${#scenarios[@]})) || read -r -a scenarios <<<"$ALL"
  for s in "${scenarios[@]}"; do
    [[ " $KNOWN " == *" $s "* ]] || die "unknown scenario '$s' (known: $KNOWN)"
  done
  case $SERVER in
    redis-server) CLI=redis-cli ;;
    valkey-server) CLI=valkey-cli ;;
    *) die "--server must be redis-server or valkey-server" ;;
  esac
  ((EUID == 0)) || die "run as root (network namespace, tcpdump)"
  for s in "$SERVER" "$CLI" tcpdump ip ss timeout; do
    command -v "$s" >/dev/null || die "missing tool: $s"
  done
  [[ " ${scenarios[*]} " == *" tunnel "* ]] && { command -v spiped >/dev/null || die "missing tool: spiped"; }
  [[ -x $PY ]] || die "missing $PY"
  [[ -s $KEY ]] || die "missing $KEY"
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  TMP=$(mktemp -d /tmp/repl-captures.XXXXXX)
  chmod 755 "$TMP"
  NS=resprepl-$$
  ip netns add "$NS" || { NS=""; die "ip netns add failed"; }
  IN=(ip netns exec "$NS")
  inns ip link set lo up
  log "network namespace $NS, $("$SERVER" --version | head -1)"
  for s in "${scenarios[@]}"; do run_scenario "$s"; done
  log "done:"
  (cd "$OUT" && ls -l repl-*.pcap repl-*.truth.json >&2)
}

main "$@"
