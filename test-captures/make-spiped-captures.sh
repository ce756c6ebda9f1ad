#!/bin/bash
# Regenerate the spiped test captures, their ground-truth files and the unit
# test vectors (tests/unit/spiped_vectors.h).
#
# Starts its own redis-server (127.0.0.1:16380 + a unix socket for the ground
# truth connection), its own spiped -d / spiped -e pairs, a python http.server
# for the non-Redis capture, and tcpdump on the loopback tunnel port only.
# Everything it starts is stopped by PID from an EXIT trap.  Needs root (tcpdump).
#
# usage: test-captures/make-spiped-captures.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PY=/usr/bin/python3
TRAFFIC="$HERE/spiped_traffic.py"

KEY="$HERE/spiped-test.key"
WRONG_KEY="$HERE/spiped-wrong.key"
TUNNEL_PORT=6479      # spiped -d listens here (captured)
PLAIN_PORT=6579       # spiped -e listens here (plaintext, local)
REDIS_PORT=16380      # our own redis-server
HTTP_PORT=18080       # python http.server for spiped-other
WAIT=15               # seconds, upper bound for every wait

WORK=$(mktemp -d /tmp/spiped-captures.XXXXXX)
PIDS=()
declare -A TCPDUMP_ERR=()
DROPPED=0
ATTEMPTS=3            # a capture with kernel drops is redone

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# stop_pid PID: SIGTERM, bounded wait, then SIGKILL.  Only our own children.
stop_pid() {
    local pid=$1 i
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < WAIT * 10; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid ignored SIGTERM, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

forget_pid() {
    local keep=() p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
    local rc=$? p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$p"; done
    if [[ -n ${KEEP_WORK:-} ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_until DESCRIPTION COMMAND...: poll COMMAND for up to $WAIT seconds.
wait_until() {
    local what=$1 i
    shift
    for ((i = 0; i < WAIT * 20; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    die "timed out waiting for $what"
}

listening() { [[ -n $(ss -ltnH "sport = :$1") ]]; }
port_free() { [[ -z $(ss -ltnH "sport = :$1") ]]; }
# no live (non TIME-WAIT) TCP connection on the tunnel port
tunnel_idle() {
    [[ -z $(ss -tnH state connected exclude time-wait \
        "( sport = :$TUNNEL_PORT or dport = :$TUNNEL_PORT )") ]]
}

# ---------------------------------------------------------------- helpers

redis_up() { [[ $(redis-cli -s "$WORK/redis.sock" PING 2>/dev/null) == PONG ]]; }

start_redis() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --unixsocket "$WORK/redis.sock" --unixsocketperm 700 \
        --save '' --appendonly no --daemonize no \
        --dir "$WORK" --logfile "$WORK/redis.log" &
    PIDS+=($!)
    wait_until "redis-server" redis_up
    log "redis-server pid ${PIDS[-1]} on 127.0.0.1:$REDIS_PORT"
}

# start_spipeds FAST(yes|no) TARGET_PORT -> sets SPIPED_D, SPIPED_E
start_spipeds() {
    local fastopt=() target=$2
    [[ $1 == yes ]] && fastopt=(-f)
    spiped -d -s "[127.0.0.1]:$TUNNEL_PORT" -t "[127.0.0.1]:$target" -k "$KEY" \
        -F -o 10 "${fastopt[@]+"${fastopt[@]}"}" 2>>"$WORK/spiped-d.log" &
    SPIPED_D=$!
    PIDS+=("$SPIPED_D")
    spiped -e -s "[127.0.0.1]:$PLAIN_PORT" -t "[127.0.0.1]:$TUNNEL_PORT" -k "$KEY" \
        -F -o 10 "${fastopt[@]+"${fastopt[@]}"}" 2>>"$WORK/spiped-e.log" &
    SPIPED_E=$!
    PIDS+=("$SPIPED_E")
    wait_until "spiped -d on $TUNNEL_PORT" listening "$TUNNEL_PORT"
    wait_until "spiped -e on $PLAIN_PORT" listening "$PLAIN_PORT"
}

stop_spipeds() {
    stop_pid "$SPIPED_E"
    stop_pid "$SPIPED_D"
}

# start_tcpdump OUTFILE FILTER [SNAPLEN] -> prints nothing, sets TCPDUMP_PID
start_tcpdump() {
    local out=$1 filter=$2 snap=${3:-262144} err
    err="$WORK/tcpdump.$RANDOM.err"
    # immediate mode uses one ring frame per snaplen: give it a 64 MB buffer
    tcpdump -i lo -U --immediate-mode -B 65536 -Z root -s "$snap" -w "$out" "$filter" \
        2>"$err" &
    TCPDUMP_PID=$!
    TCPDUMP_ERR[$TCPDUMP_PID]=$err
    PIDS+=("$TCPDUMP_PID")
    wait_until "tcpdump to listen ($out)" grep -q "listening on" "$err"
    sleep 0.2
}

# stop_tcpdump PID: stop it; set DROPPED=1 if it reports kernel drops
stop_tcpdump() {
    local err=${TCPDUMP_ERR[$1]} n
    stop_pid "$1"
    n=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$err")
    if [[ $n != 0 ]]; then
        log "tcpdump reported '${n:-?}' packets dropped by kernel"
        DROPPED=1
    fi
}

# finish_capture: wait for the tunnel connection to close, then stop captures
finish_capture() {
    wait_until "tunnel connection to close" tunnel_idle
    sleep 1
    local p
    for p in "$@"; do stop_tcpdump "$p"; done
}

flush_redis() { redis-cli -s "$WORK/redis.sock" FLUSHALL >/dev/null; }

annotate() { # annotate NAME TARGET_PORT [extra args]
    local name=$1 target=$2
    shift 2
    $PY "$TRAFFIC" annotate --pcap "$WORK/$name.pcap" --truth "$WORK/$name.truth.json" \
        --key "$KEY" --tunnel-port "$TUNNEL_PORT" \
        --plain-pcap "$WORK/$name.shadow.pcap" --target-port "$target" "$@"
}

# check_capture NAME: one tunnel connection, every byte captured (except for
# the snaplen capture), one plaintext-leg connection
check_capture() {
    $PY - "$WORK/$1.truth.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
n = t["wire"]["tunnel_connections"]
if n != 1:
    sys.exit("%s: expected exactly 1 tunnel connection, got %d" % (t["capture"], n))
if "snaplen" not in t["capture"]:
    for name, d in t["wire"]["connections"][0]["directions"].items():
        if not d["bytes_captured_complete"]:
            sys.exit("%s: %s has holes" % (t["capture"], name))
if len(t.get("plaintext", [])) != 1:
    sys.exit("%s: expected one plaintext-leg connection" % t["capture"])
EOF
}

install_capture() {
    cp "$WORK/$1.pcap" "$HERE/$1.pcap"
    cp "$WORK/$1.truth.json" "$HERE/$1.truth.json"
    log "wrote test-captures/$1.pcap (+ .truth.json)"
}

# capture_simple NAME SCENARIO FAST SNAPLEN TARGET_PORT (retried on drops)
capture_simple() {
    local attempt
    for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
        DROPPED=0
        capture_simple_once "$@"
        [[ $DROPPED == 0 ]] && break
        log "$1: packets were dropped, capturing again"
    done
    [[ $DROPPED == 0 ]] || die "$1: tcpdump kept dropping packets"
    finish_scenario "$1" "$5"
}

capture_simple_once() {
    local name=$1 scenario=$2 fast=$3 snap=$4 target=$5 shadow main fastarg=()
    [[ $fast == yes ]] && fastarg=(--fast)
    log "capture $name"
    flush_redis
    start_spipeds "$fast" "$target"
    start_tcpdump "$WORK/$name.shadow.pcap" "tcp port $TUNNEL_PORT or tcp port $target"
    shadow=$TCPDUMP_PID
    start_tcpdump "$WORK/$name.pcap" "tcp port $TUNNEL_PORT" "$snap"
    main=$TCPDUMP_PID
    $PY "$TRAFFIC" run --scenario "$scenario" --capture "$name.pcap" \
        --out "$WORK/$name.truth.json" --sock "$WORK/redis.sock" \
        --port "$PLAIN_PORT" --tunnel-port "$TUNNEL_PORT" --http-root "$WORK/www" \
        --timeout "$WAIT" "${fastarg[@]+"${fastarg[@]}"}"
    finish_capture "$main" "$shadow"
    stop_spipeds
}

finish_scenario() { # NAME TARGET_PORT [annotate args]
    local name=$1 target=$2
    shift 2
    annotate "$name" "$target" "$@"
    check_capture "$name"
    install_capture "$name"
}

capture_midstream() {
    local attempt
    for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
        DROPPED=0
        capture_midstream_once
        [[ $DROPPED == 0 ]] && break
        log "spiped-midstream: packets were dropped, capturing again"
    done
    [[ $DROPPED == 0 ]] || die "spiped-midstream: tcpdump kept dropping packets"
    finish_scenario spiped-midstream "$REDIS_PORT" --full-pcap "$WORK/spiped-midstream.shadow.pcap"
}

capture_midstream_once() {
    local name=spiped-midstream shadow main pypid i
    rm -f "$WORK/mid.paused" "$WORK/mid.resume"
    log "capture $name"
    flush_redis
    start_spipeds yes "$REDIS_PORT"
    start_tcpdump "$WORK/$name.shadow.pcap" "tcp port $TUNNEL_PORT or tcp port $REDIS_PORT"
    shadow=$TCPDUMP_PID
    $PY "$TRAFFIC" run --scenario midstream --capture "$name.pcap" \
        --out "$WORK/$name.truth.json" --sock "$WORK/redis.sock" \
        --port "$PLAIN_PORT" --tunnel-port "$TUNNEL_PORT" --fast --timeout "$WAIT" \
        --pause-file "$WORK/mid.paused" --resume-file "$WORK/mid.resume" &
    pypid=$!
    PIDS+=("$pypid")
    wait_until "midstream phase 1" test -e "$WORK/mid.paused"
    sleep 0.3   # let the last replies of phase 1 go by
    start_tcpdump "$WORK/$name.pcap" "tcp port $TUNNEL_PORT"
    main=$TCPDUMP_PID
    touch "$WORK/mid.resume"
    for ((i = 0; i < WAIT * 20; i++)); do
        kill -0 "$pypid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pypid" 2>/dev/null && die "midstream traffic generator did not finish"
    wait "$pypid" || die "midstream traffic generator failed"
    forget_pid "$pypid"
    finish_capture "$main" "$shadow"
    stop_spipeds
}

make_flipped() {
    # Flip one ciphertext byte of client->server record n=5 in spiped-fast.pcap
    # (redis-cli sends one command per record here; record 0 is its implicit
    # COMMAND DOCS, so n=5 is the 5th command of the list, "SET counter 10").
    local src=spiped-fast name=spiped-flipped rec=5 off=10 loc pkt fo
    log "capture $name"
    loc=$($PY "$TRAFFIC" locate --pcap "$WORK/$src.pcap" --tunnel-port "$TUNNEL_PORT" \
        --direction c2s --record "$rec" --offset "$off")
    read -r pkt fo <<<"$loc"
    $PY "$HERE/flip-byte.py" "$WORK/$src.pcap" "$WORK/$name.pcap" "$pkt" "$fo" 0x01 >&2
    cp "$WORK/$src.shadow.pcap" "$WORK/$name.shadow.pcap"
    $PY - "$WORK/$src.truth.json" "$WORK/$name.truth.json" "$pkt" "$fo" "$rec" "$off" <<'EOF'
import json, sys
from collections import OrderedDict
src, dst, pkt, fo, rec, off = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
t = json.load(open(src), object_pairs_hook=OrderedDict)
t["capture"] = "spiped-flipped.pcap"
t["flipped"] = OrderedDict([
    ("derived_from", "spiped-fast.pcap"),
    ("direction", "client->server (c2s)"),
    ("record_number", rec),
    ("byte_in_record", off),
    ("xor_mask", 1),
    ("packet_number", pkt),
    ("frame_offset", fo),
])
port, detail = next(iter(t["commands_detail"].items()))
t["flipped"]["command_in_flipped_record"] = " ".join(detail[rec])
t["notes"] = ("Identical to spiped-fast.pcap except one bit: byte %d of client->server record n=%d "
              "(inside the ciphertext, i.e. a data byte of that record) in packet %d (frame offset "
              "%d) was XORed with 0x01. That record must fail its MAC (expected: 1 bad record in "
              "c2s, all others OK); its plaintext is the command below that is therefore missing "
              "from the decrypted stream although the real server (which received the unmodified "
              "record) executed it (one command per record in this capture, so it is command "
              "index %d of the connection: %s). Server-side truth below is copied from spiped-fast. "
              % (off, rec, pkt, fo, rec, t["flipped"]["command_in_flipped_record"])) + t["notes"]
t.pop("wire", None)
t.pop("plaintext", None)
t.pop("plaintext_note", None)
json.dump(t, open(dst, "w"), indent=1)
EOF
    annotate "$name" "$REDIS_PORT"
    check_capture "$name"
    install_capture "$name"
}

# ---------------------------------------------------------------- main

[[ $(id -u) -eq 0 ]] || die "must run as root (tcpdump on lo)"
for tool in redis-server redis-cli spiped tcpdump ss curl gcc pkg-config; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
for p in $TUNNEL_PORT $PLAIN_PORT $REDIS_PORT $HTTP_PORT; do
    port_free "$p" || die "port $p is already in use"
done

for k in "$KEY" "$WRONG_KEY"; do
    if [[ ! -s $k ]]; then
        head -c 32 /dev/urandom >"$k"
        log "created test key $k"
    fi
done
cmp -s "$KEY" "$WRONG_KEY" && die "the two key files are identical"

mkdir -p "$WORK/www"
$PY - "$WORK/www/hello.txt" <<'EOF'
import sys
lines = ["spiped-other test document, line %03d: the quick brown fox jumps over the lazy dog" % i
         for i in range(40)]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF

start_redis

capture_simple spiped-fast      fast     yes 262144 "$REDIS_PORT"
capture_simple spiped-pipeline  pipeline yes 262144 "$REDIS_PORT"
capture_simple spiped-bigvalue  bigvalue yes 262144 "$REDIS_PORT"
capture_simple spiped-fs        fs       no  262144 "$REDIS_PORT"
capture_midstream
capture_simple spiped-snaplen   snaplen  yes 200    "$REDIS_PORT"

log "capture spiped-other (HTTP through the tunnel)"
(cd "$WORK/www" && exec $PY -m http.server "$HTTP_PORT" --bind 127.0.0.1) \
    >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
PIDS+=("$HTTP_PID")
wait_until "http.server on $HTTP_PORT" listening "$HTTP_PORT"
capture_simple spiped-other     other    yes 262144 "$HTTP_PORT"
stop_pid "$HTTP_PID"

make_flipped

# unit-test vectors from the fast capture
mkdir -p "$ROOT/tests/unit"
$PY "$HERE/extract-spiped-vectors.py" --pcap "$HERE/spiped-fast.pcap" --key "$KEY" \
    --wrong-key "$WRONG_KEY" --tunnel-port "$TUNNEL_PORT" \
    --out "$ROOT/tests/unit/spiped_vectors.h" >&2

# end-to-end check: decrypt with the project's C core, compare with the plaintext leg
# shellcheck disable=SC2046  # pkg-config output must be word-split
gcc -std=c11 -O2 -shared -fPIC -I"$ROOT/core" "$ROOT/core/spiped_crypto.c" \
    $(pkg-config --cflags --libs libgcrypt) -o "$WORK/libspiped_crypto.so"
for name in spiped-fast spiped-pipeline spiped-bigvalue spiped-other; do
    $PY "$TRAFFIC" verify --lib "$WORK/libspiped_crypto.so" --pcap "$HERE/$name.pcap" \
        --truth "$HERE/$name.truth.json" --key "$KEY" --tunnel-port "$TUNNEL_PORT"
done
$PY "$TRAFFIC" verify --lib "$WORK/libspiped_crypto.so" --pcap "$HERE/spiped-midstream.pcap" \
    --truth "$HERE/spiped-midstream.truth.json" --key "$KEY" --tunnel-port "$TUNNEL_PORT" \
    --full-pcap "$WORK/spiped-midstream.shadow.pcap"
$PY "$TRAFFIC" verify --lib "$WORK/libspiped_crypto.so" --pcap "$HERE/spiped-flipped.pcap" \
    --truth "$HERE/spiped-fast.truth.json" --key "$KEY" --tunnel-port "$TUNNEL_PORT" \
    --expect-mismatch

log "done; total size: $(du -ch "$HERE"/spiped-*.pcap | tail -1 | cut -f1)"
