#!/bin/bash
# Make forward-secret spiped captures together with the key log that decrypts
# them (written by keylog/libspiped-keylog.so on ONE tunnel endpoint), their
# ground-truth files, and prove that the key log decrypts them.
#
# usage: test-captures/make-spiped-keylog-capture.sh [client|server|all]   (default: all)
#
#   side=client: the key log is written by spiped -e (it logs the server's y_S)
#   side=server: the key log is written by spiped -d (it logs the client's y_C)
#
# Writes test-captures/spiped-fs-keylog-<side>.pcap, .keylog and .truth.json.
#
# Setup (own ports, all on 127.0.0.1; needs root for tcpdump):
#   redis-server :16390 (+ a unix socket for MONITOR/INFO, never captured)
#   spiped -d -s :6489 -t :16390 -k spiped-test.key -F       (no -f: forward secrecy)
#   spiped -e -s :6589 -t :6489  -k spiped-test.key -F       (no -f)
#   both endpoints run with LD_PRELOAD=libspiped-keylog.so; only the chosen
#   side has SPIPED_KEYLOG set, the other one must stay inert.
#   tcpdump -i lo 'tcp port 6489' (the capture) and, uncommitted, 'tcp port 16390'
#   (the plaintext leg: what a correct decryption must yield).
# Traffic, three tunnel connections in this order: redis-cli (21 commands, one
# unknown, one error reply), a redis-py pipeline of 301 commands, and a redis-py
# SET/GET/STRLEN/DEL of a 1,052,897-byte value (GET must return it unchanged).
#
# Checks: before the captures, an inertness test (preloaded spiped without
# SPIPED_KEYLOG / with it empty, traced with strace when available: no file
# opened for writing, nothing written to stdout/stderr, no file created);
# after each capture: one key-log line per tunnel connection, mode 0600, each
# keyed by the peer's public value seen in the capture; every record MAC
# checked in Python with the logged y_SC; then tests/unit/check_keylog_decrypt.py
# decrypts every record with the C core and compares with the plaintext leg
# and with redis MONITOR.
#
# Environment: SPIPED_KEYLOG_LIB (default build/keylog/libspiped-keylog.so; built
# into a temporary directory when absent), KEEP_WORK=1 keeps the work directory.
# Every wait is bounded; only processes started here are stopped, by PID, from
# an EXIT trap.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PY=/usr/bin/python3
KEY="$HERE/spiped-test.key"
OUTDIR=${OUTDIR:-$HERE}   # where the capture, key log and truth go (tests use a temporary one)
TUNNEL_PORT=6489      # spiped -d listens here (captured)
PLAIN_PORT=6589       # spiped -e listens here (plaintext, local)
REDIS_PORT=16390      # our own redis-server
WAIT=20               # seconds, upper bound for every wait
ATTEMPTS=3            # a capture with kernel drops is redone
LIB=${SPIPED_KEYLOG_LIB:-$ROOT/build/keylog/libspiped-keylog.so}

case "${1:-all}" in
    client) SIDES=(client) ;;
    server) SIDES=(server) ;;
    all) SIDES=(client server) ;;
    *) echo "usage: $0 [client|server|all]" >&2; exit 2 ;;
esac

WORK=$(mktemp -d /tmp/spiped-keylog-capture.XXXXXX)
PIDS=()
declare -A ERRFILE=()
DROPPED=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# stop_pid PID: SIGTERM, bounded wait, SIGKILL if needed.  Own children only.
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

# run_child COMMAND...: run COMMAND as a tracked background child and wait for
# it, so that a signal runs the EXIT trap (which stops it) at once.
run_child() {
    local pid rc=0
    "$@" &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    return "$rc"
}

cleanup() {
    local rc=$? i
    # newest first: strace detaches before its tracee is stopped
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    if [[ -n ${KEEP_WORK:-} ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_until DESCRIPTION COMMAND...: poll COMMAND for at most $WAIT seconds.
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
tunnel_idle() {
    [[ -z $(ss -tnH state connected exclude time-wait \
        "( sport = :$TUNNEL_PORT or dport = :$TUNNEL_PORT )") ]]
}
redis_up() { [[ $(timeout 5 redis-cli -s "$WORK/redis.sock" PING 2>/dev/null) == PONG ]]; }
traced() { grep -Eq '^TracerPid:[[:space:]]+[1-9]' "/proc/$1/status"; }
maps_lib() { grep -qF "$LIB" "/proc/$1/maps"; }

# ------------------------------------------------------------------ processes

start_redis() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --unixsocket "$WORK/redis.sock" --unixsocketperm 700 \
        --save '' --appendonly no --daemonize no \
        --dir "$WORK" --logfile "$WORK/redis.log" &
    PIDS+=($!)
    wait_until "redis-server" redis_up
    log "redis-server pid ${PIDS[-1]} on 127.0.0.1:$REDIS_PORT"
}

# start_spiped MODE(d|e) KEYLOG(path or "" = inert) TAG -> sets SPIPED_PID
# The process runs with LD_PRELOAD=$LIB in the empty directory $WORK/cwd-TAG;
# its stdout/stderr go to $WORK/TAG.out / .err.
start_spiped() {
    local mode=$1 keylog=$2 tag=$3 src dst
    if [[ $mode == d ]]; then
        src="[127.0.0.1]:$TUNNEL_PORT" dst="[127.0.0.1]:$REDIS_PORT"
    else
        src="[127.0.0.1]:$PLAIN_PORT" dst="[127.0.0.1]:$TUNNEL_PORT"
    fi
    mkdir -p "$WORK/cwd-$tag"
    if [[ -n $keylog ]]; then
        (cd "$WORK/cwd-$tag" && LD_PRELOAD="$LIB" SPIPED_KEYLOG="$keylog" \
            exec spiped "-$mode" -s "$src" -t "$dst" -k "$KEY" -F -o 10) \
            >"$WORK/$tag.out" 2>"$WORK/$tag.err" &
    else
        (cd "$WORK/cwd-$tag" && unset SPIPED_KEYLOG && LD_PRELOAD="$LIB" \
            exec spiped "-$mode" -s "$src" -t "$dst" -k "$KEY" -F -o 10) \
            >"$WORK/$tag.out" 2>"$WORK/$tag.err" &
    fi
    SPIPED_PID=$!
    PIDS+=("$SPIPED_PID")
}

wait_spipeds() {
    wait_until "spiped -d on $TUNNEL_PORT" listening "$TUNNEL_PORT"
    wait_until "spiped -e on $PLAIN_PORT" listening "$PLAIN_PORT"
    local p
    for p in "$@"; do
        maps_lib "$p" || die "spiped pid $p did not load $LIB"
    done
}

# start_tcpdump OUTFILE FILTER -> sets TCPDUMP_PID
start_tcpdump() {
    local out=$1 filter=$2 err
    err="$WORK/tcpdump.$RANDOM$RANDOM.err"
    tcpdump -i lo -U --immediate-mode -B 65536 -Z root -s 262144 -w "$out" "$filter" \
        2>"$err" &
    TCPDUMP_PID=$!
    ERRFILE[$TCPDUMP_PID]=$err
    PIDS+=("$TCPDUMP_PID")
    wait_until "tcpdump to listen ($out)" grep -q "listening on" "$err"
    sleep 0.2
}

stop_tcpdump() {
    local err=${ERRFILE[$1]} n
    stop_pid "$1"
    n=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel$/\1/p' "$err")
    if [[ $n != 0 ]]; then
        log "tcpdump reported '${n:-?}' packets dropped by kernel"
        DROPPED=1
    fi
}

# ------------------------------------------------------------- python helpers

write_helpers() {
cat >"$WORK/traffic.py" <<'EOF'
"""Traffic through the tunnel + server-side ground truth (MONITOR/INFO over
the redis unix socket, which is never captured)."""
import hashlib, json, os, socket, subprocess, sys, threading, time
from collections import Counter, OrderedDict
import redis

sock_path, plain_port, out, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])

LONG = "".join("%04d-keylog-" % i for i in range(250))          # 3000 bytes
CLI_COMMANDS = [
    'SET fs:greeting "hello through a forward-secret tunnel"',
    "GET fs:greeting",
    "INCR fs:counter",
    "INCRBY fs:counter 41",
    "RPUSH fs:list a b c d",
    "LRANGE fs:list 0 -1",
    "HSET fs:hash f1 one f2 two",
    "HGETALL fs:hash",
    "SADD fs:set red green blue",
    "SCARD fs:set",
    "ZADD fs:zset 1 one 2 two",
    "ZRANGE fs:zset 0 -1 WITHSCORES",
    "EXPIRE fs:greeting 600",
    "TTL fs:greeting",
    "INCR fs:greeting",                      # -ERR value is not an integer
    "NOSUCHCOMMAND arg",                     # -ERR unknown command, not in MONITOR
    "SET fs:long " + LONG,                   # spans records
    "GET fs:long",
    "DEL fs:list",
    "PING",
    "DBSIZE",
]
BIG_LEN = 1048576 + 4321


def unrepr(s, i):
    out, i = bytearray(), i + 1
    esc = {110: 10, 114: 13, 116: 9, 97: 7, 98: 8, 34: 34, 92: 92}
    while i < len(s):
        c = s[i]
        if c == 34:
            return bytes(out), i + 1
        if c == 92 and i + 1 < len(s):
            n = s[i + 1]
            if n == 120:
                out.append(int(s[i + 2:i + 4], 16)); i += 4; continue
            out.append(esc.get(n, n)); i += 2; continue
        out.append(c); i += 1
    raise ValueError("bad MONITOR line")


class Monitor(threading.Thread):
    def __init__(self, marker):
        super().__init__(daemon=True)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(120)
        self.s.connect(sock_path)
        self.s.sendall(b"MONITOR\r\n")
        self.f = self.s.makefile("rb")
        if self.f.readline() != b"+OK\r\n":
            raise SystemExit("MONITOR failed")
        self.marker, self.entries, self.error = marker, [], None
        self.done = threading.Event()

    def run(self):
        try:
            while True:
                line = self.f.readline().rstrip(b"\r\n")
                if not line:
                    raise RuntimeError("MONITOR closed")
                lb, rb = line.index(b"["), line.index(b"]")
                client = line[lb + 1:rb].split(b" ", 1)[1].decode()
                args, i = [], rb + 1
                while i < len(line):
                    if line[i] == 34:
                        a, i = unrepr(line, i); args.append(a)
                    else:
                        i += 1
                if client.startswith("unix:"):
                    if args[:2] == [b"ECHO", self.marker]:
                        break
                else:
                    self.entries.append((client, args))
        except Exception as e:  # noqa: BLE001
            self.error = e
        finally:
            self.done.set()


def field(v, name):
    if isinstance(v, dict):
        return int(v.get(name, 0))
    for kv in str(v).split(","):
        k, _, x = kv.partition("=")
        if k == name:
            return int(x)
    return 0


def snapshot(r):
    return ({k[8:]: v for k, v in r.info("commandstats").items()},
            {k[10:]: v for k, v in r.info("errorstats").items()})


def delta(b, a, name):
    d = {k: field(v, name) - field(b.get(k, {}), name) for k, v in a.items()}
    return {k: v for k, v in sorted(d.items()) if v}


def short(b, n=64):
    s = b.decode("latin-1")
    return s if len(s) <= n else s[:n] + "...(%d bytes)" % len(b)


def big_value(n):
    out, i = bytearray(), 0
    while len(out) < n:
        out += hashlib.sha256(b"spiped-keylog-bigvalue-%d" % i).digest(); i += 1
    return bytes(out[:n])


ctl = redis.Redis(unix_socket_path=sock_path, socket_timeout=timeout)
marker = b"keylog-truth-end-%d-%d" % (os.getpid(), int(time.time() * 1e6))
mon = Monitor(marker)
mon.start()
time.sleep(0.1)
before = snapshot(ctl)                                   # INFO x2 (control)
extra = OrderedDict()
sent = []

# 1. redis-cli, one connection, stdin mode
res = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(plain_port)],
                     input=("\n".join(CLI_COMMANDS) + "\n").encode(), capture_output=True,
                     timeout=timeout)
if res.returncode != 0 or b"hello through a forward-secret tunnel" not in res.stdout:
    raise SystemExit("redis-cli through the tunnel failed: %r" % res.stderr)
sent += [c.split()[0].upper() for c in CLI_COMMANDS]
extra["client_commands"] = [short(c.encode(), 80) for c in CLI_COMMANDS]
extra["redis_cli_output_sha256"] = hashlib.sha256(res.stdout).hexdigest()
time.sleep(0.3)

# 2. redis-py pipeline, one execute()
r = redis.Redis(host="127.0.0.1", port=plain_port, socket_timeout=timeout)
p = r.pipeline(transaction=False)
for i in range(300):
    k = i % 6
    if k == 0:
        p.set("pipe:%d" % i, "value-%d" % i)
    elif k == 1:
        p.get("pipe:%d" % (i - 1))
    elif k == 2:
        p.incr("pipe:counter")
    elif k == 3:
        p.rpush("pipe:list", i)
    elif k == 4:
        p.hset("pipe:hash", "f%d" % i, i)
    else:
        p.lrange("pipe:list", 0, 2)
p.incr("pipe:0")                                        # -ERR not an integer
names = [str(a[0]).upper() for a, _ in p.command_stack]
results = p.execute(raise_on_error=False)
for i in range(1, 300, 6):
    if results[i] != b"value-%d" % (i - 1):
        raise SystemExit("pipeline GET %d returned %r" % (i, results[i]))
sent += names
extra["pipeline_commands"] = len(names)
extra["pipeline_error_indexes"] = [i for i, x in enumerate(results) if isinstance(x, Exception)]
r.close()
time.sleep(0.3)

# 3. redis-py 1 MB value: must come back byte for byte
r = redis.Redis(host="127.0.0.1", port=plain_port, socket_timeout=timeout)
v = big_value(BIG_LEN)
assert r.set("big:value", v)
got = r.get("big:value")
if got != v:
    raise SystemExit("GET through the preloaded tunnel returned a different value")
strlen = r.strlen("big:value")
r.delete("big:value")
r.close()
sent += ["SET", "GET", "STRLEN", "DEL"]
extra["bigvalue"] = OrderedDict([
    ("key", "big:value"), ("length", len(v)), ("sha256", hashlib.sha256(v).hexdigest()),
    ("generator", "concatenation of sha256(b'spiped-keylog-bigvalue-%d' % i) for i = 0, 1, ... "
                  "truncated to length"),
    ("strlen_reply", strlen), ("get_returned_identical_value", True)])
time.sleep(0.3)

ctl.echo(marker)                                          # ECHO (control)
if not mon.done.wait(timeout):
    raise SystemExit("MONITOR never saw the end marker")
if mon.error:
    raise SystemExit("MONITOR error: %s" % mon.error)
after = snapshot(ctl)
cs = delta(before[0], after[0], "calls")
for k, n in (("info", 2), ("echo", 1)):
    if k in cs:
        cs[k] -= n
        if not cs[k]:
            del cs[k]
conns, detail = OrderedDict(), OrderedDict()
for client, args in mon.entries:
    port = client.rsplit(":", 1)[1]
    conns.setdefault(port, []).append(args[0].decode("latin-1").upper())
    detail.setdefault(port, []).append([short(x) for x in args])
missing = Counter(sent) - Counter(n for v in conns.values() for n in v)
t = OrderedDict()
t["connections"] = conns
t["commandstats_delta"] = cs
t["not_in_monitor"] = sorted(missing.elements())
t["errorstats_delta"] = delta(before[1], after[1], "count")
t["failed_calls_delta"] = delta(before[0], after[0], "failed_calls")
t["rejected_calls_delta"] = delta(before[0], after[0], "rejected_calls")
t["sent_commands"] = len(sent)
t["commands_detail"] = detail
t["commands_detail_note"] = "MONITOR arguments, each cut to 64 characters (latin-1)."
t["client_tools"] = ["redis-cli %s (stdin mode, one connection)" %
                     subprocess.run(["redis-cli", "--version"], capture_output=True)
                     .stdout.decode().split()[-1],
                     "redis-py %s pipeline(transaction=False), one execute()" % redis.__version__,
                     "redis-py %s SET/GET/STRLEN/DEL of a 1 MB value" % redis.__version__]
t.update(extra)
with open(out, "w") as f:
    json.dump(t, f, indent=1)
EOF

cat >"$WORK/annotate.py" <<'EOF'
"""Build the truth file: ground truth from traffic.py + what the capture, the
plaintext leg and the key log show.  Also checks the key log against the
capture and every record MAC in Python (hashlib/hmac, independent of C)."""
import hashlib, hmac, json, os, stat, struct, sys
from collections import OrderedDict
sys.dont_write_bytecode = True
(here, name, side, pcap, plain_pcap, keylog, key, base, out, tport, rport) = sys.argv[1:12]
tport, rport = int(tport), int(rport)
sys.path.insert(0, here)
import spiped_traffic as st  # stdlib pcap/TCP reassembly shared with the other captures

P = st.MODP2048_P
K = hashlib.sha256(open(key, "rb").read()).digest()
base = json.load(open(base), object_pairs_hook=OrderedDict)


def fail(msg):
    raise SystemExit("%s: %s" % (name, msg))


# key log as written by the preload library
mode = stat.S_IMODE(os.stat(keylog).st_mode)
if mode != 0o600:
    fail("key log mode is %o, expected 600" % mode)
raw = open(keylog, "rb").read()
if not raw.endswith(b"\n"):
    fail("key log does not end with a newline")
entries = OrderedDict()
for n, line in enumerate(raw.split(b"\n")[:-1], 1):
    f = line.split(b" ")
    if len(f) != 3 or f[0] != b"SPIPED_DH_SECRET" or len(f[1]) != 512 or len(f[2]) != 512 \
            or f[1] != f[1].lower() or f[2] != f[2].lower():
        fail("key log line %d is not in the documented format" % n)
    entries[bytes.fromhex(f[1].decode())] = (n, bytes.fromhex(f[2].decode()))

conns = st.connections(pcap, tport)
legs = st.connections(plain_pcap, rport)
if len(conns) != 3 or len(legs) != 3:
    fail("expected 3 tunnel and 3 plaintext-leg connections, got %d and %d"
         % (len(conns), len(legs)))
if len(entries) != len(conns) or len(raw.split(b"\n")) - 1 != len(conns):
    fail("expected exactly one key-log line per tunnel connection")
redis_ports = list(base["connections"].keys())
if [str(l.client[1]) for l in legs] != redis_ports:
    fail("plaintext-leg connections %s do not match MONITOR's %s"
         % ([l.client[1] for l in legs], redis_ports))
packets = sum(1 for p in st.read_pcap(pcap))

tcs, totals = [], {"c2s": 0, "s2c": 0}
for c, leg, tool in zip(conns, legs, base["client_tools"]):
    c.c2s.finish(); c.s2c.finish(); leg.c2s.finish(); leg.s2c.finish()
    e = OrderedDict()
    e["client_port"] = c.client[1]
    e["redis_port"] = leg.client[1]
    e["client_tool"] = tool
    e["commands_in_monitor"] = len(base["connections"][str(leg.client[1])])
    hs = {}
    dirs = OrderedDict()
    for d in (c.c2s, c.s2c):
        if not c.syn_seen or not d.complete(0, d.length) or d.length < st.HANDSHAKE_LEN:
            fail("%s of port %d not completely captured" % (d.name, c.client[1]))
        rec = d.length - st.HANDSHAKE_LEN
        if rec % st.RECORD_LEN:
            fail("%s: stream is not handshake + whole records" % d.name)
        y = d.data[32:32 + 256]
        if y == st.Y_ONE or int.from_bytes(y, "big") >= P:
            fail("%s: y is 1 or not below p: not a forward-secret handshake" % d.name)
        hs[d.name] = (d.data[:32], d.data[32:320])
        dirs[d.name] = OrderedDict([("stream_bytes", d.length), ("records", rec // st.RECORD_LEN),
                                    ("payload_packets", len(d.segs)), ("fin", d.fin)])
        totals[d.name] += rec // st.RECORD_LEN
    (nc, mc), (ns, ms) = hs["c2s"], hs["s2c"]
    dk1 = hashlib.pbkdf2_hmac("sha256", K, nc + ns, 1, 64)
    macs = [hmac.compare_digest(hmac.new(dk1[:32], mc[:256], "sha256").digest(), mc[256:]),
            hmac.compare_digest(hmac.new(dk1[32:], ms[:256], "sha256").digest(), ms[256:])]
    if not all(macs):
        fail("handshake MACs do not verify with the test key")
    e["handshake_macs_verify_with_test_key"] = macs
    e["y_C_head"] = mc[:8].hex()
    e["y_S_head"] = ms[:8].hex()
    peer = ms[:256] if side == "client" else mc[:256]
    own = mc[:256] if side == "client" else ms[:256]
    if peer not in entries:
        fail("the key log has no line for the peer value (%s) of port %d"
             % ("y_S" if side == "client" else "y_C", c.client[1]))
    if own in entries:
        fail("the key log is keyed by the logging side's own value")
    line_no, y_sc = entries[peer]
    e["keylog_line"] = line_no
    e["keylog_key"] = "y_S" if side == "client" else "y_C"
    dk2 = hashlib.pbkdf2_hmac("sha256", K, nc + ns + y_sc, 1, 128)
    for d, H in ((c.c2s, dk2[32:64]), (c.s2c, dk2[96:128])):
        ok = bad = 0
        for n in range(dirs[d.name]["records"]):
            o = st.HANDSHAKE_LEN + n * st.RECORD_LEN
            if st.record_mac_ok(H, n, d.data[o:o + st.RECORD_LEN]):
                ok += 1
            else:
                bad += 1
        if bad:
            fail("%d %s records fail their MAC with the logged y_SC" % (bad, d.name))
        dirs[d.name]["record_macs_ok_with_keylog"] = ok
    e["directions"] = dirs
    pt = OrderedDict()
    for d in (leg.c2s, leg.s2c):
        if not d.complete(0, d.length):
            fail("plaintext leg %s has holes" % d.name)
        pt[d.name] = OrderedDict([("bytes", d.length),
                                  ("sha256", hashlib.sha256(d.data).hexdigest()),
                                  ("head", d.data[:80].decode("latin-1"))])
    e["plaintext"] = pt
    tcs.append(e)

who = {"client": "the client (spiped -e, the side that sends the SYN)",
       "server": "the server (spiped -d, listening on the tunnel port)"}[side]
truth = OrderedDict()
truth["capture"] = name + ".pcap"
truth["tunnel_port"] = tport
truth["fast_handshake"] = False
truth["connections"] = base.pop("connections")
truth["commandstats_delta"] = base.pop("commandstats_delta")
truth["not_in_monitor"] = base.pop("not_in_monitor")
truth["notes"] = (
    "Forward-secret spiped (no -f on either side): the key file alone cannot decrypt the records. "
    "The key log %s.keylog was written during the capture by keylog/libspiped-keylog.so "
    "(LD_PRELOAD + SPIPED_KEYLOG) on %s; it holds one line per tunnel connection, "
    "'SPIPED_DH_SECRET <%s> <y_SC>', i.e. keyed by the peer's public value. The other endpoint "
    "ran with the library preloaded but without SPIPED_KEYLOG and wrote nothing. Three tunnel "
    "connections, in this order: redis-cli, a redis-py pipeline, a redis-py 1 MB SET/GET; "
    "tunnel_connections maps each captured connection (client_port, as seen on the tunnel) to "
    "the connection redis saw (redis_port = the keys of 'connections'). Ground truth from the "
    "server: MONITOR and INFO commandstats/errorstats over a unix socket (not captured); "
    "commandstats_delta excludes the recorder's own INFO and ECHO. not_in_monitor: commands sent "
    "that MONITOR never shows (unknown commands). plaintext: length/SHA-256/head of each "
    "direction of the plaintext leg between spiped -d and redis (uncommitted shadow capture), "
    "which is what decrypting the connection must yield."
    % (name, who, "y_S" if side == "client" else "y_C"))
truth["keylog"] = OrderedDict([
    ("file", name + ".keylog"), ("written_by", side), ("lines", len(entries)),
    ("keyed_by", "y_S (server public value)" if side == "client" else "y_C (client public value)"),
    ("mode", "0600"), ("format", "see keylog/README.md")])
truth["packets"] = packets
truth["records_total"] = totals
truth["tunnel_connections"] = tcs
for k, v in base.items():
    truth[k] = v
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(truth, f, indent=1)
    f.write("\n")
os.replace(tmp, out)
print("%s: %d packets, %d tunnel connections, records c2s %d / s2c %d, commands per "
      "connection %s, key-log lines %d (keyed by %s)"
      % (name, packets, len(tcs), totals["c2s"], totals["s2c"],
         [t["commands_in_monitor"] for t in tcs], len(entries), tcs[0]["keylog_key"]))
EOF
}

# ----------------------------------------------------------- inertness check

# A preloaded spiped pair without SPIPED_KEYLOG (spiped -d: variable unset,
# spiped -e: set but empty) handles a connection.  Nothing may be created,
# opened for writing or printed.  With strace, every open/openat/creat/write
# of both processes is also checked.
inert_check() {
    local dpid epid sd="" se="" tracing=no f
    local TRACE=open,openat,creat,write,writev,pwrite64,sendto,sendmsg
    log "inertness check: preloaded spiped without SPIPED_KEYLOG"
    mkdir -p "$WORK/cwd-inert-d" "$WORK/cwd-inert-e"
    (cd "$WORK/cwd-inert-d" && unset SPIPED_KEYLOG && LD_PRELOAD="$LIB" \
        exec spiped -d -s "[127.0.0.1]:$TUNNEL_PORT" -t "[127.0.0.1]:$REDIS_PORT" -k "$KEY" -F) \
        >"$WORK/inert-d.out" 2>"$WORK/inert-d.err" &
    dpid=$!
    PIDS+=("$dpid")
    (cd "$WORK/cwd-inert-e" && SPIPED_KEYLOG='' LD_PRELOAD="$LIB" \
        exec spiped -e -s "[127.0.0.1]:$PLAIN_PORT" -t "[127.0.0.1]:$TUNNEL_PORT" -k "$KEY" -F) \
        >"$WORK/inert-e.out" 2>"$WORK/inert-e.err" &
    epid=$!
    PIDS+=("$epid")
    wait_spipeds "$dpid" "$epid"
    if command -v strace >/dev/null; then
        strace -qq -f -e trace=$TRACE -o "$WORK/inert-d.strace" -p "$dpid" \
            2>"$WORK/strace-d.err" &
        sd=$!
        PIDS+=("$sd")
        strace -qq -f -e trace=$TRACE -o "$WORK/inert-e.strace" -p "$epid" \
            2>"$WORK/strace-e.err" &
        se=$!
        PIDS+=("$se")
        if wait_until_quiet traced "$dpid" && wait_until_quiet traced "$epid"; then
            tracing=yes
        else
            log "strace could not attach; checking files and output only"
        fi
    fi
    [[ $(timeout "$WAIT" redis-cli -p "$PLAIN_PORT" SET inert:key inert-value) == OK ]] ||
        die "inertness check: SET through the tunnel failed"
    [[ $(timeout "$WAIT" redis-cli -p "$PLAIN_PORT" GET inert:key) == inert-value ]] ||
        die "inertness check: GET through the tunnel failed"
    wait_until "tunnel connection to close" tunnel_idle
    sleep 0.3
    [[ -n $se ]] && stop_pid "$se"
    [[ -n $sd ]] && stop_pid "$sd"
    stop_pid "$epid"
    stop_pid "$dpid"
    for f in inert-d.out inert-d.err inert-e.out inert-e.err; do
        [[ ! -s $WORK/$f ]] || die "inertness check: $f is not empty"
    done
    [[ -z $(find "$WORK/cwd-inert-d" "$WORK/cwd-inert-e" -mindepth 1) ]] ||
        die "inertness check: a file appeared in a spiped working directory"
    if [[ $tracing == yes ]]; then
        local out='(write|writev|pwrite64|sendto|sendmsg)\('
        grep -Eq "$out" "$WORK/inert-d.strace" || die "inertness check: strace saw no output calls"
        if grep -E 'open(at)?\(.*O_(WRONLY|RDWR|CREAT|APPEND)|creat\(|(write|writev|pwrite64)\([12],' \
            "$WORK/inert-d.strace" "$WORK/inert-e.strace"; then
            die "inertness check: a preloaded spiped without SPIPED_KEYLOG opened a file for writing or wrote to stdout/stderr"
        fi
        log "inertness check passed (strace: $(grep -Ec "$out" "$WORK/inert-d.strace") + $(grep -Ec "$out" "$WORK/inert-e.strace") output calls, all on sockets; no file opened for writing)"
    else
        log "inertness check passed (no output, no file created)"
    fi
}

# like wait_until, but returns 1 instead of dying
wait_until_quiet() {
    local i
    for ((i = 0; i < WAIT * 20; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
    done
    return 1
}

# -------------------------------------------------------------------- capture

capture_once() {
    local side=$1 name=$2 keylog=$3 dkl="" ekl="" dpid epid main shadow
    rm -f "$keylog" "$WORK/$name".{pcap,plain.pcap,base.json}
    [[ $side == server ]] && dkl=$keylog
    [[ $side == client ]] && ekl=$keylog
    timeout "$WAIT" redis-cli -s "$WORK/redis.sock" FLUSHALL >/dev/null
    start_tcpdump "$WORK/$name.plain.pcap" "tcp port $REDIS_PORT"
    shadow=$TCPDUMP_PID
    start_tcpdump "$WORK/$name.pcap" "tcp port $TUNNEL_PORT"
    main=$TCPDUMP_PID
    start_spiped d "$dkl" "$name-d"
    dpid=$SPIPED_PID
    start_spiped e "$ekl" "$name-e"
    epid=$SPIPED_PID
    wait_spipeds "$dpid" "$epid"
    log "$name: spiped -d pid $dpid$([[ -n $dkl ]] && echo ' (logging)'), spiped -e pid $epid$([[ -n $ekl ]] && echo ' (logging)')"
    run_child timeout 300 "$PY" "$WORK/traffic.py" "$WORK/redis.sock" "$PLAIN_PORT" \
        "$WORK/$name.base.json" 60
    wait_until "tunnel connections to close" tunnel_idle
    sleep 1
    stop_tcpdump "$main"
    stop_tcpdump "$shadow"
    stop_pid "$epid"
    stop_pid "$dpid"
    local f
    for f in "$name-d.out" "$name-d.err" "$name-e.out" "$name-e.err"; do
        [[ ! -s $WORK/$f ]] || die "$name: spiped printed something ($f)"
    done
    [[ -z $(find "$WORK/cwd-$name-d" "$WORK/cwd-$name-e" -mindepth 1) ]] ||
        die "$name: a file appeared in a spiped working directory"
    [[ -s $keylog ]] || die "$name: the key log was not written"
}

capture_side() {
    local side=$1 name="spiped-fs-keylog-$1" attempt keylog
    keylog="$WORK/spiped-fs-keylog-$1.keylog"
    log "capture $name (key log written by the $side)"
    for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
        DROPPED=0
        capture_once "$side" "$name" "$keylog"
        [[ $DROPPED == 0 ]] && break
        log "$name: packets were dropped, capturing again"
    done
    [[ $DROPPED == 0 ]] || die "$name: tcpdump kept dropping packets"
    run_child timeout 300 "$PY" "$WORK/annotate.py" "$HERE" "$name" "$side" "$WORK/$name.pcap" \
        "$WORK/$name.plain.pcap" "$keylog" "$KEY" "$WORK/$name.base.json" \
        "$WORK/$name.truth.json" "$TUNNEL_PORT" "$REDIS_PORT" >&2
    log "$name: decrypting with the key log (C core)"
    run_child timeout 300 "$PY" "$ROOT/tests/unit/check_keylog_decrypt.py" --pcap "$WORK/$name.pcap" \
        --key "$KEY" --keylog "$keylog" --tunnel-port "$TUNNEL_PORT" \
        --truth "$WORK/$name.truth.json" --cli "$WORK/check_keylog_decrypt" >"$WORK/$name.check" ||
        { cat "$WORK/$name.check" >&2; die "$name: the key log does not decrypt the capture"; }
    grep -E '^(session|    (key log|c2s|s2c|key file)|port|RESULT|[0-9]+ sessions)' \
        "$WORK/$name.check" >&2
    cp "$WORK/$name.pcap" "$OUTDIR/$name.pcap"
    cp "$keylog" "$OUTDIR/$name.keylog"
    chmod 600 "$OUTDIR/$name.keylog"
    cp "$WORK/$name.truth.json" "$OUTDIR/$name.truth.json"
    log "wrote test-captures/$name.pcap, .keylog, .truth.json"
}

# ----------------------------------------------------------------------- main

[[ $(id -u) -eq 0 ]] || die "must run as root (tcpdump on lo)"
for tool in redis-server redis-cli spiped tcpdump ss gcc pkg-config timeout; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
"$PY" -c 'import redis' 2>/dev/null || die "$PY has no redis module (python3-redis)"
[[ -s $KEY ]] || die "$KEY missing (made by make-spiped-captures.sh)"
for p in $TUNNEL_PORT $PLAIN_PORT $REDIS_PORT; do
    port_free "$p" || die "port $p is already in use"
done

if [[ ! -f $LIB ]]; then
    log "$LIB not found: building it into $WORK"
    LIB="$WORK/libspiped-keylog.so"
    gcc -shared -fPIC -O2 -Wall -Wextra -o "$LIB" "$ROOT/keylog/spiped_keylog_preload.c" -ldl
fi
LIB=$(realpath "$LIB")
# shellcheck disable=SC2046  # pkg-config output must be word-split
gcc -Wall -Wextra -Werror -std=c11 -O2 -I"$ROOT/core" "$ROOT/core/spiped_keylog.c" \
    "$ROOT/core/spiped_crypto.c" "$ROOT/tests/unit/check_keylog_decrypt.c" \
    $(pkg-config --cflags --libs libgcrypt) -o "$WORK/check_keylog_decrypt"
write_helpers

start_redis
inert_check
for side in "${SIDES[@]}"; do
    capture_side "$side"
done
log "done"
