#!/usr/bin/env bash
# make-sentinel-captures.sh - regenerate the Redis Sentinel test capture
# (sentinel.pcap) and its server-side ground truth (sentinel.truth.json).
# See README.md, section "Cluster and Sentinel captures".
#
# Usage: sudo test-captures/make-sentinel-captures.sh
#            [--server redis-server|valkey-server] [--out DIR] [--suffix S]
#        --suffix S: name the files sentinelS.* (e.g. -valkey9)
#
# Needs: root (network namespace, tcpdump), redis-server + redis-cli (or
# valkey-server + valkey-cli; the Sentinels are the same binary with --sentinel),
# tcpdump, ip (iproute2), ss, timeout, /usr/bin/python3.
#
# Everything runs inside a private network namespace made for this run
# (ressentinel-<pid>, or $NETNS_PREFIX<pid>; deleted on exit): master 6379,
# replica 6380, Sentinels 26379-26381 (quorum 2), each with a config file of
# its own (the failover's CONFIG REWRITE and the Sentinels' state).  tcpdump
# (on the namespace's lo, every TCP packet, full snaplen) starts before any
# server; sentinel_traffic.py runs in the background and the script starts the
# Sentinels when it says so (files in a sync folder: the hello subscribers and
# the events subscriber connect before the Sentinels they listen to start).
# The capture is checked (no kernel drops, no TCP retransmission/overlap/hole,
# else it is made again, up to 3 attempts) and annotated; sentinel_traffic.py
# refuses to write a truth when the capture and the record disagree.  The
# script stops exactly the processes it started, by PID (also from an EXIT
# trap).  Every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
GEN=$HERE/sentinel_traffic.py
CT=$HERE/cluster_traffic.py
SERVER=redis-server
OUT=$HERE
SUFFIX=""
START_TIMEOUT=10      # s: server / tcpdump start-up
STOP_TIMEOUT=10       # s: process shutdown
RUN_TIMEOUT=150       # s: one generator run
ATTEMPTS=3
TCPDUMP_BUFFER=32768  # KiB
TCPDUMP_SETTLE=0.3    # s: before tcpdump is stopped

# shellcheck source=capture-common.sh
source "$HERE/capture-common.sh"

# start_server VAR NAME PORT [options...]: sets VAR (PID); dir $TMP/NAME, config
# file $TMP/NAME/conf (written here: the options that differ go on the command line)
start_server() {
  local var=$1 name=$2 port=$3 dir npid
  shift 3
  dir=$TMP/$name
  mkdir -p "$dir"
  printf '# %s\n' "$name" >"$dir/conf"
  server_bg npid "$dir" "$port" "$dir/conf" -- "$@"
  printf -v "$var" '%s' "$npid"
  server_up "$name" "$npid" "$dir" "$port"
}

# start_sentinel VAR PORT: config $TMP/n<PORT>/conf (Sentinels rewrite it)
start_sentinel() {
  local var=$1 port=$2 dir=$TMP/n$2 npid
  mkdir -p "$dir"
  cat >"$dir/conf" <<EOF
port $port
bind 127.0.0.1
daemonize no
dir $dir
logfile $dir/log
loglevel verbose
unixsocket $dir/sock
unixsocketperm 700
sentinel monitor mymaster 127.0.0.1 $MASTER_PORT 2
sentinel down-after-milliseconds mymaster 5000
sentinel failover-timeout mymaster 20000
sentinel parallel-syncs mymaster 1
EOF
  bg npid "$SERVER" "$dir/conf" --sentinel
  printf -v "$var" '%s' "$npid"
  wait_until "sentinel $port socket" "$npid" test -S "$dir/sock"
  wait_until "sentinel $port port" "$npid" listening "$port"
}

MASTER_PORT=6379
REPLICA_PORT=6380
SENTINEL_PORTS=(26379 26380 26381)

wait_sync() {   # wait_sync FILE GENPID: bounded wait for the generator's file
  local deadline=$((SECONDS + 30))
  until [[ -e $1 ]]; do
    alive "$2" || die "sentinel_traffic.py exited before $1"
    ((SECONDS < deadline)) || die "timed out waiting for $1"
    sleep 0.05
  done
}

replica_up() { "$CLI" -s "$TMP/n$REPLICA_PORT/sock" INFO replication | grep -q 'master_link_status:up'; }

# capture NAME: one attempt; returns 1 if the capture must be redone
capture() {
  local name=$1 m r s1 s2 s3 td gen ok=0 sync=$TMP/sync
  local pcap=$TMP/$name.pcap
  rm -rf "$pcap"* "$sync" "${TMP:?}"/n*
  mkdir -p "$sync"
  start_tcpdump td "$pcap" tcp
  start_server m "n$MASTER_PORT" "$MASTER_PORT"
  start_server r "n$REPLICA_PORT" "$REPLICA_PORT" --replicaof 127.0.0.1 "$MASTER_PORT"
  wait_until "replica link up" "$r" replica_up
  bg gen timeout -k 5 "$RUN_TIMEOUT" "$PY" "$GEN" run --sidecar "$TMP/$name.sidecar.json" \
    --server "$SERVER" --cli "$CLI" --master-port "$MASTER_PORT" --replica-port "$REPLICA_PORT" \
    --sentinel-ports "$(IFS=,; echo "${SENTINEL_PORTS[*]}")" --socks-dir "$TMP" --sync "$sync"
  wait_sync "$sync/hello-subscribed" "$gen"
  start_sentinel s1 "${SENTINEL_PORTS[0]}"
  touch "$sync/sentinel1"
  wait_sync "$sync/events-subscribed" "$gen"
  start_sentinel s2 "${SENTINEL_PORTS[1]}"
  start_sentinel s3 "${SENTINEL_PORTS[2]}"
  touch "$sync/sentinels"
  wait_gone "$gen" $((RUN_TIMEOUT + 10)) || die "sentinel_traffic.py did not finish"
  forget_pid "$gen"
  ((WAIT_RC == 0)) || die "sentinel_traffic.py run failed ($WAIT_RC)"
  stop_tcpdump "$td" "$pcap" || ok=1
  stop_server "$s1" "$TMP/n${SENTINEL_PORTS[0]}"
  stop_server "$s2" "$TMP/n${SENTINEL_PORTS[1]}"
  stop_server "$s3" "$TMP/n${SENTINEL_PORTS[2]}"
  stop_server "$r" "$TMP/n$REPLICA_PORT"
  stop_server "$m" "$TMP/n$MASTER_PORT"
  ((ok == 0)) || return 1
  "$PY" "$CT" check-pcap "$pcap" || return 1
  timeout -k 5 120 "$PY" "$GEN" annotate --sidecar "$TMP/$name.sidecar.json" --pcap "$pcap" \
    --capture "$name.pcap" --truth "$TMP/$name.truth.json" ||
    die "capture and server record disagree (annotate)"
}

main() {
  local name
  parse_args 2,8 "$@"
  name=sentinel$SUFFIX
  check_tools
  make_workspace sentinel-captures ressentinel-
  retry "sentinel ($SERVER)" "$name" capture "$name"
  publish "$name.pcap" "$name.truth.json"
  log "done:"
  (cd "$OUT" && ls -l "$name.pcap" "$name.truth.json" >&2)
}

main "$@"
