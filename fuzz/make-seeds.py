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
    resp_seeds(a.captures, st, parse, commands)
    session_seeds(a.captures, st, session)
    spiped_seeds(a.captures, st, spiped)
    keylog_seeds(a.captures, st, keylog)
    for s in (parse, commands, session, spiped, keylog):
        n = s.write(a.out)
        if n == 0:
            sys.exit("make-seeds.py: no seeds for %s" % s.name)
        print("%-20s %3d seeds" % (s.name, n))
    words = command_dictionary(os.path.dirname(here))
    write_dictionary(os.path.join(a.out, "fuzz_resp_commands.dict"), words)
    print("%-20s %3d words" % ("fuzz_resp_commands.dict", len(words)))


if __name__ == "__main__":
    main()
