#!/usr/bin/env bash
# redis-testsuite.sh - Redis's own test suite as a traffic source and oracle for the RESP
# dissector.  See docs/redis-testsuite.md.
#
# Usage: sudo tools/redis-testsuite.sh [--units "unit/protocol unit/type/string ..."] [--all]
#            [--out DIR] [--port P] [--slow] [--unit-timeout S] [--no-check] [--list]
#
#   --units LIST     test units to run (default: $DEFAULT_UNITS)
#   --all            every unit that makes sense against an external server (see ALL_EXCLUDED)
#   --out DIR        where the per-unit captures and truth go (default /var/tmp/redis-testsuite)
#   --port P         the server's TCP port inside the private network namespace (default 6379)
#   --slow           also run tests tagged "slow" (default: --tags -slow, as Redis's CI does
#                    for its external-server job)
#   --unit-timeout S wall-clock limit of one unit (default 900 s)
#   --no-check       only capture; do not run tools/testsuite_check.py
#   --list           print the units --all would run and exit
#
# Gets the test suite from the Debian source package of the installed redis-server (a private
# deb-src list; the system's apt configuration is not touched), caches it under
# /var/cache/redis-spiped-testsuite/<version>/, then for each unit: starts its own redis-server
# in a private network namespace, tcpdump on that namespace's lo ("tcp port P"), MONITOR and
# INFO over a unix socket (never captured), runs "./runtest --host 127.0.0.1 --port P --single
# UNIT --clients 1" and stops exactly what it started, by PID.  Then tools/testsuite_check.py
# compares what the plugin decodes with what the server executed.  Exit status: 0 when every
# unit agrees, 1 when the plugin disagrees with the server, 2 on a setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
CHECK=$HERE/testsuite_check.py
CACHE=/var/cache/redis-spiped-testsuite
DEFAULT_UNITS="unit/protocol unit/type/string unit/info-command unit/multi"
# never run by --all: they need a cluster (--cluster-mode), TLS, or are not in the unit list
ALL_EXCLUDED="unit/cluster unit/cluster/misc unit/cluster/links unit/cluster-scripting unit/tls"
START_TIMEOUT=10
STOP_TIMEOUT=10

UNITS=""
ALL=0
OUT=/var/tmp/redis-testsuite
PORT=6379
SLOW=0
UNIT_TIMEOUT=900
DO_CHECK=1
LIST=0

TMP=""
NS=""
PIDS=()
WAIT_RC=0

log() { printf '[redis-testsuite] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

# shellcheck source=child-processes.sh
source "$HERE/child-processes.sh"

cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    stop_pid "$pid" TERM
  done
  [[ -n $NS ]] && ip netns delete "$NS" 2>/dev/null
  [[ -n $TMP && -d $TMP ]] && rm -rf -- "$TMP"
  exit "$rc"
}

# nsenter (unlike "ip netns exec", which forks) execs the command: $! is the command's PID
NSE=()

# --- the test suite's source -------------------------------------------------------------

# fetch_source: sets SUITE (a cached tree with tests/ and runtest) and SUITE_VERSION
fetch_source() {
  local want_up codename dir apt o line versions best v up pick=""
  want_up=$(redis-server --version | sed -n 's/.* v=\([0-9][0-9.]*\) .*/\1/p')
  [[ -n $want_up ]] || die "cannot read the version of redis-server ($(redis-server --version))"
  # an unpacked tree of that upstream version is used offline
  for dir in "$CACHE/$want_up"-*/ "$CACHE/$want_up"/; do
    if [[ -f $dir/tree/runtest && -f $dir/tree/tests/test_helper.tcl ]]; then
      SUITE=${dir%/}/tree
      SUITE_VERSION=$(cat "${dir%/}/version" 2>/dev/null || basename "${dir%/}")
      log "test suite: cached $SUITE (Debian source $SUITE_VERSION)"
      return 0
    fi
  done
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [[ -n $codename ]] || die "no VERSION_CODENAME in /etc/os-release"
  apt=$TMP/apt
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$TMP/fetch"
  {
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s' "$codename"
    [[ $codename == sid ]] || printf ' %s-updates' "$codename"
    printf '\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ $codename != sid ]]; then
      printf '\nTypes: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: %s-security\n' "$codename"
      printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } >"$apt/redis-src.sources"
  o=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt"
     -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o "Debug::NoLocking=1")
  log "fetching the deb-src index for $codename (private list in $apt)"
  timeout 300 apt-get "${o[@]}" -qq update >"$TMP/apt-update.log" 2>&1 ||
    die "apt-get update of the private deb-src list failed (no network?): $(tail -n 3 "$TMP/apt-update.log")"
  versions=$(apt-cache "${o[@]}" showsrc redis 2>/dev/null | sed -n 's/^Version: //p' | sort -u)
  [[ -n $versions ]] || die "no source package 'redis' in the $codename deb-src index"
  installed=$(dpkg-query -W -f='${Version}' redis-server 2>/dev/null || true)
  # prefer exactly the installed Debian version, then the newest with the same upstream version
  while read -r v; do
    up=${v#*:}; up=${up%-*}
    if [[ $v == "$installed" ]]; then pick=$v; break; fi
    if [[ $up == "$want_up" ]] && { [[ -z $pick ]] || dpkg --compare-versions "$v" gt "$pick"; }; then pick=$v; fi
  done <<<"$versions"
  if [[ -z $pick ]]; then
    best=""
    # closest: the same major.minor if there is one, else the newest
    while read -r v; do
      up=${v#*:}; up=${up%-*}
      if [[ ${up%.*} == "${want_up%.*}" ]]; then best=$v; fi
    done <<<"$versions"
    [[ -n $best ]] || best=$(tail -n 1 <<<"$versions")
    log "WARNING: the deb-src index has no redis source of upstream version $want_up (installed" \
        "redis-server); available: $(tr '\n' ' ' <<<"$versions"); using the closest, $best"
    pick=$best
  fi
  log "fetching redis source $pick"
  (cd "$TMP/fetch" && timeout 600 apt-get "${o[@]}" -qq source --download-only "redis=$pick") \
    >"$TMP/apt-source.log" 2>&1 || die "apt-get source redis=$pick failed: $(tail -n 3 "$TMP/apt-source.log")"
  v=${pick#*:}
  dir=$CACHE/$v
  rm -rf "$TMP/fetch/tree"
  # apt has checked the files against the signed index; unpack with the Debian patches applied
  (cd "$TMP/fetch" && dpkg-source --no-check -x ./*.dsc tree) >"$TMP/dpkg-source.log" 2>&1 ||
    die "dpkg-source -x failed: $(tail -n 3 "$TMP/dpkg-source.log")"
  mkdir -p "$dir.new"
  mkdir -p "$dir.new/tree"
  cp -a "$TMP/fetch/tree/tests" "$TMP/fetch/tree/runtest" "$dir.new/tree/"
  cp "$TMP/fetch/"*.dsc "$dir.new/"
  printf '%s\n' "$pick" >"$dir.new/version"
  rm -rf "$dir"
  mv "$dir.new" "$dir"
  SUITE=$dir/tree
  SUITE_VERSION=$pick
  log "test suite cached in $SUITE"
}

# prepare_suite: a private, writable copy of the cached tree for this run (runtest writes into
# tests/tmp), with src/ pointing at the installed binaries
prepare_suite() {
  local b
  RUNDIR=$TMP/suite
  mkdir -p "$RUNDIR/src"
  cp -a "$SUITE/tests" "$SUITE/runtest" "$RUNDIR/"
  for b in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
    command -v "$b" >/dev/null && ln -s "$(command -v "$b")" "$RUNDIR/src/$b"
  done
  return 0
}

all_units() {
  local u
  # the unit list of this version's test_helper.tcl, in its order
  sed -n '/^set ::all_tests {/,/^}/p' "$SUITE/tests/test_helper.tcl" | sed '1d; $d; s/^ *//' |
    while read -r u; do
      [[ $u == unit/* ]] || continue          # integration/* start servers of their own
      [[ " $ALL_EXCLUDED " == *" $u "* ]] && continue
      echo "$u"
    done
}

# --- one unit ------------------------------------------------------------------------------

start_redis() {   # start_redis DIR
  local d=$1
  SOCK=$d/redis.sock
  "${NSE[@]}" redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --enable-protected-configs yes --enable-debug-command yes --enable-module-command yes \
    --unixsocket "$SOCK" --unixsocketperm 700 --dir "$d" --daemonize no \
    --logfile "$d/redis.log" </dev/null >"$d/redis.stdout" 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  local deadline=$((SECONDS + START_TIMEOUT))
  until [[ -S $SOCK ]] && [[ $(timeout 2 redis-cli -s "$SOCK" PING 2>/dev/null) == PONG ]]; do
    alive "$REDIS_PID" || die "redis-server exited: $(tail -n 5 "$d/redis.log" "$d/redis.stdout" 2>&1)"
    ((SECONDS < deadline)) || die "redis-server not ready after ${START_TIMEOUT}s"
    sleep 0.1
  done
}

start_tcpdump() {   # start_tcpdump FILE
  local f=$1
  "${NSE[@]}" tcpdump -i lo -B 262144 -Z root -w "$f" "tcp port $PORT" </dev/null >/dev/null 2>"$f.err" &
  TD_PID=$!
  PIDS+=("$TD_PID")
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q 'listening on' "$f.err" 2>/dev/null; do
    alive "$TD_PID" || die "tcpdump exited: $(cat "$f.err")"
    ((SECONDS < deadline)) || die "tcpdump not listening after ${START_TIMEOUT}s"
    sleep 0.05
  done
  sleep 0.3
}

start_monitor() {   # start_monitor FILE
  local f=$1
  timeout -k 5 $((UNIT_TIMEOUT + 120)) redis-cli -s "$SOCK" MONITOR </dev/null >"$f" 2>"$f.err" &
  MON_PID=$!
  PIDS+=("$MON_PID")
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q '^OK' "$f" 2>/dev/null; do
    alive "$MON_PID" || die "redis-cli MONITOR exited: $(cat "$f.err")"
    ((SECONDS < deadline)) || die "MONITOR not started after ${START_TIMEOUT}s"
    sleep 0.05
  done
}

# sync_monitor FILE: every command executed so far is in the MONITOR log
# (returns 1 if the unit killed the MONITOR connection: its log is then incomplete)
sync_monitor() {
  local f=$1 marker="redis-testsuite-sync-$RANDOM$RANDOM" deadline=$((SECONDS + 30))
  timeout 5 redis-cli -s "$SOCK" ECHO "$marker" >/dev/null
  until grep -q "\"$marker\"" "$f"; do
    alive "$MON_PID" || return 1
    ((SECONDS < deadline)) || die "MONITOR did not show the sync marker within 30 s"
    sleep 0.05
  done
}

run_unit() {   # run_unit UNIT
  local unit=$1 name d rc t0 t1
  name=${unit//\//_}
  d=$OUT/$name
  rm -rf "$d"
  mkdir -p "$d"
  start_redis "$d"
  start_monitor "$d/monitor.log"
  # the control traffic: MONITOR (before), this INFO, ECHO (sync), the last INFO (not counted
  # in its own output); testsuite_check.py subtracts the INFO and ECHO
  timeout 10 redis-cli -s "$SOCK" --json COMMAND >"$d/command.json" 2>/dev/null || true
  timeout 5 redis-cli -s "$SOCK" INFO commandstats errorstats >"$d/info-before.txt"
  start_tcpdump "$d/capture.pcap"
  t0=$(date +%s.%N)
  local tags=(--tags -slow)
  ((SLOW)) && tags=()
  rc=0
  (cd "$RUNDIR" && timeout -k 10 "$UNIT_TIMEOUT" "${NSE[@]}" ./runtest --host 127.0.0.1 \
     --port "$PORT" --single "$unit" --clients 1 --timeout "$UNIT_TIMEOUT" "${tags[@]+"${tags[@]}"}" \
     --dont-clean </dev/null) >"$d/runtest.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  sleep 0.3
  local monitor_ok=true
  if ! sync_monitor "$d/monitor.log"; then
    monitor_ok=false
    log "$unit: the unit killed the MONITOR connection; MONITOR checks are skipped for it"
  fi
  timeout 5 redis-cli -s "$SOCK" INFO commandstats errorstats >"$d/info-after.txt"
  # tcpdump (TPACKET_V3, no --immediate-mode, which drops packets in the suite's bursts) gets
  # packets block by block; a block is handed over at the latest after its 1 s timeout
  sleep 2
  stop_pid "$TD_PID" INT
  grep -q '^0 packets dropped by kernel' "$d/capture.pcap.err" ||
    die "tcpdump for $unit dropped packets or did not report: $(cat "$d/capture.pcap.err")"
  stop_pid "$MON_PID" TERM
  timeout 5 redis-cli -s "$SOCK" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  stop_pid "$REDIS_PID" TERM
  rm -f "$d/redis.sock"
  local passed failed
  passed=$(sed "s/\x1b\[[0-9;]*m//g" "$d/runtest.log" | grep -c "^\[ok\]:" || true)
  failed=$(sed "s/\x1b\[[0-9;]*m//g" "$d/runtest.log" | grep -c "^\[err\]:\|^\[exception\]:" || true)
  {
    printf '{"unit": "%s", "port": %d, "runtest_exit": %d, "tests_ok": %d, "tests_failed": %d,' \
      "$unit" "$PORT" "$rc" "$passed" "$failed"
    printf ' "monitor_complete": %s, "seconds": %.1f, "suite_version": "%s", "redis_version": "%s"}\n' \
      "$monitor_ok" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$SUITE_VERSION" "$(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/')"
  } >"$d/run.json"
  chmod -R a+rX "$d"
  if ((rc != 0)); then
    log "$unit: runtest exit $rc ($failed failed tests; the server's business, see $d/runtest.log)"
  else
    log "$unit: $passed tests passed ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }') s)"
  fi
}

main() {
  local u
  while (($#)); do
    case $1 in
      --units) UNITS=$2; shift ;;
      --all) ALL=1 ;;
      --out) OUT=$2; shift ;;
      --port) PORT=$2; shift ;;
      --slow) SLOW=1 ;;
      --unit-timeout) UNIT_TIMEOUT=$2; shift ;;
      --no-check) DO_CHECK=0 ;;
      --list) LIST=1 ;;
      -h|--help) usage 0 ;;
      *) log "unknown option $1"; usage 2 ;;
    esac
    shift
  done
  ((EUID == 0)) || die "run as root (network namespace, tcpdump)"
  for u in redis-server redis-cli tcpdump tclsh8.6 ip nsenter apt-get dpkg-source timeout awk; do
    command -v "$u" >/dev/null || die "missing tool: $u"
  done
  [[ -x $PY ]] || die "missing $PY"
  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  TMP=$(mktemp -d /tmp/redis-testsuite.XXXXXX)
  chmod 755 "$TMP"
  fetch_source
  if ((LIST)); then all_units; exit 0; fi
  if ((ALL)); then
    UNITS=$(all_units | tr '\n' ' ')
  fi
  UNITS=${UNITS:-$DEFAULT_UNITS}
  for u in $UNITS; do
    [[ -f $SUITE/tests/$u.tcl ]] || die "no unit $u in the test suite ($SUITE/tests/$u.tcl)"
  done
  prepare_suite
  NS=redis-testsuite-$$
  ip netns add "$NS" || { NS=""; die "ip netns add failed"; }
  NSE=(nsenter "--net=/run/netns/$NS" --)
  "${NSE[@]}" ip link set lo up
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  local start=$SECONDS
  for u in $UNITS; do
    log "unit $u"
    run_unit "$u"
  done
  log "captured $(wc -w <<<"$UNITS") units in $((SECONDS - start)) s into $OUT"
  ((DO_CHECK)) || exit 0
  local dirs=()
  for u in $UNITS; do dirs+=("$OUT/${u//\//_}"); done
  local rc=0
  "$PY" "$CHECK" --tshark "$HERE/tshark-plugin" --summary "$OUT/summary.json" "${dirs[@]}" || rc=$?
  exit "$rc"
}

main "$@"
