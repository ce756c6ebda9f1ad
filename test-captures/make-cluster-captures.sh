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
TCPDUMP_BUFFER=32768  # KiB
TCPDUMP_SETTLE=0.3    # s: before tcpdump is stopped

# shellcheck source=capture-common.sh
source "$HERE/capture-common.sh"

# start_node VAR PORT NODE_TIMEOUT_MS: a cluster-enabled server, dir $TMP/n<PORT>
start_node() {
  local var=$1 port=$2 nto=$3 dir=$TMP/n$2 npid
  rm -rf "$dir"
  server_bg npid "$dir" "$port" -- --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
    --cluster-node-timeout "$nto"
  printf -v "$var" '%s' "$npid"
  wait_until "node $port socket" "$npid" test -S "$dir/sock"
  wait_until "node $port port" "$npid" listening "$port"
  wait_until "node $port bus port" "$npid" listening $((port + 10000))
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
  start_tcpdump td "$pcap" tcp
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
  for ((p = 0; p < n; p++)); do stop_server "${pids[$p]}" "$TMP/n${ports[$p]}"; done
  return "$ok"
}

run_scenario() {
  local sc=$1 name=cluster-$1$SUFFIX
  retry "scenario $sc ($SERVER)" "$name" capture "$sc" "$name"
  publish "$name.pcap" "$name.truth.json"
}

main() {
  local s
  parse_args 2,11 "$@"
  check_tools
  make_workspace cluster-captures rescluster-
  for s in "${SCENARIOS[@]}"; do run_scenario "$s"; done
  log "done:"
  (cd "$OUT" && ls -l cluster-*"$SUFFIX".pcap cluster-*"$SUFFIX".truth.json >&2)
}

main "$@"
