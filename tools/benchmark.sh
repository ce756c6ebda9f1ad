#!/usr/bin/env bash
# benchmark.sh - the plugin's CPU and peak memory against Wireshark's built-in RESP dissector
# and against tshark's own floor, on captures made here from real software, with the targets.
#
# usage: tools/benchmark.sh [--runs N] [--smoke] [--keep DIR] [--out FILE]
#   --runs N    timed runs of each configuration, interleaved (default 5); medians reported
#   --smoke     about 30 s: small captures, 1 run (unless --runs), the same table (an optional
#               CI smoke run)
#   --keep DIR  keep the captures, their key and ground truth (truth.json) in DIR
#   --out FILE  also write the table as Markdown to FILE, the raw numbers as JSON beside it
#               (FILE.json, or X.json for X.md)
# The plugin comes from BUILD_DIR (default: build/ of this checkout). Needs root (network
# namespace, tcpdump); every tshark runs as user nobody. Exit 2: not root, a missing tool or no
# plugin; 1: a failure (tcpdump kept dropping packets; the plugin's decoding disagrees with the
# server's counts, after the table is printed; ...).
#
# Steps: (1) in a private network namespace, redis-server, redis-benchmark, two spiped -f and
# tcpdump make clear.pcap (+ clear-10pct.pcap), tunnel.pcap + tunnel-clear.pcap (its clear
# leg), bigvalue-tunnel.pcap + bigvalue-clear.pcap (a value SET and GET back) and repl.pcap (a
# replica's full sync); (2) tools/benchmark.py checks the plugin's decoding against the
# server's counts, times every configuration and prints the table; tools/bench-crypto.c gives
# the libgcrypt ceiling for the decryption.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$TOP/test-captures     # capture-common.sh (and tools/child-processes.sh through it)
PY=/usr/bin/python3
BENCH_PY=$TOP/tools/benchmark.py
BUILD_DIR=${BUILD_DIR:-$TOP/build}
SERVER=redis-server
CLI=redis-cli
REDIS_PORT=6379      # redis-server (clear, tunnel clear leg, replication master)
TUNNEL_PORT=6479     # spiped -d: the encrypted leg (the plugin's default spiped port)
PLAIN_PORT=6579      # spiped -e: where the clients connect for the tunnel
REPLICA_PORT=6380
LOAD_TIMEOUT=180     # s: one load (redis-benchmark, the big value, DEBUG POPULATE)
SYNC_TIMEOUT=180     # s: the replica's full sync
# for capture-common.sh
# shellcheck disable=SC2034
{
  START_TIMEOUT=15       # s: a server, spiped, tcpdump start-up
  STOP_TIMEOUT=10        # s: a process shutdown
  ATTEMPTS=3             # a capture with kernel drops or a TCP hole is made again, then fail
  TCPDUMP_BUFFER=524288  # KiB: immediate mode takes one ring slot per packet, give it many
  TCPDUMP_SETTLE=0.5     # s: for the last packets and FINs before tcpdump stops
  OUT=/tmp               # make_workspace wants one; the captures stay in the work folder
}

RUNS="" SMOKE="" KEEP="" OUTFILE=""
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --keep) KEEP=${2:?--keep needs a directory}; shift 2 ;;
    --out) OUTFILE=${2:?--out needs a file}; shift 2 ;;
    -h|--help) sed -n '5,15p' "$0"; exit 0 ;;
    *) echo "benchmark.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -z $RUNS || $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "benchmark.sh: --runs N, N > 0" >&2; exit 2; }
if [[ -n $SMOKE ]]; then
  RUNS=${RUNS:-1} REQUESTS=25000 BIG_MB=10 REPL_KEYS=100000 CRYPTO_RECORDS=50000
else
  # 10^6 pipelined commands (5 x 10^5 SET, then as many GET); a 100 MB value; ~290 MB of RDB
  # (rdbcompression off). Twice the commands would take the default run past 10 minutes.
  RUNS=${RUNS:-5} REQUESTS=500000 BIG_MB=100 REPL_KEYS=2000000 CRYPTO_RECORDS=300000
fi
REPL_VALUE=128

missing() { echo "benchmark.sh: missing $1 (tools/install-deps.sh installs it)" >&2; exit 2; }
need() {   # need PACKAGE TOOL...
  local p=$1 t
  shift
  for t in "$@"; do command -v "$t" >/dev/null || missing "$t, Debian package $p"; done
}
((EUID == 0)) || { echo "benchmark.sh: run as root (network namespace, tcpdump)" >&2; exit 2; }
need redis-server redis-server; need redis-tools redis-cli redis-benchmark; need spiped spiped
need tcpdump tcpdump; need tshark tshark; need wireshark-common editcap
need iproute2 ip ss; need util-linux setpriv taskset; need coreutils timeout
need build-essential gcc; need pkg-config pkg-config; need python3 "$PY"
pkg-config --exists libgcrypt || missing "libgcrypt.pc, Debian package libgcrypt20-dev"
SO=$(find "$BUILD_DIR"/plugins/*/epan -name '*.so' 2>/dev/null | head -1) || true
if [[ -z $SO ]]; then
  echo "benchmark.sh: no plugin under $BUILD_DIR/plugins; build first (tools/build.sh)" >&2
  exit 2
fi
if grep -q __asan_report "$SO"; then
  echo "benchmark.sh: $SO is a sanitized build; benchmark a normal one" >&2
  exit 2
fi
[[ -z $KEEP ]] || { mkdir -p "$KEEP" && KEEP=$(cd "$KEEP" && pwd); }
if [[ -n $OUTFILE ]]; then
  mkdir -p "$(dirname "$OUTFILE")"
  OUTFILE=$(cd "$(dirname "$OUTFILE")" && pwd)/$(basename "$OUTFILE")
fi

# shellcheck source=../test-captures/capture-common.sh
source "$HERE/capture-common.sh"

CAP=""    # the captures' folder, readable by nobody
ccli() { timeout "$LOAD_TIMEOUT" "$CLI" -s "$TMP/redis/sock" "$@"; }   # control, never captured
calls() {   # calls CMD: the server's count of CMD since CONFIG RESETSTAT
  ccli INFO commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" |
    grep . || echo 0
}
load() { timeout -k 5 "$LOAD_TIMEOUT" "${IN[@]}" "$@"; }   # a client in the namespace, bounded

# bench_load PORT: the redis-benchmark load against PORT; its summary lines to the log
bench_load() {
  local out=$TMP/redis-benchmark.out
  load redis-benchmark -h 127.0.0.1 -p "$1" -c 10 -P 16 -n "$REQUESTS" -t set,get -q \
    >"$out" 2>&1 || die "redis-benchmark failed: $(tail -c 500 "$out")"
  log "redis-benchmark: $(tr '\r' '\n' <"$out" | grep 'requests per second' | tr '\n' ' ')"
}

# capture_to VAR FILE FILTER: tcpdump (start_tcpdump), free to run beside the pinned load
capture_to() {
  start_tcpdump "$@"
  taskset -acp "$ALL_CPUS" "${!1}" >/dev/null
}
# stop_capture PID FILE: stop_tcpdump; 1 on kernel drops and on a TCP hole (see main)
stop_capture() {
  stop_tcpdump "$1" "$2" || return 1
  "$PY" "$BENCH_PY" holes "$2" || return 1
}

# each capture_* is one attempt; it returns 1 when a capture must be redone (retry redoes it)
capture_clear() {
  local td ok=0
  ccli FLUSHALL >/dev/null; ccli CONFIG RESETSTAT >/dev/null
  capture_to td "$CAP/clear.pcap" "tcp port $REDIS_PORT"
  bench_load "$REDIS_PORT"
  stop_capture "$td" "$CAP/clear.pcap" || ok=1
  CLEAR_SET=$(calls set) CLEAR_GET=$(calls get)
  return $ok
}

capture_tunnel() {
  local t1 t2 ok=0
  ccli FLUSHALL >/dev/null; ccli CONFIG RESETSTAT >/dev/null
  capture_to t1 "$CAP/tunnel.pcap" "tcp port $TUNNEL_PORT"
  capture_to t2 "$CAP/tunnel-clear.pcap" "tcp port $REDIS_PORT"
  bench_load "$PLAIN_PORT"
  stop_capture "$t1" "$CAP/tunnel.pcap" || ok=1
  stop_capture "$t2" "$CAP/tunnel-clear.pcap" || ok=1
  TUNNEL_SET=$(calls set) TUNNEL_GET=$(calls get)
  return $ok
}

capture_bigvalue() {
  local t1 t2 ok=0 r
  ccli FLUSHALL >/dev/null; ccli CONFIG RESETSTAT >/dev/null
  capture_to t1 "$CAP/bigvalue-tunnel.pcap" "tcp port $TUNNEL_PORT"
  capture_to t2 "$CAP/bigvalue-clear.pcap" "tcp port $REDIS_PORT"
  r=$(load "$CLI" -h 127.0.0.1 -p "$PLAIN_PORT" -x SET bigvalue <"$TMP/value") ||
    die "SET of the big value failed"
  [[ $r == OK ]] || die "SET of the big value answered: ${r:0:200}"
  load "$CLI" -h 127.0.0.1 -p "$PLAIN_PORT" GET bigvalue >"$TMP/value.back" ||
    die "GET of the big value failed"
  stop_capture "$t1" "$CAP/bigvalue-tunnel.pcap" || ok=1
  stop_capture "$t2" "$CAP/bigvalue-clear.pcap" || ok=1
  BIG_BYTES=$(ccli STRLEN bigvalue) BIG_SET=$(calls set) BIG_GET=$(calls get)
  # redis-cli ends what it prints with a newline
  (($(stat -c %s "$TMP/value.back") - 1 == BIG_BYTES)) || die "GET returned another size"
  rm -f "$TMP/value.back"
  return $ok
}

# the replica connects only once tcpdump runs: the whole link, the full sync, is captured
capture_repl() {
  local td r ok=0
  rm -rf "${TMP:?}/replica"
  capture_to td "$CAP/repl.pcap" "tcp port $REDIS_PORT"
  server_bg r "$TMP/replica" "$REPLICA_PORT" -- --replicaof 127.0.0.1 "$REDIS_PORT" \
    --repl-diskless-load disabled
  server_up replica "$r" "$TMP/replica" "$REPLICA_PORT"
  START_TIMEOUT=$SYNC_TIMEOUT wait_until "the replica's full sync" "$r" synced
  stop_capture "$td" "$CAP/repl.pcap" || ok=1
  REPL_RDB=$(sed -n 's/.*receiving \([0-9]*\) bytes from master.*/\1/p' "$TMP/replica/log" |
    tail -1)
  REPL_DBSIZE=$(timeout 10 "$CLI" -s "$TMP/replica/sock" DBSIZE)
  stop_server "$r" "$TMP/replica"
  [[ -n $REPL_RDB ]] || die "no 'receiving N bytes from master' in the replica's log"
  return $ok
}
synced() {
  local info
  info=$(timeout 5 "$CLI" -s "$TMP/replica/sock" INFO replication | tr -d '\r')
  grep -q '^master_link_status:up' <<<"$info" && grep -q '^master_sync_in_progress:0' <<<"$info"
}

# plugin_commit: the plugin's source commit, from its build tree (+changes: uncommitted edits)
plugin_commit() {
  local src c
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null) ||
    true
  if [[ -n $src ]] && c=$(git -C "$src" rev-parse --short HEAD 2>/dev/null); then
    [[ -z $(GIT_OPTIONAL_LOCKS=0 git -C "$src" status --porcelain -uno 2>/dev/null) ]] ||
      c+="+changes"
    echo "$c"
  else
    echo "unknown (${src:-its source} is not a git checkout)"
  fi
}

main() {
  local t0=$SECONDS sd se rs frames rc=0 outopt=()
  # The load (servers, spipeds, clients) runs on one CPU: spread over two, a TCP sender on lo
  # now and then puts segments on the wire out of order, which Wireshark's defaults take as
  # lost (tcp.reassemble_out_of_order is off in 4.0): a 100 MB value went missing that way.
  ALL_CPUS=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$$/status)
  taskset -cp "$(grep -o '^[0-9]*' <<<"$ALL_CPUS")" $$ >/dev/null
  make_workspace bench-run bench-
  CAP=$TMP/captures
  mkdir -m 755 "$CAP" "$TMP/noplugins" "$TMP/home"
  chown 65534:65534 "$TMP/home"
  cp -r "$BUILD_DIR/plugins" "$TMP/plugins"   # a copy nobody can read, wherever BUILD_DIR is
  chmod -R a+rX "$TMP/plugins"
  # the tunnel's key: nobody's tshark reads it, root's spiped too
  dd if=/dev/urandom of="$CAP/tunnel.key" bs=32 count=1 status=none
  chown 65534:65534 "$CAP/tunnel.key"
  chmod 600 "$CAP/tunnel.key"
  # shellcheck disable=SC2046  # pkg-config's output is word-split on purpose
  gcc -O2 -o "$TMP/bench-crypto" "$TOP/tools/bench-crypto.c" \
    $(pkg-config --cflags --libs libgcrypt) || die "could not compile tools/bench-crypto.c"
  dd if=/dev/urandom of="$TMP/value" bs=1M count="$BIG_MB" status=none

  # one server for every capture: big values allowed, DEBUG POPULATE from the unix socket,
  # a sized (disk) RDB for the replica, stored uncompressed so that its size is the data's
  server_bg rs "$TMP/redis" "$REDIS_PORT" -- --enable-debug-command local \
    --rdbcompression no --repl-diskless-sync no --proto-max-bulk-len 512mb \
    --client-query-buffer-limit 1gb
  server_up redis "$rs" "$TMP/redis" "$REDIS_PORT"
  bg sd spiped -d -s "[127.0.0.1]:$TUNNEL_PORT" -t "[127.0.0.1]:$REDIS_PORT" \
    -k "$CAP/tunnel.key" -F -f -o 10
  bg se spiped -e -s "[127.0.0.1]:$PLAIN_PORT" -t "[127.0.0.1]:$TUNNEL_PORT" \
    -k "$CAP/tunnel.key" -F -f -o 10
  wait_until "spiped -d on $TUNNEL_PORT" "$sd" listening "$TUNNEL_PORT"
  wait_until "spiped -e on $PLAIN_PORT" "$se" listening "$PLAIN_PORT"

  retry "clear: redis-benchmark, $REQUESTS SET + $REQUESTS GET" clear.pcap capture_clear
  frames=$("$PY" "$BENCH_PY" frames "$CAP/clear.pcap")
  editcap -F pcap -r "$CAP/clear.pcap" "$CAP/clear-10pct.pcap" "1-$((frames / 10))" 2>&1 |
    { grep -v '^Running as user "root"' || true; } >&2
  retry "tunnel: the same load through spiped -f" tunnel.pcap capture_tunnel
  retry "bigvalue: a $BIG_MB MB value SET and GET through spiped" bigvalue.pcap capture_bigvalue
  stop_pid "$se" TERM
  stop_pid "$sd" TERM
  ccli FLUSHALL >/dev/null
  ccli DEBUG POPULATE "$REPL_KEYS" key "$REPL_VALUE" >/dev/null
  retry "repl: a replica's full sync of $REPL_KEYS keys" repl.pcap capture_repl
  stop_server "$rs" "$TMP/redis"
  taskset -cp "$ALL_CPUS" $$ >/dev/null
  rm -f "$CAP"/*.err "$TMP/value"
  chmod 644 "$CAP"/*.pcap

  cat >"$CAP/truth.json" <<EOF
{"clear": {"set_calls": $CLEAR_SET, "get_calls": $CLEAR_GET},
 "tunnel": {"set_calls": $TUNNEL_SET, "get_calls": $TUNNEL_GET},
 "bigvalue": {"value_bytes": $BIG_BYTES, "set_calls": $BIG_SET, "get_calls": $BIG_GET},
 "repl": {"keys": $REPL_DBSIZE, "value_bytes": $REPL_VALUE, "rdb_bytes": $REPL_RDB}}
EOF
  log "ground truth: $(tr -d '\n' <"$CAP/truth.json")"
  log "captures made in $((SECONDS - t0)) s"

  [[ -z $OUTFILE ]] || outopt=(--out "$OUTFILE")
  "$PY" "$BENCH_PY" run --work "$TMP" --plugins "$TMP/plugins" --noplugins "$TMP/noplugins" \
    --home "$TMP/home" --tshark "$(command -v tshark)" --setpriv "$(command -v setpriv)" \
    --crypto "$TMP/bench-crypto" --crypto-records "$CRYPTO_RECORDS" --runs "$RUNS" \
    --commit "$(plugin_commit)" --plugin-so "$SO" \
    --tshark-version "$(tshark --version 2>/dev/null | head -1)" \
    --server-version "$("$SERVER" --version | cut -d' ' -f1-3)" \
    --spiped-version "$(spiped -v 2>&1 | head -1)" "${outopt[@]+"${outopt[@]}"}" || rc=$?
  if [[ -n $KEEP ]]; then
    mv -f "$CAP"/* "$KEEP"/
    log "kept the captures, tunnel.key and truth.json in $KEEP"
  fi
  log "total $((SECONDS - t0)) s"
  return "$rc"
}

main
