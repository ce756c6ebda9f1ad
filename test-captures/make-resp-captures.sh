#!/usr/bin/env bash
# make-resp-captures.sh - regenerate the RESP (Redis) test captures and their
# server-side ground truth in this directory.  See README.md.
#
# Usage: sudo test-captures/make-resp-captures.sh [scenario ...]
#        (default: all scenarios; "midstream" also writes resp-midstream-cut)
#
# Needs: root (tcpdump on lo), redis-server + redis-cli 7.0, tcpdump,
# nc (netcat-openbsd), editcap, ss, /usr/bin/python3 with python3-redis.
#
# For each capture the script starts its own redis-server (loopback only,
# control traffic on a private unix socket), its own tcpdump on lo, runs
# resp_traffic.py (traffic + truth), then stops exactly the processes it
# started, by PID.  Every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
GEN=$HERE/resp_traffic.py
DEFAULT_PORT=6379
OTHER_PORT=7380
START_TIMEOUT=10   # s: redis-server / tcpdump start-up, handshakes
STOP_TIMEOUT=10    # s: process shutdown
RUN_TIMEOUT=180    # s: one traffic generator run
ALL="basic inline pipeline bigvalue multi pubsub monitor monitorbig resp3 tracking errors protoerror otherport snaplen midstream"

TMP=""
PIDS=()            # every background process this script started
WAIT_RC=0

log() { printf '[make-resp-captures] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../tools/child-processes.sh
source "$HERE/../tools/child-processes.sh"

cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    stop_pid "$pid" TERM
  done
  [[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { ss -Hltn "sport = :$1" | grep -q .; }

check_port_free() {
  if port_in_use "$1"; then
    die "TCP port $1 is already in use (another Redis?). This script will not touch it; stop it first."
  fi
}

# start_redis PORT: sets REDIS_PID REDIS_SOCK REDIS_LOG
start_redis() {
  local port=$1 dir
  check_port_free "$port"
  dir=$(mktemp -d "$TMP/redis-$port.XXXX")
  REDIS_SOCK=$dir/redis.sock
  REDIS_LOG=$dir/redis.log
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
    --save '' --appendonly no --enable-debug-command local \
    --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
    --dir "$dir" --daemonize no --loglevel verbose --logfile "$REDIS_LOG" \
    >"$dir/stdout" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  local deadline=$((SECONDS + START_TIMEOUT))
  until [[ -S $REDIS_SOCK ]] &&
        [[ $(timeout 2 redis-cli -s "$REDIS_SOCK" PING 2>/dev/null) == PONG ]]; do
    alive "$REDIS_PID" || die "redis-server on port $port exited: $(tail -n 5 "$REDIS_LOG" "$dir/stdout" 2>&1)"
    ((SECONDS < deadline)) || die "redis-server on port $port not ready after ${START_TIMEOUT}s"
    sleep 0.1
  done
  # make sure the TCP port really belongs to the server we just started
  ss -Hltnp "sport = :$port" | grep -q "pid=$REDIS_PID," ||
    die "port $port is not served by our redis-server (PID $REDIS_PID)"
}

stop_redis() {
  timeout 5 redis-cli -s "$REDIS_SOCK" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$REDIS_PID" TERM
}

# start_tcpdump VAR FILE PORT [SNAPLEN]: starts tcpdump, stores its PID in VAR
start_tcpdump() {
  local var=$1 file=$2 port=$3 snap=${4:-} pid
  local snapopt=()
  [[ -n $snap ]] && snapopt=(-s "$snap")
  tcpdump -i lo -U --immediate-mode -B 16384 -Z root "${snapopt[@]+"${snapopt[@]}"}" \
    -w "$file" "tcp port $port" 2>"$file.err" &
  pid=$!
  PIDS+=("$pid")
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q 'listening on' "$file.err" 2>/dev/null; do
    alive "$pid" || die "tcpdump exited: $(cat "$file.err")"
    ((SECONDS < deadline)) || die "tcpdump not listening after ${START_TIMEOUT}s"
    sleep 0.05
  done
  sleep 0.3
  printf -v "$var" '%s' "$pid"
}

stop_tcpdump() {
  local pid=$1 file=$2
  sleep 0.5            # let the last FIN/ACK packets arrive
  stop_pid "$pid" INT
  grep -q '^0 packets dropped by kernel' "$file.err" ||
    die "tcpdump for $file dropped packets or did not report: $(cat "$file.err")"
}

gen() { timeout -k 5 "$RUN_TIMEOUT" "$PY" "$GEN" "$@"; }

publish() {   # publish NAME: move capture + truth from TMP into HERE
  mv -f -- "$TMP/resp-$1.pcap" "$HERE/resp-$1.pcap"
  mv -f -- "$TMP/resp-$1.truth.json" "$HERE/resp-$1.truth.json"
  chmod 644 "$HERE/resp-$1.pcap" "$HERE/resp-$1.truth.json"
}

ATTEMPTS=3        # a capture with TCP retransmissions/holes is redone

# clean PCAP PORT: true if the capture has no retransmission, overlap or hole
clean() { gen check-pcap "$1" --port "$2"; }

capture_simple() {   # capture_simple NAME PORT [SNAPLEN]
  local name=$1 port=$2 snap=${3:-} td
  start_redis "$port"
  start_tcpdump td "$TMP/resp-$name.pcap" "$port" "$snap"
  gen run "$name" --port "$port" --unixsock "$REDIS_SOCK" --logfile "$REDIS_LOG" \
    --truth "$TMP/resp-$name.truth.json" --capture "resp-$name.pcap"
  stop_tcpdump "$td" "$TMP/resp-$name.pcap"
  stop_redis
}

run_simple() {   # run_simple NAME PORT [SNAPLEN]
  local name=$1 port=$2 snap=${3:-} attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    log "scenario $name (port $port${snap:+, snaplen $snap}), attempt $attempt"
    capture_simple "$name" "$port" "$snap"
    if clean "$TMP/resp-$name.pcap" "$port"; then
      publish "$name"
      return 0
    fi
    log "TCP retransmission or hole in resp-$name.pcap, capturing again"
  done
  die "resp-$name.pcap: no clean capture in $ATTEMPTS attempts"
}

capture_midstream() {
  local port=$DEFAULT_PORT full mid genpid sync=$TMP/midstream-sync
  rm -rf "$sync"
  mkdir -p "$sync"
  start_redis "$port"
  # a full capture from the start, used for the editcap-cut variant
  start_tcpdump full "$TMP/midstream-full.pcap" "$port"
  gen run midstream --port "$port" --unixsock "$REDIS_SOCK" --logfile "$REDIS_LOG" \
    --truth "$TMP/resp-midstream.truth.json" --capture resp-midstream.pcap \
    --syncdir "$sync" --sidecar "$TMP/midstream-sidecar.json" &
  genpid=$!
  PIDS+=("$genpid")
  local deadline=$((SECONDS + START_TIMEOUT + 20))
  until [[ -s $sync/ready ]]; do
    alive "$genpid" || die "midstream generator exited before the capture started"
    ((SECONDS < deadline)) || die "midstream generator never reached the capture point"
    sleep 0.05
  done
  # the connection is established and half of a 100 KiB SET has been sent
  start_tcpdump mid "$TMP/resp-midstream.pcap" "$port"
  touch "$sync/go"
  wait_gone "$genpid" "$RUN_TIMEOUT" || die "midstream generator timed out"
  forget_pid "$genpid"
  ((WAIT_RC == 0)) || die "midstream generator failed (exit $WAIT_RC)"
  stop_tcpdump "$mid" "$TMP/resp-midstream.pcap"
  stop_tcpdump "$full" "$TMP/midstream-full.pcap"
  stop_redis
}

run_midstream() {
  local port=$DEFAULT_PORT attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    log "scenario midstream (port $port), attempt $attempt"
    capture_midstream
    if clean "$TMP/resp-midstream.pcap" "$port" && clean "$TMP/midstream-full.pcap" "$port"; then
      gen cut-midstream --full "$TMP/midstream-full.pcap" \
        --sidecar "$TMP/midstream-sidecar.json" \
        --truth-in "$TMP/resp-midstream.truth.json" \
        --out-pcap "$TMP/resp-midstream-cut.pcap" \
        --out-truth "$TMP/resp-midstream-cut.truth.json"
      publish midstream
      publish midstream-cut
      return 0
    fi
    log "TCP retransmission or hole in the midstream captures, capturing again"
  done
  die "midstream: no clean capture in $ATTEMPTS attempts"
}

main() {
  local s scenarios
  ((EUID == 0)) || die "run as root (tcpdump on lo)"
  for s in redis-server redis-cli tcpdump nc editcap ss timeout; do
    command -v "$s" >/dev/null || die "missing tool: $s"
  done
  [[ -x $PY ]] || die "missing $PY"
  "$PY" -c 'import redis' 2>/dev/null || die "$PY lacks the redis module (python3-redis)"
  scenarios=${*:-$ALL}
  for s in $scenarios; do
    [[ " $ALL " == *" $s "* ]] || die "unknown scenario '$s' (known: $ALL)"
  done
  check_port_free "$DEFAULT_PORT"
  [[ " $scenarios " == *" otherport "* ]] && check_port_free "$OTHER_PORT"
  TMP=$(mktemp -d /tmp/resp-captures.XXXXXX)

  for s in $scenarios; do
    case $s in
      otherport) run_simple otherport "$OTHER_PORT" ;;
      snaplen) run_simple snaplen "$DEFAULT_PORT" 128 ;;
      midstream) run_midstream ;;
      *) run_simple "$s" "$DEFAULT_PORT" ;;
    esac
  done
  log "done:"
  (cd "$HERE" && ls -l resp-*.pcap resp-*.truth.json >&2)
}

main "$@"
