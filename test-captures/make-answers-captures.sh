#!/usr/bin/env bash
# make-answers-captures.sh - make resp-answers.pcap (real redis-server traffic for the
# dissector's statistics, keys and clients trees, service response time, slow commands,
# credentials and export of big values) and its ground truth resp-answers.truth.json.
# See README.md, section "Answers capture".
#
# Usage: sudo test-captures/make-answers-captures.sh [--out DIR]
#
# Needs: root (network namespace, tcpdump), redis-server + redis-cli 7.0, tcpdump,
# ip (iproute2), ss, timeout, /usr/bin/python3 with python3-redis.
#
# Everything runs inside a private network namespace made for this run (ans-<pid>, or
# NETNS_PREFIX<pid>; deleted on exit): the main server on 127.0.0.1:6379, the MIGRATE
# target on 127.0.0.1:6380, tcpdump on the namespace's lo; raw clients bind to 127.0.0.2-4
# (loopback takes any 127/8 source address).  In that namespace only, the loopback routes
# get "quickack 1": a client that holds its replies back (the pipelined burst) would
# otherwise delay its ACKs past the sender's tail loss probe, and loopback then shows
# spurious retransmissions.  The script starts its own servers and tcpdump, runs
# answers_traffic.py (traffic + server record; control connections on the servers' unix
# sockets, never captured), stops exactly the processes it started, by PID (also from an
# EXIT trap), and checks the capture: no kernel drops, no TCP retransmission/overlap/hole,
# a burst segment with more than 5000 replies, DEBUG SLEEPs the only slow requests (else
# it is made again, up to 3 attempts); annotate refuses to write a truth when the capture
# and the servers disagree.  Every wait is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
GEN=$HERE/answers_traffic.py
SERVER=redis-server
OUT=$HERE
NAME=resp-answers
PORT=6379             # main server
TARGET_PORT=6380      # MIGRATE target
START_TIMEOUT=10      # s: server / tcpdump start-up
STOP_TIMEOUT=10       # s: process shutdown
RUN_TIMEOUT=120       # s: one generator run (waits ~10 s for the MIGRATE link to close)
ANNOTATE_TIMEOUT=120  # s: annotate (reads the capture, asks COMMAND GETKEYS)
ATTEMPTS=3

# shellcheck source=capture-common.sh
source "$HERE/capture-common.sh"

# stop_ctl PID DIR: SHUTDOWN NOSAVE as the control user (the default user's password
# changes during the run), then the bounded TERM/KILL of stop_pid
stop_ctl() {
  local pid=$1 dir=$2 user pass
  read -r user pass < <("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1])
import answers_traffic as a; print(a.CTL_USER, a.CTL_PW)' "$HERE")
  if alive "$pid"; then
    timeout 5 "$CLI" -s "$dir/sock" --user "$user" --pass "$pass" --no-auth-warning \
      SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  fi
  stop_pid "$pid" TERM
}

capture() {   # capture NAME: one attempt; returns 1 if the capture must be made again
  local name=$1 s1 s2 td ok=0 rc=0 pcap=$TMP/$1.pcap
  rm -f "$pcap"* "$TMP/$name.sidecar.json" "$TMP/$name.truth.json"
  rm -rf "$TMP/main" "$TMP/target"
  server_bg s1 "$TMP/main" "$PORT" "$TMP/main.conf" --
  server_bg s2 "$TMP/target" "$TARGET_PORT" "$TMP/target.conf" --
  server_up main "$s1" "$TMP/main" "$PORT"
  server_up target "$s2" "$TMP/target" "$TARGET_PORT"
  start_tcpdump td "$pcap" "tcp port $PORT or tcp port $TARGET_PORT"
  timeout -k 5 "$RUN_TIMEOUT" "${IN[@]}" "$PY" "$GEN" run --port "$PORT" \
    --target-port "$TARGET_PORT" --sock "$TMP/main/sock" --target-sock "$TMP/target/sock" \
    --cli "$CLI" --sidecar "$TMP/$name.sidecar.json" ||
    die "answers_traffic.py run failed (logs: $TMP/main/log, $TMP/target/log; KEEP_WORK=1 keeps them)"
  stop_tcpdump "$td" "$pcap" || ok=1
  if ((ok == 0)); then
    "$PY" "$GEN" check-pcap "$pcap" --port "$PORT" &&
      "$PY" "$GEN" check-pcap "$pcap" --port "$TARGET_PORT" || ok=1
  fi
  if ((ok == 0)); then
    # the servers still run: annotate asks them COMMAND GETKEYS for every line captured
    timeout -k 5 "$ANNOTATE_TIMEOUT" "$PY" "$GEN" annotate --sidecar "$TMP/$name.sidecar.json" \
      --pcap "$pcap" --sock "$TMP/main/sock" --target-sock "$TMP/target/sock" \
      --capture "$name.pcap" --truth "$TMP/$name.truth.json" || rc=$?
  fi
  stop_ctl "$s1" "$TMP/main"
  stop_ctl "$s2" "$TMP/target"
  ((ok == 0)) || return 1
  ((rc == 0)) && return 0
  ((rc == 3)) && return 1
  die "capture and server record disagree (annotate exit $rc)"
}

main() {
  parse_args 7,7 "$@"
  check_tools
  "$PY" -c 'import redis' 2>/dev/null || die "$PY lacks the redis module (python3-redis)"
  make_workspace answers-captures ans-
  # quick ACKs on this namespace's loopback routes (see the header)
  inns ip route change table local local 127.0.0.0/8 dev lo proto kernel scope host \
    src 127.0.0.1 quickack 1
  inns ip route change table local local 127.0.0.1 dev lo proto kernel scope host \
    src 127.0.0.1 quickack 1
  "$PY" "$GEN" config main >"$TMP/main.conf"
  "$PY" "$GEN" config target >"$TMP/target.conf"
  retry "$NAME" "$NAME" capture "$NAME"
  publish "$NAME.pcap" "$NAME.truth.json"
  log "done:"
  (cd "$OUT" && ls -l "$NAME.pcap" "$NAME.truth.json" >&2)
}

main "$@"
