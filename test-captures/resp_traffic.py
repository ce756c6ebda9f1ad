#!/usr/bin/python3
"""Traffic generator and server-side ground-truth collector for the RESP
test captures.  Called by make-resp-captures.sh; run it with /usr/bin/python3.

    resp_traffic.py run SCENARIO --port P --unixsock SOCK --logfile LOG
                        --truth OUT.truth.json --capture NAME.pcap
                        [--syncdir DIR] [--sidecar FILE.json]
    resp_traffic.py check-pcap FILE.pcap --port P
    resp_traffic.py cut-midstream --full FULL.pcap --sidecar FILE.json
                        --truth-in resp-midstream.truth.json
                        --out-pcap resp-midstream-cut.pcap
                        --out-truth resp-midstream-cut.truth.json

"run" does, in this order:
  1. opens a MONITOR connection on the unix socket (never captured) and
     starts a thread that records every line it prints;
  2. takes INFO commandstats/errorstats on a second unix-socket connection;
  3. generates the scenario's TCP traffic (this is what tcpdump sees);
  4. sends "ECHO <marker>" on the control connection and waits until the
     marker shows up in the MONITOR stream, so every earlier command has
     been seen;
  5. takes INFO again, subtracts the control connection's own INFO and
     ECHO calls, and writes the truth file (format: see README.md).

Every socket operation, subprocess and wait is bounded by a timeout.
"""

import argparse
import hashlib
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time

IO_TIMEOUT = 30.0          # any single socket read/write
SUBPROCESS_TIMEOUT = 60.0  # redis-cli / nc invocations
SYNC_TIMEOUT = 30.0        # file handshakes with the shell script
HOST = "127.0.0.1"
BIG_ARG_LIMIT = 1024       # longer MONITOR args are summarised in the truth


# ---------------------------------------------------------------------------
# Minimal RESP2/RESP3 client
# ---------------------------------------------------------------------------

class Simple(str):
    """+simple string"""


class Err(str):
    """-error or !blob error"""


class Push(list):
    """>push"""


class Map(list):
    """%map, kept as a list of (key, value) pairs"""


class RSet(list):
    """~set"""


class Conn:
    """A blocking RESP connection that counts the bytes it sent/consumed."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(IO_TIMEOUT)
        self.buf = bytearray()
        self.pos = 0
        self.rx = 0          # bytes of the server->client stream consumed
        self.tx = 0          # bytes of the client->server stream sent
        self.pushes = []
        self.attributes = []

    @classmethod
    def tcp(cls, port, nodelay=True, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if nodelay:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(IO_TIMEOUT)
        s.connect((HOST, port))
        return cls(s)

    @classmethod
    def unix(cls, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(IO_TIMEOUT)
        s.connect(path)
        return cls(s)

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending --------------------------------------------------------
    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n" % len(a))
            out.append(a)
            out.append(b"\r\n")
        return b"".join(out)

    def send_raw(self, data, chunk=None, pause=0.0):
        if chunk is None:
            self.sock.sendall(data)
        else:
            for i in range(0, len(data), chunk):
                self.sock.sendall(data[i:i + chunk])
                if pause:
                    time.sleep(pause)
        self.tx += len(data)

    def send(self, *args):
        self.send_raw(self.encode(args))

    def call(self, *args):
        """Send one command and return its reply, collecting pushes."""
        self.send(*args)
        return self.reply()

    def reply(self):
        while True:
            r = self.read()
            if isinstance(r, Push):
                self.pushes.append(r)
                continue
            return r

    # -- receiving ------------------------------------------------------
    def _fill(self):
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        d = self.sock.recv(1 << 18)
        if not d:
            raise EOFError("server closed the connection")
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.rx += i + 2 - self.pos
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + n])
        if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
            raise ValueError("bulk string not terminated by CRLF")
        self.pos += n + 2
        self.rx += n + 2
        return data

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return Simple(rest.decode("utf-8", "replace"))
        if t == b"-":
            return Err(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            return Err(data.decode("utf-8", "replace")) if t == b"!" else data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return {b"*": list, b"~": RSet, b">": Push}[t](items)
        if t == b"%":
            return Map((self.read(), self.read()) for _ in range(int(rest)))
        if t == b"|":
            attrs = [(self.read(), self.read()) for _ in range(int(rest))]
            self.attributes.append(attrs)
            return self.read()
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t in (b",", b"("):
            return rest.decode()
        raise ValueError("unexpected RESP type byte %r" % t)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


# ---------------------------------------------------------------------------
# MONITOR collector (unix socket, never captured)
# ---------------------------------------------------------------------------

MONITOR_RE = re.compile(rb"^(\d+\.\d+) \[(\d+) ([^\]]*)\] ?(.*)$", re.S)
TCP_ADDR_RE = re.compile(r"^(\d+\.\d+\.\d+\.\d+):(\d+)$")


def unrepr(s):
    """Decode the argument list of a MONITOR line (sdscatrepr quoting)."""
    args = []
    i, n = 0, len(s)
    esc = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t",
           ord("a"): b"\a", ord("b"): b"\b", ord("\\"): b"\\",
           ord('"'): b'"'}
    while i < n:
        if s[i] == 0x20:
            i += 1
            continue
        expect(s[i] == 0x22, "MONITOR arg does not start with a quote")
        i += 1
        out = bytearray()
        while True:
            c = s[i]
            if c == 0x22:
                i += 1
                break
            if c == 0x5C:
                d = s[i + 1]
                if d == ord("x"):
                    out.append(int(s[i + 2:i + 4], 16))
                    i += 4
                    continue
                out += esc[d]
                i += 2
                continue
            out.append(c)
            i += 1
        args.append(bytes(out))
    return args


class Monitor(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.conn = Conn.unix(path)
        r = self.conn.call("MONITOR")
        expect(r == "OK", "MONITOR on the unix socket failed: %r" % (r,))
        self.conn.sock.settimeout(1.0)
        self.entries = []        # (addr, [arg bytes])
        self.lock = threading.Lock()
        self.marker = None
        self.marker_seen = threading.Event()
        self.stop = False
        self.error = None

    def run(self):
        try:
            while not self.stop:
                try:
                    line = self.conn._line()
                except socket.timeout:
                    continue
                expect(line[:1] == b"+", "unexpected MONITOR line %r" % line[:60])
                m = MONITOR_RE.match(line[1:])
                expect(m is not None, "cannot parse MONITOR line %r" % line[:80])
                addr = m.group(3).decode()
                args = unrepr(m.group(4))
                with self.lock:
                    self.entries.append((addr, args))
                if (self.marker and addr.startswith("unix:")
                        and [a.lower() for a in args] == [b"echo", self.marker]):
                    self.marker_seen.set()
        except Exception as e:  # reported by finish()
            if not self.stop:
                self.error = e

    def finish(self, control):
        """Flush: ECHO a marker on the control connection, wait for it."""
        self.marker = b"resp-truth-marker-%d" % time.time_ns()
        r = control.call("ECHO", self.marker)
        expect(r == self.marker, "ECHO marker failed")
        ok = self.marker_seen.wait(IO_TIMEOUT)
        if self.error:
            raise self.error
        expect(ok, "MONITOR marker not seen within %ss" % IO_TIMEOUT)
        self.stop = True
        self.join(5.0)
        self.conn.close()
        with self.lock:
            return list(self.entries)


def parse_info(text):
    calls, rejected, failed, errors = {}, {}, {}, {}
    for line in text.splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line[len("cmdstat_"):].partition(":")
            kv = dict(f.split("=", 1) for f in fields.split(","))
            calls[name] = int(kv["calls"])
            rejected[name] = int(kv.get("rejected_calls", 0))
            failed[name] = int(kv.get("failed_calls", 0))
        elif line.startswith("errorstat_"):
            name, _, fields = line[len("errorstat_"):].partition(":")
            errors[name] = int(dict(f.split("=", 1) for f in fields.split(","))["count"])
    return calls, rejected, failed, errors


def delta(after, before, subtract=None):
    out = {}
    for k in sorted(set(after) | set(before)):
        d = after.get(k, 0) - before.get(k, 0) - (subtract or {}).get(k, 0)
        if d:
            out[k.upper()] = d
    return out


def arg_for_json(a):
    if len(a) <= BIG_ARG_LIMIT:
        try:
            return a.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return "<<len=%d sha256=%s>>" % (len(a), hashlib.sha256(a).hexdigest())


def accepted_ports(logfile, offset):
    """TCP client ports the server logged as accepted (loglevel verbose)."""
    ports = []
    with open(logfile, "rb") as f:
        f.seek(offset)
        for line in f.read().decode("utf-8", "replace").splitlines():
            m = re.search(r" - Accepted (\d+\.\d+\.\d+\.\d+):(\d+)$", line)
            if m:
                ports.append(m.group(2))
    return ports


def build_truth(capture, server_port, entries, ports, before, after,
                control_calls, notes, wire_only=None):
    connections, monitor_args = {}, {}
    for p in ports:
        connections.setdefault(p, [])
        monitor_args.setdefault(p, [])
    for addr, args in entries:
        m = TCP_ADDR_RE.match(addr)
        if not m or not args:
            continue      # unix control connection, lua, ...
        p = m.group(2)
        connections.setdefault(p, []).append(
            args[0].decode("utf-8", "replace").upper())
        monitor_args.setdefault(p, []).append([arg_for_json(a) for a in args])

    cd = delta(after[0], before[0], control_calls)
    # Which executed (sub)commands did MONITOR not show?  Map every MONITOR
    # line of a captured client onto the commandstats name and compare.
    seen = {}
    for addr, args in entries:
        if not TCP_ADDR_RE.match(addr) or not args:
            continue
        name = args[0].decode("utf-8", "replace").upper()
        if len(args) > 1:
            sub = name + "|" + args[1].decode("utf-8", "replace").upper()
            if sub in cd:
                name = sub
        seen[name] = seen.get(name, 0) + 1
    # not_in_monitor holds first words (as in "connections"), so that a
    # consumer can drop them from what it decoded before comparing.  That
    # only works if no command of the same first word IS shown: check it.
    first_shown = {}
    for name, shown in seen.items():
        first_shown[name.split("|")[0]] = first_shown.get(name.split("|")[0], 0) + shown
    reasons = {}
    for name, calls in cd.items():
        shown = seen.get(name, 0)
        if shown == 0:
            first = name.split("|")[0]
            expect(first_shown.get(first, 0) == 0,
                   "%s is hidden from MONITOR but other %s calls are shown: "
                   "first-word skipping would be ambiguous" % (name, first))
            reasons.setdefault(first, []).append(
                "%s executed %d time(s) but never shown by MONITOR "
                "(admin/skip_monitor command)" % (name, calls))
        else:
            expect(shown == calls, "%s: %d calls in commandstats but %d in "
                   "MONITOR" % (name, calls, shown))
    for name, shown in seen.items():
        expect(name in cd, "%s: %d MONITOR lines but no commandstats calls"
               % (name, shown))
    for name, why in (wire_only or {}).items():
        expect(first_shown.get(name, 0) == 0 and name not in reasons,
               "wire-only command %s also appears in MONITOR" % name)
        reasons[name] = [why]
    not_in_monitor = sorted(reasons)
    truth = {
        "capture": capture,
        "server_port": server_port,
        "connections": connections,
        "monitor_args": monitor_args,
        "commandstats_delta": cd,
        "not_in_monitor": sorted(not_in_monitor),
        "notes": notes,
        # Extra keys:
        "not_in_monitor_reasons": {k: "; ".join(v) for k, v in sorted(reasons.items())},
        "commandstats_rejected_delta": delta(after[1], before[1]),
        "commandstats_failed_delta": delta(after[2], before[2]),
        "errorstats_delta": delta(after[3], before[3]),
    }
    return truth


def dump_truth(truth, path):
    """JSON with one command (or one connection's command list) per line."""
    def inner(d, one_per_line):
        if not d:
            return "{}"
        rows = []
        for k, v in d.items():
            if one_per_line:
                body = "[]" if not v else "[\n" + ",\n".join(
                    "   " + json.dumps(x) for x in v) + "\n  ]"
            else:
                body = json.dumps(v)
            rows.append("  %s: %s" % (json.dumps(k), body))
        return "{\n" + ",\n".join(rows) + "\n }"
    rows = []
    for k, v in truth.items():
        if k == "monitor_args":
            body = inner(v, True)
        elif k in ("connections", "commandstats_delta", "commands_before_capture"):
            body = inner(v, False)
        else:
            body = json.dumps(v)
        rows.append(" %s: %s" % (json.dumps(k), body))
    text = "{\n" + ",\n".join(rows) + "\n}\n"
    expect(json.loads(text) == truth, "truth JSON round trip")
    with open(path, "w") as f:
        f.write(text)


def take_info(control):
    r = control.call("INFO", "commandstats", "errorstats")
    return parse_info(r.decode())


# ---------------------------------------------------------------------------
# helpers for external real clients
# ---------------------------------------------------------------------------

def redis_cli(port, args, stdin=None, expect_ok=True):
    p = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port)] + args,
                       input=stdin, capture_output=True,
                       timeout=SUBPROCESS_TIMEOUT)
    if expect_ok and p.returncode != 0:
        raise RuntimeError("redis-cli %s failed: %s" % (args, p.stderr))
    return p.stdout


def nc_session(port, pieces):
    """Feed the real `nc` binary piece by piece; (bytes, pause) tuples."""
    p = subprocess.Popen(["nc", "-q", "1", HOST, str(port)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        for data, pause in pieces:
            p.stdin.write(data)
            p.stdin.flush()
            if pause:
                time.sleep(pause)
        out, _ = p.communicate(timeout=SUBPROCESS_TIMEOUT)  # closes stdin
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    return out


def blob(rng, n, sprinkle=True):
    """Deterministic binary-ish value; sprinkled with CRLF and RESP-looking
    fragments so that naive parsers that scan for CRLF go wrong."""
    b = bytearray(rng.randbytes(n))
    if sprinkle:
        traps = [b"\r\n", b"\r\n$5\r\nhello\r\n", b"*2\r\n:1\r\n", b"\r\n+OK\r\n", b"\n"]
        for i in range(0, n - 32, 997):
            t = traps[(i // 997) % len(traps)]
            b[i:i + len(t)] = t
    return bytes(b[:n])


def wait_file(path, timeout=SYNC_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for %s" % path)
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# scenarios: each returns (notes, extra_truth_keys)
# ---------------------------------------------------------------------------

BASIC_SESSION = """PING
SET greeting "hello world"
GET greeting
SET counter 10
INCR counter
INCRBY counter 5
EXPIRE greeting 300
TTL greeting
DEL counter
EXISTS counter greeting
HSET user:1 name Alice age 30 city Paris
HGETALL user:1
HGET user:1 name
LPUSH queue a b c d
LRANGE queue 0 -1
MSET k1 v1 k2 v2 k3 v3
MGET k1 k2 nosuchkey k3
SADD tags red green blue
SMEMBERS tags
ZADD board 1 alice 2.5 bob 3 carol
ZRANGE board 0 -1 WITHSCORES
CONFIG GET maxmemory
CLIENT SETNAME x
CLIENT GETNAME
XADD events 1-1 type login user alice
XADD events 2-1 type logout user alice
XLEN events
XRANGE events - +
XINFO STREAM events
TYPE events
GET nosuchkey
"""


def sc_basic(a):
    port = a.port
    # 1) one redis-cli session fed through stdin (one TCP connection)
    redis_cli(port, [], stdin=BASIC_SESSION.encode())
    # 2) a few one-shot invocations (one TCP connection each)
    redis_cli(port, ["SET", "foo", "bar"])
    redis_cli(port, ["GET", "foo"])
    redis_cli(port, ["--raw", "LRANGE", "queue", "0", "-1"])
    redis_cli(port, ["HGETALL", "user:1"])
    redis_cli(port, ["CONFIG", "GET", "maxmemory"])
    return ("redis-cli 7.0.15. The first connection is one redis-cli session "
            "fed via stdin (non-tty): redis-cli sends COMMAND DOCS first "
            "(large nested array reply). Then 5 one-shot `redis-cli CMD ...` "
            "invocations, one connection each; the last one (CONFIG GET) has "
            "no visible command in MONITOR, so its connection has an empty "
            "list."), {}


def sc_inline(a):
    port = a.port
    # A: the whole conversation in one burst, CRLF line endings
    nc_session(port, [(b'PING\r\nSET k v\r\nGET k\r\nset "quoted key" "a b"\r\nQUIT\r\n', 0)])
    # B: typed line by line (one segment per line), CRLF, with an empty line
    lines = [b"PING\r\n", b"ping hello\r\n", b"SET k2 \"value with spaces\"\r\n",
             b"GET k2\r\n", b"\r\n", b"ECHO 'single quoted'\r\n",
             b"  INCR   n  \r\n", b"get \"quoted key\"\r\n", b"QUIT\r\n"]
    nc_session(port, [(l, 0.15) for l in lines])
    # C: bare LF endings, one line split across two segments
    nc_session(port, [(b"PING\nSET k3 v3\nGET k3\n", 0.15),
                      (b"SET split-k", 0.3), (b"ey value-across-segments\n", 0.15),
                      (b"GET split-key\nDEL k3\nQUIT\n", 0)])
    return ("Inline commands sent with the real `nc -q 1` binary on three "
            "connections: (1) one burst with CRLF; (2) typed line by line with "
            "pauses (one TCP segment per line), includes an empty line (ignored "
            "by the server, not a command), leading/extra spaces and quoted "
            "arguments; (3) bare LF line endings, and the line 'SET split-key "
            "value-across-segments' is split across two TCP segments. MONITOR "
            "shows inline commands after the server split them into arguments "
            "(quotes removed), command name in the case typed."), {}


def sc_pipeline(a):
    import redis  # python3-redis 4.3.4
    r = redis.Redis(host=HOST, port=a.port, socket_timeout=IO_TIMEOUT,
                    socket_connect_timeout=IO_TIMEOUT)
    rng = random.Random(3)
    pipe = r.pipeline(transaction=False)
    n = 0
    for i in range(600):
        k = "pl:%d" % rng.randrange(50)
        op = i % 6
        if op == 0:
            pipe.set(k, "v%d-%s" % (i, "x" * rng.randrange(40)))
        elif op == 1:
            pipe.incr("pl:ctr:%d" % (i % 7))
        elif op == 2:
            pipe.get(k)
        elif op == 3:
            pipe.hset("pl:h:%d" % (i % 5), "f%d" % i, i)
        elif op == 4:
            pipe.lpush("pl:l", i)
        else:
            pipe.exists(k, "pl:ctr:1")
        n += 1
    res = pipe.execute()
    expect(len(res) == 600, "pipeline reply count")
    r.get("pl:ctr:1")
    r.connection_pool.disconnect()
    return ("redis-py 4.3.4 pipeline(transaction=False) with 600 commands "
            "(SET/INCR/GET/HSET/LPUSH/EXISTS, deterministic seed) sent in one "
            "batch (redis-py packs them into ~6 KB sendall() chunks; on lo the "
            "kernel may coalesce them into few large segments), then one plain "
            "GET. One TCP connection."), {}


def sc_bigvalue(a):
    rng = random.Random(4)
    value = blob(rng, 1536 * 1024)
    c = Conn.tcp(a.port)
    expect(c.call("PING") == "PONG", "ping")
    c.send_raw(c.encode(["SET", "big", value]), chunk=16384, pause=0.0005)
    expect(c.reply() == "OK", "SET big")
    expect(c.call("STRLEN", "big") == len(value), "STRLEN")
    c.send("GET", "big")
    got = c.reply()
    expect(got == value, "GET big returned other data")
    expect(c.call("PING") == "PONG", "ping")
    c.call("QUIT")
    c.close()
    return ("One raw-socket connection: PING, SET big <1572864-byte value>, "
            "STRLEN big, GET big, PING, QUIT. The value is deterministic "
            "(random.Random(4)) binary data sprinkled with CRLF and RESP-looking "
            "fragments like '\\r\\n$5\\r\\nhello\\r\\n'. The client sends the "
            "SET in 16 KiB send() calls (TCP_NODELAY), so it spans ~100 "
            "segments; the GET reply arrives in segments of up to 65483 bytes "
            "(loopback MTU 65536). sha256 of value: %s. "
            "In monitor_args the value is summarised as <<len=N sha256=...>>."
            % hashlib.sha256(value).hexdigest()), {}


def sc_multi(a):
    # Commands that are queued but never executed use names that appear
    # nowhere else in this capture, so they can be listed in not_in_monitor.
    c = Conn.tcp(a.port)
    r = [c.call("MULTI"), c.call("SET", "tx:a", "1"), c.call("INCR", "tx:a"),
         c.call("LPUSH", "tx:list", "x", "y"), c.call("EXEC")]
    expect(r[1] == "QUEUED" and r[4] == ["OK", 2, 2], "tx 1: %r" % (r,))
    r = [c.call("MULTI"), c.call("APPEND", "tx:b", "1"), c.call("DECR", "tx:b"),
         c.call("DISCARD")]
    expect(r[1] == "QUEUED" and r[3] == "OK", "discard")
    expect(c.call("SET", "tx:w", "1") == "OK", "set")
    expect(c.call("WATCH", "tx:w") == "OK", "watch")
    expect(c.call("SET", "tx:w", "2") == "OK", "touch watched key")
    r = [c.call("MULTI"), c.call("INCRBY", "tx:w", "5"), c.call("EXEC")]
    expect(r[2] is None, "watched EXEC should return null: %r" % (r,))
    r = [c.call("MULTI"), c.call("SETNX", "tx:c", "1"), c.call("NOSUCHCMD", "x"),
         c.call("EXEC")]
    expect(isinstance(r[2], Err) and r[3].startswith("EXECABORT"), "execabort %r" % (r,))
    r = [c.call("MULTI"), c.call("SET", "tx:d", "1"), c.call("LPUSH", "tx:d", "x"),
         c.call("GET", "tx:d"), c.call("EXEC")]
    expect(r[4][0] == "OK" and isinstance(r[4][1], Err) and r[4][2] == b"1",
           "runtime error in exec %r" % (r,))
    expect(c.call("WATCH", "tx:a") == "OK", "watch")
    expect(c.call("UNWATCH") == "OK", "unwatch")
    c.call("QUIT")
    c.close()
    never = "queued inside MULTI but never executed (%s): not in MONITOR nor commandstats"
    return ("One raw-socket connection. Sequence on the wire (27 commands): "
            "(1) MULTI, SET, INCR, LPUSH, EXEC -> [OK,2,2]; "
            "(2) MULTI, APPEND, DECR, DISCARD; "
            "(3) SET tx:w, WATCH tx:w, SET tx:w (same client touches the watched "
            "key), MULTI, INCRBY, EXEC -> null array (*-1); "
            "(4) MULTI, SETNX, NOSUCHCMD (queue-time error), EXEC -> -EXECABORT; "
            "(5) MULTI, SET, LPUSH (runtime WRONGTYPE inside EXEC), GET, EXEC; "
            "(6) WATCH, UNWATCH, QUIT. "
            "MONITOR shows a queued command only when EXEC runs it (each inner "
            "command before the EXEC line itself, so an executed transaction "
            "reads MULTI, inner commands, EXEC, the same relative order as on "
            "the wire). Commands queued and then DISCARDed (APPEND, DECR), "
            "queued before an EXEC that fails because of WATCH (INCRBY) or before "
            "an EXECABORT (SETNX, NOSUCHCMD) never appear in MONITOR or "
            "commandstats; connections therefore lists 22 commands. Those names "
            "are used nowhere else in this capture and are listed in "
            "not_in_monitor."), {
        "wire_only": {"APPEND": never % "DISCARD", "DECR": never % "DISCARD",
                      "INCRBY": never % "EXEC aborted by WATCH, returned null",
                      "SETNX": never % "EXECABORT",
                      "NOSUCHCMD": "unknown command, rejected at queue time "
                                   "(-ERR), never executed; later EXEC -> EXECABORT"}}


def sc_pubsub(a):
    sub = Conn.tcp(a.port)
    pub = Conn.tcp(a.port)
    sub.send("SUBSCRIBE", "news", "weather")
    r = [sub.read(), sub.read()]
    expect(r[1] == [b"subscribe", b"weather", 2], "subscribe %r" % (r,))
    sub.send("PSUBSCRIBE", "sport.*")
    expect(sub.read() == [b"psubscribe", b"sport.*", 3], "psubscribe")
    msgs = [("news", "hello subscribers"), ("weather", "sunny"),
            ("sport.football", "goal!"), ("nobody-listens", "lost"),
            ("news", b"binary \x00\x01 with\r\nCRLF inside")]
    for ch, m in msgs:
        pub.call("PUBLISH", ch, m)
    got = [sub.read() for _ in range(4)]
    expect(got[2][0] == b"pmessage" and got[3][2].startswith(b"binary"), "messages %r" % (got,))
    sub.send("PING")
    expect(sub.read() == [b"pong", b""], "ping in subscribed mode")
    sub.send("PING", "still-there")
    expect(sub.read() == [b"pong", b"still-there"], "ping arg")
    sub.send("UNSUBSCRIBE", "news")
    expect(sub.read() == [b"unsubscribe", b"news", 2], "unsubscribe news")
    expect(pub.call("PUBSUB", "NUMSUB", "news", "weather") == [b"news", 0, b"weather", 1], "numsub")
    pub.call("PUBLISH", "weather", "rain")
    expect(sub.read() == [b"message", b"weather", b"rain"], "rain")
    sub.send("UNSUBSCRIBE")
    expect(sub.read() == [b"unsubscribe", b"weather", 1], "unsubscribe all")
    sub.send("PUNSUBSCRIBE")
    expect(sub.read() == [b"punsubscribe", b"sport.*", 0], "punsubscribe")
    expect(sub.call("GET", "news") is None, "normal mode again")
    sub.call("QUIT")
    pub.call("QUIT")
    sub.close()
    pub.close()
    return ("RESP2, raw sockets. Connection 1 (subscriber; the first port in "
            "connections): SUBSCRIBE news weather, PSUBSCRIBE sport.*, receives "
            "message/pmessage pushes (as RESP2 arrays), PING (reply "
            "[\"pong\",\"\"]) and PING still-there while subscribed, "
            "UNSUBSCRIBE news, UNSUBSCRIBE (all), PUNSUBSCRIBE, then a normal GET "
            "and QUIT. Connection 2 (publisher): PUBLISH x5 (one to a channel "
            "without subscribers, one binary payload with CRLF), PUBSUB NUMSUB, "
            "PUBLISH, QUIT. Server-pushed messages are not commands and are not "
            "in the truth."), {}


def monitor_until(mon, marker):
    """Monitor lines read until one holds marker (bounded wait)."""
    lines = []
    deadline = time.monotonic() + IO_TIMEOUT
    while not any(marker in l for l in lines):
        expect(time.monotonic() < deadline, "TCP monitor did not see the commands")
        lines.append(str(mon.read()))
    return lines


def monitor_ping_and_quit(mon, w):
    """PING on the monitoring connection until its PONG, then both connections QUIT."""
    deadline = time.monotonic() + IO_TIMEOUT
    mon.send("PING")
    while mon.read() != "PONG":
        expect(time.monotonic() < deadline, "no PONG on the TCP monitor")
    w.call("QUIT")
    mon.call("QUIT")
    w.close()
    mon.close()


def sc_monitor(a):
    mon = Conn.tcp(a.port)
    expect(mon.call("MONITOR") == "OK", "tcp monitor")
    w = Conn.tcp(a.port)
    cmds = [("SET", "mon:key", "value with spaces"),
            ("SET", "mon:bin", b"\x00\x01\r\n\"quoted\"\t\\end\xff"),
            ("GET", "mon:key"), ("INCR", "mon:n"), ("HSET", "mon:h", "f", "v"),
            ("CONFIG", "GET", "maxmemory"), ("LPUSH", "mon:l", "a", "b"),
            ("DEL", "mon:key")]
    for cmd in cmds:
        w.call(*cmd)
    redis_cli(a.port, ["SET", "mon:cli", "from redis-cli"])
    # The TCP monitor shows 'PING' of its own connection, too.
    monitor_until(mon, '"mon:cli"')
    monitor_ping_and_quit(mon, w)
    return ("Connection 1 (first port in connections): a TCP client that sends "
            "MONITOR (hidden from MONITOR itself: admin command), then receives "
            "the monitor stream as RESP2 simple strings (+<ts> [0 127.0.0.1:port] "
            "\"arg\" ...), sends PING while monitoring (its own PING also shows "
            "up in its stream before +PONG), then QUIT. Connection 2: raw-socket "
            "client running SET/GET/INCR/HSET/CONFIG GET/LPUSH/DEL (one SET has a "
            "binary value with quotes/backslash/CR/LF/0xff, so the monitor "
            "stream contains \\x.. escapes), then QUIT. Connection 3: one "
            "redis-cli SET. CONFIG GET is hidden from both monitors."), {}


MONITOR_BIG_VALUE = 2 * 1024 * 1024  # bytes of the value whose SET makes a long monitor line


def sc_monitorbig(a):
    mon = Conn.tcp(a.port)
    expect(mon.call("MONITOR") == "OK", "tcp monitor")
    w = Conn.tcp(a.port)
    value = "0123456789abcdef" * (MONITOR_BIG_VALUE // 16)  # printable: shown as it is
    expect(w.call("SET", "mon:big", value) == "OK", "SET mon:big")
    w.call("GET", "mon:small")
    lines = monitor_until(mon, '"mon:small"')
    big = [l for l in lines if '"mon:big"' in l]
    expect(len(big) == 1 and len(big[0]) > MONITOR_BIG_VALUE, "one long monitor line for the SET")
    monitor_ping_and_quit(mon, w)
    return ("Connection 1: a TCP client that sends MONITOR, receives the monitor stream "
            "(the line for the SET below is over 2 MB: one RESP simple string over many "
            "segments), sends PING while monitoring, then QUIT. Connection 2: a raw-socket "
            "client: SET mon:big of a 2 MiB printable value, GET mon:small, QUIT."), {
        # the long line as the monitor client received it: '+', the text, CRLF
        "monitor_big_line_bytes": 1 + len(big[0].encode()) + 2}


def sc_resp3(a):
    c = Conn.tcp(a.port)
    hello = c.call("HELLO", "3")
    expect(isinstance(hello, Map), "HELLO 3 should return a map")
    types = ["string", "integer", "double", "bignum", "null", "array", "set",
             "map", "attrib", "push", "verbatim", "true", "false"]
    for t in types:
        c.call("DEBUG", "PROTOCOL", t)
    expect(len(c.pushes) == 1 and len(c.attributes) == 1, "push/attrib seen")
    c.call("DEBUG", "PROTOCOL", "nosuchtype")
    c.call("HSET", "r3:h", "f1", "v1", "f2", "v2", "f3", "3")
    expect(isinstance(c.call("HGETALL", "r3:h"), Map), "map reply")
    c.call("SADD", "r3:s", "a", "b", "c")
    expect(isinstance(c.call("SMEMBERS", "r3:s"), RSet), "set reply")
    c.call("ZADD", "r3:z", "1.5", "m1", "2.25", "m2", "inf", "m3")
    c.call("ZSCORE", "r3:z", "m1")
    c.call("ZSCORE", "r3:z", "m3")
    c.call("ZRANGE", "r3:z", "0", "-1", "WITHSCORES")
    expect(c.call("GET", "r3:missing") is None, "null")
    expect(isinstance(c.call("GET", "r3:h"), Err), "WRONGTYPE")
    c.call("EXISTS", "r3:h", "r3:missing")
    c.call("CLIENT", "INFO")                     # verbatim string reply
    c.call("HELLO", "4")                         # -NOPROTO
    c.call("CONFIG", "GET", "maxmemory")         # map reply
    c.call("INCRBYFLOAT", "r3:f", "0.25")
    c.call("QUIT")
    c.close()
    cli = redis_cli(a.port, ["-3", "HGETALL", "r3:h"])
    expect(b"f1" in cli, "redis-cli -3")
    return ("Connection 1 (raw socket): HELLO 3 (map reply), then DEBUG PROTOCOL "
            "<t> for all 13 types Redis 7.0.15 supports (string integer double "
            "bignum null array set map attrib push verbatim true false; 'attrib' "
            "sends a |1 attribute before the reply, 'push' sends a >2 push "
            "followed by a normal bulk reply), DEBUG PROTOCOL nosuchtype (error), "
            "HSET/HGETALL (map), SADD/SMEMBERS (set), ZADD/ZSCORE (double, "
            "including ,inf), ZRANGE WITHSCORES (array of [member,double] pairs), "
            "GET missing (_ null), GET on a hash (-WRONGTYPE), EXISTS, CLIENT INFO "
            "(= verbatim string), HELLO 4 (-NOPROTO), CONFIG GET (map), "
            "INCRBYFLOAT, QUIT. Connection 2: `redis-cli -3 HGETALL r3:h` (real "
            "client: sends HELLO 3 first). DEBUG and CONFIG are admin commands "
            "and not shown by MONITOR. No blob error (!) could be provoked: Redis "
            "7.0 sends every error, also in RESP3, as a -simple error."), {}


def sc_tracking(a):
    t = Conn.tcp(a.port)
    w = Conn.tcp(a.port)
    expect(isinstance(t.call("HELLO", "3"), Map), "hello 3")
    expect(t.call("CLIENT", "TRACKING", "ON") == "OK", "tracking on")
    for k in ("t:1", "t:2", "t:3", "t:4"):
        w.call("SET", k, "initial-" + k)
    w.call("HSET", "t:h", "f", "v")
    t.call("GET", "t:1")
    t.call("GET", "t:2")
    t.call("MGET", "t:3", "t:4")
    t.call("HGETALL", "t:h")
    w.call("SET", "t:1", "changed")
    w.call("DEL", "t:2")
    w.call("MSET", "t:3", "a", "t:4", "b")
    w.call("HSET", "t:h", "f", "v2")

    def keys_invalidated():
        out = set()
        for p in t.pushes:
            if p[0] == b"invalidate" and p[1] is not None:
                out.update(p[1])
        return out

    deadline = time.monotonic() + IO_TIMEOUT
    while keys_invalidated() != {b"t:1", b"t:2", b"t:3", b"t:4", b"t:h"}:
        expect(time.monotonic() < deadline, "invalidations missing")
        t.pushes.append(t.read())
    t.call("GET", "t:1")
    w.call("FLUSHALL")
    t.call("PING")   # the flush invalidation (null key list) arrives first
    expect(any(p[1] is None for p in t.pushes), "flush invalidation")
    t.call("CLIENT", "TRACKING", "OFF")
    t.call("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:")
    w.call("SET", "user:1", "a")
    w.call("SET", "other", "b")
    t.call("PING")
    expect(any(p[1] == [b"user:1"] for p in t.pushes), "bcast invalidation")
    t.call("QUIT")
    w.call("QUIT")
    t.close()
    w.close()
    return ("Connection 1 (first port, RESP3 via HELLO 3): CLIENT TRACKING ON, "
            "GET t:1, GET t:2, MGET t:3 t:4, HGETALL t:h; connection 2 (RESP2) "
            "then modifies those keys, so connection 1 receives "
            ">2 invalidate [keys] pushes (interleaved asynchronously with its "
            "replies); then GET t:1, FLUSHALL on connection 2 -> push with a null "
            "key list (>2 invalidate _), PING, CLIENT TRACKING OFF, CLIENT "
            "TRACKING ON BCAST PREFIX user:, connection 2 SETs user:1 and other "
            "-> push for user:1 only, PING, QUIT."), {}


def sc_errors(a):
    c = Conn.tcp(a.port)
    script = [("PING",), ("FOOBAR", "a", "b"), ("STRLEN",), ("SET", "e:str", "hello"),
              ("LPUSH", "e:str", "x"), ("SET", "e:k", "v", "XX", "NX"),
              ("INCR", "e:str"), ("GET", "e:str"), ("EVALSHA", "f" * 40, "0"),
              ("HSET", "e:h", "f"), ("CONFIG", "SET", "no-such-param", "1"),
              ("XADD", "e:s", "0-0", "f", "v"), ("ZADD", "e:z", "notanumber", "m"),
              ("SELECT", "99"), ("OBJECT", "NOSUCHSUB"), ("AUTH", "not-the-password"),
              ("ECHO", "still alive")]
    errs = 0
    for cmd in script:
        if isinstance(c.call(*cmd), Err):
            errs += 1
    expect(errs == 13, "expected 13 error replies, got %d" % errs)
    c.call("QUIT")
    c.close()
    return ("Connection 1 (raw socket, multibulk): PING, FOOBAR a b (unknown "
            "command), STRLEN (wrong arity), SET, LPUSH on a string (WRONGTYPE), "
            "SET k v XX NX (syntax error), INCR on a non-integer, GET (ok), "
            "EVALSHA unknown sha (NOSCRIPT), HSET with wrong arity, CONFIG SET "
            "unknown param, XADD 0-0, ZADD with a non-float score, SELECT 99, "
            "OBJECT NOSUCHSUB (unknown subcommand), AUTH not-the-password (no "
            "password configured -> error; MONITOR prints its argument as "
            "\"(redacted)\"), ECHO (ok), QUIT. 13 of those get error replies. "
            "Commands rejected before execution (unknown command, unknown "
            "subcommand, wrong arity) are NOT in MONITOR nor in commandstats "
            "calls: wrong-arity ones show up in commandstats_rejected_delta, "
            "unknown commands/subcommands only in errorstats_delta. Commands that "
            "fail while executing (WRONGTYPE, syntax, not-an-integer, NOSCRIPT, "
            "...) are in MONITOR and in calls (and in commandstats_failed_delta). "
            "Every rejected request uses a command name that is executed nowhere "
            "in this capture, and those names are in not_in_monitor. Protocol "
            "errors (malformed requests) are in resp-protoerror.pcap."), {
        "wire_only": {
            "FOOBAR": "unknown command, rejected (-ERR), never executed",
            "STRLEN": "wrong number of arguments, rejected, never executed "
                      "(commandstats rejected_calls)",
            "HSET": "wrong number of arguments, rejected, never executed "
                    "(commandstats rejected_calls)",
            "OBJECT": "unknown subcommand, rejected, never executed"}}


def sc_protoerror(a):
    c = Conn.tcp(a.port)
    expect(c.call("SET", "pe:k", "v") == "OK", "set")
    expect(c.call("GET", "pe:k") == b"v", "get")
    # multibulk request with a non-numeric bulk length
    c.send_raw(b"*2\r\n$6\r\nEXISTS\r\n$abc\r\n")
    expect("Protocol error" in c.read(), "protocol error 1")
    c.close()
    q = Conn.tcp(a.port)
    expect(q.call("PING") == "PONG", "ping")
    # inline request with unbalanced quotes
    q.send_raw(b'APPEND "unterminated value\r\n')
    expect("Protocol error" in q.read(), "protocol error 2")
    q.close()
    r = Conn.tcp(a.port)
    expect(r.call("ECHO", "fine") == b"fine", "echo")
    # a multibulk count that is not a number
    r.send_raw(b"*x\r\n$4\r\nPING\r\n")
    expect("Protocol error" in r.read(), "protocol error 3")
    r.close()
    return ("Malformed requests: each connection sends valid commands, then one "
            "malformed request; the server answers -ERR Protocol error: ... and "
            "closes the connection (FIN from the server). Connection 1: SET, GET, "
            "then *2 $6 EXISTS $abc (invalid bulk length). Connection 2: PING, "
            "then the inline line APPEND \"unterminated value (unbalanced "
            "quotes). Connection 3: ECHO fine, then *x (invalid multibulk "
            "length) followed by $4 PING. The malformed requests are never "
            "executed; their command names are in not_in_monitor. errorstats "
            "ERR counts the 3 protocol errors."), {
        "wire_only": {
            "EXISTS": "request with an invalid bulk length (protocol error), "
                      "never executed; the server closed the connection",
            "APPEND": "inline request with unbalanced quotes (protocol error), "
                      "never executed; the server closed the connection"}}


def sc_otherport(a):
    redis_cli(a.port, ["PING"])
    redis_cli(a.port, ["SET", "op:key", "on port %d" % a.port])
    redis_cli(a.port, ["GET", "op:key"])
    redis_cli(a.port, [], stdin=b"INCR op:n\nINCR op:n\nHSET op:h a 1 b 2\nHGETALL op:h\nDEL op:key\n")
    return ("Redis on non-standard port %d. Four redis-cli connections: PING; "
            "SET; GET; a stdin session (COMMAND DOCS, INCR, INCR, HSET, HGETALL, "
            "DEL)." % a.port), {}


def sc_snaplen(a):
    rng = random.Random(13)
    value = blob(rng, 100 * 1024)
    c = Conn.tcp(a.port)
    for cmd in [("PING",), ("SET", "s:greeting", "hello world"), ("GET", "s:greeting"),
                ("INCR", "s:n"), ("HSET", "s:h", "name", "Alice", "age", "30"),
                ("HGETALL", "s:h"), ("LPUSH", "s:l", "a", "b", "c"),
                ("LRANGE", "s:l", "0", "-1"), ("SET", "s:big", value),
                ("GET", "s:big"), ("STRLEN", "s:big"), ("MGET", "s:greeting", "s:n"),
                ("DEL", "s:greeting"), ("QUIT",)]:
        c.call(*cmd)
    c.close()
    redis_cli(a.port, ["GET", "s:n"])
    return ("Captured with tcpdump -s 128: every packet is truncated to 128 bytes "
            "(14 Ethernet + 20 IPv4 + 32 TCP header bytes leave at most 62 bytes "
            "of TCP payload per packet), so most of the 100 KiB value (SET s:big / "
            "GET s:big, sha256 %s) and many replies are missing from the capture. "
            "Connection 1: raw socket PING/SET/GET/INCR/HSET/HGETALL/LPUSH/LRANGE/"
            "SET big/GET big/STRLEN/MGET/DEL/QUIT; connection 2: redis-cli GET."
            % hashlib.sha256(value).hexdigest()), {}


def sc_midstream(a):
    """Long-lived connection; the shell starts the capture mid-transfer."""
    rng = random.Random(12)
    log = []     # per command: name, tx/rx byte ranges, bulk reply length
    c = Conn.tcp(a.port)
    port = c.port

    def cmd(*args, chunk=None, pause=0.0, sync=False):
        data = c.encode(args)
        tx0, rx0 = c.tx, c.rx
        if sync:
            half = (len(data) // 2) // 4096 * 4096
            c.send_raw(data[:half], chunk=chunk, pause=pause)
            with open(os.path.join(a.syncdir, "ready"), "w") as f:
                f.write("%d\n" % port)
            wait_file(os.path.join(a.syncdir, "go"))
            c.send_raw(data[half:], chunk=chunk, pause=pause)
        else:
            c.send_raw(data, chunk=chunk, pause=pause)
        r = c.reply()
        log.append({"cmd": args[0], "tx": [tx0, c.tx], "rx": [rx0, c.rx],
                    "bulk_len": len(r) if isinstance(r, bytes) else None})
        return r

    # warm-up, before the capture starts
    cmd("PING")
    cmd("SET", "m:small", "x")
    cmd("INCR", "m:n")
    v0 = blob(rng, 100 * 1024)
    cmd("SET", "m:big:0", v0, chunk=4096, pause=0.001)
    expect(cmd("GET", "m:big:0") == v0, "get big 0")
    cmd("HSET", "m:h", "a", "1")
    # the capture starts while this SET is half sent
    v1 = blob(rng, 100 * 1024)
    cmd("SET", "m:big:1", v1, chunk=4096, pause=0.002, sync=True)
    before = len(log)   # warm-up commands plus the interrupted SET
    # steady stream
    for i in range(2, 7):
        v = blob(rng, 100 * 1024)
        cmd("SET", "m:big:%d" % i, v, chunk=8192, pause=0.001)
        cmd("GET", "m:small")
        expect(cmd("GET", "m:big:%d" % i) == v, "get big")
        cmd("INCR", "m:n")
        time.sleep(0.05)
    cmd("QUIT")
    c.close()
    if a.sidecar:
        with open(a.sidecar, "w") as f:
            json.dump({"client_port": port, "server_port": a.port,
                       "commands": log, "commands_before_capture": before}, f)
    return ("One long-lived raw-socket connection (capture resp-midstream.pcap "
            "starts mid-conversation): PING, SET m:small, INCR, SET m:big:0 "
            "(100 KiB), GET m:big:0, HSET happen before the capture; the 7th "
            "command SET m:big:1 (100 KiB, sent in 4 KiB pieces) was half sent "
            "when tcpdump started, so the first client->server packet of the "
            "capture begins inside that bulk string (the capture also has no "
            "SYN). commands_before_capture=%d: drop the first %d entries "
            "of connections/monitor_args for this port; the first complete "
            "command in the capture is the 8th (SET m:big:2). The +OK reply of "
            "the interrupted SET is in the capture. Afterwards: 5 x (SET 100 KiB, "
            "GET m:small, GET 100 KiB, INCR), QUIT. Values: random.Random(12)."
            % (before, before)), \
        {"commands_before_capture": {str(port): before}}


SCENARIOS = {
    "basic": sc_basic, "inline": sc_inline, "pipeline": sc_pipeline,
    "bigvalue": sc_bigvalue, "multi": sc_multi, "pubsub": sc_pubsub,
    "monitor": sc_monitor, "monitorbig": sc_monitorbig, "resp3": sc_resp3, "tracking": sc_tracking,
    "errors": sc_errors, "protoerror": sc_protoerror, "otherport": sc_otherport, "snaplen": sc_snaplen,
    "midstream": sc_midstream,
}


def cmd_run(a):
    log_offset = os.path.getsize(a.logfile)
    monitor = Monitor(a.unixsock)
    monitor.start()
    control = Conn.unix(a.unixsock)
    before = take_info(control)
    notes, extra = SCENARIOS[a.scenario](a)
    wire_only = extra.pop("wire_only", None)
    entries = monitor.finish(control)
    after = take_info(control)
    control.call("QUIT")
    control.close()
    # The 'before' INFO and the ECHO marker ran on the control connection
    # between the two snapshots; the second INFO is not in its own output.
    control_calls = {"info": 1, "echo": 1}
    ports = accepted_ports(a.logfile, log_offset)
    truth = build_truth(a.capture, a.port, entries, ports, before, after,
                        control_calls, notes, wire_only)
    truth.update(extra)
    expect(any(truth["connections"].values()), "no commands recorded")
    dump_truth(truth, a.truth)
    print("%s: %d connections, %d commands in MONITOR" % (
        a.capture, len(truth["connections"]),
        sum(len(v) for v in truth["connections"].values())))


# ---------------------------------------------------------------------------
# cut-midstream: derive resp-midstream-cut.pcap from a full capture
# ---------------------------------------------------------------------------

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    expect(magic in (0xA1B2C3D4, 0xA1B23C4D), "not a little-endian pcap file")
    linktype = struct.unpack("<I", data[20:24])[0]
    expect(linktype == 1, "expected Ethernet link type")
    off, pkts = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkts.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return pkts


def tcp_fields(frame):
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    if ip[9] != 6:
        return None
    tcp = ip[ihl:total]
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return sport, dport, seq, flags, total - ihl - doff   # even if truncated


def cmd_check(a):
    """Exit 3 if a capture holds TCP retransmissions, overlaps or holes
    (the script then redoes the capture)."""
    nxt, problems, n = {}, [], 0
    for idx, frame in enumerate(read_pcap(a.pcap), 1):
        f = tcp_fields(frame)
        if not f:
            continue
        sp, dp, seq, flags, plen = f
        if a.port not in (sp, dp):
            continue
        n += 1
        flow = (sp, dp)
        if flags & 0x02:                     # SYN
            nxt[flow] = (seq + 1) % (1 << 32)
            continue
        if plen == 0:
            continue
        if flow in nxt and seq != nxt[flow]:
            diff = (seq - nxt[flow]) % (1 << 32)
            problems.append("packet %d %d->%d: %s" % (
                idx, sp, dp, "hole of %d bytes" % diff if diff < (1 << 31)
                else "retransmission/overlap"))
        nxt[flow] = (seq + plen) % (1 << 32)
    expect(n > 0, "no packets for port %d in %s" % (a.port, a.pcap))
    if problems:
        print("%s: %s" % (a.pcap, "; ".join(problems[:5])), file=sys.stderr)
        sys.exit(3)


def cmd_cut(a):
    with open(a.sidecar) as f:
        side = json.load(f)
    cport, sport_srv = side["client_port"], side["server_port"]
    cmds = side["commands"]
    before = side["commands_before_capture"]
    # the 3rd big GET reply after the live capture started
    big = [i for i, c in enumerate(cmds)
           if (c["bulk_len"] or 0) > 50000 and i >= before]
    target = big[2]
    rx0, rx1 = cmds[target]["rx"]
    body_start = rx0 + len(b"$%d\r\n" % cmds[target]["bulk_len"])
    pkts = read_pcap(a.full)
    isn, cut = None, None
    for idx, frame in enumerate(pkts):
        f = tcp_fields(frame)
        if not f:
            continue
        sp, dp, seq, flags, plen = f
        if sp == sport_srv and dp == cport:
            if flags & 0x12 == 0x12:      # SYN+ACK
                isn = seq
                continue
            if isn is None or plen == 0:
                continue
            start = (seq - isn - 1) % (1 << 32)
            if body_start < start < rx1 - 2:
                cut = idx
                break
    expect(cut is not None and cut > 0, "no packet starts inside the GET reply")
    subprocess.run(["editcap", "-F", "pcap", a.full, a.out_pcap, "1-%d" % cut],
                   check=True, timeout=SUBPROCESS_TIMEOUT)
    with open(a.truth_in) as f:
        truth = json.load(f)
    truth["capture"] = os.path.basename(a.out_pcap)
    truth["commands_before_capture"] = {str(cport): target + 1}
    get_args = " ".join(truth["monitor_args"][str(cport)][target])
    truth["notes"] = (
        "Deterministic mid-stream variant: the same session as "
        "resp-midstream.pcap, but captured from its very first packet by a "
        "second tcpdump and then cut with `editcap -F pcap FULL OUT 1-%d` "
        "(packets 1..%d dropped). The first packet of this file is a "
        "server->client segment that starts inside the %d-byte bulk "
        "string of the reply to command #%d (%s), at byte %d of "
        "that reply (byte %d of the value). commands_before_capture=%d: the "
        "first %d commands of the connection (including that GET) are not in "
        "the capture; the first complete command in the capture is #%d (%s). "
        "Server-side truth as for resp-midstream."
        % (cut, cut, cmds[target]["bulk_len"], target + 1, get_args,
           start - rx0, start - body_start, target + 1, target + 1,
           target + 2, cmds[target + 1]["cmd"]))
    dump_truth(truth, a.out_truth)
    print("%s: cut %d packets" % (truth["capture"], cut))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="what", required=True)
    r = sp.add_parser("run")
    r.add_argument("scenario", choices=sorted(SCENARIOS))
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--unixsock", required=True)
    r.add_argument("--logfile", required=True)
    r.add_argument("--truth", required=True)
    r.add_argument("--capture", required=True)
    r.add_argument("--syncdir")
    r.add_argument("--sidecar")
    k = sp.add_parser("check-pcap")
    k.add_argument("pcap")
    k.add_argument("--port", type=int, required=True)
    c = sp.add_parser("cut-midstream")
    c.add_argument("--full", required=True)
    c.add_argument("--sidecar", required=True)
    c.add_argument("--truth-in", required=True)
    c.add_argument("--out-pcap", required=True)
    c.add_argument("--out-truth", required=True)
    a = ap.parse_args()
    if a.what == "run":
        cmd_run(a)
    elif a.what == "check-pcap":
        cmd_check(a)
    else:
        cmd_cut(a)


if __name__ == "__main__":
    main()
