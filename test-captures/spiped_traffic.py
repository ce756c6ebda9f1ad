#!/usr/bin/python3
"""Traffic generator, ground-truth recorder and pcap analyser for the spiped
test captures.  Driven by make-spiped-captures.sh; stdlib + python3-redis only
(the optional `verify` step loads the project's own C core through ctypes).

Sub-commands:
  run       generate one scenario's traffic through the local spiped -e port
            and record server-side ground truth (MONITOR + INFO over a unix
            socket that is not captured); writes the truth JSON.
  annotate  add a "wire" section (handshake/record layout, MAC checks with
            hashlib/hmac) and a "plaintext" section (lengths/hashes of the
            plaintext leg, from an uncommitted shadow capture) to a truth file.
  locate    print "<packet number> <frame offset>" of byte X of record N of
            one direction (used to build spiped-flipped.pcap).
  verify    decrypt every record of a capture with the C core (ctypes) and
            compare the plaintext streams with the truth file.
"""

import argparse
import ctypes
import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import threading
import time
from collections import Counter, OrderedDict

NONCE_LEN = 32
DH_LEN = 256
DHMSG_LEN = 288
HANDSHAKE_LEN = NONCE_LEN + DHMSG_LEN  # 320 per direction
RECORD_LEN = 1060
CT_LEN = 1028

# RFC 3526 group 14 (2048-bit MODP) prime.
MODP2048_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)
Y_ONE = b"\x00" * (DH_LEN - 1) + b"\x01"


# ---------------------------------------------------------------------------
# pcap / IP / TCP parsing (stdlib only)

class Packet:
    __slots__ = ("number", "ts", "file_off", "frame", "orig_len",
                 "src", "dst", "sport", "dport", "seq", "flags",
                 "pl_off", "pl_cap", "pl_len")


def read_pcap(path):
    """Yield Packet objects (TCP only) from a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        en, nsec = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        en, nsec = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        en, nsec = "<", True
    elif magic == b"\xa1\xb2\x3c\x4d":
        en, nsec = ">", True
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    linktype = struct.unpack(en + "I", data[20:24])[0] & 0x0FFFFFFF
    off, number = 24, 0
    while off + 16 <= len(data):
        ts_s, ts_f, incl, orig = struct.unpack(en + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        number += 1
        pkt = _parse_frame(frame, linktype)
        if pkt is not None:
            pkt.number = number
            pkt.ts = ts_s + ts_f / (1e9 if nsec else 1e6)
            pkt.file_off = off + 16
            pkt.frame = frame
            pkt.orig_len = orig
            yield pkt
        off += 16 + incl


def _parse_frame(frame, linktype):
    if linktype == 1:            # Ethernet (Linux "lo" uses this)
        if len(frame) < 14:
            return None
        et, l3 = struct.unpack(">H", frame[12:14])[0], 14
        while et in (0x8100, 0x88A8) and len(frame) >= l3 + 4:
            et, l3 = struct.unpack(">H", frame[l3 + 2:l3 + 4])[0], l3 + 4
    elif linktype == 113:        # Linux cooked v1
        if len(frame) < 16:
            return None
        et, l3 = struct.unpack(">H", frame[14:16])[0], 16
    elif linktype == 276:        # Linux cooked v2
        if len(frame) < 20:
            return None
        et, l3 = struct.unpack(">H", frame[0:2])[0], 20
    elif linktype in (101, 12, 14):  # raw IP
        if not frame:
            return None
        et, l3 = {4: 0x0800, 6: 0x86DD}.get(frame[0] >> 4, 0), 0
    elif linktype in (0, 108):   # BSD loopback
        if len(frame) < 4:
            return None
        fam = struct.unpack("<I", frame[0:4])[0]
        if fam > 0xFFFF:
            fam = struct.unpack(">I", frame[0:4])[0]
        et, l3 = (0x0800 if fam == 2 else 0x86DD if fam in (10, 24, 28, 30) else 0), 4
    else:
        return None

    if et == 0x0800:
        if len(frame) < l3 + 20:
            return None
        ihl = (frame[l3] & 0x0F) * 4
        total = struct.unpack(">H", frame[l3 + 2:l3 + 4])[0]
        if frame[l3 + 9] != 6:
            return None
        frag = struct.unpack(">H", frame[l3 + 6:l3 + 8])[0]
        if frag & 0x1FFF:
            return None
        src = socket.inet_ntop(socket.AF_INET, frame[l3 + 12:l3 + 16])
        dst = socket.inet_ntop(socket.AF_INET, frame[l3 + 16:l3 + 20])
        l4, ip_end = l3 + ihl, l3 + total
    elif et == 0x86DD:
        if len(frame) < l3 + 40:
            return None
        plen = struct.unpack(">H", frame[l3 + 4:l3 + 6])[0]
        nh = frame[l3 + 6]
        src = socket.inet_ntop(socket.AF_INET6, frame[l3 + 8:l3 + 24])
        dst = socket.inet_ntop(socket.AF_INET6, frame[l3 + 24:l3 + 40])
        l4, ip_end = l3 + 40, l3 + 40 + plen
        while nh in (0, 43, 60) and len(frame) >= l4 + 2:  # simple ext headers
            nh, l4 = frame[l4], l4 + (frame[l4 + 1] + 1) * 8
        if nh != 6:
            return None
    else:
        return None
    if len(frame) < l4 + 20:
        return None
    sport, dport, seq, _ack, offflags = struct.unpack(">HHIIH", frame[l4:l4 + 14])
    thl = (offflags >> 12) * 4
    p = Packet()
    p.src, p.dst, p.sport, p.dport, p.seq = src, dst, sport, dport, seq
    p.flags = offflags & 0x1FF
    p.pl_off = l4 + thl
    p.pl_len = max(0, ip_end - p.pl_off)
    p.pl_cap = max(0, min(len(frame), ip_end) - p.pl_off)
    return p


SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10


class Direction:
    """One direction of a TCP connection, reassembled by sequence number."""

    def __init__(self, name):
        self.name = name
        self.isn = None
        self.first_seq = None
        self.segs = []          # Packet objects carrying payload
        self.fin = False
        self.base = None

    def finish(self, base=None):
        if base is not None:
            self.base = base
        elif self.isn is not None:
            self.base = (self.isn + 1) & 0xFFFFFFFF
        elif self.segs:
            ref = self.segs[0].seq
            self.base = min(self.segs, key=lambda s: _rel(s.seq, ref)).seq
        else:
            self.base = 0
        self.length = 0
        for s in self.segs:
            self.length = max(self.length, self.off(s) + s.pl_len)
        buf = bytearray(self.length)
        have = bytearray(self.length)
        for s in self.segs:
            o = self.off(s)
            if o < 0:
                continue
            chunk = s.frame[s.pl_off:s.pl_off + s.pl_cap]
            buf[o:o + len(chunk)] = chunk
            have[o:o + len(chunk)] = b"\x01" * len(chunk)
        self.data = bytes(buf)
        self.have = bytes(have)

    def off(self, seg):
        return _rel(seg.seq, self.base)

    def complete(self, a, b):
        return b <= self.length and all(self.have[a:b])

    def seg_at(self, stream_off):
        """Packet carrying stream byte stream_off (first one, by number)."""
        for s in self.segs:
            o = self.off(s)
            if o <= stream_off < o + s.pl_cap:
                return s, s.pl_off + (stream_off - o)
        return None, None


def _rel(seq, base):
    d = (seq - base) & 0xFFFFFFFF
    return d - (1 << 32) if d >= (1 << 31) else d


class Connection:
    def __init__(self, client, server):
        self.client, self.server = client, server
        self.c2s, self.s2c = Direction("c2s"), Direction("s2c")
        self.syn_seen = False


def connections(path, tunnel_port):
    """TCP connections touching tunnel_port, in order of first appearance."""
    conns = OrderedDict()
    for p in read_pcap(path):
        a, b = (p.src, p.sport), (p.dst, p.dport)
        if tunnel_port not in (p.sport, p.dport):
            continue
        key = frozenset((a, b))
        c = conns.get(key)
        if c is None:
            if p.flags & SYN and not p.flags & ACK:
                c = Connection(a, b)
            elif p.flags & SYN:
                c = Connection(b, a)
            elif p.dport == tunnel_port:
                c = Connection(a, b)
            elif p.sport == tunnel_port:
                c = Connection(b, a)
            else:
                continue
            conns[key] = c
        d = c.c2s if a == c.client else c.s2c
        if p.flags & SYN:
            d.isn = p.seq
            c.syn_seen = True
        if p.flags & FIN:
            d.fin = True
        if p.pl_len:
            d.segs.append(p)
    return list(conns.values())


# ---------------------------------------------------------------------------
# spiped crypto bits needed for checks (hashlib / hmac only)

def key_from_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


def pbkdf2_1(K, salt, n):
    return hashlib.pbkdf2_hmac("sha256", K, salt, 1, n)


def record_mac_ok(H, n, rec):
    mac = hmac.new(H, rec[:CT_LEN] + struct.pack(">Q", n), hashlib.sha256).digest()
    return hmac.compare_digest(mac, rec[CT_LEN:RECORD_LEN])


# ---------------------------------------------------------------------------
# ground truth from the server (MONITOR + INFO over a unix socket)

def _unrepr(s, i):
    """Parse one sdscatrepr-quoted argument starting at s[i] == '"'."""
    assert s[i:i + 1] == b'"'
    out, i = bytearray(), i + 1
    esc = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("a"): 7, ord("b"): 8,
           ord('"'): 34, ord("\\"): 92}
    while i < len(s):
        ch = s[i]
        if ch == 34:
            return bytes(out), i + 1
        if ch == 92 and i + 1 < len(s):
            nx = s[i + 1]
            if nx == ord("x") and i + 3 < len(s):
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out.append(esc.get(nx, nx))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ValueError("unterminated MONITOR argument")


def parse_monitor_line(line):
    """b'+1700000000.1 [0 127.0.0.1:5000] "SET" "k"' -> (client, [args])"""
    lb, rb = line.index(b"["), line.index(b"]")
    client = line[lb + 1:rb].split(b" ", 1)[1].decode()
    args, i = [], rb + 1
    while i < len(line):
        if line[i:i + 1] == b'"':
            a, i = _unrepr(line, i)
            args.append(a)
        else:
            i += 1
    return client, args


class Monitor(threading.Thread):
    def __init__(self, sockpath, marker):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(sockpath)
        self.sock.sendall(b"MONITOR\r\n")
        self.f = self.sock.makefile("rb")
        if self.f.readline() != b"+OK\r\n":
            raise RuntimeError("MONITOR failed")
        self.marker = marker
        self.entries = []       # (client, [args]) for non-unix clients
        self.control = []       # args of commands from unix-socket clients
        self.done = threading.Event()
        self.error = None

    def run(self):
        try:
            while True:
                line = self.f.readline()
                if not line:
                    raise RuntimeError("MONITOR connection closed")
                client, args = parse_monitor_line(line.rstrip(b"\r\n"))
                if client.startswith("unix:"):
                    self.control.append(args)
                    if len(args) == 2 and args[1] == self.marker:
                        break
                else:
                    self.entries.append((client, args))
        except Exception as e:  # noqa: BLE001 - reported by the caller
            self.error = e
        finally:
            self.done.set()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def cmd_key(args):
    """Name used to compare MONITOR entries with commandstats keys."""
    return args[0].decode("latin-1").lower() if args else ""


def stats_snapshot(r):
    cs = {k[len("cmdstat_"):]: v for k, v in r.info("commandstats").items()}
    es = {k[len("errorstat_"):]: v for k, v in r.info("errorstats").items()}
    return cs, es


def _stat_field(v, field):
    """redis-py gives either a dict or a raw 'a=1,b=2' string."""
    if isinstance(v, dict):
        return int(v.get(field, 0))
    for kv in str(v).split(","):
        k, _, x = kv.partition("=")
        if k == field:
            return int(x)
    return 0


def stats_delta(before, after, field):
    out = {}
    for k, v in after.items():
        d = _stat_field(v, field) - _stat_field(before.get(k, {}), field)
        if d:
            out[k] = d
    return out


def short(b, n=64):
    s = b.decode("latin-1")
    if len(s) > n:
        return s[:n] + "...(%d bytes)" % len(b)
    return s


# ---------------------------------------------------------------------------
# scenarios

LONG_VALUE = "".join("%04d-spiped-" % i for i in range(250))  # 3000 bytes

FAST_COMMANDS = [
    'SET spiped:greeting "hello spiped"',
    "GET spiped:greeting",
    "PING",
    'ECHO "spiped tunnel test"',
    "SET counter 10",
    "INCR counter",
    "INCRBY counter 5",
    "DECR counter",
    "GET counter",
    'APPEND spiped:greeting " and redis"',
    "STRLEN spiped:greeting",
    "MSET k1 v1 k2 v2 k3 v3",
    "MGET k1 k2 k3 nosuchkey",
    "EXISTS k1 nosuchkey",
    "DEL k3",
    "GET nosuchkey",
    "INCR spiped:greeting",                 # -ERR value is not an integer
    "RPUSH list a b c d e",
    "LRANGE list 0 -1",
    "LPOP list",
    "LLEN list",
    "LPUSH spiped:greeting x",              # -WRONGTYPE
    "HSET hash field1 one field2 two field3 3",
    "HGET hash field1",
    "HGETALL hash",
    "HINCRBY hash field3 4",
    "SADD set red green blue",
    "SISMEMBER set green",
    "SCARD set",
    "ZADD zset 1 one 2 two 3 three",
    "ZRANGE zset 0 -1 WITHSCORES",
    "ZSCORE zset two",
    "EXPIRE k1 300",
    "TTL k1",
    "TYPE hash",
    "SETNX k2 ignored",
    "GETRANGE spiped:greeting 0 4",
    "NOSUCHCOMMAND arg1",                   # -ERR unknown command (not in MONITOR)
    r'SET binary "\x00\x01\xff\r\n"',
    "GET binary",
    "SET spiped:long " + LONG_VALUE,        # > 1024 bytes: spans records
    "GET spiped:long",
    "DBSIZE",
    "DEL counter",
    "PING",
]

FS_COMMANDS = [
    'SET fs:key "forward secrecy"',
    "GET fs:key",
    "INCR fs:counter",
    "PING",
    "DEL fs:key",
]

SNAPLEN_COMMANDS = [
    'SET snap:key "truncated by snaplen"',
    "GET snap:key",
    "RPUSH snap:list one two three",
    "LRANGE snap:list 0 -1",
    "INCR snap:key",                        # -ERR
    "SET snap:long " + LONG_VALUE,
    "GET snap:long",
    "PING",
]


def redis_cli(port, lines, timeout):
    """Run the given lines through ONE redis-cli connection (stdin mode)."""
    inp = ("\n".join(lines) + "\n").encode()
    res = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port)],
                         input=inp, capture_output=True, timeout=timeout)
    return res.stdout.decode("latin-1", "replace")


def names_from_cli(lines):
    return [l.split()[0].upper() for l in lines]


def bigvalue_bytes(n):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"spiped-bigvalue-%d" % i).digest()
        i += 1
    return bytes(out[:n])


def wait_file(path, timeout):
    end = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > end:
            raise TimeoutError("timed out waiting for %s" % path)
        time.sleep(0.05)


def scenario_traffic(a, extra):
    """Generate the scenario's traffic; return (sent command names, notes)."""
    import redis
    port, sc = a.port, a.scenario
    if sc in ("fast", "fs", "snaplen"):
        lines = {"fast": FAST_COMMANDS, "fs": FS_COMMANDS,
                 "snaplen": SNAPLEN_COMMANDS}[sc]
        out = redis_cli(port, lines, a.timeout)
        extra["client_tool"] = ("redis-cli %s (stdin mode, one connection, one command at a time)"
                                % subprocess.run(["redis-cli", "--version"], capture_output=True)
                                .stdout.decode().split()[-1])
        extra["client_tool_note"] = ("redis-cli 7 first sends COMMAND DOCS on its own (for its "
                                     "command hints); its large reply is most of the "
                                     "server->client data. It is not in client_commands.")
        extra["client_commands"] = lines if sc != "fast" else [short(l.encode(), 80) for l in lines]
        extra["redis_cli_output_sha256"] = hashlib.sha256(out.encode("latin-1", "replace")).hexdigest()
        return names_from_cli(lines)
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=a.timeout)
    sent = []
    if sc == "pipeline":
        p = r.pipeline(transaction=False)
        n = 600
        for i in range(n):
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
        p.incr("pipe:0")                               # -ERR not an integer
        # names as redis-py really sends them (incr() is INCRBY key 1)
        sent = [str(args[0]).upper() for args, _opts in p.command_stack]
        res = p.execute(raise_on_error=False)
        errors = [i for i, x in enumerate(res) if isinstance(x, Exception)]
        extra["client_tool"] = "redis-py %s pipeline(transaction=False), one execute()" % redis.__version__
        extra["pipeline_commands"] = len(sent)
        extra["pipeline_error_indexes"] = errors
        r.close()
        return sent
    if sc == "bigvalue":
        v = bigvalue_bytes(a.big_size)
        assert r.set("big:value", v)
        got = r.get("big:value")
        assert got == v, "GET returned a different value"
        strlen = r.strlen("big:value")
        r.delete("big:value")
        extra["client_tool"] = "redis-py %s" % redis.__version__
        extra["bigvalue"] = {"key": "big:value", "length": len(v),
                             "sha256": hashlib.sha256(v).hexdigest(),
                             "generator": "concatenation of sha256(b'spiped-bigvalue-%d' % i) "
                                          "for i = 0, 1, ... truncated to length",
                             "strlen_reply": strlen}
        r.close()
        return ["SET", "GET", "STRLEN", "DEL"]
    if sc == "midstream":
        for i in range(10):
            r.set("mid:%d" % i, "before-capture-%d" % i); sent.append("SET")
        extra["commands_before_capture"] = len(sent)
        with open(a.pause_file, "w") as f:
            f.write("paused\n")
        wait_file(a.resume_file, a.timeout)
        for i in range(10):
            r.get("mid:%d" % i); sent.append("GET")
        r.incr("mid:counter"); sent.append("INCRBY")  # redis-py: INCRBY k 1
        r.set("mid:after", "after-capture-start"); sent.append("SET")
        r.close()
        extra["client_tool"] = "redis-py %s, one connection kept open across the pause" % redis.__version__
        return sent
    raise SystemExit("unknown redis scenario %s" % sc)


def cmd_run(a):
    truth = OrderedDict()
    truth["capture"] = a.capture
    truth["tunnel_port"] = a.tunnel_port
    truth["fast_handshake"] = a.fast
    extra = OrderedDict()

    if a.scenario == "other":
        body_path = os.path.join(a.http_root, "hello.txt")
        res = subprocess.run(["curl", "-sS", "--max-time", str(a.timeout), "-o", "-",
                              "-w", "\n%{http_code}", "http://127.0.0.1:%d/hello.txt" % a.port],
                             capture_output=True, timeout=a.timeout + 5)
        if res.returncode != 0:
            raise SystemExit("curl failed: %s" % res.stderr.decode())
        body, code = res.stdout.rsplit(b"\n", 1)
        with open(body_path, "rb") as f:
            expect = f.read()
        assert body == expect, "HTTP body mismatch"
        truth["connections"] = {}
        truth["commandstats_delta"] = {}
        truth["not_in_monitor"] = []
        truth["notes"] = ("Not Redis: the tunnel carries one HTTP/1.1 exchange (curl -> spiped -e "
                          "-> spiped -d -> python3 -m http.server). Decrypted client data is the "
                          "HTTP request, server data an HTTP/1.0 200 response with the file below.")
        truth["http"] = OrderedDict([
            ("client", " ".join(subprocess.run(["curl", "--version"], capture_output=True)
                                .stdout.decode().split()[:2])),
            ("request_line", "GET /hello.txt HTTP/1.1"),
            ("host_header", "127.0.0.1:%d" % a.port),
            ("server", "python3 -m http.server (SimpleHTTP, HTTP/1.0 responses)"),
            ("status", int(code)),
            ("body_length", len(body)),
            ("body_sha256", hashlib.sha256(body).hexdigest()),
            ("body_first_line", body.split(b"\n", 1)[0].decode()),
        ])
        write_json(a.out, truth)
        return

    import redis
    ctl = redis.Redis(unix_socket_path=a.sock, socket_timeout=a.timeout)
    marker = b"spiped-truth-end-%d-%d" % (os.getpid(), int(time.time() * 1e6))
    mon = Monitor(a.sock, marker)
    mon.start()
    time.sleep(0.1)
    before = stats_snapshot(ctl)                       # INFO x2 (control)
    sent = scenario_traffic(a, extra)
    time.sleep(0.2)
    ctl.echo(marker)                                   # ECHO (control)
    if not mon.done.wait(a.timeout):
        raise SystemExit("MONITOR never saw the end marker")
    if mon.error:
        raise SystemExit("MONITOR error: %s" % mon.error)
    after = stats_snapshot(ctl)
    mon.close()

    # commands issued on the control (unix) connection between the snapshots
    own = Counter({"info": 2, "echo": 1})
    cs = stats_delta(before[0], after[0], "calls")
    for k, v in own.items():
        if k in cs:
            cs[k] -= v
            if cs[k] == 0:
                del cs[k]
    es = stats_delta(before[1], after[1], "count")
    failed = stats_delta(before[0], after[0], "failed_calls")
    rejected = stats_delta(before[0], after[0], "rejected_calls")

    conns = OrderedDict()
    detail = OrderedDict()
    for client, args in mon.entries:
        port = client.rsplit(":", 1)[1]
        conns.setdefault(port, []).append(args[0].decode("latin-1").upper())
        detail.setdefault(port, []).append([short(x) for x in args])

    mon_names = Counter(n for v in conns.values() for n in v)
    missing = Counter(sent) - mon_names
    not_in_monitor = sorted(missing.elements())

    truth["connections"] = conns
    truth["commandstats_delta"] = dict(sorted(cs.items()))
    truth["not_in_monitor"] = not_in_monitor
    notes = ["Ground truth from the server: MONITOR and INFO commandstats/errorstats read over a "
             "unix socket (not captured). Keys of 'connections' are the client ports redis saw, "
             "i.e. spiped -d's outgoing connections to redis-server, NOT the captured tunnel "
             "connection; this capture has exactly one tunnel connection, so every entry maps to "
             "it (see wire.connections[0]). commandstats_delta excludes the recorder's own INFO "
             "and ECHO commands. not_in_monitor lists commands the client sent that MONITOR did "
             "not show (unknown commands are rejected before MONITOR sees them)."]
    if a.scenario == "midstream":
        notes.append("tcpdump was started only after the first %d commands (handshake and their "
                      "records are not in the capture); 'connections' lists all commands of the "
                      "connection, the first commands_before_capture of them predate the capture."
                      % extra["commands_before_capture"])
    if not a.fast:
        notes.append("Forward-secret handshake (no -f on either side): the key file alone "
                     "cannot decrypt the records; only the handshake MACs can be checked.")
    truth["notes"] = " ".join(notes)
    truth["errorstats_delta"] = dict(sorted(es.items()))
    truth["failed_calls_delta"] = dict(sorted(failed.items()))
    truth["rejected_calls_delta"] = dict(sorted(rejected.items()))
    truth["sent_commands"] = len(sent)
    truth["commands_detail"] = detail
    truth["commands_detail_note"] = "MONITOR arguments, each cut to 64 characters (latin-1)."
    for k, v in extra.items():
        truth[k] = v
    write_json(a.out, truth)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# annotate: wire layout and MAC checks from the capture

def analyse_connection(c, K, base_c2s=None, base_s2c=None, full=None):
    c.c2s.finish(base_c2s)
    c.s2c.finish(base_s2c)
    info = OrderedDict()
    info["client"] = "%s:%d" % c.client
    info["server"] = "%s:%d" % c.server
    info["client_port"] = c.client[1]
    info["syn_in_capture"] = c.syn_seen
    dirs = OrderedDict()
    events = []
    hs = {}
    for d in (c.c2s, c.s2c):
        di = OrderedDict()
        first = min((d.off(s) for s in d.segs), default=0)
        di["stream_bytes"] = d.length
        di["first_captured_stream_offset"] = first
        di["payload_packets"] = len(d.segs)
        di["fin"] = d.fin
        di["first_segment_sizes"] = [s.pl_len for s in d.segs[:4]]
        di["bytes_captured_complete"] = d.complete(first, d.length)
        if d.length >= HANDSHAKE_LEN and first == 0:
            di["handshake_layout_ok"] = (d.length - HANDSHAKE_LEN) % RECORD_LEN == 0
            di["records"] = (d.length - HANDSHAKE_LEN) // RECORD_LEN
            di["trailing_bytes"] = (d.length - HANDSHAKE_LEN) % RECORD_LEN
            for what, o in (("nonce", 0), ("dh", NONCE_LEN), ("record0", HANDSHAKE_LEN)):
                s, _ = d.seg_at(o)
                if s is not None:
                    events.append((s.number, o, "%s:%s" % (d.name, what)))
            if d.complete(0, HANDSHAKE_LEN):
                y = d.data[NONCE_LEN:NONCE_LEN + DH_LEN]
                hs[d.name] = (d.data[:NONCE_LEN], d.data[NONCE_LEN:HANDSHAKE_LEN])
                di["y_is_one"] = y == Y_ONE
                di["y_below_p"] = int.from_bytes(y, "big") < MODP2048_P
        else:
            di["first_record_number_in_capture"] = None
            if full is not None:
                rel = first - HANDSHAKE_LEN
                di["first_captured_offset_is_record_boundary"] = rel % RECORD_LEN == 0
                di["first_record_number_in_capture"] = rel // RECORD_LEN + (rel % RECORD_LEN != 0)
                di["records_in_capture"] = (d.length - max(first, HANDSHAKE_LEN)) // RECORD_LEN
        dirs[d.name] = di
    events.sort()
    info["handshake_order"] = [e[2] for e in events if not e[2].endswith("record0")]
    info["first_record_packets"] = {e[2].split(":")[0]: e[0] for e in events if e[2].endswith("record0")}
    info["directions"] = dirs

    keys = None
    if K is not None and "c2s" in hs and "s2c" in hs:
        nc, mc = hs["c2s"]
        ns, ms = hs["s2c"]
        dk1 = pbkdf2_1(K, nc + ns, 64)
        okc = hmac.compare_digest(hmac.new(dk1[:32], mc[:DH_LEN], hashlib.sha256).digest(), mc[DH_LEN:])
        oks = hmac.compare_digest(hmac.new(dk1[32:], ms[:DH_LEN], hashlib.sha256).digest(), ms[DH_LEN:])
        info["handshake_macs_verify_with_test_key"] = [okc, oks]
        if mc[:DH_LEN] == Y_ONE or ms[:DH_LEN] == Y_ONE:
            dk2 = pbkdf2_1(K, nc + ns + Y_ONE, 128)
            keys = {"c2s": dk2[32:64], "s2c": dk2[96:128]}
    elif full is not None and K is not None:
        keys = full.get("keys")
    if keys is not None:
        for d in (c.c2s, c.s2c):
            di = dirs[d.name]
            H = keys[d.name]
            start = HANDSHAKE_LEN
            nfirst = 0
            if di.get("first_record_number_in_capture") is not None:
                nfirst = di["first_record_number_in_capture"]
                start = HANDSHAKE_LEN + nfirst * RECORD_LEN
            ok = bad = incomplete = 0
            bad_list = []
            n = nfirst
            o = start
            while o + RECORD_LEN <= d.length:
                if not d.complete(o, o + RECORD_LEN):
                    incomplete += 1
                elif record_mac_ok(H, n, d.data[o:o + RECORD_LEN]):
                    ok += 1
                else:
                    bad += 1
                    bad_list.append(n)
                n += 1
                o += RECORD_LEN
            di["record_macs"] = {"ok": ok, "bad": bad, "bad_record_numbers": bad_list[:20],
                                 "not_fully_captured": incomplete}
    elif K is not None:
        if "c2s" in hs and "s2c" in hs:
            why = "not checkable with the key file alone (forward secrecy)"
        else:
            why = "not checkable: handshake not fully captured"
        for d in dirs.values():
            if "records" in d:
                d["record_macs"] = why
    return info, hs


def _blob(data):
    return OrderedDict([("bytes", len(data)),
                        ("sha256", hashlib.sha256(data).hexdigest()),
                        ("head", data[:80].decode("latin-1"))])


def plaintext_summary(path, target_port, since=None):
    """Per-direction plaintext of each connection to target_port.  With
    since (a timestamp), also the part sent from that time on."""
    conns = connections(path, target_port)
    out = []
    for c in conns:
        c.c2s.finish()
        c.s2c.finish()
        e = OrderedDict()
        e["redis_side_client_port"] = c.client[1]
        for d in (c.c2s, c.s2c):
            e[d.name] = _blob(d.data)
        if since is not None:
            part = OrderedDict()
            for d in (c.c2s, c.s2c):
                offs = [d.off(g) for g in d.segs if g.ts >= since]
                start = min(offs) if offs else d.length
                part[d.name] = _blob(d.data[start:])
                part[d.name]["from_stream_offset"] = start
            e["sent_after_capture_start"] = part
        out.append(e)
    return out


def cmd_annotate(a):
    with open(a.truth) as f:
        truth = json.load(f, object_pairs_hook=OrderedDict)
    K = key_from_file(a.key) if a.key else None
    full_info = None
    if a.full_pcap:
        # The shadow capture saw the whole connection (handshake included).
        fconns = connections(a.full_pcap, a.tunnel_port)
        full_info = {}
        for c in fconns:
            c.c2s.finish()
            c.s2c.finish()
            keys = None
            if K is not None and c.c2s.length >= HANDSHAKE_LEN and c.s2c.length >= HANDSHAKE_LEN:
                nc, ns = c.c2s.data[:NONCE_LEN], c.s2c.data[:NONCE_LEN]
                dk2 = pbkdf2_1(K, nc + ns + Y_ONE, 128)
                keys = {"c2s": dk2[32:64], "s2c": dk2[96:128]}
            full_info[(c.client, c.server)] = (c.c2s.base, c.s2c.base, keys)
    wire = OrderedDict()
    clist = []
    for c in connections(a.pcap, a.tunnel_port):
        bc = bs = None
        full = None
        if full_info is not None and (c.client, c.server) in full_info:
            bc, bs, keys = full_info[(c.client, c.server)]
            full = {"keys": keys}
        info, _ = analyse_connection(c, K, bc, bs, full)
        clist.append(info)
    wire["tunnel_connections"] = len(clist)
    wire["connections"] = clist
    wire["note"] = ("Computed from the capture with a stdlib pcap/TCP parser; record counts from TCP "
                    "sequence numbers (so also valid when snaplen truncated the payload). "
                    "record_macs: HMAC-SHA256 check of every fully captured record with the "
                    "test key (hashlib/hmac, independent of the C core).")
    truth["wire"] = wire
    if a.plain_pcap:
        since = None
        if a.full_pcap:
            since = min((p.ts for p in read_pcap(a.pcap)), default=None)
        truth["plaintext"] = plaintext_summary(a.plain_pcap, a.target_port, since)
        truth["plaintext_note"] = ("Plaintext leg between spiped -d and the target (tcp port %d), "
                                   "from an uncommitted shadow capture: what a correct decryption "
                                   "of the whole tunnel connection must yield, per direction "
                                   "(c2s = towards the server). 'head' = first 80 bytes, latin-1."
                                   % a.target_port)
        if a.full_pcap:
            truth["plaintext_note"] += (" sent_after_capture_start: the part of each direction "
                                        "the plaintext leg carried after this capture's first "
                                        "packet, i.e. what decrypting the captured records "
                                        "yields (the traffic generator paused before the "
                                        "capture started, so the split is exact).")
    write_json(a.truth, truth)


def cmd_locate(a):
    cs = connections(a.pcap, a.tunnel_port)
    c = cs[a.connection]
    c.c2s.finish()
    c.s2c.finish()
    d = c.c2s if a.direction == "c2s" else c.s2c
    o = HANDSHAKE_LEN + a.record * RECORD_LEN + a.offset
    s, fo = d.seg_at(o)
    if s is None:
        raise SystemExit("byte not in capture")
    print(s.number, fo)


# ---------------------------------------------------------------------------
# verify: decrypt with the project's C core (ctypes) and compare

def cmd_verify(a):
    lib = ctypes.CDLL(a.lib)
    with open(a.truth) as f:
        truth = json.load(f)
    K = (ctypes.c_uint8 * 32)()
    kb = open(a.key, "rb").read()
    assert lib.spiped_key_from_file_bytes(kb, len(kb), K) == 0
    c = connections(a.pcap, a.tunnel_port)[0]
    bases = {"c2s": None, "s2c": None}
    if a.full_pcap:
        # midstream: nonces and stream bases come from the shadow capture
        f = [x for x in connections(a.full_pcap, a.tunnel_port)
             if (x.client, x.server) == (c.client, c.server)][0]
        f.c2s.finish()
        f.s2c.finish()
        nc, ns = f.c2s.data[:32], f.s2c.data[:32]
        bases = {"c2s": f.c2s.base, "s2c": f.s2c.base}
    c.c2s.finish(bases["c2s"])
    c.s2c.finish(bases["s2c"])
    if not a.full_pcap:
        nc, ns = c.c2s.data[:32], c.s2c.data[:32]
    y = bytes(Y_ONE)

    class Keys(ctypes.Structure):
        _fields_ = [("E_C", ctypes.c_uint8 * 32), ("H_C", ctypes.c_uint8 * 32),
                    ("E_S", ctypes.c_uint8 * 32), ("H_S", ctypes.c_uint8 * 32)]
    ks = Keys()
    assert lib.spiped_session_keys(K, nc, ns, y, ctypes.byref(ks)) == 0
    result = {}
    for d, E, H in ((c.c2s, ks.E_C, ks.H_C), (c.s2c, ks.E_S, ks.H_S)):
        plain = bytearray()
        status = Counter()
        buf = (ctypes.c_uint8 * 1024)()
        ln = ctypes.c_uint32()
        n, o = 0, HANDSHAKE_LEN
        if a.full_pcap:
            first = min(d.off(g) for g in d.segs)
            n = (first - HANDSHAKE_LEN) // RECORD_LEN
            o = HANDSHAKE_LEN + n * RECORD_LEN
        while o + RECORD_LEN <= d.length:
            st = lib.spiped_record_open(E, H, ctypes.c_uint64(n), d.data[o:o + RECORD_LEN],
                                        buf, ctypes.byref(ln))
            status[st] += 1
            if st == 0:
                plain += bytes(buf[:ln.value])
            n += 1
            o += RECORD_LEN
        result[d.name] = (bytes(plain), status)
    ok = True
    exp = truth.get("plaintext", [{}])[0]
    if a.full_pcap:
        exp = exp["sent_after_capture_start"]
    for name, (plain, status) in result.items():
        want = exp.get(name, {})
        match = (len(plain) == want.get("bytes") and
                 hashlib.sha256(plain).hexdigest() == want.get("sha256"))
        names = {0: "ok", 1: "bad_mac", 2: "bad_length", 3: "error"}
        print("%s %s: records %s, plaintext %d bytes, matches plaintext leg: %s"
              % (os.path.basename(a.pcap), name,
                 {names.get(k, k): v for k, v in sorted(status.items())}, len(plain), match))
        ok &= match or a.expect_mismatch
    if not ok:
        raise SystemExit(1)


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run")
    r.add_argument("--scenario", required=True,
                   choices=["fast", "pipeline", "bigvalue", "fs", "midstream", "snaplen", "other"])
    r.add_argument("--capture", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--sock", help="redis unix socket (ground truth)")
    r.add_argument("--port", type=int, default=6579, help="spiped -e plaintext port")
    r.add_argument("--tunnel-port", type=int, default=6479)
    r.add_argument("--fast", action="store_true")
    r.add_argument("--pause-file")
    r.add_argument("--resume-file")
    r.add_argument("--http-root")
    r.add_argument("--big-size", type=int, default=1048576 + 12345)
    r.add_argument("--timeout", type=float, default=30)

    n = sub.add_parser("annotate")
    n.add_argument("--pcap", required=True)
    n.add_argument("--truth", required=True)
    n.add_argument("--key")
    n.add_argument("--tunnel-port", type=int, default=6479)
    n.add_argument("--full-pcap", help="shadow capture of the whole tunnel connection")
    n.add_argument("--plain-pcap", help="shadow capture of the plaintext leg")
    n.add_argument("--target-port", type=int, default=16380)

    lo = sub.add_parser("locate")
    lo.add_argument("--pcap", required=True)
    lo.add_argument("--tunnel-port", type=int, default=6479)
    lo.add_argument("--connection", type=int, default=0)
    lo.add_argument("--direction", choices=["c2s", "s2c"], required=True)
    lo.add_argument("--record", type=int, required=True)
    lo.add_argument("--offset", type=int, required=True)

    v = sub.add_parser("verify")
    v.add_argument("--lib", required=True)
    v.add_argument("--pcap", required=True)
    v.add_argument("--truth", required=True)
    v.add_argument("--key", required=True)
    v.add_argument("--tunnel-port", type=int, default=6479)
    v.add_argument("--expect-mismatch", action="store_true")
    v.add_argument("--full-pcap", help="shadow capture holding the handshake (midstream)")

    a = ap.parse_args()
    {"run": cmd_run, "annotate": cmd_annotate, "locate": cmd_locate, "verify": cmd_verify}[a.cmd](a)


if __name__ == "__main__":
    main()
