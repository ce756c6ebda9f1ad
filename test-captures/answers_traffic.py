#!/usr/bin/python3
"""Traffic generator and ground-truth collector for resp-answers.pcap: real
redis-server 7.0.15 traffic for the dissector's "answers" (statistics trees,
keys and clients trees, service response time, slow commands, credentials,
export of big values).  Called by make-answers-captures.sh inside its private
network namespace; run it with /usr/bin/python3.

    answers_traffic.py config main|target       (the servers' config files)
    answers_traffic.py run --port P --target-port T --sock S --target-sock S2
                           --cli redis-cli --sidecar OUT.json
    answers_traffic.py check-pcap FILE.pcap --port P
    answers_traffic.py annotate --sidecar S.json --pcap F.pcap --sock S --target-sock S2
                                --capture NAME.pcap --truth OUT.truth.json

"run" (inside the namespace):
  1. control connections and MONITOR on both servers' unix sockets (never
     captured), as the ACL user "ctl"; ACL LOG RESET; INFO commandstats
     errorstats of both servers;
  2. the TCP traffic (what tcpdump sees): raw-socket clients bound to
     127.0.0.2, 127.0.0.3 and 127.0.0.4 (each keeps the exact bytes it sent
     and received, reply by reply), real redis-cli one-shot runs and one
     redis-py connection (from 127.0.0.1), and the connection the main server
     itself opens to the target server for MIGRATE.  MONITOR of the main
     server is stopped around the SETs of the big values and the burst (it
     would make them slow), and started again;
  3. waits (bounded) until the main server has closed its cached MIGRATE
     connection, flushes both MONITOR streams with an ECHO marker, INFO
     again, ACL LOG, COMMAND; all of it into the sidecar file.
"annotate" (the servers still running) reassembles the capture (by IP
address and port), checks that every raw client's connection carries exactly
the bytes it sent and received, asks each server COMMAND GETKEYS for every
distinct request line it got, checks that every request is accounted for by
MONITOR and INFO commandstats/errorstats (executed and shown, executed but
hidden (admin, or MONITOR stopped), rejected, unknown), that the burst has a
segment with more than 5000 replies and that the response times separate the
DEBUG SLEEPs from everything else; then writes the truth.  It exits with
status 3 when the capture itself must be made again (timing or segmentation),
1 on any other disagreement.

Every socket operation, subprocess and wait is bounded by a timeout.
"""

import argparse
import bisect
import collections
import hashlib
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import resp_traffic as rt          # noqa: E402  (Conn.encode, Monitor, parse_info, cmd_check, expect)
import capture_common as cc        # noqa: E402  (connect_unix)

expect = rt.expect
IO_TIMEOUT = 30.0          # any single socket operation
CLI_TIMEOUT = 30.0         # one redis-cli run
LINK_TIMEOUT = 20.0        # the main server closes its cached MIGRATE link after 10 s idle
HOST = "127.0.0.1"
REDO = 3                   # annotate's exit status: make the capture again

# ---------------------------------------------------------------------------
# users, passwords (test data: they are on the wire and in the truth)
# ---------------------------------------------------------------------------

CTL_USER, CTL_PW = "ctl", "ctl-pw-never-captured"
DEFAULT_PW = "default-pw-1"          # requirepass at start
NEW_DEFAULT_PW = "default-pw-2"      # set by CONFIG SET requirepass during the run
ALICE_PW = "alice-pw"
CAROL_PW = "carol-pw"
TARGET_PW = "target-pw"              # requirepass of the MIGRATE target
BOB_PW = "bob-pw"                    # ACL user bob on the target
MASTERAUTH = "masterauth-pw"
WRONG = {"default": "wrong-pw-1", "alice": "wrong-alice-pw", "hello": "wrong-hello-pw",
         "target": "wrong-target-pw", "cli": "wrong-cli-pw"}

CONFIGS = {
    "main": [
        "requirepass " + DEFAULT_PW,
        "user alice on >%s ~* &* +@all" % ALICE_PW,
        "user carol on >%s ~cache:* resetchannels -@all +get +set +ping" % CAROL_PW,
        "user %s on >%s ~* &* +@all" % (CTL_USER, CTL_PW),
        "enable-debug-command yes",
    ],
    "target": [
        "requirepass " + TARGET_PW,
        "user bob on >%s ~* &* +@all" % BOB_PW,
        "user %s on >%s ~* &* +@all" % (CTL_USER, CTL_PW),
    ],
}

BIG_VALUES = [("big:100k", 100 * 1024, 100), ("big:300k", 300 * 1024, 300)]   # key, length, seed
BURST_COUNT = 30000             # PINGs pipelined by the burst client
BURST_CHUNK = 1024              # PINGs per write; the next once the server has read the last
BURST_TRIGGER = 56000           # server's queued replies (bytes) before the client reads
SLOW_SLEEPS = {"0.05": 3, "0.2": 2}
THRESHOLDS_MS = (30, 100)
FAST_LIMIT_US = 25000           # every other request must be answered faster than this
PUBLISHES = [("news", "n1"), ("sports", "s1"), ("news", "n2"), ("sports", "s2"),
             ("sports", "s3"), ("news", "n3"), ("sports", "s4"), ("nobody", "x1")]


# ---------------------------------------------------------------------------
# RESP framing and parsing on raw bytes (RESP2 and RESP3)
# ---------------------------------------------------------------------------

class Incomplete(Exception):
    pass


class Err(bytes):
    pass


class PushList(list):
    pass


def resp_parse(data, p=0):
    """(value, end) of the RESP value at p; Incomplete if the bytes end first."""
    nl = data.find(b"\r\n", p)
    if nl < 0:
        raise Incomplete()
    t, rest = data[p:p + 1], bytes(data[p + 1:nl])
    q = nl + 2
    if t == b"+":
        return rest, q
    if t == b"-":
        return Err(rest), q
    if t in (b":", b"("):
        return int(rest), q
    if t == b",":
        return rest, q
    if t == b"_":
        return None, q
    if t == b"#":
        return rest == b"t", q
    if t in (b"$", b"=", b"!"):
        n = int(rest)
        if n < 0:
            return None, q
        if len(data) < q + n + 2:
            raise Incomplete()
        expect(data[q + n:q + n + 2] == b"\r\n", "bulk not ended by CRLF")
        v = bytes(data[q:q + n])
        return (Err(v) if t == b"!" else v), q + n + 2
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(rest)
        if n < 0:
            return None, q
        items = []
        for _ in range(n * 2 if t in (b"%", b"|") else n):
            v, q = resp_parse(data, q)
            items.append(v)
        if t == b"|":                       # an attribute precedes its value
            return resp_parse(data, q)
        return (PushList(items) if t == b">" else items), q
    raise ValueError("not RESP: %r" % bytes(data[p:p + 20]))


def split_messages(data):
    out, p = [], 0
    while p < len(data):
        _, e = resp_parse(data, p)
        out.append((p, e))
        p = e
    return out


def parse_request(data, p):
    """(args, end) of the multibulk request at p."""
    v, e = resp_parse(data, p)
    expect(data[p:p + 1] == b"*" and isinstance(v, list) and all(isinstance(x, bytes) for x in v),
           "not a multibulk request at %d" % p)
    return v, e


def published(v):
    """The channel of a published-message push (message/pmessage/smessage), else None."""
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        kind = v[0].lower()
        if kind in (b"message", b"smessage") and len(v) == 3:
            return kind.decode(), v[1], None
        if kind == b"pmessage" and len(v) == 4:
            return kind.decode(), v[2], v[1]
    return None


def error_code(raw):
    """First word of an error reply ('-' or '!'), else None."""
    if raw[:1] == b"-":
        return raw[1:].split(b"\r\n", 1)[0].split(b" ", 1)[0].decode("latin-1")
    if raw[:1] == b"!":
        v, _ = resp_parse(raw)
        return bytes(v).split(b" ", 1)[0].decode("latin-1")
    return None


def esc(b, limit=160):
    s = bytes(b).decode("latin-1").encode("unicode_escape").decode()
    return s if len(s) <= limit else s[:limit] + "..."


def arg_json(a):
    """An argument for the truth: text, or {"hex"} when binary, or a summary when long."""
    if len(a) > 1024:
        return "<<len=%d sha256=%s>>" % (len(a), hashlib.sha256(a).hexdigest())
    try:
        s = a.decode("utf-8")
        if s.isprintable():
            return s
    except UnicodeDecodeError:
        pass
    return {"hex": a.hex()}


# ---------------------------------------------------------------------------
# run: clients
# ---------------------------------------------------------------------------

BIG_TRAPS = [b"\r\n", b"\x00\x01\xff", b"\r\n$5\r\nhello\r\n", b"*2\r\n:1\r\n", b"\r\n+OK\r\n",
             b"\n"]
BIG_STEP = 4093


def big_value(seed, n):
    """n deterministic bytes: printable ASCII (no backslash, no double quote) from
    random.Random(seed), and every BIG_STEP bytes one of BIG_TRAPS (CRLF, NUL, 0xff,
    RESP-looking fragments).  Mostly printable on purpose: MONITOR escapes every other byte
    with a slow sprintf inside the command's execution, which for 300 KiB of random bytes
    delays the reply by ~30 ms (the slow-command threshold)."""
    alphabet = bytes(c for c in range(0x20, 0x7f) if c not in b'\\"')
    b = bytearray(random.Random(seed).choices(alphabet, k=n))
    for k, i in enumerate(range(0, n - 32, BIG_STEP)):
        t = BIG_TRAPS[k % len(BIG_TRAPS)]
        b[i:i + len(t)] = t
    return bytes(b)


class Control:
    """Unix-socket connection (never captured), logged in as ctl; counts its commands."""

    def __init__(self, path):
        self.c = cc.connect_unix(path, IO_TIMEOUT)
        expect(self.c.call("AUTH", CTL_USER, CTL_PW) == "OK", "control AUTH on %s" % path)
        self.sent = collections.Counter()

    def call(self, *args):
        self.sent[(args[0] if isinstance(args[0], str) else args[0].decode()).lower()] += 1
        return self.c.call(*args)

    def ok(self, *args):
        r = self.call(*args)
        expect(not isinstance(r, rt.Err), "%s: %s" % (args[:3], r))
        return r


class AuthMonitor(rt.Monitor):
    """rt.Monitor, logged in as ctl first (the servers require a password)."""

    def __init__(self, path):       # noqa: super().__init__ would MONITOR before AUTH
        threading.Thread.__init__(self, daemon=True)
        self.conn = cc.connect_unix(path, IO_TIMEOUT)
        expect(self.conn.call("AUTH", CTL_USER, CTL_PW) == "OK", "monitor AUTH")
        expect(self.conn.call("MONITOR") == "OK", "MONITOR on %s" % path)
        self.conn.sock.settimeout(1.0)
        self.entries = []
        self.lock = threading.Lock()
        self.marker = None
        self.marker_seen = threading.Event()
        self.stop = False
        self.error = None


def enc(args):
    return rt.Conn.encode([a if isinstance(a, bytes) else str(a).encode() for a in args])


class Raw:
    """A raw-socket RESP client bound to a source address; keeps every byte it sent and
    received, in order: events "req" (a request), "rep" (a reply to the last request),
    "push" (a published message), "burst" (many copies of one request, then their replies)."""

    def __init__(self, name, ip, port, role):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(IO_TIMEOUT)
        self.s.bind((ip, 0))
        self.s.connect((HOST, port))
        self.name, self.ip, self.role = name, ip, role
        self.port, self.server_port = self.s.getsockname()[1], port
        self.buf = bytearray()
        self.events = []
        self.nreq = 0
        self.nomon = False          # set while MONITOR of the main server is stopped
        self.closed = False

    def _msg(self):
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            try:
                _, e = resp_parse(self.buf)
                break
            except Incomplete:
                expect(time.monotonic() < deadline, "%s: no complete message" % self.name)
                d = self.s.recv(1 << 20)
                expect(d, "%s: server closed the connection" % self.name)
                self.buf += d
        raw = bytes(self.buf[:e])
        del self.buf[:e]
        return raw

    def send(self, *args):
        raw = enc(args)
        self.s.sendall(raw)
        self.events.append({"t": "req", "i": self.nreq, "raw": raw.hex(), "nomon": self.nomon})
        self.nreq += 1
        return self.nreq - 1

    def req(self, *args, n=1):
        """Send one request, read its n replies (published messages that come meanwhile
        are recorded as pushes); returns the parsed replies (one value when n == 1)."""
        i = self.send(*args)
        out = []
        while len(out) < n:
            raw = self._msg()
            v, _ = resp_parse(raw)
            if published(v):
                self.events.append({"t": "push", "raw": raw.hex()})
                continue
            self.events.append({"t": "rep", "i": i, "raw": raw.hex()})
            out.append(v)
        return out[0] if n == 1 else out

    def pushes(self, n):
        got = []
        for _ in range(n):
            raw = self._msg()
            v, _ = resp_parse(raw)
            expect(published(v), "%s: expected a published message, got %r" % (self.name, raw[:80]))
            self.events.append({"t": "push", "raw": raw.hex()})
            got.append(v)
        return got

    def quit(self):
        expect(self.req("QUIT") == b"OK", "%s: QUIT" % self.name)
        self.s.settimeout(5.0)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            d = b"timeout"
        expect(d == b"" and not self.buf, "%s: bytes after QUIT: %r" % (self.name, d[:60]))
        self.s.close()
        self.closed = True

    def record(self):
        expect(self.closed, "%s not closed" % self.name)
        return {"name": self.name, "role": self.role, "ip": self.ip, "port": self.port,
                "server_port": self.server_port, "events": self.events}


def ok(v, what):
    expect(v == b"OK", "%s: %r" % (what, v))


def err(v, code, what):
    expect(isinstance(v, Err) and bytes(v).split(b" ")[0] == code.encode(),
           "%s: expected -%s, got %r" % (what, code, v))


def server_socket_queues(server_port, client_ip, client_port):
    """(tx_queue, rx_queue) of the server's socket of one connection, from /proc/net/tcp of
    this network namespace: bytes not yet acknowledged by the client (sent or queued), bytes
    received that the server has not read."""
    def hexaddr(ip, port):
        return "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(ip))[0], port)
    loc, rem = hexaddr(HOST, server_port), hexaddr(client_ip, client_port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if p[1] == loc and p[2] == rem:
                tx, rx = p[4].split(":")
                return int(tx, 16), int(rx, 16)
    raise AssertionError("no server socket for %s:%d" % (client_ip, client_port))


def link_open(target_port):
    """True while a TCP connection to target_port exists (any state but LISTEN/TIME_WAIT)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if int(p[2].split(":")[1], 16) == target_port and p[3] not in ("06", "0A"):
                return True
    return False


def burst(c, count, chunk, trigger):
    """Pipeline count PINGs without reading: writes of chunk PINGs, each once the server has
    read the previous one (so no request waits long in the server's receive buffer); once
    replies stay unacknowledged (the client's receive window is full) one write of as many
    as the server still needs to queue trigger bytes of replies.  The queued +PONGs wait in
    the server's send queue; then the client reads, the window opens and the queue leaves in
    segments as large as the window allows.  The rest of the PINGs follow chunk by chunk,
    each chunk's replies read before the next."""
    unit, ru = enc(["PING"]), b"+PONG\r\n"
    first = c.nreq
    c.nreq += count
    c.events.append({"t": "burst", "first": first, "count": count, "unit": unit.hex(),
                     "reply_unit": ru.hex(), "nomon": c.nomon})
    t0 = time.monotonic()
    sent, peak, writes = 0, 0, 0

    def wait_read():
        deadline = time.monotonic() + IO_TIMEOUT
        while True:
            tx, rx = server_socket_queues(c.server_port, c.ip, c.port)
            if rx == 0:
                return tx
            expect(time.monotonic() < deadline, "burst: the server does not read")
            time.sleep(0.0001)

    k = chunk
    while sent < count:
        k = min(k, count - sent)
        c.s.sendall(unit * k)
        sent, writes = sent + k, writes + 1
        tx = wait_read()
        peak = max(peak, tx)
        if tx >= trigger:
            break
        # replies left unacknowledged: the window is (about) full, so what is still needed
        # for the trigger goes in one write (less time between the first held reply and
        # the read); else one more chunk
        k = (trigger - tx) // len(ru) + chunk if tx > 0 else chunk
    held, waited = sent, time.monotonic() - t0

    def read_replies(n):
        while len(c.buf) < n * len(ru):
            d = c.s.recv(1 << 20)
            expect(d, "burst: server closed the connection")
            c.buf += d
        expect(bytes(c.buf[:n * len(ru)]) == ru * n, "burst: replies are not all +PONG")
        del c.buf[:n * len(ru)]
    read_replies(held)
    while sent < count:
        k = min(chunk, count - sent)
        c.s.sendall(unit * k)
        sent, writes = sent + k, writes + 1
        read_replies(k)
    return {"pings_before_reading": held, "server_queue_peak": peak, "trigger": trigger,
            "writes": writes, "chunk": chunk, "seconds_to_trigger": round(waited, 4)}


def cli_run(cli, port, args):
    p = subprocess.run([cli, "-h", HOST, "-p", str(port), "--no-auth-warning"] + args,
                       capture_output=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)
    return {"argv": [cli, "-h", HOST, "-p", str(port), "--no-auth-warning"] + args,
            "rc": p.returncode, "stdout": p.stdout.decode("utf-8", "replace"),
            "stderr": p.stderr.decode("utf-8", "replace")}


def scenario(a, monitor):
    """The traffic, in this order; returns (raw client records, external runs, extras).
    monitor(False) / monitor(True): stop and restart MONITOR of the main server."""
    P, T = a.port, a.target_port
    raws, ext, extra = [], [], {}

    # -- app: NOAUTH, wrong and right AUTH, hot keys, errors, slow commands, big values
    c = Raw("app", "127.0.0.2", P, "hot keys, errors, DEBUG SLEEP 0.05 x2, big values")
    raws.append(c)
    err(c.req("PING"), "NOAUTH", "PING before AUTH")
    err(c.req("GET", "user:1"), "NOAUTH", "GET before AUTH")
    err(c.req("AUTH", WRONG["default"]), "WRONGPASS", "AUTH wrong")
    ok(c.req("AUTH", DEFAULT_PW), "AUTH")
    ok(c.req("SET", "user:1", "alice"), "SET")
    ok(c.req("SET", "user:2", "bob"), "SET")
    expect(c.req("GET", "user:1") == b"alice", "GET")
    expect(c.req("GET", "user:1") == b"alice", "GET")
    expect(c.req("GET", "user:2") == b"bob", "GET")
    for i in range(3):
        expect(c.req("INCR", "counter") == i + 1, "INCR")
    ok(c.req("SET", "session:abc", "token-1", "EX", "3600"), "SET EX")
    expect(c.req("GET", "session:abc") == b"token-1", "GET")
    expect(c.req("EXISTS", "session:abc", "user:1") == 2, "EXISTS")
    ok(c.req("MSET", "user:1", "alice2", "user:3", "carol", "counter2", "5"), "MSET")
    expect(c.req("MGET", "user:1", "user:2", "user:3", "nokey") == [b"alice2", b"bob", b"carol", None],
           "MGET")
    ok(c.req("SET", "list:1", "not-a-list"), "SET")
    err(c.req("LPUSH", "list:1", "x"), "WRONGTYPE", "LPUSH on a string")
    err(c.req("FOOBAR", "a"), "ERR", "unknown command")
    err(c.req("GET"), "ERR", "wrong arity")
    err(c.req("INCR", "user:2"), "ERR", "not an integer")
    ok(c.req("DEBUG", "SLEEP", "0.05"), "DEBUG SLEEP")
    expect(c.req("GET", "counter") == b"3", "GET counter")
    ok(c.req("DEBUG", "SLEEP", "0.05"), "DEBUG SLEEP")
    bigs = []
    for key, n, seed in BIG_VALUES:
        v = big_value(seed, n)
        # MONITOR copies every argument byte by byte while the command runs: 300 KiB take
        # ~22 ms, so it is stopped for the SET of a big value
        monitor(False)
        c.nomon = True
        ok(c.req("SET", key, v), "SET " + key)
        c.nomon = False
        monitor(True)
        got = c.req("GET", key)
        expect(got == v, "GET %s returned other bytes" % key)
        expect(c.req("STRLEN", key) == n, "STRLEN")
        bigs.append({"key": key, "length": n, "seed": seed, "sha256": hashlib.sha256(v).hexdigest(),
                     "printable_bytes": sum(0x20 <= x < 0x7f for x in v),
                     "received_length": len(got), "received_sha256": hashlib.sha256(got).hexdigest()})
    extra["big_values"] = bigs
    c.quit()

    # -- admin: ACL user AUTH right and wrong, MIGRATE with AUTH / AUTH2, CONFIG SET
    c = Raw("admin", "127.0.0.2", P, "ACL AUTH, MIGRATE AUTH/AUTH2, CONFIG SET, DEBUG SLEEP 0.2")
    raws.append(c)
    ok(c.req("AUTH", "alice", ALICE_PW), "AUTH alice")
    err(c.req("AUTH", "alice", WRONG["alice"]), "WRONGPASS", "AUTH alice wrong")
    ok(c.req("SET", "mig:1", "value-1"), "SET")
    expect(c.req("RPUSH", "mig:2", "a", "b", "c") == 3, "RPUSH")
    r = c.req("MIGRATE", HOST, str(T), "mig:1", "0", "5000", "COPY", "REPLACE", "AUTH",
              WRONG["target"])
    expect(isinstance(r, Err) and b"WRONGPASS" in r, "MIGRATE with a wrong AUTH: %r" % r)
    ok(c.req("MIGRATE", HOST, str(T), "mig:1", "0", "5000", "COPY", "REPLACE", "AUTH", TARGET_PW),
       "MIGRATE AUTH")
    ok(c.req("MIGRATE", HOST, str(T), "", "0", "5000", "COPY", "REPLACE", "AUTH2", "bob", BOB_PW,
             "KEYS", "mig:1", "mig:2"), "MIGRATE AUTH2")
    ok(c.req("CONFIG", "SET", "masterauth", MASTERAUTH), "CONFIG SET masterauth")
    ok(c.req("CONFIG", "SET", "requirepass", NEW_DEFAULT_PW), "CONFIG SET requirepass")
    ok(c.req("DEBUG", "SLEEP", "0.2"), "DEBUG SLEEP")
    expect(c.req("GET", "mig:1") == b"value-1", "GET")
    c.quit()

    # -- pub/sub: a RESP3 subscriber (HELLO 3 AUTH), a RESP2 subscriber (+ pattern), a publisher
    s3 = Raw("sub-resp3", "127.0.0.3", P, "HELLO 3 AUTH wrong/right, RESP3 subscriber")
    raws.append(s3)
    err(s3.req("HELLO", "3", "AUTH", "alice", WRONG["hello"]), "WRONGPASS", "HELLO AUTH wrong")
    h = s3.req("HELLO", "3", "AUTH", "alice", ALICE_PW, "SETNAME", "sub-resp3")
    expect(isinstance(h, list) and b"proto" in h, "HELLO 3 AUTH: %r" % (h,))
    s3.req("SUBSCRIBE", "news", "sports", n=2)
    s2 = Raw("sub-resp2", "127.0.0.4", P, "old default password rejected, RESP2 subscriber")
    raws.append(s2)
    err(s2.req("AUTH", DEFAULT_PW), "WRONGPASS", "AUTH with the password before CONFIG SET")
    ok(s2.req("AUTH", NEW_DEFAULT_PW), "AUTH")
    s2.req("SUBSCRIBE", "news")
    s2.req("PSUBSCRIBE", "sp*")
    pub = Raw("publisher", "127.0.0.3", P, "PUBLISH to 2 channels + 1 without subscribers")
    raws.append(pub)
    ok(pub.req("AUTH", "alice", ALICE_PW), "AUTH")
    for ch, msg in PUBLISHES:
        n = pub.req("PUBLISH", ch, msg)
        expect(n == (0 if ch == "nobody" else 2), "PUBLISH %s -> %r" % (ch, n))
        if ch != "nobody":
            s3.pushes(1)
            s2.pushes(1)
    expect(pub.req("PUBSUB", "NUMSUB", "news", "sports", "nobody") ==
           [b"news", 2, b"sports", 1, b"nobody", 0], "NUMSUB")
    expect(s3.req("GET", "user:2") == b"bob", "GET while subscribed (RESP3)")
    s3.req("UNSUBSCRIBE", "news", "sports", n=2)
    s3.quit()
    s2.req("UNSUBSCRIBE")
    s2.req("PUNSUBSCRIBE")
    s2.quit()
    pub.quit()

    # -- carol: restricted ACL user -> NOPERM (key, command, channel)
    c = Raw("carol", "127.0.0.3", P, "restricted ACL user: NOPERM")
    raws.append(c)
    ok(c.req("AUTH", "carol", CAROL_PW), "AUTH carol")
    expect(c.req("GET", "cache:x") is None, "GET")
    ok(c.req("SET", "cache:x", "1"), "SET")
    expect(c.req("GET", "cache:x") == b"1", "GET")
    err(c.req("GET", "user:1"), "NOPERM", "key not allowed")
    err(c.req("DEL", "cache:x"), "NOPERM", "command not allowed")
    err(c.req("PUBLISH", "news", "from carol"), "NOPERM", "PUBLISH not allowed")
    expect(c.req("PING") == b"PONG", "PING")
    c.quit()

    # -- burst: one write of BURST_COUNT PINGs; replies held back, then read at once
    c = Raw("burst", "127.0.0.4", P, "pipelined burst of %d PINGs" % BURST_COUNT)
    raws.append(c)
    ok(c.req("AUTH", NEW_DEFAULT_PW), "AUTH")
    monitor(False)          # MONITOR slows the server (and takes a CPU) too much for the burst
    c.nomon = True
    extra["burst_run"] = burst(c, BURST_COUNT, BURST_CHUNK, BURST_TRIGGER)
    c.nomon = False
    monitor(True)
    expect(c.req("PING") == b"PONG", "PING after the burst")
    c.quit()

    # -- real clients from 127.0.0.1: redis-cli (one process, one connection each), redis-py
    for args in (["--user", "alice", "--pass", ALICE_PW, "GET", "user:1"],
                 ["-a", NEW_DEFAULT_PW, "INCR", "counter"],
                 ["-a", WRONG["cli"], "PING"],
                 ["-a", NEW_DEFAULT_PW, "DEBUG", "SLEEP", "0.05"]):
        r = cli_run(a.cli, P, args)
        expect(r["rc"] == 0, "redis-cli %s: %s" % (args, r["stderr"][-300:]))
        r["via"] = "redis-cli"
        ext.append(r)
    ext[2]["expect"] = "AUTH rejected, PING -> NOAUTH"
    expect("NOAUTH" in ext[2]["stdout"] and "WRONGPASS" in ext[2]["stderr"], "redis-cli wrong -a")
    expect(ext[0]["stdout"].strip() == "alice2" and ext[1]["stdout"].strip() == "4", "redis-cli output")
    import redis                       # python3-redis 4.3.4 (Debian 12)
    r = redis.Redis(host=HOST, port=P, username="alice", password=ALICE_PW,
                    socket_timeout=IO_TIMEOUT, socket_connect_timeout=IO_TIMEOUT)
    pipe = r.pipeline(transaction=False)
    pipe.get("user:1")
    pipe.get("user:2")
    pipe.incr("counter")
    pipe.get("session:abc")
    expect(pipe.execute() == [b"alice2", b"bob", 5, b"token-1"], "redis-py pipeline")
    expect(r.execute_command("DEBUG", "SLEEP", "0.2") in (True, b"OK"), "redis-py DEBUG SLEEP")
    expect(r.get("counter") == b"5", "redis-py GET")
    r.connection_pool.disconnect()
    ext.append({"via": "redis-py", "version": redis.__version__,
                "calls": ["AUTH alice <pw> (on connect)",
                          "pipeline(transaction=False): GET user:1, GET user:2, INCR counter, "
                          "GET session:abc", "DEBUG SLEEP 0.2", "GET counter"]})
    return [c.record() for c in raws], ext, extra


def cmd_run(a):
    ctl = {a.port: Control(a.sock), a.target_port: Control(a.target_sock)}
    mons = {a.port: AuthMonitor(a.sock), a.target_port: AuthMonitor(a.target_sock)}
    for m in mons.values():
        m.start()
    for c in ctl.values():
        c.ok("ACL", "LOG", "RESET")
    before = {p: c.ok("INFO", "commandstats", "errorstats").decode() for p, c in ctl.items()}
    entries = {p: [] for p in ctl}
    own = {p: collections.Counter({"info": 1}) for p in ctl}    # an INFO does not count itself
    paused = []

    def monitor(on):
        """MONITOR of the main server off (its lines so far kept) or on again; the
        control commands this takes (ECHO marker; AUTH, MONITOR) are subtracted later."""
        if not on:
            entries[a.port] += mons[a.port].finish(ctl[a.port])
            own[a.port]["echo"] += 1
            paused.append(len(entries[a.port]))
        else:
            mons[a.port] = AuthMonitor(a.sock)
            mons[a.port].start()
            own[a.port].update({"auth": 1, "monitor": 1})
    t0 = time.time()
    sys.setswitchinterval(0.0005)
    raws, ext, extra = scenario(a, monitor)
    t1 = time.time()
    deadline = time.monotonic() + LINK_TIMEOUT
    while link_open(a.target_port):
        expect(time.monotonic() < deadline, "the MIGRATE link to %d did not close" % a.target_port)
        time.sleep(0.1)
    for p in ctl:
        entries[p] += mons[p].finish(ctl[p])
        own[p]["echo"] += 1
    after = {p: c.ok("INFO", "commandstats", "errorstats").decode() for p, c in ctl.items()}
    acl_log = {p: c.ok("ACL", "LOG", "128") for p, c in ctl.items()}
    commands = {}
    for p, c in ctl.items():
        known, containers = set(), set()
        for e in c.ok("COMMAND"):
            name = e[0].decode().lower()
            known.add(name)
            subs = e[9] if len(e) > 9 else []
            if subs:
                containers.add(name)
            for s in subs:
                known.add(s[0].decode().lower())
        commands[p] = {"known": sorted(known), "containers": sorted(containers)}
    side = {"server_port": a.port, "target_port": a.target_port,
            "server_version": ctl[a.port].ok("INFO", "server").decode(),
            "raw": raws, "external": ext, "extra": extra,
            "traffic_seconds": round(t1 - t0, 3),
            "info_before": {str(p): v for p, v in before.items()},
            "info_after": {str(p): v for p, v in after.items()},
            # between the snapshots: the control connections' first INFO, the ECHO markers,
            # the AUTH and MONITOR of the restarted monitor
            "own_between": {str(p): dict(own[p]) for p in ctl},
            "monitor_paused_after": paused,
            "monitor": {str(p): [[addr, [x.hex() for x in args]] for addr, args in e]
                        for p, e in entries.items()},
            "acl_log": {str(p): acl_json(v) for p, v in acl_log.items()},
            "commands": {str(p): v for p, v in commands.items()}}
    with open(a.sidecar, "w") as f:
        json.dump(side, f)
    # COMMAND GETKEYS: annotate asks the servers (still running) for every distinct line
    # of the capture, which alone has the lines of redis-cli, redis-py and the MIGRATE link
    print("traffic %.1f s, %d raw clients, %d other runs" % (t1 - t0, len(raws), len(ext)))


def acl_json(entries):
    out = []
    for e in entries:
        d = {e[i].decode(): e[i + 1] for i in range(0, len(e), 2)}
        out.append({"count": d["count"], "reason": d["reason"].decode(),
                    "context": d["context"].decode(), "object": d["object"].decode(),
                    "username": d["username"].decode(),
                    "addr": [kv.split("=", 1)[1] for kv in d["client-info"].decode().split()
                             if kv.startswith("addr=")][0]})
    return out


# ---------------------------------------------------------------------------
# annotate: the capture, reassembled by address and port
# ---------------------------------------------------------------------------

class Redo(Exception):
    """The capture must be made again (segmentation or timing, not a disagreement)."""


class Flow:
    def __init__(self):
        self.data = bytearray()
        self.starts = []
        self.segs = []              # (frame, offset, length)

    def add(self, frame, payload):
        self.starts.append(len(self.data))
        self.segs.append((frame, len(self.data), len(payload)))
        self.data += payload

    def frame_at(self, off):
        i = bisect.bisect_right(self.starts, off) - 1
        fr, st, ln = self.segs[i]
        expect(i >= 0 and st <= off < st + ln, "offset %d outside the stream" % off)
        return fr


class TcpConn:
    def __init__(self, cip, cport, sip, sport, syn_frame):
        self.cip, self.cport, self.sip, self.sport = cip, cport, sip, sport
        self.syn_frame = syn_frame
        self.flows = {"c2s": Flow(), "s2c": Flow()}
        self.isn = {}
        self.fin = {}


def read_pcap_ts(path):
    with open(path, "rb") as f:
        data = f.read()
    expect(struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4, "not a little-endian microsecond pcap")
    expect(struct.unpack("<I", data[20:24])[0] == 1, "link type is not Ethernet")
    off, out = 24, []
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append((sec * 1000000 + usec, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def reassemble(pkts):
    """TCP connections in SYN order, keyed by addresses and ports (client sockets bound to
    different 127/8 addresses may share a port number)."""
    index, order = {}, []
    for n, (_, fr) in enumerate(pkts, 1):
        if len(fr) < 34 or fr[12:14] != b"\x08\x00" or fr[23] != 6:
            continue
        ip = fr[14:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        expect(len(ip) >= total, "frame %d truncated" % n)
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        doff, flags = (tcp[12] >> 4) * 4, tcp[13]
        payload = bytes(tcp[doff:])
        if flags & 0x02 and not flags & 0x10:
            c = TcpConn(src, sport, dst, dport, n)
            c.isn["c2s"] = seq
            index[(src, sport, dst, dport)] = (c, "c2s")
            index[(dst, dport, src, sport)] = (c, "s2c")
            order.append(c)
            continue
        hit = index.get((src, sport, dst, dport))
        expect(hit is not None, "frame %d: a connection without its SYN" % n)
        c, d = hit
        if flags & 0x02:
            c.isn["s2c"] = seq
            continue
        if flags & 0x01:
            c.fin.setdefault(d, n)
        if not payload:
            continue
        off = (seq - c.isn[d] - 1) % (1 << 32)
        if off != len(c.flows[d].data):
            raise Redo("frame %d: %s data not contiguous (retransmission or hole)" % (n, d))
        c.flows[d].add(n, payload)
    return order


ADMIN_HIDDEN = {"CONFIG", "DEBUG"}    # executed, counted, never shown by MONITOR (7.0.15)
REJECT_ERR_PREFIXES = (b"ERR wrong number of arguments", b"ERR unknown subcommand")
NOKEY_ERRORS = ("The command has no key arguments",)


def statname(args, cmds):
    name = args[0].decode("latin-1").lower()
    if name in cmds["containers"] and len(args) > 1:
        sub = name + "|" + args[1].decode("latin-1").lower()
        if sub in cmds["known"]:
            return sub
    return name


def monitor_matches(mon, args):
    return len(mon) == len(args) and all(m == w or m == b"(redacted)" for m, w in zip(mon, args))


def collapse(seq):
    """A list with runs of >= 3 equal items written as [item, count]."""
    out, i = [], 0
    while i < len(seq):
        j = i
        while j < len(seq) and seq[j] == seq[i]:
            j += 1
        out += [[seq[i], j - i]] if j - i >= 3 else seq[i:j]
        i = j
    return out


def build_connections(side, tcp):
    """Every capture connection with its requests (args, offsets) and replies/pushes
    (offsets); raw clients checked byte for byte against what they sent and received."""
    port, tport = side["server_port"], side["target_port"]
    by_key = {(c.cip, c.cport, c.sport): c for c in tcp}
    expect(len(by_key) == len(tcp), "two connections with the same addresses and ports")
    used, conns = set(), []
    for r in side["raw"]:
        key = (r["ip"], r["port"], r["server_port"])
        expect(key in by_key, "raw client %s (%s:%d) not in the capture" % (
            r["name"], r["ip"], r["port"]))
        c = by_key[key]
        used.add(id(c))
        reqs, pushes, c2s, s2c = [], [], bytearray(), bytearray()
        for e in r["events"]:
            if e["t"] == "req":
                raw = bytes.fromhex(e["raw"])
                args, end = parse_request(raw, 0)
                expect(end == len(raw) and e["i"] == len(reqs), "%s: request record" % r["name"])
                reqs.append({"args": args, "c2s": (len(c2s), len(c2s) + len(raw)), "replies": [],
                             "burst": False, "nomon": e["nomon"]})
                c2s += raw
            elif e["t"] == "rep":
                raw = bytes.fromhex(e["raw"])
                reqs[e["i"]]["replies"].append((len(s2c), len(s2c) + len(raw)))
                s2c += raw
            elif e["t"] == "push":
                raw = bytes.fromhex(e["raw"])
                pushes.append((len(s2c), len(s2c) + len(raw)))
                s2c += raw
            else:                                       # burst
                unit, ru = bytes.fromhex(e["unit"]), bytes.fromhex(e["reply_unit"])
                args, _ = parse_request(unit, 0)
                expect(e["first"] == len(reqs), "burst record")
                for j in range(e["count"]):
                    reqs.append({"args": args, "burst": True, "nomon": e["nomon"],
                                 "c2s": (len(c2s) + j * len(unit), len(c2s) + (j + 1) * len(unit)),
                                 "replies": [(len(s2c) + j * len(ru),
                                              len(s2c) + (j + 1) * len(ru))]})
                c2s += unit * e["count"]
                s2c += ru * e["count"]
        expect(bytes(c.flows["c2s"].data) == bytes(c2s),
               "raw client %s: the capture's client->server bytes are not what it sent" % r["name"])
        expect(bytes(c.flows["s2c"].data) == bytes(s2c),
               "raw client %s: the capture's server->client bytes are not what it received" % r["name"])
        conns.append({"name": r["name"], "via": "raw socket", "role": r["role"], "tcp": c,
                      "reqs": reqs, "pushes": pushes})
    # the others: redis-cli and redis-py from 127.0.0.1 (in the order run), the MIGRATE link
    rest = [c for c in tcp if id(c) not in used]
    ext = [c for c in rest if c.sport == port]
    link = [c for c in rest if c.sport == tport]
    expect(len(ext) == len(side["external"]), "%d other connections to %d, %d runs of redis-cli/"
           "redis-py" % (len(ext), port, len(side["external"])))
    expect(len(link) == 1 and len(rest) == len(ext) + 1, "one MIGRATE link expected, got %d" % len(link))
    expect(all(c.cip == HOST for c in rest), "other connections come from %s" % HOST)
    for i, c in enumerate(ext + link):
        if i < len(ext):
            x = side["external"][i]
            name = "%s-%d" % (x["via"], i + 1)
            via, role = x["via"], " ".join(x.get("argv", [])[5:]) if x["via"] == "redis-cli" else \
                "; ".join(x["calls"])
            role = role.replace(ALICE_PW, "<pw>").replace(NEW_DEFAULT_PW, "<pw>").replace(
                WRONG["cli"], "<wrong pw>")
        else:
            name, via, role = "migrate-link", "redis-server %d (MIGRATE)" % port, \
                "the main server's own connection to the MIGRATE target"
        data, rep = bytes(c.flows["c2s"].data), bytes(c.flows["s2c"].data)
        reqs, p = [], 0
        while p < len(data):
            args, e = parse_request(data, p)
            reqs.append({"args": args, "c2s": (p, e), "replies": [], "burst": False,
                         "nomon": False})
            p = e
        msgs = split_messages(rep)
        expect(len(msgs) == len(reqs), "%s: %d requests, %d replies" % (name, len(reqs), len(msgs)))
        for r, m in zip(reqs, msgs):
            r["replies"].append(m)
        conns.append({"name": name, "via": via, "role": role, "tcp": c, "reqs": reqs, "pushes": []})
    return conns


def cmd_annotate(a):
    try:
        annotate(a)
    except Redo as e:
        print("answers_traffic.py annotate: capture again: %s" % e, file=sys.stderr)
        sys.exit(REDO)


def annotate(a):
    with open(a.sidecar) as f:
        side = json.load(f)
    port, tport = side["server_port"], side["target_port"]
    ports = (port, tport)
    pkts = read_pcap_ts(a.pcap)
    ts = [t for t, _ in pkts]
    tcp = reassemble(pkts)
    conns = build_connections(side, tcp)
    cmds = {p: {k: set(v) for k, v in side["commands"][str(p)].items()} for p in ports}
    ctl = {port: Control(a.sock), tport: Control(a.target_sock)}
    getkeys_cache = {}

    def getkeys(p, args):
        k = (p, tuple(args))
        if k not in getkeys_cache:
            r = ctl[p].call("COMMAND", "GETKEYS", *args)
            if isinstance(r, rt.Err):
                msg = str(r)
                msg = msg[4:] if msg.startswith("ERR ") else msg
                getkeys_cache[k] = ([] if msg in NOKEY_ERRORS else None, msg)
            else:
                getkeys_cache[k] = ([bytes(x) for x in r], None)
        return getkeys_cache[k]

    # -- per request: frames, times, replies, MONITOR, status
    mon = {p: collections.defaultdict(list) for p in ports}
    for p in ports:
        for addr, args in side["monitor"][str(p)]:
            m = rt.TCP_ADDR_RE.match(addr)
            if m:
                mon[p][(m.group(1), int(m.group(2)))].append([bytes.fromhex(x) for x in args])
    all_reqs = []
    for ci, c in enumerate(conns):
        t = c["tcp"]
        c2s, s2c = t.flows["c2s"], t.flows["s2c"]
        lines = mon[t.sport].pop((t.cip, t.cport), [])
        c["monitor"] = lines
        j = 0
        for i, r in enumerate(c["reqs"]):
            r.update(conn=ci, index=i)
            s, e = r["c2s"]
            r["frames"] = [c2s.frame_at(s), c2s.frame_at(e - 1)]
            r["reply_frames"] = [[s2c.frame_at(x), s2c.frame_at(y - 1)] for x, y in r["replies"]]
            r["reply_raw"] = [bytes(s2c.data[x:y]) for x, y in r["replies"]]
            expect(r["replies"], "%s request %d: no reply" % (c["name"], i))
            expect(r["reply_frames"][0][0] >= r["frames"][1],
                   "%s request %d: reply before the request" % (c["name"], i))
            r["rt_us"] = ts[r["reply_frames"][0][1] - 1] - ts[r["frames"][1] - 1]
            r["command"] = r["args"][0].decode("latin-1").upper()
            r["statname"] = statname(r["args"], cmds[t.sport])
            r["subcommand"] = (r["args"][1].decode("latin-1").upper()
                               if r["command"].lower() in cmds[t.sport]["containers"]
                               and len(r["args"]) > 1 else None)
            r["code"] = error_code(r["reply_raw"][0])
            first = r["reply_raw"][0]
            if r["code"] in ("NOAUTH", "NOPERM") or first[1:].startswith(REJECT_ERR_PREFIXES):
                r["status"] = "rejected"
                why = "rejected before execution (%s)" % first[1:].split(b"\r\n")[0].decode(
                    "latin-1")
            elif first.startswith(b"-ERR unknown command"):
                r["status"], why = "unknown", "unknown command, never executed"
            else:
                r["status"], why = "executed", "admin command, MONITOR never shows it"
            r["in_monitor"], r["monitor_args"] = False, None
            if r["nomon"]:
                r["why_not_in_monitor"] = "MONITOR was stopped meanwhile"
            elif (r["status"] == "executed" and j < len(lines)
                  and monitor_matches(lines[j], r["args"])):
                # a rejected request is never shown (a line like it left over would fail below)
                r["in_monitor"], r["monitor_args"] = True, lines[j]
                j += 1
            else:
                expect(r["status"] != "executed" or r["command"] in ADMIN_HIDDEN,
                       "%s request %d %r: not in MONITOR, reply %r" % (c["name"], i, r["args"][:3],
                                                                       first[:80]))
                r["why_not_in_monitor"] = why
            all_reqs.append(r)
        expect(j == len(lines), "%s: %d MONITOR lines left over" % (c["name"], len(lines) - j))
    for p in ports:
        expect(not mon[p], "MONITOR lines of connections not in the capture: %s" % list(mon[p])[:3])

    # -- the servers' counts: every request accounted for
    stats, errstats, own = {}, {}, {}
    for p in ports:
        b_calls, b_rej, b_fail, b_err = rt.parse_info(side["info_before"][str(p)])
        a_calls, a_rej, a_fail, a_err = rt.parse_info(side["info_after"][str(p)])
        own[p] = side["own_between"][str(p)]
        d = {}
        for k in sorted(set(a_calls) | set(b_calls)):
            v = {"calls": a_calls.get(k, 0) - b_calls.get(k, 0) - own[p].get(k, 0),
                 "rejected_calls": a_rej.get(k, 0) - b_rej.get(k, 0),
                 "failed_calls": a_fail.get(k, 0) - b_fail.get(k, 0)}
            if any(v.values()):
                d[k] = v
        stats[p] = d
        errstats[p] = {k: a_err.get(k, 0) - b_err.get(k, 0) for k in sorted(set(a_err) | set(b_err))
                       if a_err.get(k, 0) != b_err.get(k, 0)}
        want = collections.defaultdict(lambda: {"calls": 0, "rejected_calls": 0, "failed_calls": 0})
        wire_err = collections.Counter()
        for r in all_reqs:
            if conns[r["conn"]]["tcp"].sport != p:
                continue
            for raw in r["reply_raw"]:
                if error_code(raw):
                    wire_err[error_code(raw)] += 1
            if r["status"] == "executed":
                want[r["statname"]]["calls"] += 1
                want[r["statname"]]["failed_calls"] += bool(r["code"])
            elif r["status"] == "rejected":
                want[r["statname"]]["rejected_calls"] += 1
            else:
                expect(r["statname"] not in d, "unknown command %s in commandstats" % r["statname"])
        for k in sorted(set(want) | set(d)):
            expect(want.get(k) == d.get(k), "port %d commandstats %s: server %s, capture %s" % (
                p, k, d.get(k), dict(want.get(k, {}))))
        expect(dict(wire_err) == errstats[p], "port %d errorstats %s, error replies on the "
               "wire %s" % (p, errstats[p], dict(wire_err)))

    # -- keys (COMMAND GETKEYS of the very line, on the server it went to)
    for r in all_reqs:
        p = conns[r["conn"]]["tcp"].sport
        r["keys"], r["getkeys_error"] = getkeys(p, r["args"])
        if r["keys"]:
            expect(len(set(r["keys"])) == len(r["keys"]), "a key twice in %r" % r["args"][:4])
    for c in ctl.values():
        c.c.close()

    return finish(a, side, conns, all_reqs, ts, stats, errstats, own)


def reply_json(raw, frames):
    return {"type": raw[:1].decode("latin-1"), "bytes": len(raw), "text": esc(raw, 120),
            "error_code": error_code(raw), "frames": frames}


def finish(a, side, conns, all_reqs, ts, stats, errstats, own):
    port, tport = side["server_port"], side["target_port"]
    ports = (port, tport)

    def sp(r):
        return conns[r["conn"]]["tcp"].sport

    def ref(r):
        t = conns[r["conn"]]["tcp"]
        return {"conn": conns[r["conn"]]["name"], "client_ip": t.cip, "client_port": t.cport,
                "server_port": t.sport, "index": r["index"], "frame": r["frames"][1],
                "reply_frame": r["reply_frames"][0][1],
                "line": " ".join(x.decode("latin-1") if len(x) <= 64 else "<<%d bytes>>" % len(x)
                                 for x in r["args"]), "rt_us": r["rt_us"]}

    # -- slow commands: DEBUG SLEEP; everything else must be fast (else: capture again)
    sleeps = [r for r in all_reqs if r["command"] == "DEBUG" and len(r["args"]) == 3
              and r["args"][1].upper() == b"SLEEP"]
    expect(all(r["status"] == "executed" and r["reply_raw"][0] == b"+OK\r\n" for r in sleeps),
           "a DEBUG SLEEP failed")
    by_len = collections.Counter(r["args"][2].decode() for r in sleeps)
    expect(dict(by_len) == SLOW_SLEEPS, "DEBUG SLEEPs sent: %s" % dict(by_len))
    for r in sleeps:
        us = int(float(r["args"][2]) * 1e6)
        expect(r["rt_us"] >= us, "DEBUG SLEEP %s answered after %d us" % (r["args"][2], r["rt_us"]))
        if us < THRESHOLDS_MS[1] * 1000 <= r["rt_us"]:
            raise Redo("DEBUG SLEEP %s took %d us" % (r["args"][2].decode(), r["rt_us"]))
    sleep_ids = {id(r) for r in sleeps}
    others = [r for r in all_reqs if id(r) not in sleep_ids]
    worst = max(others, key=lambda r: r["rt_us"])
    if worst["rt_us"] >= FAST_LIMIT_US:
        raise Redo("%s request %d answered after %d us" % (conns[worst["conn"]]["name"],
                                                            worst["index"], worst["rt_us"]))
    slow = {"debug_sleep_requests": dict(sorted(by_len.items())),
            "max_rt_us_of_other_requests": worst["rt_us"],
            "max_rt_request_of_others": ref(worst)}
    for th in THRESHOLDS_MS:
        slow["at_least_%dms" % th] = [ref(r) for r in all_reqs if r["rt_us"] >= th * 1000]

    # -- the burst: replies per frame
    bconn = [c for c in conns if c["name"] == "burst"][0]
    breqs = [r for r in bconn["reqs"] if r["burst"]]
    s2c = bconn["tcp"].flows["s2c"]
    complete = collections.Counter(f0 for r in breqs for f0, f1 in r["reply_frames"][:1] if f0 == f1)
    ending = collections.Counter(r["reply_frames"][0][1] for r in breqs)
    seg_len = {fr: ln for fr, _, ln in s2c.segs}
    big = [[f, n, seg_len[f]] for f, n in sorted(complete.items()) if n > 5000]
    if not big:
        raise Redo("no frame holds more than 5000 burst replies (max %d)" % max(complete.values()))
    bf, bn, bl = max(big, key=lambda x: x[1])
    runs = []
    for r in breqs:
        k = [r["frames"][0], r["frames"][1], r["reply_frames"][0][0], r["reply_frames"][0][1],
             r["rt_us"]]
        if runs and runs[-1][1:] == k:
            runs[-1][0] += 1
        else:
            runs.append([1] + k)
    bt = bconn["tcp"]
    burst = {"conn": "burst", "client_ip": bt.cip, "client_port": bt.cport, "server_port": bt.sport,
             "command": ["PING"], "count": len(breqs), "first_index": breqs[0]["index"],
             "request_bytes_each": breqs[0]["c2s"][1] - breqs[0]["c2s"][0],
             "reply": "+PONG", "reply_bytes_each": 7,
             "replies_received": len(breqs), "monitor_lines": sum(r["in_monitor"] for r in breqs),
             "request_frames": [breqs[0]["frames"][0], breqs[-1]["frames"][1]],
             "reply_frames": [breqs[0]["reply_frames"][0][0], breqs[-1]["reply_frames"][0][1]],
             "max_replies_in_one_frame": {"frame": bf, "replies": bn, "tcp_len": bl},
             "frames_over_5000_replies": big,
             "replies_complete_per_frame": [[f, n] for f, n in sorted(complete.items())],
             "replies_ending_per_frame": [[f, n] for f, n in sorted(ending.items())],
             "rt_runs": runs,
             "rt_us_max": max(r["rt_us"] for r in breqs), "rt_us_min": min(r["rt_us"] for r in breqs),
             "client_side": side["extra"]["burst_run"]}

    # -- tables per server port
    def per_port():
        return {str(p): collections.Counter() for p in ports}
    per_cmd, per_sub, per_stat = per_port(), per_port(), per_port()
    rtype, nulls, ptype, errcode = per_port(), per_port(), per_port(), per_port()
    bytes_cmd = {str(p): {} for p in ports}
    srt = {str(p): {} for p in ports}
    hist = per_port()
    keys = {str(p): {} for p in ports}
    prefixes = {str(p): {} for p in ports}
    nokey_colon = set()
    for r in all_reqs:
        p = str(sp(r))
        per_cmd[p][r["command"]] += 1
        if r["subcommand"]:
            per_sub[p][r["command"] + " " + r["subcommand"]] += 1
        per_stat[p][r["statname"]] += 1
        b = bytes_cmd[p].setdefault(r["command"], {"requests": 0, "request_bytes": 0, "replies": 0,
                                                   "reply_bytes": 0})
        b["requests"] += 1
        b["request_bytes"] += r["c2s"][1] - r["c2s"][0]
        for raw in r["reply_raw"]:
            rtype[p][raw[:1].decode()] += 1
            if raw in (b"$-1\r\n", b"*-1\r\n", b"_\r\n"):
                nulls[p][raw[:1].decode()] += 1
            if error_code(raw):
                errcode[p][error_code(raw)] += 1
            b["replies"] += 1
            b["reply_bytes"] += len(raw)
        s = srt[p].setdefault(r["command"], {"count": 0, "min_us": None, "max_us": 0, "total_us": 0})
        s["count"] += 1
        s["min_us"] = r["rt_us"] if s["min_us"] is None else min(s["min_us"], r["rt_us"])
        s["max_us"] = max(s["max_us"], r["rt_us"])
        s["total_us"] += r["rt_us"]
        hist[p][r["rt_us"] // 1000] += 1
        pre_seen = set()
        for k in r["keys"] or []:
            ks = k.decode("latin-1")
            e = keys[p].setdefault(ks, {"requests": 0, "executed": 0})
            e["requests"] += 1
            e["executed"] += r["status"] == "executed"
            if b":" not in k:
                nokey_colon.add(ks)
                continue
            pre = ks.split(":", 1)[0]
            e = prefixes[p].setdefault(pre, {"requests": 0, "key_refs": 0, "executed_requests": 0,
                                             "executed_key_refs": 0})
            e["key_refs"] += 1
            e["executed_key_refs"] += r["status"] == "executed"
            if pre not in pre_seen:
                pre_seen.add(pre)
                e["requests"] += 1
                e["executed_requests"] += r["status"] == "executed"
    pushes = []
    for c in conns:
        t = c["tcp"]
        for x, y in c["pushes"]:
            raw = bytes(t.flows["s2c"].data[x:y])
            v, _ = resp_parse(raw)
            kind, ch, pat = published(v)
            ptype[str(t.sport)][raw[:1].decode()] += 1
            pushes.append({"conn": c["name"], "client_ip": t.cip, "client_port": t.cport,
                           "server_port": t.sport, "kind": kind, "channel": ch.decode(),
                           "pattern": pat.decode() if pat else None, "payload": v[-1].decode(),
                           "type": raw[:1].decode(), "bytes": len(raw),
                           "frames": [t.flows["s2c"].frame_at(x), t.flows["s2c"].frame_at(y - 1)]})

    # -- pub/sub per channel
    chans = {}
    for r in all_reqs:
        if r["command"] == "PUBLISH":
            ch = chans.setdefault(r["args"][1].decode(), {
                "publish_requests": 0, "publish_executed": 0, "receivers_reported": 0,
                "messages_delivered": 0, "delivered_by_kind": {}, "delivered_to": {}})
            ch["publish_requests"] += 1
            if r["status"] == "executed":
                ch["publish_executed"] += 1
                v, _ = resp_parse(r["reply_raw"][0])
                ch["receivers_reported"] += v
    for x in pushes:
        ch = chans[x["channel"]]
        ch["messages_delivered"] += 1
        ch["delivered_by_kind"][x["kind"]] = ch["delivered_by_kind"].get(x["kind"], 0) + 1
        ch["delivered_to"][x["conn"]] = ch["delivered_to"].get(x["conn"], 0) + 1
    for name, ch in chans.items():
        expect(ch["receivers_reported"] == ch["messages_delivered"],
               "channel %s: PUBLISH replies say %d receivers, %d messages delivered" % (
                   name, ch["receivers_reported"], ch["messages_delivered"]))

    # -- credentials
    auths = []
    for r in all_reqs:
        w = [x.decode("latin-1") for x in r["args"]]
        up = [x.upper() for x in w]
        found = []
        if up[0] == "AUTH" and len(w) in (2, 3):
            found.append(("AUTH", w[1] if len(w) == 3 else None, w[-1]))
        elif up[0] == "HELLO" and "AUTH" in up[2:]:
            i = up.index("AUTH", 2)
            found.append(("HELLO AUTH", w[i + 1], w[i + 2]))
        elif up[:2] == ["CONFIG", "SET"]:
            for i in range(2, len(w) - 1, 2):
                if up[i] in ("REQUIREPASS", "MASTERAUTH"):
                    found.append(("CONFIG SET " + w[i].lower(), None, w[i + 1]))
        elif up[0] == "MIGRATE":
            if "AUTH" in up[6:]:
                i = up.index("AUTH", 6)
                found.append(("MIGRATE AUTH", None, w[i + 1]))
            if "AUTH2" in up[6:]:
                i = up.index("AUTH2", 6)
                found.append(("MIGRATE AUTH2", w[i + 1], w[i + 2]))
        for kind, user, pw in found:
            e = ref(r)
            del e["line"], e["rt_us"]
            e.update(kind=kind, user=user, password=pw,
                     reply=esc(r["reply_raw"][0].rstrip(b"\r\n"), 200), error_code=r["code"],
                     accepted=r["code"] is None)
            auths.append(e)

    # -- big values
    bigs = []
    app = [c for c in conns if c["name"] == "app"][0]
    for bv in side["extra"]["big_values"]:
        key = bv["key"].encode()
        setr = [r for r in app["reqs"] if r["args"][:2] == [b"SET", key]]
        getr = [r for r in app["reqs"] if r["args"][:2] == [b"GET", key]]
        expect(len(setr) == 1 and len(getr) == 1, "big value requests of %s" % bv["key"])
        setr, getr = setr[0], getr[0]
        sent = setr["args"][2]
        got_raw = getr["reply_raw"][0]
        got, _ = resp_parse(got_raw)
        expect(hashlib.sha256(sent).hexdigest() == bv["sha256"] == hashlib.sha256(got).hexdigest()
               == bv["received_sha256"], "big value %s: sha256 differs" % bv["key"])
        bigs.append({"key": bv["key"], "length": bv["length"], "sha256": bv["sha256"],
                     "generator": "answers_traffic.big_value(%d, %d)" % (bv["seed"], bv["length"]),
                     "printable_bytes": bv["printable_bytes"],
                     "set": {"index": setr["index"], "frames": setr["frames"],
                             "request_bytes": setr["c2s"][1] - setr["c2s"][0]},
                     "get": {"index": getr["index"], "frames": getr["frames"],
                             "reply_frames": getr["reply_frames"][0], "reply_bytes": len(got_raw),
                             "received_length": bv["received_length"],
                             "received_sha256": bv["received_sha256"]}})

    # -- connections and clients
    conn_rows, clients = [], {}
    for c in conns:
        t = c["tcp"]
        nrep = sum(len(r["replies"]) for r in c["reqs"])
        nerr = sum(1 for r in c["reqs"] for raw in r["reply_raw"] if error_code(raw))
        row = {"name": c["name"], "via": c["via"], "role": c["role"], "client_ip": t.cip,
               "client_port": t.cport, "server_port": t.sport, "syn_frame": t.syn_frame,
               "fin_frames": t.fin, "requests": len(c["reqs"]), "replies": nrep,
               "error_replies": nerr, "pushes": len(c["pushes"]),
               "bytes_c2s": len(t.flows["c2s"].data), "bytes_s2c": len(t.flows["s2c"].data),
               "segments_c2s": len(t.flows["c2s"].segs), "segments_s2c": len(t.flows["s2c"].segs),
               "monitor_lines": len(c["monitor"])}
        conn_rows.append(row)
        for scope in ("all", str(t.sport)):
            cl = clients.setdefault(t.cip, {}).setdefault(scope, {
                "connections": 0, "requests": 0, "replies": 0, "error_replies": 0, "pushes": 0,
                "bytes_c2s": 0, "bytes_s2c": 0})
            for k in ("requests", "replies", "error_replies", "pushes", "bytes_c2s", "bytes_s2c"):
                cl[k] += row[k]
            cl["connections"] += 1

    # -- MONITOR per connection, what it did not show
    monitor_cmds = {str(p): {} for p in ports}
    hidden = {str(p): {} for p in ports}
    for c in conns:
        t = c["tcp"]
        monitor_cmds[str(t.sport)]["%s:%d" % (t.cip, t.cport)] = collapse(
            [m[0].decode("latin-1").upper() for m in c["monitor"]])
    for r in all_reqs:
        if not r["in_monitor"]:
            h = hidden[str(sp(r))].setdefault(r["command"], {"requests": 0, "why": []})
            h["requests"] += 1
            if r["why_not_in_monitor"] not in h["why"]:
                h["why"].append(r["why_not_in_monitor"])

    # -- requests (the burst as runs in "burst")
    req_rows = []
    for r in all_reqs:
        if r["burst"]:
            continue
        t = conns[r["conn"]]["tcp"]
        row = {"conn": conns[r["conn"]]["name"], "client_ip": t.cip, "client_port": t.cport,
               "server_port": t.sport, "index": r["index"], "args": [arg_json(x) for x in r["args"]],
               "command": r["command"], "subcommand": r["subcommand"], "statname": r["statname"],
               "request_bytes": r["c2s"][1] - r["c2s"][0], "frames": r["frames"],
               "replies": [reply_json(raw, f) for raw, f in zip(r["reply_raw"], r["reply_frames"])],
               "rt_us": r["rt_us"], "status": r["status"], "in_monitor": r["in_monitor"]}
        if r["in_monitor"] and r["monitor_args"] != r["args"]:
            row["monitor_args"] = [arg_json(x) for x in r["monitor_args"]]
        if not r["in_monitor"]:
            row["why_not_in_monitor"] = r["why_not_in_monitor"]
        row["keys"] = [k.decode("latin-1") for k in r["keys"]] if r["keys"] is not None else None
        if r["getkeys_error"] and r["keys"] != []:
            row["getkeys_error"] = r["getkeys_error"]
        req_rows.append(row)

    def counters(d):
        return {p: dict(sorted(v.items())) for p, v in d.items()}

    version = [ln.split(":", 1)[1].strip() for ln in side["server_version"].splitlines()
               if ln.startswith("redis_version:")][0]
    truth = {
        "capture": a.capture,
        "server": "redis-server %s" % version,
        "server_port": port,
        "target_port": tport,
        "credentials_configured": {
            "main": {"default": {"requirepass_at_start": DEFAULT_PW,
                                 "requirepass_after_config_set": NEW_DEFAULT_PW},
                     "alice": {"password": ALICE_PW, "acl": "on ~* &* +@all"},
                     "carol": {"password": CAROL_PW,
                               "acl": "on ~cache:* resetchannels -@all +get +set +ping"},
                     "masterauth_after_config_set": MASTERAUTH},
            "target": {"default": {"requirepass": TARGET_PW},
                       "bob": {"password": BOB_PW, "acl": "on ~* &* +@all"}},
            "wrong_passwords_used": WRONG},
        "notes": NOTES,
        "monitor_stopped_for": "the SETs of the big values and the burst (see notes)",
        "connections": conn_rows,
        "clients": clients,
        "requests_total": {str(p): sum(per_cmd[str(p)].values()) for p in ports},
        "requests_per_command": counters(per_cmd),
        "requests_per_subcommand": counters(per_sub),
        "requests_per_statname": counters(per_stat),
        "replies_per_type": counters(rtype),
        "null_replies_per_type": counters(nulls),
        "pushes_per_type": counters(ptype),
        "error_replies_per_code": counters(errcode),
        "errorstats_delta": {str(p): errstats[p] for p in ports},
        "commandstats_delta": {str(p): stats[p] for p in ports},
        "commandstats_own_subtracted": {str(p): own[p] for p in ports},
        "bytes_per_command": {p: dict(sorted(v.items())) for p, v in bytes_cmd.items()},
        "srt_per_command": {p: dict(sorted(v.items())) for p, v in srt.items()},
        "rt_histogram_ms": {p: {str(k): n for k, n in sorted(v.items())} for p, v in hist.items()},
        "slow": slow,
        "keys": {p: dict(sorted(v.items())) for p, v in keys.items()},
        "key_prefixes": {p: dict(sorted(v.items())) for p, v in prefixes.items()},
        "keys_without_colon": sorted(nokey_colon),
        "pubsub": dict(sorted(chans.items())),
        "auth_attempts": auths,
        "acl_log": side["acl_log"],
        "big_values": bigs,
        "burst": burst,
        "monitor_commands": monitor_cmds,
        "not_in_monitor": hidden,
        "requests": req_rows,
        "pushes": pushes,
    }
    dump(truth, a.truth)
    print("%s: %d connections, %d requests (%d in the burst), %d auth attempts, burst frame %d "
          "holds %d replies" % (a.capture, len(conn_rows), len(all_reqs), len(breqs), len(auths),
                                bf, bn))


ONE_PER_LINE = ("notes", "connections", "requests", "pushes", "auth_attempts", "big_values")


def dump(truth, path):
    """JSON, one list element (connection, request, ...) per line in the long lists."""
    rows = []
    for k, v in truth.items():
        if k in ONE_PER_LINE:
            body = "[\n" + ",\n".join("  " + json.dumps(x) for x in v) + "\n ]" if v else "[]"
        elif isinstance(v, dict) and v:
            body = "{\n" + ",\n".join("  %s: %s" % (json.dumps(kk), json.dumps(vv))
                                      for kk, vv in v.items()) + "\n }"
        else:
            body = json.dumps(v)
        rows.append(" %s: %s" % (json.dumps(k), body))
    text = "{\n" + ",\n".join(rows) + "\n}\n"
    expect(json.loads(text) == json.loads(json.dumps(truth)), "truth JSON round trip")
    with open(path, "w") as f:
        f.write(text)


NOTES = [
    "Made by test-captures/make-answers-captures.sh with answers_traffic.py (README.md, section "
    "'Answers capture'): redis-server 7.0.15 on 127.0.0.1:6379 (requirepass, ACL users alice and "
    "carol, enable-debug-command yes) and a second one on 6380 (the MIGRATE target: requirepass, "
    "ACL user bob), in a private network namespace whose loopback routes have 'quickack 1'; "
    "tcpdump on its lo. Control connections and MONITOR on the servers' unix sockets (ACL user "
    "ctl), never captured. The capture has no TCP retransmission, overlap or hole.",
    "Frames are 1-based packet numbers. A request's 'frames' are [frame of its first byte, frame "
    "of its last byte]; a reply's likewise. rt_us = time of the frame with the last byte of the "
    "first reply minus time of the frame with the request's last byte (pcap microseconds).",
    "Raw clients (via 'raw socket') are bound to 127.0.0.2, .3, .4: their requests and replies "
    "are what they sent and received, checked byte for byte against the capture. redis-cli, "
    "redis-py and the MIGRATE link come from 127.0.0.1; their requests and replies are read from "
    "the capture (one reply per request) and checked against MONITOR and INFO commandstats.",
    "status: 'executed' (shown by MONITOR, or an admin command MONITOR hides: CONFIG, DEBUG), "
    "'rejected' (NOAUTH, NOPERM, wrong number of arguments: counted as rejected_calls, not shown), "
    "'unknown' (unknown command: only in errorstats). commandstats_delta (after minus before, the "
    "control connection's own INFO and ECHO subtracted) equals, per name, the executed requests "
    "(calls), the executed ones with an error reply (failed_calls) and the rejected ones; "
    "errorstats_delta equals the error replies per code on the wire (error_replies_per_code).",
    "requests_per_command etc. count requests on the wire per server port (the burst included); "
    "replies_per_type counts replies to requests by their first byte (RESP3 subscribe/unsubscribe "
    "confirmations are '>' pushes but answer the request); pushes_per_type and 'pushes' are the "
    "published messages (message/pmessage) only. bytes_per_command: TCP payload bytes of the "
    "requests and of their replies. rt_histogram_ms: requests per whole millisecond of rt_us.",
    "keys: COMMAND GETKEYS of every request line on the server it went to; 'requests' = requests "
    "naming the key, 'executed' = those with status executed. key_prefixes: the key up to (not "
    "including) its first ':'; 'requests' counts a request once per prefix, 'key_refs' once per "
    "key. Keys without ':' (keys_without_colon) have no prefix. No request names a key twice.",
    "auth_attempts: every AUTH, HELLO ... AUTH, CONFIG SET requirepass/masterauth and MIGRATE ... "
    "AUTH/AUTH2 on the wire (also the MIGRATE link's own AUTH to 6380), identified by client "
    "address and port and the request's index on its connection (0-based); accepted = the reply "
    "is not an error. MONITOR shows AUTH/HELLO/MIGRATE passwords as (redacted) (monitor_args).",
    "burst: one write of 30000 PINGs; the client reads nothing until the server has >= 60000 "
    "bytes of replies queued (its window is full then), so the queued +PONGs leave in segments as "
    "large as the window allows (half the client's largest window: ~55 KB, ~7900 replies). "
    "rt_runs: [count, request first frame, request last frame, reply first frame, reply last "
    "frame, rt_us] for consecutive burst requests alike.",
    "MONITOR of the main server was stopped (and started again) around the SET of each big "
    "value (MONITOR copies every argument byte while the command runs: ~22 ms for 300 KiB, "
    "which would make the SET 'slow') and around the burst (it halves the server's speed); "
    "those requests are not in MONITOR (why_not_in_monitor), commandstats counts them, the "
    "restarts' AUTH/MONITOR/ECHO are in commandstats_own_subtracted.",
    "slow: DEBUG SLEEP 0.05 (x3) and 0.2 (x2); every other request was answered in under 25 ms "
    "(else the capture is made again), so at_least_30ms / at_least_100ms are exact.",
]


def cmd_config(a):
    print("\n".join(CONFIGS[a.which]))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("config")
    c.add_argument("which", choices=sorted(CONFIGS))
    r = sub.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--target-port", type=int, required=True)
    r.add_argument("--sock", required=True)
    r.add_argument("--target-sock", required=True)
    r.add_argument("--cli", default="redis-cli")
    r.add_argument("--sidecar", required=True)
    k = sub.add_parser("check-pcap")
    k.add_argument("pcap")
    k.add_argument("--port", type=int, required=True)
    n = sub.add_parser("annotate")
    n.add_argument("--sidecar", required=True)
    n.add_argument("--pcap", required=True)
    n.add_argument("--sock", required=True)
    n.add_argument("--target-sock", required=True)
    n.add_argument("--capture", required=True)
    n.add_argument("--truth", required=True)
    a = ap.parse_args()
    {"config": cmd_config, "run": cmd_run, "check-pcap": rt.cmd_check,
     "annotate": cmd_annotate}[a.what](a)


if __name__ == "__main__":
    main()
