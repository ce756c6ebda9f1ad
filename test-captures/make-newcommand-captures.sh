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

NS=""
TMP=""
PIDS=()

log() { printf '[make-newcommand-captures] %s\n' "$*" >&2; }
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

start_server() {   # start_server VAR: a fresh server in $TMP/server
  local var=$1 dir=$TMP/server pid
  rm -rf "$dir"
  mkdir -p "$dir"
  # appendonly yes: WAITAOF needs it
  "${IN[@]}" "$SERVER" --port "$PORT" --bind 127.0.0.1 --protected-mode yes \
    --save '' --appendonly yes --appendfsync everysec --daemonize no --dir "$dir" \
    --dbfilename dump.rdb --unixsocket "$dir/sock" --unixsocketperm 700 \
    --loglevel verbose --logfile "$dir/log" &
  pid=$!
  PIDS+=("$pid")
  printf -v "$var" '%s' "$pid"
  wait_until "server socket" "$pid" test -S "$dir/sock"
  wait_until "server port $PORT" "$pid" listening "$PORT"
}

stop_server() {   # stop_server PID
  timeout 5 "$CLI" -s "$TMP/server/sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$1" TERM
}

start_tcpdump() {   # start_tcpdump VAR FILE FILTER
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

capture() {   # capture NAME: one attempt; returns 1 if the capture must be redone
  local name=$1 s td ok=0 pcap=$TMP/$1.pcap
  rm -f "$pcap"*
  start_server s
  start_tcpdump td "$pcap" "tcp port $PORT"
  timeout -k 5 "$RUN_TIMEOUT" "${IN[@]}" "$PY" "$GEN" run --port "$PORT" \
    --sock "$TMP/server/sock" --server "$SERVER" --sidecar "$TMP/$name.sidecar.json" ||
    die "newcommand_traffic.py run failed (server log: $TMP/server/log; KEEP_WORK=1 keeps it)"
  stop_tcpdump "$td" "$pcap" || ok=1
  stop_server "$s"
  ((ok == 0)) || return 1
  "$PY" "$GEN" check-pcap "$pcap" --port "$PORT" || return 1
  "$PY" "$GEN" annotate --sidecar "$TMP/$name.sidecar.json" --pcap "$pcap" \
    --capture "$name.pcap" --truth "$TMP/$name.truth.json" ||
    die "capture and server record disagree (annotate)"
}

main() {
  local s name attempt
  while (($#)); do
    case $1 in
      --server) SERVER=${2:?--server needs a value}; shift 2 ;;
      --out) OUT=${2:?--out needs a directory}; shift 2 ;;
      -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}"; exit 0 ;;
      *) die "unknown argument $1" ;;
    esac
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
  [[ -x $PY ]] || die "missing $PY"
  local ver
  ver=$("$SERVER" --version | sed -n 's/.* v=\([0-9][0-9.]*\) .*/\1/p')
  [[ -n $ver ]] || die "cannot read the version of $SERVER"
  name=newcmd-${SERVER%-server}-$ver
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  TMP=$(mktemp -d /tmp/newcmd-captures.XXXXXX)
  chmod 755 "$TMP"
  NS=${NETNS_PREFIX:-respnewcmd-}$$
  ip netns add "$NS" || { NS=""; die "ip netns add failed"; }
  IN=(ip netns exec "$NS")
  inns ip link set lo up
  log "network namespace $NS, $("$SERVER" --version | head -1)"
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    log "$name, attempt $attempt"
    if capture "$name"; then
      for s in "$name.pcap" "$name.truth.json"; do
        mv -f -- "$TMP/$s" "$OUT/$s"
        chmod 644 "$OUT/$s"
      done
      log "done:"
      (cd "$OUT" && ls -l "$name.pcap" "$name.truth.json" >&2)
      return 0
    fi
    log "$name: kernel drops or a TCP retransmission/hole, capturing again"
  done
  die "$name: no clean capture in $ATTEMPTS attempts"
}

main "$@"
