#!/usr/bin/env bash
# make-cluster-captures.sh - regenerate the Redis/Valkey Cluster test captures
# (cluster-*.pcap) and their server-side ground truth (cluster-*.truth.json).
# See README.md, section "Cluster and Sentinel captures".
#
# Usage: sudo test-captures/make-cluster-captures.sh
#            [--server redis-server|valkey-server] [--out DIR] [--suffix S] [scenario ...]
#        scenarios: redirect failover (default: both)
#        --suffix S: name the files cluster-<scenario>S.* (e.g. -valkey9)
#
# Needs: root (network namespace, tcpdump), redis-server + redis-cli (or
# valkey-server + valkey-cli), tcpdump, ip (iproute2), ss, timeout,
# /usr/bin/python3.
#
# Everything runs inside a private network namespace made for this run
# (rescluster-<pid>, or $NETNS_PREFIX<pid>; deleted on exit), so the fixed ports 6379-6384 and their
# bus ports 16379-16384 never clash with anything on the host.  Per capture the
# script starts fresh cluster-enabled servers and tcpdump (on the namespace's
# lo, every TCP packet, full snaplen) before the cluster is created, runs
# cluster_traffic.py (traffic + server record), stops tcpdump, checks the
# capture (no kernel drops, no TCP retransmission/overlap/hole, else it is made
# again, up to 3 attempts), lets cluster_traffic.py annotate it while the
# servers still run (COMMAND GETKEYS, CLUSTER KEYSLOT; it refuses to write a
# truth when the capture and the servers disagree), then stops exactly the
# processes it started, by PID (also from an EXIT trap).  Every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
GEN=$HERE/cluster_traffic.py
SERVER=redis-server
OUT=$HERE
SUFFIX=""
ALL="redirect failover"
START_TIMEOUT=10      # s: server / tcpdump start-up
STOP_TIMEOUT=10       # s: process shutdown
RUN_TIMEOUT=180       # s: one generator run
ATTEMPTS=3

NS=""
TMP=""
PIDS=()

log() { printf '[make-cluster-captures] %s\n' "$*" >&2; }
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

IN=()
inns() { "${IN[@]}" "$@"; }

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

# start_node VAR PORT NODE_TIMEOUT_MS: a cluster-enabled server, dir $TMP/n<PORT>
start_node() {
  local var=$1 port=$2 nto=$3 dir=$TMP/n$2 npid
  rm -rf "$dir"
  mkdir -p "$dir"
  bg npid "$SERVER" --port "$port" --bind 127.0.0.1 --protected-mode yes \
    --save '' --appendonly no --daemonize no --dir "$dir" --dbfilename dump.rdb \
    --unixsocket "$dir/sock" --unixsocketperm 700 \
    --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
    --cluster-node-timeout "$nto" --loglevel verbose --logfile "$dir/log"
  printf -v "$var" '%s' "$npid"
  wait_until "node $port socket" "$npid" test -S "$dir/sock"
  wait_until "node $port port" "$npid" listening "$port"
  wait_until "node $port bus port" "$npid" listening $((port + 10000))
}

stop_node() {   # stop_node PID PORT
  if alive "$1"; then
    timeout 5 "$CLI" -s "$TMP/n$2/sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  fi
  stop_pid "$1" TERM
}

start_tcpdump() {   # start_tcpdump VAR FILE
  local var=$1 file=$2 tpid
  "${IN[@]}" tcpdump -i lo -s 0 -U --immediate-mode -B 32768 -Z root -w "$file" tcp 2>"$file.err" &
  tpid=$!
  PIDS+=("$tpid")
  wait_until "tcpdump for $file" "$tpid" grep -q 'listening on' "$file.err"
  sleep 0.3
  printf -v "$var" '%s' "$tpid"
}

stop_tcpdump() {   # stop_tcpdump PID FILE: returns 1 on kernel drops
  sleep 0.3
  stop_pid "$1" INT
  grep -q '^0 packets dropped by kernel' "$2.err" && return 0
  log "tcpdump for $2 dropped packets or did not report: $(cat "$2.err")"
  return 1
}

# capture SCENARIO NAME: one attempt; returns 1 if the capture must be redone
capture() {
  local sc=$1 name=$2 n nto ports=() socks=() pids=() pidmap=() td ok=0 p pid
  local pcap=$TMP/$name.pcap
  rm -f "$pcap"*
  if [[ $sc == redirect ]]; then n=3 nto=15000; else n=6 nto=2000; fi
  for ((p = 6379; p < 6379 + n; p++)); do
    ports+=("$p")
    socks+=("$TMP/n$p/sock")
  done
  start_tcpdump td "$pcap"
  for p in "${ports[@]}"; do
    start_node pid "$p" "$nto"
    pids+=("$pid")
    pidmap+=("$p:$pid")
  done
  local P S M
  P=$(IFS=,; echo "${ports[*]}")
  S=$(IFS=,; echo "${socks[*]}")
  M=$(IFS=,; echo "${pidmap[*]}")
  "$PY" "$GEN" baseline --ports "$P" --socks "$S" --out "$TMP/$name.baseline.json" || die "baseline failed"
  timeout -k 5 "$RUN_TIMEOUT" "${IN[@]}" "$PY" "$GEN" run "$sc" --sidecar "$TMP/$name.sidecar.json" \
    --server "$SERVER" --cli "$CLI" --ports "$P" --socks "$S" --baseline "$TMP/$name.baseline.json" \
    --pids "$M" || die "cluster_traffic.py run $sc failed"
  stop_tcpdump "$td" "$pcap" || ok=1
  if ((ok == 0)) && "$PY" "$GEN" check-pcap "$pcap"; then
    timeout -k 5 120 "$PY" "$GEN" annotate --sidecar "$TMP/$name.sidecar.json" --pcap "$pcap" \
      --capture "$name.pcap" --truth "$TMP/$name.truth.json" --socks "$S" ||
      die "capture and server record disagree (annotate)"
  else
    ok=1
  fi
  for ((p = 0; p < n; p++)); do stop_node "${pids[$p]}" "${ports[$p]}"; done
  return "$ok"
}

run_scenario() {
  local sc=$1 name=cluster-$1$SUFFIX attempt
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    log "scenario $sc ($SERVER), attempt $attempt"
    if capture "$sc" "$name"; then
      mv -f -- "$TMP/$name.pcap" "$OUT/$name.pcap"
      mv -f -- "$TMP/$name.truth.json" "$OUT/$name.truth.json"
      chmod 644 "$OUT/$name.pcap" "$OUT/$name.truth.json"
      return 0
    fi
    log "$name: kernel drops or a TCP retransmission/hole, capturing again"
  done
  die "$name: no clean capture in $ATTEMPTS attempts"
}

main() {
  local s scenarios=()
  while (($#)); do
    case $1 in
      --server) SERVER=${2:?--server needs a value}; shift 2 ;;
      --out) OUT=${2:?--out needs a directory}; shift 2 ;;
      --suffix) SUFFIX=${2?--suffix needs a value}; shift 2 ;;
      -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}"; exit 0 ;;
      -*) die "unknown option $1" ;;
      *) scenarios+=("$1"); shift ;;
    esac
  done
  ((${#scenarios[@]})) || read -r -a scenarios <<<"$ALL"
  for s in "${scenarios[@]}"; do
    [[ " $ALL " == *" $s "* ]] || die "unknown scenario '$s' (known: $ALL)"
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
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  TMP=$(mktemp -d /tmp/cluster-captures.XXXXXX)
  chmod 755 "$TMP"
  NS=${NETNS_PREFIX:-rescluster-}$$
  ip netns add "$NS" || { NS=""; die "ip netns add failed"; }
  IN=(ip netns exec "$NS")
  inns ip link set lo up
  log "network namespace $NS, $("$SERVER" --version | head -1)"
  for s in "${scenarios[@]}"; do run_scenario "$s"; done
  log "done:"
  (cd "$OUT" && ls -l cluster-*"$SUFFIX".pcap cluster-*"$SUFFIX".truth.json >&2)
}

main "$@"
