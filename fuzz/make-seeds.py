#!/usr/bin/python3
"""Seed corpora for the fuzz harnesses, cut from the committed test captures.

usage: make-seeds.py --out DIR [--captures test-captures]

Writes DIR/<harness>/ for each harness (the directories are emptied first):

  fuzz_resp_parse     TCP payloads of every RESP capture, per segment and both directions,
                      plus the first bytes of each reassembled direction (several messages)
  fuzz_resp_commands  the commands clients sent in the RESP captures (RESP arrays and inline
                      lines of the client-to-server streams), in the harness's layout:
                      separator, options, pick (2 bytes), arguments joined by the separator
  fuzz_resp_session   each connection of every RESP capture (resp-*, repl-*) in the harness's
                      layout: records of direction byte, 2-byte length, bytes; the two
                      directions' segments alternate, each direction in capture order
  fuzz_spiped         handshakes and record windows of the spiped captures, in the harness's
                      layout (13-byte header, nonces, DH messages, y_SC, tagged records), with
                      y_SC = 1 for -f sessions and from the key logs for forward-secret ones
  fuzz_spiped_keylog  the key logs, their single lines and variants of them (CRLF, comments,
                      no final newline, duplicates, conflicts, foreign labels, cut lines)
  fuzz_resp_cluster   error replies (MOVED/ASK among them), keys, sentinel hello and event
                      payloads of the RESP, cluster and sentinel captures, each prefixed by
                      the byte that splits channel from payload, plus synthetic-* redirects
  fuzz_redis_cluster_bus  cluster bus messages of cluster-*.pcap (two of each type per
                      direction, and the first 16 KiB of each direction), plus synthetic-* ones
                      of every type, extension and header kind and a few hostile lengths

A few seeds named synthetic-* are built from the captured ones or the command table, for
what no capture holds: nesting at the depth limit, key-spec keywords (XREAD ... STREAMS,
SORT ... STORE, MIGRATE ... KEYS), values out of the DH range, more key-log entries than the
first hash table holds. DIR/fuzz_resp_commands.dict is a libFuzzer dictionary of the command
names and key-spec keywords of core/resp_command_table.h.

Each file is at most 64 KiB, each harness gets at most MAX_PER_HARNESS files. Stdlib only;
the pcap and TCP reassembly is test-captures/spiped_traffic.py's. Deterministic: the same
captures give the same seeds.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import struct
import sys

sys.dont_write_bytecode = True

MAX_FILE = 64 * 1024
MAX_PER_HARNESS = 300
RESP_SEGMENTS_PER_CAPTURE = 14
RESP_STREAM_HEAD = 8 * 1024
MAX_ARG = 128
MAX_ARGC = 64

SPIPED_HDR = 13
DH_LEN = 256
NONCE_LEN = 32
DHMSG_LEN = 288
HANDSHAKE_LEN = NONCE_LEN + DHMSG_LEN
RECORD_LEN = 1060
RECORDS_PER_WINDOW = 3
Y_ONE = b"\x00" * (DH_LEN - 1) + b"\x01"


class Seeds:
    """Collects the seeds of one harness: deduplicated, capped, written in order."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self.seen = set()

    def add(self, label, data):
        data = bytes(data[:MAX_FILE])
        h = hashlib.sha256(data).digest()
        if not data or h in self.seen or len(self.items) >= MAX_PER_HARNESS:
            return False
        self.seen.add(h)
        self.items.append((label, data))
        return True

    def write(self, out):
        d = os.path.join(out, self.name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            p = os.path.join(d, f)
            if os.path.isfile(p):
                os.unlink(p)
        for i, (label, data) in enumerate(self.items):
            with open(os.path.join(d, "%03d-%s" % (i, label)), "wb") as f:
                f.write(data)
        return len(self.items)


def spread(items, n):
    """At most n items, evenly spaced, first and last included."""
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def truth(path):
    with open(path[:-len(".pcap")] + ".truth.json") as f:
        return json.load(f)


def stem(path):
    return os.path.basename(path)[:-len(".pcap")]


# ---------------------------------------------------------------------------------------------
# RESP

def resp_requests(stream):
    """Argument lists of the commands in a client-to-server stream (arrays of bulk strings
    and inline lines); stops at the first thing it does not understand."""
    out, i, n = [], 0, len(stream)
    while i < n and len(out) < 10000:
        if stream[i:i + 1] == b"*":
            j = stream.find(b"\r\n", i)
            if j < 0:
                break
            try:
                count = int(stream[i + 1:j])
            except ValueError:
                break
            i, args = j + 2, []
            for _ in range(max(count, 0)):
                if stream[i:i + 1] != b"$":
                    break
                j = stream.find(b"\r\n", i)
                if j < 0:
                    break
                try:
                    ln = int(stream[i + 1:j])
                except ValueError:
                    break
                if ln < 0 or j + 2 + ln + 2 > n:
                    break
                args.append(stream[j + 2:j + 2 + ln])
                i = j + 2 + ln + 2
            else:
                if args:
                    out.append(args)
                continue
            break
        j = stream.find(b"\n", i)
        if j < 0:
            break
        line = stream[i:j].rstrip(b"\r")
        i = j + 1
        if not line or any(b < 0x20 and b != 0x09 or b > 0x7E for b in line):
            break   # not a line typed by a human: not an inline command
        args = [a.strip(b"\"'") for a in line.split()]
        if args:
            out.append(args)
    return out


def command_seed(args, k):
    args = [a[:MAX_ARG] for a in args[:MAX_ARGC]]
    used = set(b"".join(args))
    for sep in [0x0A, 0x20, 0x00] + list(range(1, 256)):
        if sep not in used:
            break
    opts = k % 4
    pick = (k * 4099) & 0xFFFF
    return bytes([sep, opts]) + struct.pack(">H", pick) + bytes([sep]).join(args)


SYNTHETIC_COMMANDS = [
    # key-spec keywords and the command-specific key rules (Redis command syntax)
    [b"XREAD", b"COUNT", b"2", b"STREAMS", b"s1", b"s2", b"0", b"0"],
    [b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s1", b">"],
    [b"GEORADIUS", b"k", b"0", b"0", b"1", b"km", b"STORE", b"dst", b"STOREDIST", b"d2"],
    [b"GEORADIUSBYMEMBER", b"k", b"m", b"1", b"km", b"STOREDIST", b"dst"],
    [b"SORT", b"k", b"BY", b"w_*", b"LIMIT", b"0", b"5", b"GET", b"STORE", b"STORE", b"dst"],
    [b"SORT_RO", b"k", b"BY", b"nosort", b"GET", b"#", b"ALPHA"],
    [b"MIGRATE", b"h", b"6379", b"", b"0", b"5000", b"COPY", b"AUTH2", b"u", b"p", b"KEYS",
     b"k1", b"k2"],
    [b"MIGRATE", b"h", b"6379", b"k", b"0", b"5000", b"REPLACE", b"AUTH", b"p"],
    [b"ZUNIONSTORE", b"dst", b"2", b"z1", b"z2", b"WEIGHTS", b"1", b"2"],
    # credentials (core/resp_auth.c)
    [b"AUTH", b"alice", b"pw"],
    [b"HELLO", b"3", b"SETNAME", b"AUTH", b"AUTH", b"u", b"p"],
    [b"CONFIG", b"SET", b"masteruser", b"repl", b"masterauth", b"pw", b"requirepass", b"pw2"],
    [b"EVAL", b"return 1", b"2", b"k1", b"k2", b"a"],
    [b"LMPOP", b"2", b"l1", b"l2", b"LEFT", b"COUNT", b"3"],
    [b"OBJECT", b"ENCODING", b"k"],
    [b"SPUBLISH", b"ch", b"msg"],
    [b"MSET", b"k1", b"v1", b"k2", b"v2"],
]


def resp_parse_synthetic(parse):
    parse.add("synthetic-depth64", b"*1\r\n" * 63 + b"*0\r\n")
    parse.add("synthetic-depth65", b"*1\r\n" * 65 + b":1\r\n")
    parse.add("synthetic-resp3", b"|1\r\n+ttl\r\n:3600\r\n%2\r\n+a\r\n,-1.5e-3\r\n"
              b"+b\r\n~2\r\n#t\r\n(-12345678901234567890123\r\n>2\r\n=7\r\ntxt:abc"
              b"\r\n!3\r\nERR\r\n_\r\n")
    parse.add("synthetic-numbers", b":-9223372036854775808\r\n:99999999999999999999\r\n"
              b",inf\r\n,-nan\r\n,1E+5\r\n$-1\r\n*-1\r\n")
    parse.add("synthetic-inline", b"SET 'it\\'s' \"a\\x41\\n\\tb\" \t plain\r\n")


def command_dictionary(root):
    """Command and subcommand names and key-spec keywords from the generated table."""
    import re
    with open(os.path.join(root, "core", "resp_command_table.h")) as f:
        text = f.read()
    words = set(re.findall(r'\.name = "([^"]+)"', text))
    words |= set(re.findall(r'\.keyword = "([^"]+)"', text))
    words |= {"LIMIT", "GET", "BY", "STORE", "KEYS", "AUTH", "AUTH2"}   # SORT, MIGRATE rules
    words |= {"SETNAME", "requirepass", "masterauth", "masteruser"}    # credentials
    return sorted(words)


def write_dictionary(path, words):
    with open(path, "w") as f:
        for w in words:
            f.write('"%s"\n' % w)
            f.write('"\\x0a%s\\x0a"\n' % w)   # as a whole argument between '\n' separators


def session_seeds(captures, st, session):
    for path in sorted(glob.glob(os.path.join(captures, "resp-*.pcap")) +
                       glob.glob(os.path.join(captures, "repl-*.pcap"))):
        try:
            port = truth(path)["server_port"]
        except (OSError, KeyError, ValueError):
            port = 6379
        name = stem(path)
        for ci, c in enumerate(st.connections(path, port)):
            dirs = []
            for d in (c.c2s, c.s2c):
                d.finish()
                dirs.append([s.frame[s.pl_off:s.pl_off + s.pl_cap] for s in d.segs if s.pl_cap])
            out = bytearray()
            for k in range(max(len(dirs[0]), len(dirs[1]))):
                for op, segs in enumerate(dirs):
                    if k < len(segs):
                        chunk = segs[k][:0xFFFF]
                        if len(out) + 3 + len(chunk) > MAX_FILE:
                            break
                        out += bytes([op]) + struct.pack("<H", len(chunk)) + chunk
            if out:
                session.add("%s-%d" % (name, ci), bytes(out))


def resp_seeds(captures, st, parse, commands):
    resp_parse_synthetic(parse)
    for k, args in enumerate(SYNTHETIC_COMMANDS):
        commands.add("synthetic-%s" % args[0].decode(), command_seed(args, k))
    cmd_seen = {}
    for path in sorted(glob.glob(os.path.join(captures, "resp-*.pcap"))):
        name = stem(path)
        port = truth(path)["server_port"]
        conns = st.connections(path, port)
        segs = []
        for ci, c in enumerate(conns):
            for d in (c.c2s, c.s2c):
                d.finish()
                for s in d.segs:
                    segs.append(("%s-%d-%s" % (name, ci, d.name), s.frame[s.pl_off:s.pl_off + s.pl_cap]))
        # distinct payloads, in capture order, evenly picked
        uniq, seen = [], set()
        for label, data in segs:
            if data and data not in seen:
                seen.add(data)
                uniq.append((label, data))
        for label, data in spread(uniq, RESP_SEGMENTS_PER_CAPTURE):
            parse.add(label + "-seg", data)
        for ci, c in enumerate(conns):
            for d in (c.c2s, c.s2c):
                if d.length:
                    parse.add("%s-%d-%s-head" % (name, ci, d.name), d.data[:RESP_STREAM_HEAD])
            if "midstream" in name:
                continue    # the client stream starts inside a command
            for args in resp_requests(c.c2s.data):
                key = (args[0].upper(), args[1].upper() if len(args) > 1 else b"", len(args))
                cmd_seen.setdefault(key, (name, args))
    # one seed per distinct (command, second argument, argc); first one per command name
    # and second argument, then the other argument counts
    keys = sorted(cmd_seen)
    firsts, rest, names = [], [], set()
    for key in keys:
        (firsts if key[:2] not in names else rest).append(key)
        names.add(key[:2])
    for k, key in enumerate(firsts + rest):
        name, args = cmd_seen[key]
        word = "".join(chr(b) for b in args[0][:16] if chr(b).isascii() and chr(b).isalnum())
        commands.add("%s-%s" % (name, word), command_seed(args, k))


# ---------------------------------------------------------------------------------------------
# spiped

def keylog_map(captures):
    m = {}
    for path in sorted(glob.glob(os.path.join(captures, "*.keylog"))):
        with open(path, "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[0] == b"SPIPED_DH_SECRET":
                    try:
                        m[bytes.fromhex(parts[1].decode())] = bytes.fromhex(parts[2].decode())
                    except ValueError:
                        pass
    return m


def spiped_seed(k, n_base, hs, y_sc, recs):
    hdr = bytes([0]) + struct.pack(">QHH", n_base, (k * 131 + 1) & 0xFFFF, (k * 977) & 0xFFFF)
    body = b"".join(bytes([d]) + r for d, r in recs)
    return hdr + hs + y_sc + body


def records(data):
    return [data[i:i + RECORD_LEN] for i in range(0, len(data), RECORD_LEN)]


def spiped_seeds(captures, st, out):
    secrets = keylog_map(captures)
    k = 0
    for path in sorted(glob.glob(os.path.join(captures, "spiped-*.pcap"))):
        name = stem(path)
        port = truth(path)["tunnel_port"]
        for ci, c in enumerate(st.connections(path, port)):
            c.c2s.finish()
            c.s2c.finish()
            cd, sd = c.c2s.data, c.s2c.data
            label = "%s-%d" % (name, ci)
            if c.syn_seen and len(cd) >= HANDSHAKE_LEN and len(sd) >= HANDSHAKE_LEN:
                nc, ns = cd[:NONCE_LEN], sd[:NONCE_LEN]
                mc, ms = cd[NONCE_LEN:HANDSHAKE_LEN], sd[NONCE_LEN:HANDSHAKE_LEN]
                yc, ys = mc[:DH_LEN], ms[:DH_LEN]
                if yc == Y_ONE or ys == Y_ONE:
                    y_sc = Y_ONE
                else:
                    y_sc = secrets.get(ys) or secrets.get(yc) or b"\x00" * DH_LEN
                hs = nc + ns + mc + ms
                rc, rs = records(cd[HANDSHAKE_LEN:]), records(sd[HANDSHAKE_LEN:])
            else:
                # no handshake in the capture: records only, behind an empty handshake
                hs, y_sc = b"\x00" * (2 * NONCE_LEN + 2 * DHMSG_LEN), b"\x00" * DH_LEN
                rc, rs = records(cd), records(sd)
            total = max(len(rc), len(rs))
            starts = sorted({0, 4, total // 2, max(total - RECORDS_PER_WINDOW, 0)})
            if name == "spiped-flipped":
                starts = sorted(set(starts) | {5})   # the record with the changed bit
            out.add(label + "-handshake", spiped_seed(k, 0, hs, y_sc, []))
            k += 1
            for j in starts:
                recs = []
                for i in range(j, j + RECORDS_PER_WINDOW):
                    if i < len(rc):
                        recs.append((0, rc[i]))
                    if i < len(rs):
                        recs.append((1, rs[i]))
                if recs:
                    out.add("%s-n%d" % (label, j), spiped_seed(k, j, hs, y_sc, recs))
                    k += 1


# ---------------------------------------------------------------------------------------------
# key logs

def keylog_seeds(captures, st, out):
    lines = []
    for path in sorted(glob.glob(os.path.join(captures, "*.keylog"))):
        name = os.path.basename(path)[:-len(".keylog")]
        with open(path, "rb") as f:
            data = f.read()
        out.add(name, data)
        out.add(name + "-crlf", data.replace(b"\n", b"\r\n"))
        out.add(name + "-nofinalnl", data.rstrip(b"\n"))
        out.add(name + "-commented", b"# spiped key log\n\n" + data.replace(b"\n", b"\n\n"))
        out.add(name + "-upper", data.upper())
        out.add(name + "-tabs", data.replace(b" ", b" \t "))
        for i, line in enumerate(data.splitlines()):
            lines.append(line)
            out.add("%s-line%d" % (name, i), line + b"\n")
            out.add("%s-line%d-cut" % (name, i), line[:len(line) // 2] + b"\n" + line + b"\n")
            out.add("%s-line%d-extra" % (name, i), line + b" 00\n")
            out.add("%s-line%d-dup" % (name, i), line + b"\n" + line + b"\n")
            out.add("%s-line%d-blanks" % (name, i), b"  " + line + b" \t\r\n")
    if len(lines) >= 2:
        a, b = lines[0].split(), lines[1].split()
        out.add("conflict", lines[0] + b"\n" + b" ".join([a[0], a[1], b[2]]) + b"\n")
        out.add("swapped", b" ".join([a[0], a[2], a[1]]) + b"\n")
        out.add("one-value", b" ".join(a[:2]) + b"\n")
        fake = hashlib.sha256(lines[0]).hexdigest().encode()
        out.add("foreign-labels", b"CLIENT_RANDOM " + fake + b" " + fake + fake[:32] + b"\n" +
                lines[0] + b"\nSERVER_HANDSHAKE_TRAFFIC_SECRET " + fake + b" " + fake + b"\n")
        out.add("all", b"\n".join(lines) + b"\n")
        # values out of range: y = 1, y_SC = 2^2048 - 1, y = p (the group 14 prime)
        one, p_hex = b"0" * 510 + b"01", (b"%0512x" % st.MODP2048_P)
        out.add("synthetic-range", b" ".join([a[0], one, a[2]]) + b"\n" +
                b" ".join([a[0], a[1], b"f" * 512]) + b"\n" + b" ".join([a[0], p_hex, a[2]]) +
                b"\n")
        # more distinct entries than the first hash table holds (32): y differs in its digits
        many = []
        for i in range(40):
            y = ("%02x" % (0x10 + i)).encode() + a[1][2:]
            many.append(b" ".join([a[0], y, a[2]]))
        out.add("synthetic-many", b"\n".join(many) + b"\n")


# ---- fuzz_resp_cluster ----------------------------------------------------------------------

def tcp_streams(path, st):
    """The data of each direction of every TCP connection in a capture."""
    dirs = {}
    for p in st.read_pcap(path):
        key = (p.src, p.sport, p.dst, p.dport)
        d = dirs.get(key)
        if d is None:
            d = dirs[key] = st.Direction("%s:%d" % (p.src, p.sport))
        if p.flags & st.SYN:
            d.isn = p.seq
        if p.pl_len:
            d.segs.append(p)
    for key in sorted(dirs):
        if dirs[key].segs:
            dirs[key].finish()
            yield dirs[key].data


ERROR_LINE = re.compile(rb"(?:^|\r\n)-([^\r\n]{1,200})\r\n")
CHANNEL_PAYLOAD = re.compile(rb"\$(\d{1,3})\r\n([_+\-][^\r\n]{0,63})\r\n\$(\d{1,4})\r\n")


def cluster_seeds(captures, st, out):
    """Inputs of fuzz_resp_cluster: byte 0 splits channel (first byte0 % (n+1) bytes) from payload."""
    out.add("synthetic-moved", b"\0MOVED 12182 127.0.0.1:7002")
    out.add("synthetic-ask-ipv6", b"\0ASK 3999 ::1:6380")
    out.add("synthetic-moved-no-endpoint", b"\0MOVED 5 :6379")
    hello = b"127.0.0.1,26380,0c6e1a3a8bd6af34d5c3f4d4d2a5e3e8b8c9e0f1,7,mymaster,127.0.0.1,6379,3"
    out.add("synthetic-hello", bytes([18]) + b"__sentinel__:hello" + hello)
    out.add("synthetic-switch", bytes([14]) + b"+switch-master" + b"mymaster 127.0.0.1 6379 127.0.0.1 6380")
    out.add("synthetic-tag", b"\0{user1000}.following")
    errors, payloads = [], []
    for path in sorted(glob.glob(os.path.join(captures, "*.pcap"))):
        name = os.path.basename(path)
        if not name.startswith(("resp-", "cluster-", "sentinel-")):
            continue
        for data in tcp_streams(path, st):
            if data[:4] == b"RCmb":
                continue
            errors += [m.group(1) for m in ERROR_LINE.finditer(data[:1 << 20])]
            for m in CHANNEL_PAYLOAD.finditer(data[:1 << 20]):
                ch, n = m.group(2), int(m.group(3))
                if int(m.group(1)) == len(ch):
                    start = m.end()
                    payloads.append(bytes([len(ch)]) + ch + data[start:start + n])
    for i, e in enumerate(spread(sorted(set(errors)), 40)):
        out.add("error-%02d" % i, b"\0" + e)
    for i, p in enumerate(spread(sorted(set(payloads)), 40)):
        out.add("message-%02d" % i, p)


# ---- fuzz_redis_cluster_bus ----------------------------------------------------------------

BUS_HDR = 2256


def bus_message(mtype, body=b"", count=0, exts=(), flags=0x11, mflags=0, ver=1, light=False):
    """A cluster bus message laid out as core/redis_cluster_bus.h describes it."""
    if light:
        hdr = b"RCmb" + struct.pack(">IHHHH", 16 + len(body), ver, 0, mtype | 0x8000, 0)
        return hdr + body
    ext = b"".join(struct.pack(">IHH", 8 + len(d), t, 0) + d for t, d in exts)
    if exts:
        mflags |= 4
    slots = bytearray(2048)
    for i in range(0, 5461 // 8):
        slots[i] = 0xFF
    total = BUS_HDR + len(body) + len(ext)
    hdr = (b"RCmb" + struct.pack(">IHHHHQQQ", total, ver, 7000, mtype, count, 7, 3, 1234)
           + b"a" * 40 + bytes(slots) + b"\0" * 40 + b"10.0.0.1".ljust(46, b"\0")
           + struct.pack(">H", len(exts)) + b"\0" * 30
           + struct.pack(">HHHB", 0, 17000, flags, 0) + bytes([mflags, 0, 0]))
    assert len(hdr) == BUS_HDR
    return hdr + body + ext


def bus_streams(captures, st):
    """Each direction of every TCP connection in cluster-*.pcap that starts with RCmb."""
    for path in sorted(glob.glob(os.path.join(captures, "cluster-*.pcap"))):
        for data in tcp_streams(path, st):
            if data[:4] == b"RCmb":
                yield stem(path), data


def cluster_bus_seeds(captures, st, out):
    # Synthetic first (they are few and cover what captures may lack), then captured ones.
    gossip = b"".join(b"%c" % (ord("b") + i) * 40 + struct.pack(">II", 1, 2) + b"127.0.0.1".ljust(46, b"\0")
                      + struct.pack(">HHHHH", 7001 + i, 17001 + i, 1, 0, 0) for i in range(2))
    ping = bus_message(0, gossip, count=2, exts=[
        (0, b"node0.example\0\0\0"), (1, b"human0\0\0"), (2, b"f" * 40 + struct.pack(">Q", 60)),
        (3, b"d" * 40), (4, b"1" * 40), (4, b"127.0.0.1\0".ljust(16, b"\0")), (5, b"::1\0\0\0\0\0"),
        (6, struct.pack(">H", 7000).ljust(8, b"\0")), (8, b"zone-a\0\0"), (99, b"12345678")])
    out.add("synthetic-ping-all-extensions", ping)
    out.add("synthetic-meet", bus_message(2))
    out.add("synthetic-fail", bus_message(3, b"c" * 40))
    out.add("synthetic-publish", bus_message(4, struct.pack(">II", 4, 5) + b"chanhello"))
    out.add("synthetic-publish-light", bus_message(4, struct.pack(">II", 4, 5) + b"chanhello", light=True))
    out.add("synthetic-publishshard-light", bus_message(10, struct.pack(">II", 1, 2) + b"abc", light=True))
    out.add("synthetic-auth-request", bus_message(5, mflags=2, flags=0x12))
    out.add("synthetic-update", bus_message(7, struct.pack(">Q", 9) + b"e" * 40 + b"\xff" * 2048))
    out.add("synthetic-mfstart", bus_message(8, flags=0x12))
    out.add("synthetic-module", bus_message(9, struct.pack(">QIB", 0x1122334455667788, 3, 1) + b"xyz"))
    out.add("synthetic-module-light", bus_message(9, struct.pack(">QIB", 1, 0, 2), light=True))
    out.add("synthetic-unknown-type", bus_message(42, b"whatever"))
    out.add("synthetic-version-2", bus_message(0, ver=2))
    bad = bytearray(ping)
    struct.pack_into(">H", bad, 14, 0xFFFF)
    out.add("synthetic-gossip-count-huge", bad)
    bad = bytearray(ping)
    struct.pack_into(">I", bad, BUS_HDR + 2 * 104, 0x7FFFFFF8)
    out.add("synthetic-extension-too-long", bad)
    out.add("synthetic-two-messages", bus_message(3, b"c" * 40) + bus_message(8))
    out.add("synthetic-cut", ping[:2300])
    for name, data in bus_streams(captures, st):
        msgs, off, by_type = [], 0, {}
        while off + 8 <= len(data) and data[off:off + 4] == b"RCmb":
            n = struct.unpack(">I", data[off + 4:off + 8])[0]
            if n < 16 or off + n > len(data):
                break
            msgs.append(data[off:off + n])
            off += n
        for m in msgs:
            t = struct.unpack(">H", m[12:14])[0]
            if by_type.get(t, 0) < 2:
                by_type[t] = by_type.get(t, 0) + 1
                out.add("%s-type%d" % (name, t), m)
        out.add("%s-stream" % name, data[:16 * 1024])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for <harness>/ seed folders")
    ap.add_argument("--captures", default=os.path.join(os.path.dirname(here), "test-captures"))
    a = ap.parse_args()

    sys.path.insert(0, a.captures)
    import spiped_traffic as st  # stdlib pcap/TCP reassembly shared with the capture tools

    parse = Seeds("fuzz_resp_parse")
    commands = Seeds("fuzz_resp_commands")
    session = Seeds("fuzz_resp_session")
    spiped = Seeds("fuzz_spiped")
    keylog = Seeds("fuzz_spiped_keylog")
    cluster_bus = Seeds("fuzz_redis_cluster_bus")
    cluster = Seeds("fuzz_resp_cluster")
    resp_seeds(a.captures, st, parse, commands)
    session_seeds(a.captures, st, session)
    spiped_seeds(a.captures, st, spiped)
    keylog_seeds(a.captures, st, keylog)
    cluster_bus_seeds(a.captures, st, cluster_bus)
    cluster_seeds(a.captures, st, cluster)
    for s in (parse, commands, session, spiped, keylog, cluster_bus, cluster):
        n = s.write(a.out)
        if n == 0:
            sys.exit("make-seeds.py: no seeds for %s" % s.name)
        print("%-20s %3d seeds" % (s.name, n))
    words = command_dictionary(os.path.dirname(here))
    write_dictionary(os.path.join(a.out, "fuzz_resp_commands.dict"), words)
    print("%-20s %3d words" % ("fuzz_resp_commands.dict", len(words)))


if __name__ == "__main__":
    main()
