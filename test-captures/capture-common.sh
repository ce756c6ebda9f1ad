# shellcheck shell=bash
# capture-common.sh - sourced by make-cluster-captures.sh, make-sentinel-captures.sh,
# make-newcommand-captures.sh and make-replication-captures.sh: what every one of them does
# the same way (options, the private network namespace, servers and tcpdump started and
# stopped by PID, the bounded waits, the remake loop, the cleanup on exit).
#
# The sourcing script sets, before sourcing: HERE (its folder), SERVER, OUT, START_TIMEOUT,
# STOP_TIMEOUT, ATTEMPTS; SUFFIX (only if it takes --suffix), ALL and KNOWN (only if it takes
# scenario words; KNOWN defaults to ALL); TCPDUMP_BUFFER (KiB) and TCPDUMP_SETTLE (s) where
# its captures want other values than 16384 and 0.5.  Each script keeps its own servers'
# options, its capture steps and what it publishes.

# The log lines name the script, e.g. [make-cluster-captures].
LOG_TAG=${BASH_SOURCE[1]##*/}
LOG_TAG=${LOG_TAG%.sh}
SCRIPT_FILE=${BASH_SOURCE[1]}

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../tools/child-processes.sh
source "$HERE/../tools/child-processes.sh"

NS=""
TMP=""
PIDS=()
SCENARIOS=()

# The EXIT trap stops what is still running (by PID), deletes the namespace and the work
# folder (kept with KEEP_WORK=1, for a look at the servers' logs), and keeps the exit status;
# the signal traps turn a signal into an exit, so that the EXIT trap runs then too.
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

# server_bg VAR DIR PORT [CONF] -- [options...]: start one server in the namespace (PID in
# VAR); its data, unix socket (the scripts' control connections, never captured) and log in
# DIR, no persistence.  CONF, a config file, must come first for the server; the options
# after -- come after the common ones (a later option wins, e.g. --appendonly yes).
server_bg() {
  local var=$1 dir=$2 port=$3 conf=()
  shift 3
  while (($#)) && [[ $1 != -- ]]; do conf+=("$1"); shift; done
  (($#)) && shift
  mkdir -p "$dir"
  bg "$var" "$SERVER" "${conf[@]+"${conf[@]}"}" --port "$port" --bind 127.0.0.1 --protected-mode yes \
    --save '' --appendonly no --daemonize no --dir "$dir" --dbfilename dump.rdb \
    --unixsocket "$dir/sock" --unixsocketperm 700 \
    --loglevel verbose --logfile "$dir/log" "$@"
}

# server_up WHAT PID DIR PORT: bounded wait for a server's unix socket, then its TCP port
server_up() {
  wait_until "$1 socket" "$2" test -S "$3/sock"
  wait_until "$1 port $4" "$2" listening "$4"
}

# stop_server PID DIR [PASSWORD]: SHUTDOWN NOSAVE on its unix socket (the server's own way
# out), then the bounded TERM/KILL of stop_pid
stop_server() {
  local pid=$1 dir=$2 pw=${3:-} auth=()
  [[ -n $pw ]] && auth=(-a "$pw" --no-auth-warning)
  if alive "$pid"; then
    timeout 5 "$CLI" -s "$dir/sock" "${auth[@]+"${auth[@]}"}" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  fi
  stop_pid "$pid" TERM
}

# start_tcpdump VAR FILE FILTER: tcpdump on the namespace's lo, full snaplen, packets
# written as they come (-U, --immediate-mode) and a large buffer against kernel drops;
# returns once it listens, plus a moment, so that the first packets are not lost
start_tcpdump() {
  local var=$1 file=$2 filter=$3 pid
  "${IN[@]}" tcpdump -i lo -s 0 -U --immediate-mode -B "${TCPDUMP_BUFFER:-16384}" -Z root \
    -w "$file" "$filter" 2>"$file.err" &
  pid=$!
  PIDS+=("$pid")
  wait_until "tcpdump for $file" "$pid" grep -q 'listening on' "$file.err"
  sleep 0.3
  printf -v "$var" '%s' "$pid"
}

# stop_tcpdump PID FILE: returns 1 on kernel drops (the capture is made again then); the
# moment before the SIGINT lets the last packets reach it
stop_tcpdump() {
  sleep "${TCPDUMP_SETTLE:-0.5}"
  stop_pid "$1" INT
  grep -q '^0 packets dropped by kernel' "$2.err" && return 0
  log "tcpdump for $2 dropped packets or did not report: $(cat "$2.err")"
  return 1
}

# parse_args USAGE_LINES "$@": --server, --out, --suffix (where the script has SUFFIX), -h
# (prints lines USAGE_LINES of the script), scenario words into SCENARIOS (where it has ALL;
# none given: all of ALL, each checked against KNOWN)
parse_args() {
  local usage=$1 s known
  shift
  while (($#)); do
    case $1 in
      --server) SERVER=${2:?--server needs a value}; shift 2 ;;
      --out) OUT=${2:?--out needs a directory}; shift 2 ;;
      --suffix) [[ -v SUFFIX ]] || bad_arg "$1"; SUFFIX=${2?--suffix needs a value}; shift 2 ;;
      -h|--help) sed -n "${usage}p" "$SCRIPT_FILE"; exit 0 ;;
      *) bad_arg "$1"; SCENARIOS+=("$1"); shift ;;
    esac
  done
  [[ -v ALL ]] || return 0
  ((${#SCENARIOS[@]})) || read -r -a SCENARIOS <<<"$ALL"
  known=${KNOWN:-$ALL}
  for s in "${SCENARIOS[@]}"; do
    [[ " $known " == *" $s "* ]] || die "unknown scenario '$s' (known: $known)"
  done
}

# bad_arg WORD: dies unless WORD is a scenario word of a script that takes them
bad_arg() {
  [[ -v ALL ]] || die "unknown argument $1"
  [[ $1 != -* ]] || die "unknown option $1"
}

# check_tools: the server and its CLI, root, and the tools every script needs, before
# anything is started
check_tools() {
  local s
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
}

# make_workspace NAME PREFIX: OUT made absolute, the work folder /tmp/NAME.XXXXXX (readable:
# the servers' files), and the private network namespace $NETNS_PREFIX<pid> (PREFIX<pid> by
# default) with its lo up: fixed ports never clash with the host's
make_workspace() {
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  TMP=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$TMP"
  NS=${NETNS_PREFIX:-$2}$$
  ip netns add "$NS" || { NS=""; die "ip netns add failed"; }
  IN=(ip netns exec "$NS")
  inns ip link set lo up
  log "network namespace $NS, $("$SERVER" --version | head -1)"
}

# retry WHAT NAME CMD...: CMD makes one capture and returns 1 when it must be made again
# (kernel drops, a TCP retransmission or hole); up to ATTEMPTS tries, then the script dies
retry() {
  local what=$1 name=$2 attempt
  shift 2
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    log "$what, attempt $attempt"
    if "$@"; then return 0; fi
    log "$name: kernel drops or a TCP retransmission/hole, capturing again"
  done
  die "$name: no clean capture in $ATTEMPTS attempts"
}

publish() {   # publish FILE...: from the work folder into OUT, readable
  local f
  for f in "$@"; do
    mv -f -- "$TMP/$f" "$OUT/$f"
    chmod 644 "$OUT/$f"
  done
}
