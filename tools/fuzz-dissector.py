#!/usr/bin/python3
"""Whole-dissector fuzzing of the redis_spiped plugin, in the manner of Wireshark's
tools/fuzz-test.sh: mutate the committed captures and run tshark with the (sanitized) plugin
over every variant, in several modes, looking for crashes, sanitizer reports, dissector bugs,
hangs and excessive memory.

For every test-captures/*.pcap, variant 0 is the capture itself (a baseline: it must pass);
variants 1..N are mutated copies. Each variant applies one to three of:

  editcap   `editcap -E <prob>` random byte errors anywhere in the frames (probabilities
            0.001 ... 0.05), as fuzz-test.sh does
  bytes     random byte changes inside TCP payloads only (headers intact, so the bytes
            reach the dissectors through TCP reassembly)
  tokens    RESP-significant strings written over payload bytes ("*2147483648\\r\\n", "$-1",
            "\\r\\n", "%", ">", quotes, huge lengths ...)
  splice    bytes inserted into or deleted from one direction's stream, with the sequence
            numbers of everything after it shifted (a consistent, different stream)
  truncate  frames cut short (snap length) at random points
  tail      the capture ends early
  drop      packets lost
  dup       packets duplicated (retransmissions), some with different payload bytes
  reorder   packets swapped or moved later
  reseg     a segment split into several (valid new segmentation)
  coalesce  two adjacent segments of one direction merged into one
  overlap   a segment overlapping two others, with different bytes
  seqwrap   one direction's sequence numbers shifted so that they wrap past 2^32 mid-stream
  plain     spiped with the test key: records decrypted, the plaintext mutated (RESP tokens,
            byte changes, invalid record lengths) and the records sealed again with valid MACs,
            so the decrypted stream itself is fuzzed (needs gcc and libgcrypt: the project's
            core/spiped_crypto.c is compiled to a temporary library and used through ctypes)

Modes: RESP captures run plain, -V, -2 -V, -V with TCP reassembly off, and -V with a small
gui.max_tree_items (60..3000: tree building throws part-way, so the state kept across packets
must survive exceptions; the limit's own "Dissector bug" message is expected there); spiped
captures the same with the test key (spiped-fs-keylog-* also with port 6489 and their key log)
plus once plain without any key.

tshark runs through tools/tshark-plugin (as root it runs as user nobody), with the plugin of
--build-dir (default build-asan when it exists, else build). When that plugin is built with
sanitizers, libasan and libubsan are preloaded. The environment follows fuzz-test.sh:
WIRESHARK_ABORT_ON_DISSECTOR_BUG, WIRESHARK_ABORT_ON_TOO_MANY_ITEMS, and the wmem allocator
overridden to `simple` (every allocation a separate malloc that ASan can watch) or `strict`
(canaries), alternating.

A run fails on: a non-zero exit or a signal (crash), an AddressSanitizer/UBSan report, a
"dissector bug"/GLib critical message on stderr, a timeout (hang), or a peak RSS above
--max-rss-mb. Before fuzzing, a preflight run checks that tshark really maps the plugin of
the build dir (by content hash) and, for a sanitized build, libasan. --check-harness also
builds a canary plugin that commits a heap overflow, a UBSan error, a SIGSEGV or a hang on
request, and checks that each is reported as a failure.

Exit status: 0 when every run passed, 1 otherwise, 2 on a usage or set-up error.
The last line of output is always `fuzz-dissector: N passed, M failed` (N, M count runs).

Reproduce one variant: --seed S --only CAPTURE:VARIANT (e.g. --only resp-basic:7); with
--keep-failures DIR the failing variant, its stderr and the command are saved there.
"""

import argparse
import atexit
import concurrent.futures
import ctypes
import fnmatch
import glob
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURES = os.path.join(ROOT, "test-captures")
WRAPPER = os.path.join(ROOT, "tools", "tshark-plugin")
KEY = os.path.join(CAPTURES, "spiped-test.key")
PLUGIN_NAME = "redis_spiped.so"

# ---- pcap files ---------------------------------------------------------------------------

PCAP_MAGIC = {0xA1B2C3D4: ("<", False), 0xD4C3B2A1: (">", False),
              0xA1B23C4D: ("<", True), 0x4D3CB2A1: (">", True)}


class Packet:
    __slots__ = ("sec", "frac", "data", "orig_len")

    def __init__(self, sec, frac, data, orig_len):
        self.sec, self.frac, self.data, self.orig_len = sec, frac, bytearray(data), orig_len

    def copy(self):
        return Packet(self.sec, self.frac, self.data, self.orig_len)


class Pcap:
    def __init__(self, header, endian, linktype, packets):
        self.header, self.endian, self.linktype, self.packets = header, endian, linktype, packets

    @classmethod
    def read(cls, path):
        with open(path, "rb") as f:
            buf = f.read()
        if len(buf) < 24:
            raise ValueError(f"{path}: not a pcap file")
        magic = struct.unpack("<I", buf[:4])[0]
        if magic not in PCAP_MAGIC:
            raise ValueError(f"{path}: not a classic pcap file (magic {magic:#x})")
        e = PCAP_MAGIC[magic][0]
        linktype = struct.unpack(e + "I", buf[20:24])[0] & 0x0FFFFFFF
        packets, off = [], 24
        while off + 16 <= len(buf):
            sec, frac, incl, orig = struct.unpack(e + "IIII", buf[off:off + 16])
            off += 16
            packets.append(Packet(sec, frac, buf[off:off + incl], orig))
            off += incl
        return cls(buf[:24], e, linktype, packets)

    def write(self, path):
        e = self.endian
        out = [self.header]
        for p in self.packets:
            out.append(struct.pack(e + "IIII", p.sec, p.frac, len(p.data), max(p.orig_len, len(p.data))))
            out.append(bytes(p.data))
        with open(path, "wb") as f:
            f.write(b"".join(out))

    def copy(self):
        return Pcap(self.header, self.endian, self.linktype, [p.copy() for p in self.packets])


class Tcp:
    """Where the IP and TCP headers and the payload of a frame are."""
    __slots__ = ("ip_off", "v6", "tcp_off", "pay_off", "pay_len", "src", "dst", "sport", "dport",
                 "seq", "ack", "flags")

    @property
    def key(self):
        return (self.src, self.sport, self.dst, self.dport)

    @property
    def conv(self):
        a, b = (self.src, self.sport), (self.dst, self.dport)
        return (a, b) if a < b else (b, a)


def ip_offset(linktype, d):
    if linktype == 1:  # Ethernet, with VLAN tags
        off, et = 14, struct.unpack("!H", d[12:14])[0] if len(d) >= 14 else 0
        while et in (0x8100, 0x88A8) and len(d) >= off + 4:
            et = struct.unpack("!H", d[off + 2:off + 4])[0]
            off += 4
        return off if et in (0x0800, 0x86DD) else None
    if linktype in (101, 12, 14, 228, 229):
        return 0
    if linktype in (0, 108):  # BSD loopback
        return 4
    if linktype == 113:  # Linux cooked
        return 16
    if linktype == 276:  # Linux cooked v2
        return 20
    return None


def parse_tcp(linktype, d):
    off = ip_offset(linktype, d)
    if off is None or len(d) < off + 20:
        return None
    t = Tcp()
    t.ip_off = off
    v = d[off] >> 4
    if v == 4:
        ihl = (d[off] & 15) * 4
        if ihl < 20 or d[off + 9] != 6 or len(d) < off + ihl + 20:
            return None
        if struct.unpack("!H", d[off + 6:off + 8])[0] & 0x3FFF:
            return None  # fragments are left alone
        total = struct.unpack("!H", d[off + 2:off + 4])[0]
        t.v6, t.src, t.dst = False, bytes(d[off + 12:off + 16]), bytes(d[off + 16:off + 20])
        t.tcp_off, end = off + ihl, off + total
    elif v == 6:
        if d[off + 6] != 6 or len(d) < off + 60:
            return None
        plen = struct.unpack("!H", d[off + 4:off + 6])[0]
        t.v6, t.src, t.dst = True, bytes(d[off + 8:off + 24]), bytes(d[off + 24:off + 40])
        t.tcp_off, end = off + 40, off + 40 + plen
    else:
        return None
    o = t.tcp_off
    t.sport, t.dport, t.seq, t.ack = struct.unpack("!HHII", d[o:o + 12])
    hl = (d[o + 12] >> 4) * 4
    t.flags = d[o + 13]
    if hl < 20:
        return None
    t.pay_off = o + hl
    t.pay_len = max(0, end - t.pay_off)
    return t


def set_payload(linktype, pkt, t, payload):
    """Replaces a frame's TCP payload, fixing the IP length fields (checksums are not checked
    by Wireshark by default and are left as they are)."""
    d = pkt.data
    new = d[:t.pay_off] + bytes(payload)
    o = t.ip_off
    if t.v6:
        new[o + 4:o + 6] = struct.pack("!H", len(new) - o - 40)
    else:
        new[o + 2:o + 4] = struct.pack("!H", len(new) - o)
    pkt.data = new
    pkt.orig_len = len(new)


def set_seq(pkt, t, seq=None, ack=None):
    o = t.tcp_off
    if seq is not None:
        pkt.data[o + 4:o + 8] = struct.pack("!I", seq & 0xFFFFFFFF)
    if ack is not None:
        pkt.data[o + 8:o + 12] = struct.pack("!I", ack & 0xFFFFFFFF)


def payload_packets(cap):
    """(index, Tcp) of the frames that carry TCP payload bytes in the capture."""
    out = []
    for i, p in enumerate(cap.packets):
        t = parse_tcp(cap.linktype, p.data)
        if t and t.pay_len > 0 and len(p.data) > t.pay_off:
            out.append((i, t))
    return out


# ---- mutations ----------------------------------------------------------------------------

TOKENS = [b"\r\n", b"\r", b"\n", b"*", b"$", b"-1", b"0", b"999999999", b"*2147483647\r\n",
          b"*2147483648\r\n", b"$536870912\r\n", b"$536870911\r\n", b"$1073741824\r\n",
          b"*-1\r\n", b"$-1\r\n", b"$0\r\n\r\n", b"*0\r\n", b"%", b">", b"|", b"~", b"=", b"!",
          b"(", b",", b"#", b"_", b":", b"+", b"-", b"%1\r\n", b">3\r\n", b"|1\r\n", b"~2\r\n",
          b"=5\r\ntxt:x\r\n", b",nan\r\n", b",-inf\r\n", b"(12345678901234567890\r\n",
          b"#t\r\n", b"_\r\n", b":-9223372036854775808\r\n", b":99999999999999999999\r\n",
          b"\"", b"'", b"\\x", b"\\", b" ", b"\x00", b"\xff\xff\xff\xff", b"*1\r\n" * 70,
          b"*3\r\n$3\r\nSET\r\n", b"*2\r\n$3\r\nGET\r\n", b"MULTI\r\n", b"EXEC\r\n",
          b"*2\r\n$9\r\nSUBSCRIBE\r\n", b"*1\r\n$7\r\nMONITOR\r\n", b"HELLO 3\r\n",
          b"*3\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", b"SPIPED_DH_SECRET ", b"\x00" * 32]


def _rand_byte(rng):
    return rng.choice([0, 0xFF, 0x7F, 0x80, ord("\r"), ord("\n"), ord("*"), ord("$"), ord("-"),
                       ord("0"), ord("9"), rng.randrange(256)])


def mut_bytes(rng, cap, ctx):
    pp = payload_packets(cap)
    if not pp:
        return None
    n = rng.choice([1, 1, 2, 4, 16])
    for _ in range(n):
        i, t = rng.choice(pp)
        d = cap.packets[i].data
        pos = rng.randrange(t.pay_off, min(len(d), t.pay_off + t.pay_len))
        if rng.random() < 0.3:
            d[pos] ^= 1 << rng.randrange(8)
        else:
            d[pos] = _rand_byte(rng)
    return f"bytes({n})"


def overwrite_tokens(rng, buf, lo, hi, n):
    """Writes n random tokens over buf[lo:hi), clipped to it."""
    if hi <= lo:
        return
    for _ in range(n):
        tok = rng.choice(TOKENS)
        pos = rng.randrange(lo, hi)
        tok = tok[:hi - pos]
        buf[pos:pos + len(tok)] = tok


def mut_tokens(rng, cap, ctx):
    pp = payload_packets(cap)
    if not pp:
        return None
    n = rng.choice([1, 1, 2, 3, 8])
    for _ in range(n):
        i, t = rng.choice(pp)
        d = cap.packets[i].data
        overwrite_tokens(rng, d, t.pay_off, min(len(d), t.pay_off + t.pay_len), 1)
    return f"tokens({n})"


def mut_splice(rng, cap, ctx):
    """Inserts or deletes bytes in one segment and shifts the stream positions after it."""
    pp = [(i, t) for i, t in payload_packets(cap) if len(cap.packets[i].data) >= t.pay_off + t.pay_len]
    if not pp:
        return None
    i, t = rng.choice(pp)
    d = cap.packets[i].data
    pay = bytearray(d[t.pay_off:t.pay_off + t.pay_len])
    pos = rng.randrange(len(pay) + 1)
    if rng.random() < 0.5 or len(pay) < 2:
        ins = rng.choice(TOKENS) if rng.random() < 0.7 else bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        if len(pay) + len(ins) > 65000:
            return None
        pay[pos:pos] = ins
        delta, what = len(ins), f"splice(+{len(ins)})"
    else:
        n = rng.randrange(1, min(64, len(pay) - pos) + 1) if pos < len(pay) else 0
        if n == 0:
            return None
        del pay[pos:pos + n]
        delta, what = -n, f"splice(-{n})"
    key, end = t.key, t.seq + t.pay_len
    set_payload(cap.linktype, cap.packets[i], t, pay)
    # later data of this direction moves; acknowledgements of the other one too
    for j in range(i + 1, len(cap.packets)):
        u = parse_tcp(cap.linktype, cap.packets[j].data)
        if not u:
            continue
        if u.key == key and ((u.seq - end) & 0xFFFFFFFF) < 0x80000000:
            set_seq(cap.packets[j], u, seq=u.seq + delta)
        elif u.key == (key[2], key[3], key[0], key[1]) and ((u.ack - end) & 0xFFFFFFFF) < 0x80000000:
            set_seq(cap.packets[j], u, ack=u.ack + delta)
    return what


def mut_truncate(rng, cap, ctx):
    pp = payload_packets(cap)
    if not pp:
        return None
    n = rng.choice([1, 1, 3, 10])
    for _ in range(n):
        i, t = rng.choice(pp)
        p = cap.packets[i]
        if len(p.data) == 0:
            continue
        if rng.random() < 0.8 and len(p.data) > t.pay_off:
            cut = rng.randrange(t.pay_off, len(p.data))  # inside the payload
        else:
            cut = rng.randrange(0, len(p.data))  # anywhere, headers included
        p.orig_len = max(p.orig_len, len(p.data))
        del p.data[cut:]
    return f"truncate({n})"


def mut_tail(rng, cap, ctx):
    if len(cap.packets) < 4:
        return None
    keep = rng.randrange(1, len(cap.packets))
    del cap.packets[keep:]
    return f"tail({keep})"


def mut_drop(rng, cap, ctx):
    pp = payload_packets(cap)
    if len(pp) < 2:
        return None
    n = min(len(pp) - 1, rng.choice([1, 1, 2, 5]))
    idx = sorted({i for i, _ in rng.sample(pp, n)}, reverse=True)
    for i in idx:
        del cap.packets[i]
    return f"drop({len(idx)})"


def mut_dup(rng, cap, ctx):
    pp = payload_packets(cap)
    if not pp:
        return None
    n = rng.choice([1, 2, 4])
    altered = 0
    for _ in range(n):
        i, t = rng.choice(pp)
        dup = cap.packets[i].copy()
        if rng.random() < 0.4:
            overwrite_tokens(rng, dup.data, t.pay_off, len(dup.data), 2)
            altered += 1
        cap.packets.insert(min(len(cap.packets), i + 1 + rng.randrange(4)), dup)
        pp = payload_packets(cap)
    return f"dup({n},{altered} altered)"


def mut_reorder(rng, cap, ctx):
    if len(cap.packets) < 3:
        return None
    n = rng.choice([1, 2, 5])
    for _ in range(n):
        i = rng.randrange(len(cap.packets) - 1)
        j = min(len(cap.packets) - 1, i + rng.choice([1, 1, 2, 5, 20]))
        p = cap.packets.pop(i)
        cap.packets.insert(j, p)
    return f"reorder({n})"


def mut_reseg(rng, cap, ctx):
    pp = [(i, t) for i, t in payload_packets(cap) if t.pay_len >= 2 and len(cap.packets[i].data) >= t.pay_off + t.pay_len]
    if not pp:
        return None
    i, t = rng.choice(pp)
    p = cap.packets[i]
    pay = bytes(p.data[t.pay_off:t.pay_off + t.pay_len])
    k = min(len(pay), rng.choice([2, 2, 3, 8]))
    cuts = sorted(rng.sample(range(1, len(pay)), k - 1)) if len(pay) > k else list(range(1, k))
    bounds = [0] + cuts + [len(pay)]
    pieces = []
    for a, b in zip(bounds, bounds[1:]):
        q = p.copy()
        u = parse_tcp(cap.linktype, q.data)
        set_payload(cap.linktype, q, u, pay[a:b])
        set_seq(q, u, seq=t.seq + a)
        pieces.append(q)
    cap.packets[i:i + 1] = pieces
    return f"reseg({len(pieces)})"


def mut_coalesce(rng, cap, ctx):
    pp = [(i, t) for i, t in payload_packets(cap) if len(cap.packets[i].data) >= t.pay_off + t.pay_len]
    cands = []
    for a in range(len(pp)):
        i, t = pp[a]
        for b in range(a + 1, min(len(pp), a + 6)):
            j, u = pp[b]
            if u.key == t.key and u.seq == ((t.seq + t.pay_len) & 0xFFFFFFFF) and t.pay_len + u.pay_len <= 65000:
                cands.append((i, t, j, u))
                break
    if not cands:
        return None
    i, t, j, u = rng.choice(cands)
    pj = cap.packets[j]
    merged = bytes(cap.packets[i].data[t.pay_off:t.pay_off + t.pay_len]) + bytes(pj.data[u.pay_off:u.pay_off + u.pay_len])
    set_payload(cap.linktype, cap.packets[i], t, merged)
    del cap.packets[j]
    return "coalesce"


def mut_overlap(rng, cap, ctx):
    pp = [(i, t) for i, t in payload_packets(cap) if len(cap.packets[i].data) >= t.pay_off + t.pay_len]
    if not pp:
        return None
    i, t = rng.choice(pp)
    q = cap.packets[i].copy()
    start = rng.randrange(t.pay_len)
    length = rng.randrange(1, 3000)
    junk = bytearray(rng.randrange(256) for _ in range(length))
    if rng.random() < 0.5:
        overwrite_tokens(rng, junk, 0, len(junk), 3)
    set_payload(cap.linktype, q, t, junk)
    set_seq(q, t, seq=t.seq + start)
    cap.packets.insert(min(len(cap.packets), i + 1 + rng.randrange(3)), q)
    return f"overlap({length})"


def mut_seqwrap(rng, cap, ctx):
    pp = payload_packets(cap)
    if not pp:
        return None
    i, t = rng.choice(pp)
    key = t.key
    # the chosen segment's sequence number ends up just below 2^32
    delta = (0x100000000 - t.seq - rng.randrange(1, max(2, t.pay_len + 1))) & 0xFFFFFFFF
    for p in cap.packets:
        u = parse_tcp(cap.linktype, p.data)
        if not u:
            continue
        if u.key == key:
            set_seq(p, u, seq=u.seq + delta)
        elif u.key == (key[2], key[3], key[0], key[1]) and u.flags & 0x10:
            set_seq(p, u, ack=u.ack + delta)
    return "seqwrap"


MUTATORS = {
    "bytes": (mut_bytes, 3), "tokens": (mut_tokens, 3), "splice": (mut_splice, 2),
    "truncate": (mut_truncate, 2), "tail": (mut_tail, 1), "drop": (mut_drop, 2),
    "dup": (mut_dup, 2), "reorder": (mut_reorder, 2), "reseg": (mut_reseg, 2),
    "coalesce": (mut_coalesce, 1), "overlap": (mut_overlap, 1), "seqwrap": (mut_seqwrap, 1),
}
EDITCAP_PROBS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]


# ---- spiped plaintext mutation ------------------------------------------------------------

class SpipedCrypto:
    """The project's core/spiped_crypto.c, compiled to a temporary library, through ctypes."""

    def __init__(self, workdir):
        so = os.path.join(workdir, "libspiped_crypto.so")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libgcrypt"], capture_output=True,
                               text=True, check=True).stdout.split()
        subprocess.run(["gcc", "-std=c11", "-O2", "-shared", "-fPIC", "-I", os.path.join(ROOT, "core"),
                        os.path.join(ROOT, "core", "spiped_crypto.c"), *flags, "-o", so],
                       check=True, capture_output=True)
        self.lib = ctypes.CDLL(so)
        self.lib.spiped_record_open.restype = ctypes.c_int
        self.lib.spiped_record_seal_plaintext.restype = ctypes.c_int
        if self.lib.spiped_crypto_init() != 0:
            raise RuntimeError("libgcrypt unusable")

    def open(self, E, H, n, rec):
        out = ctypes.create_string_buffer(1024)
        ln = ctypes.c_uint32(0)
        st = self.lib.spiped_record_open(E, H, ctypes.c_uint64(n), bytes(rec), out, ctypes.byref(ln))
        return st, out.raw[:ln.value]

    def seal_plaintext(self, E, H, n, plaintext1028):
        out = ctypes.create_string_buffer(1060)
        if self.lib.spiped_record_seal_plaintext(E, H, ctypes.c_uint64(n), bytes(plaintext1028), out) != 0:
            raise RuntimeError("seal failed")
        return out.raw

    def seal(self, E, H, n, data):
        pt = bytes(data) + bytes(1024 - len(data)) + struct.pack("!I", len(data))
        return self.seal_plaintext(E, H, n, pt)


def session_keys(keyfile_bytes, nonce_c, nonce_s, y_sc):
    K = hashlib.sha256(keyfile_bytes).digest()
    dk = hashlib.pbkdf2_hmac("sha256", K, nonce_c + nonce_s + y_sc, 1, 128)
    return {"c": (dk[0:32], dk[32:64]), "s": (dk[64:96], dk[96:128])}


def dh_message(keyfile_bytes, nonce_c, nonce_s, side, y):
    import hmac
    K = hashlib.sha256(keyfile_bytes).digest()
    dk = hashlib.pbkdf2_hmac("sha256", K, nonce_c + nonce_s, 1, 64)
    mac_key = dk[0:32] if side == "c" else dk[32:64]
    return y + hmac.new(mac_key, y, hashlib.sha256).digest()


DH_ONE = bytes(255) + b"\x01"


def read_keylog(path):
    secrets = {}
    if path and os.path.exists(path):
        for line in open(path, errors="replace"):
            f = line.split()
            if len(f) == 3 and f[0] == "SPIPED_DH_SECRET":
                try:
                    secrets[bytes.fromhex(f[1])] = bytes.fromhex(f[2])
                except ValueError:
                    pass
    return secrets


def tcp_streams(cap):
    """Per direction of every conversation whose SYN is in the capture: the stream bytes
    (None where not captured) and where each captured payload byte sits in which frame."""
    base, convs = {}, {}
    for i, p in enumerate(cap.packets):
        t = parse_tcp(cap.linktype, p.data)
        if not t:
            continue
        if t.flags & 0x02:
            base[t.key] = (t.seq + 1) & 0xFFFFFFFF
            if not t.flags & 0x10:
                convs[t.conv] = t.key  # the client's direction
            continue
        if t.pay_len == 0 or t.key not in base:
            continue
        off = (t.seq - base[t.key]) & 0xFFFFFFFF
        if off > 1 << 30:
            continue
        n = min(t.pay_len, len(p.data) - t.pay_off)
        if n > 0:
            convs.setdefault(("segs", t.key), []).append((i, t.pay_off, off, n))
    out = []
    for conv, ckey in convs.items():
        if conv[0] == "segs":
            continue
        skey = (ckey[2], ckey[3], ckey[0], ckey[1])
        dirs = {}
        for side, k in (("c", ckey), ("s", skey)):
            segs = convs.get(("segs", k), [])
            size = max((o + n for _, _, o, n in segs), default=0)
            data, have = bytearray(size), bytearray(size)
            for i, po, o, n in segs:
                data[o:o + n] = cap.packets[i].data[po:po + n]
                have[o:o + n] = b"\x01" * n
            dirs[side] = {"data": data, "have": have, "segs": segs}
        out.append(dirs)
    return out


def write_streams(cap, dirs):
    for side in ("c", "s"):
        d = dirs[side]
        for i, po, o, n in d["segs"]:
            cap.packets[i].data[po:po + n] = d["data"][o:o + n]


def mut_spiped_plain(rng, cap, ctx):
    crypto = ctx.get("crypto")
    if not crypto or not ctx.get("spiped"):
        return None
    keyfile = open(KEY, "rb").read()
    secrets = read_keylog(ctx.get("keylog"))
    done = []
    for dirs in tcp_streams(cap):
        c, s = dirs["c"], dirs["s"]
        if len(c["data"]) < 320 or len(s["data"]) < 320 or not all(c["have"][:320]) or not all(s["have"][:320]):
            continue
        nonce_c, nonce_s = bytes(c["data"][:32]), bytes(s["data"][:32])
        y_c, y_s = bytes(c["data"][32:288]), bytes(s["data"][32:288])
        if y_c == DH_ONE or y_s == DH_ONE:
            y_sc = DH_ONE
        else:
            y_sc = secrets.get(y_c) or secrets.get(y_s)
            if not y_sc:
                continue
        keys = session_keys(keyfile, nonce_c, nonce_s, y_sc)
        for side in ("c", "s"):
            d = dirs[side]
            E, H = keys[side]
            nrec = (len(d["data"]) - 320) // 1060
            recs = []  # (n, plaintext) of whole records that open
            for n in range(nrec):
                a = 320 + n * 1060
                if not all(d["have"][a:a + 1060]):
                    continue
                st, plain = crypto.open(E, H, n, d["data"][a:a + 1060])
                if st == 0:
                    recs.append((n, bytearray(plain)))
            if not recs:
                continue
            # the plaintext stream of these records, mutated in place (lengths kept)
            stream = bytearray(b"".join(p for _, p in recs))
            k = rng.choice([1, 2, 4, 8])
            for _ in range(k):
                if rng.random() < 0.6:
                    overwrite_tokens(rng, stream, 0, len(stream), 1)
                else:
                    stream[rng.randrange(len(stream))] = _rand_byte(rng)
            pos = 0
            bad_len = rng.random() < 0.15
            bad_n = rng.randrange(len(recs)) if bad_len else -1
            for idx, (n, plain) in enumerate(recs):
                chunk = stream[pos:pos + len(plain)]
                pos += len(plain)
                a = 320 + n * 1060
                if idx == bad_n:
                    L = rng.choice([0, 1025, 0xFFFFFFFF, 1 << 31])
                    pt = bytes(chunk) + bytes(1024 - len(chunk)) + struct.pack("!I", L)
                    d["data"][a:a + 1060] = crypto.seal_plaintext(E, H, n, pt)
                else:
                    d["data"][a:a + 1060] = crypto.seal(E, H, n, chunk)
            done.append(f"{side}:{k}{'+badlen' if bad_len else ''}")
        write_streams(cap, dirs)
    return f"plain({','.join(done)})" if done else None


# ---- running tshark -----------------------------------------------------------------------

SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|"
                          r"runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer")
BUG_RE = re.compile(r"dissector bug|Dissector bug|DISSECTOR_ASSERT|Too many items|"
                    r"-CRITICAL \*\*|-ERROR \*\*|\*\* \(tshark:\d+\): (CRITICAL|ERROR)|"
                    r"ws_assert|assertion failed|Assertion .* failed|Unhandled exception", re.I)


TOO_MANY_RE = re.compile(r"^.*Dissector bug, protocol [^,\n]+, in packet \d+: Adding \S+ would put more than "
                         r"\d+ items in the tree.*\n?", re.M)


# Wireshark 4.6's frame dissector adds its own items (frame.encoding) after its subdissectors,
# outside any exception handler: under the small tree limit this ends tshark whatever the
# plugin did (reproduced with the plugin absent and RESP disabled). The plugin adds no frame.*
# item, so such an end is Wireshark's, counted apart and not as a failure of the plugin.
FRAME_LIMIT_RE = re.compile(r'Unhandled exception \("Adding frame\.\S+ would put more than \d+ items in the tree')


def plugin_path(build):
    found = glob.glob(os.path.join(build, "plugins", "*", "epan", PLUGIN_NAME))
    return found[0] if found else None


def is_sanitized(so):
    with open(so, "rb") as f:
        return b"__asan_report" in f.read()


def sanitizer_env(build, sanitized):
    env = dict(os.environ)
    env["BUILD_DIR"] = build
    for k in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env.pop(k, None)
    if sanitized:
        libs = []
        for name in ("libasan.so", "libubsan.so"):
            p = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
            if not p or not os.path.exists(p):
                raise SystemExit(f"fuzz-dissector: {name} not found (gcc -print-file-name)")
            libs.append(p)
        env["LD_PRELOAD"] = ":".join(libs)
        env["ASAN_OPTIONS"] = ("detect_leaks=0:abort_on_error=1:halt_on_error=1:symbolize=1:"
                               "allocator_may_return_null=0:disable_coredump=1")
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1:symbolize=1"
    # as fuzz-test.sh does
    env["WIRESHARK_ABORT_ON_DISSECTOR_BUG"] = "1"
    env["WIRESHARK_ABORT_ON_TOO_MANY_ITEMS"] = "1"
    env["G_SLICE"] = "always-malloc"
    env.pop("WIRESHARK_DEBUG_WMEM_OVERRIDE", None)
    return env


def _no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _group_rss_kb(pgid):
    """Summed resident memory of the processes of a process group, in KB."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * (resource.getpagesize() // 1024)
        except (OSError, ValueError, IndexError):
            continue
    return total


def _stage_dirs(pgid):
    """The private folders tools/tshark-plugin made for the processes of a process group."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except (OSError, ProcessLookupError):
            continue
        found.update(re.findall(r"/tmp/tshark-plugin\.[A-Za-z0-9]{6}", cmd))
    return found


def run_tshark(args, env, timeout, stderr_path, stdout_path=os.devnull, max_rss_mb=None):
    """Runs tools/tshark-plugin ARGS in its own process group; kills the group after timeout
    seconds or when its resident memory passes max_rss_mb. Returns dict(rc, signal,
    timed_out, killed_rss, secs, rss_kb), rss_kb being the peak RSS of tshark (wait4)."""
    start = time.monotonic()
    with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
        p = subprocess.Popen([WRAPPER, *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             env=env, start_new_session=True, preexec_fn=_no_core)
    timed_out = killed_rss = False
    polls = 0
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.02 if polls < 50 else 0.2)
        polls += 1
        reason = None
        if time.monotonic() - start > timeout:
            reason = "timeout"
        elif max_rss_mb and polls % 5 == 0 and _group_rss_kb(p.pid) > max_rss_mb * 1024:
            reason = "rss"
        if reason:
            timed_out, killed_rss = reason == "timeout", reason == "rss"
            stages = _stage_dirs(p.pid)  # tools/tshark-plugin cannot clean up after SIGKILL
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, ru = os.wait4(p.pid, 0)
            for d in stages:
                shutil.rmtree(d, ignore_errors=True)
            break
    p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.monotonic() - start
    try:  # nothing of the group may outlive the run
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    rc = p.returncode
    sig = -rc if rc < 0 else (rc - 128 if rc > 128 else 0)
    return {"rc": rc, "signal": sig, "timed_out": timed_out, "killed_rss": killed_rss, "secs": secs,
            "rss_kb": ru.ru_maxrss}


def classify(res, stderr_text, max_rss_mb):
    """The failure kinds of one run (empty: it passed)."""
    kinds = []
    if res["timed_out"]:
        kinds.append("hang")
    if res.get("killed_rss") or res["rss_kb"] > max_rss_mb * 1024:
        kinds.append("memory")
    elif SANITIZER_RE.search(stderr_text):
        kinds.append("sanitizer")
    if BUG_RE.search(stderr_text):
        kinds.append("dissector-bug")
    killed = res["timed_out"] or res.get("killed_rss")  # killed by us: not a crash
    if not killed and (res["signal"] or (res["rc"] != 0 and not kinds)):
        kinds.append("crash")
    return kinds


def sanitizer_excerpt(text, lines=40):
    m = re.search(r"^.*(ERROR: \w+Sanitizer|runtime error:|dissector bug|CRITICAL|Too many items).*$",
                  text, re.M | re.I)
    start = text.rfind("\n", 0, m.start()) + 1 if m else max(0, len(text) - 4000)
    return "\n".join(text[start:].splitlines()[:lines])


# ---- preflight: is it really the (sanitized) plugin? ---------------------------------------

def preflight(build, env, sanitized, workdir):
    """Runs tshark on a FIFO, so that it waits with its plugins loaded, and checks in
    /proc/PID/maps that it mapped the build dir's plugin (same SHA-256) and, for a sanitized
    build, libasan. Returns a one-line description; raises SystemExit when it does not hold."""
    so = plugin_path(build)
    want = hashlib.sha256(open(so, "rb").read()).hexdigest()
    fifo = os.path.join(workdir, "preflight.fifo")
    os.mkfifo(fifo, 0o666)
    os.chmod(fifo, 0o666)
    err_path = os.path.join(workdir, "preflight.err")
    p = subprocess.Popen([WRAPPER, "-r", fifo], stdout=subprocess.DEVNULL, stderr=open(err_path, "wb"),
                         stdin=subprocess.DEVNULL, env=env, start_new_session=True, preexec_fn=_no_core)
    found, deadline = None, time.monotonic() + 60
    try:
        while time.monotonic() < deadline and p.poll() is None and not found:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.getpgid(int(pid)) != p.pid:
                        continue
                    with open(f"/proc/{pid}/comm") as f:
                        if f.read().strip() != "tshark":
                            continue
                    with open(f"/proc/{pid}/maps") as f:
                        maps = f.read()
                except (OSError, ProcessLookupError):
                    continue
                paths = {line.split(None, 5)[5].strip() for line in maps.splitlines() if len(line.split(None, 5)) == 6}
                plug = [x for x in paths if x.endswith("/" + PLUGIN_NAME)]
                if plug:
                    found = (plug[0], any("libasan" in x for x in paths),
                             any("libubsan" in x for x in paths), int(pid))
                    break
            time.sleep(0.05)
        if found:
            mapped, asan, ubsan, pid = found
            try:
                got = hashlib.sha256(open(f"/proc/{pid}/root{mapped}", "rb").read()).hexdigest()
            except OSError:
                got = hashlib.sha256(open(mapped, "rb").read()).hexdigest()
            with open(fifo, "wb") as f:  # let it finish on a real capture
                f.write(open(os.path.join(CAPTURES, "resp-errors.pcap"), "rb").read())
    finally:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        os.unlink(fifo)
    if not found:
        raise SystemExit("fuzz-dissector: preflight: tshark never mapped %s; stderr:\n%s" % (
            PLUGIN_NAME, open(err_path, errors="replace").read()[-3000:]))
    if got != want:
        raise SystemExit(f"fuzz-dissector: preflight: tshark mapped {mapped}, which is not {so}")
    if sanitized and not (asan and ubsan):
        raise SystemExit("fuzz-dissector: preflight: sanitized plugin but libasan/libubsan not mapped")
    if p.returncode != 0:
        raise SystemExit("fuzz-dissector: preflight run failed (%d):\n%s" % (
            p.returncode, open(err_path, errors="replace").read()[-3000:]))
    return (f"tshark maps {PLUGIN_NAME} identical to {os.path.relpath(so, ROOT)} (sha256 {want[:16]})"
            + (", with libasan and libubsan" if sanitized else ", not sanitized"))


CANARY_C = r"""
#define WS_BUILD_DLL
#include <wireshark.h>
#include <epan/packet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
WS_DLL_PUBLIC_DEF const gchar plugin_version[] = "0.0.0";
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;
WS_DLL_PUBLIC void plugin_register(void);
static int proto_canary = -1;
static volatile int sink;
/* Commits the error named by FUZZ_CANARY while dissecting frame 2. */
static int dissect_canary(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    (void)tvb; (void)tree; (void)data;
    const char *m = getenv("FUZZ_CANARY");
    if (!m || pinfo->num != 2)
        return 0;
    if (!strcmp(m, "asan")) {
        char *p = malloc(8);
        char *volatile q = p; /* hides the object size from UBSan: ASan must find it */
        q[8] = 1;
        sink = p[0];
        free(p);
    } else if (!strcmp(m, "ubsan")) {
        volatile int x = INT_MAX;
        x = x + (int)pinfo->num;
        sink = x;
    } else if (!strcmp(m, "segv")) {
        volatile int *volatile q = (volatile int *)16; /* not NULL: UBSan's null check stays out */
        *q = 1;
    } else if (!strcmp(m, "hang")) {
        for (;;)
            sleep(1);
    }
    return 0;
}
static void reg(void) { proto_canary = proto_register_protocol("Fuzz harness canary", "CANARY", "fuzzcanary"); }
static void handoff(void) { register_postdissector(create_dissector_handle(dissect_canary, proto_canary)); }
void plugin_register(void)
{
    static proto_plugin p;
    p.register_protoinfo = reg;
    p.register_handoff = handoff;
    proto_register_plugin(&p);
}
"""


def check_harness(build, env, sanitized, workdir, max_rss_mb):
    """Builds a canary plugin next to a copy of the plugin and checks that each deliberate
    error is reported. Returns a list of (what, ok, detail)."""
    so = plugin_path(build)
    rel = os.path.relpath(os.path.dirname(so), build)
    cbuild = os.path.join(workdir, "canary-build")
    os.makedirs(os.path.join(cbuild, rel))
    shutil.copy(so, os.path.join(cbuild, rel, PLUGIN_NAME))
    src = os.path.join(workdir, "fuzz_canary.c")
    open(src, "w").write(CANARY_C)
    cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "wireshark"], capture_output=True,
                            text=True, check=True).stdout.split()
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"] if sanitized else []
    subprocess.run(["gcc", "-O1", "-g", "-shared", "-fPIC", *san, src, *cflags, "-o",
                    os.path.join(cbuild, rel, "fuzz_canary.so")], check=True)
    cenv = dict(env, BUILD_DIR=cbuild)
    cap = os.path.join(CAPTURES, "resp-errors.pcap")
    results = []
    cases = [("none", [], None), ("segv", ["crash"], None), ("hang", ["hang"], 5)]
    if sanitized:
        cases[1:1] = [("asan", ["sanitizer"], None), ("ubsan", ["sanitizer"], None)]
    for mode, expect, tmo in cases:
        e = dict(cenv)
        if mode != "none":
            e["FUZZ_CANARY"] = mode
        err = os.path.join(workdir, f"canary-{mode}.err")
        res = run_tshark(["-r", cap, "-V"], e, tmo or 60, err)
        text = open(err, errors="replace").read()
        kinds = classify(res, text, max_rss_mb)
        ok = all(k in kinds for k in expect) and (expect or not kinds)
        if mode == "asan":
            ok = ok and "heap-buffer-overflow" in text and "dissect_canary" in text
        if mode == "ubsan":
            ok = ok and "signed integer overflow" in text
        results.append((mode, ok, f"rc={res['rc']} kinds={kinds or ['pass']} "
                                  f"{sanitizer_excerpt(text, 3).strip()[:200] if kinds else ''}"))
    return results


# ---- campaign -----------------------------------------------------------------------------

_EXPORT_DIR = None


def export_dir():
    """One folder for the objects the taps mode exports (tshark runs as nobody under root: it
    must be writable by all), removed when the campaign ends."""
    global _EXPORT_DIR
    if _EXPORT_DIR is None:
        _EXPORT_DIR = tempfile.mkdtemp(prefix="fuzz-dissector-eo-")
        os.chmod(_EXPORT_DIR, 0o1777)
        atexit.register(shutil.rmtree, _EXPORT_DIR, True)
    return _EXPORT_DIR


def modes_for(name, mode_filter, tree_limit=300):
    spiped = name.startswith("spiped-")
    keyopts = []
    if spiped:
        keyopts = ["-o", f"spiped.key_file:{KEY}"]
        if name.startswith("spiped-fs-keylog-"):
            keyopts = ["-o", "spiped.tcp.port:6489"] + keyopts + \
                      ["-o", f"spiped.keylog_file:{os.path.join(CAPTURES, name + '.keylog')}"]
    modes = [("plain", keyopts), ("V", keyopts + ["-V"]), ("2V", keyopts + ["-2", "-V"]),
             ("noreasm-V", keyopts + ["-V", "-o", "tcp.desegment_tcp_streams:FALSE"])]
    # a small tree limit makes proto_tree_add_*() throw part-way through dissecting: state kept
    # across packets must survive that (the limit's own "Dissector bug" message is expected)
    modes.append(("treelimit", keyopts + ["-V", "-o", f"gui.max_tree_items:{tree_limit}"]))
    if spiped:
        modes.append(("nokey", ["-o", "spiped.tcp.port:6489"] if name.startswith("spiped-fs-keylog-") else []))
    # every tap of the plugin at once (statistics trees, SRT, credentials, follow, export objects)
    modes.append(("taps", keyopts + ["-q", "-o", "resp.slow_threshold:1", "-o", "resp.export_min_size:16",
                                     "-o", "resp.export_max_size:1000000",
                                     "-z", "resp,tree", "-z", "resp_keys,tree", "-z", "resp_clients,tree",
                                     "-z", "resp,srt", "-z", "credentials", "-z", "follow,spiped,raw,0",
                                     "--export-objects", f"resp,{export_dir()}"]))
    if mode_filter:
        modes = [m for m in modes if m[0] in mode_filter]
    return modes


def make_variant(name, src, v, seed, workdir, ctx):
    """Writes variant v of capture src; returns (path, description)."""
    if v == 0:
        return src, "original"
    rng = random.Random(f"{seed}:{name}:{v}")
    cap = Pcap.read(src)
    ops = []
    names = list(MUTATORS)
    weights = [MUTATORS[n][1] for n in names]
    if ctx.get("spiped") and ctx.get("crypto"):
        names.append("plain")
        weights.append(6)
    nops = rng.choice([1, 1, 2, 3])
    use_editcap = rng.random() < 0.3
    for _ in range(nops):
        for _attempt in range(5):
            op = rng.choices(names, weights)[0]
            fn = mut_spiped_plain if op == "plain" else MUTATORS[op][0]
            try:
                d = fn(rng, cap, ctx)
            except Exception as e:  # noqa: BLE001 - a mutator bug must not end the campaign
                print(f"warning: mutator {op} failed on {name} v{v}: {e!r}", file=sys.stderr, flush=True)
                d = None
            if d:
                ops.append(d)
                break
    path = os.path.join(workdir, f"{name}.v{v}.pcap")
    cap.write(path)
    if use_editcap or not ops:
        prob = rng.choice(EDITCAP_PROBS)
        tmp = path + ".editcap"
        subprocess.run(["editcap", "-F", "pcap", "-E", str(prob), "--seed", str(rng.randrange(1 << 31)),
                        path, tmp], check=True, capture_output=True)
        os.replace(tmp, path)
        ops.append(f"editcap -E {prob}")
    return path, " + ".join(ops)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--variants", type=int, default=10, help="mutated variants per capture (default 10)")
    ap.add_argument("--time-budget", type=float, default=0,
                    help="stop starting new runs after this many seconds (default: no limit)")
    ap.add_argument("--jobs", type=int, default=2, help="tshark runs in parallel (default 2)")
    ap.add_argument("--keep-failures", metavar="DIR", help="save failing variants, stderr and command here")
    ap.add_argument("--build-dir", help="build tree of the plugin (default: build-asan if it exists, else build)")
    ap.add_argument("--captures", nargs="*", metavar="GLOB",
                    help="capture names or globs under test-captures (default: *.pcap)")
    ap.add_argument("--only", metavar="CAPTURE:VARIANT", action="append",
                    help="run just this variant (repeatable)")
    ap.add_argument("--modes", help="comma-separated subset of plain,V,2V,noreasm-V,treelimit,nokey,taps")
    ap.add_argument("--no-baseline", dest="baseline", action="store_false",
                    help="skip the unmutated captures (variant 0)")
    ap.add_argument("--shuffle", action="store_true",
                    help="run the mutated variants in a random order (seeded) instead of round by round")
    ap.add_argument("--sample-modes", type=int, default=0, metavar="K",
                    help="run each mutated variant in K randomly chosen modes only (default: all)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per tshark run (default 60)")
    ap.add_argument("--max-rss-mb", type=int, default=3072, help="peak RSS that counts as excessive (default 3072)")
    ap.add_argument("--check-harness", action="store_true",
                    help="also prove with a canary plugin that ASan/UBSan reports, crashes and hangs are caught")
    ap.add_argument("--no-preflight", action="store_true", help="skip the check of which plugin tshark maps")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run")
    a = ap.parse_args()

    build = os.path.abspath(a.build_dir) if a.build_dir else (
        os.path.join(ROOT, "build-asan") if plugin_path(os.path.join(ROOT, "build-asan")) else os.path.join(ROOT, "build"))
    so = plugin_path(build)
    if not so:
        print(f"fuzz-dissector: no {PLUGIN_NAME} under {build}/plugins; build first", file=sys.stderr)
        return 2
    for tool in ("editcap",):
        if not shutil.which(tool):
            print(f"fuzz-dissector: {tool} not found", file=sys.stderr)
            return 2
    sanitized = is_sanitized(so)
    env = sanitizer_env(build, sanitized)
    workdir = tempfile.mkdtemp(prefix="fuzz-dissector-")
    os.chmod(workdir, 0o755)
    t_start = time.monotonic()
    try:
        print(f"fuzz-dissector: plugin {os.path.relpath(so, ROOT)} ({'ASan+UBSan' if sanitized else 'NOT sanitized'}), "
              f"seed {a.seed}, {a.variants} variants, jobs {a.jobs}, timeout {a.timeout:g}s"
              + (f", time budget {a.time_budget:g}s" if a.time_budget else ""), flush=True)
        if not a.no_preflight:
            print("preflight: " + preflight(build, env, sanitized, workdir), flush=True)
        if a.check_harness:
            bad = 0
            for what, ok, detail in check_harness(build, env, sanitized, workdir, a.max_rss_mb):
                print(f"harness check {what:6s}: {'ok' if ok else 'NOT DETECTED'}  {detail}", flush=True)
                bad += not ok
            if bad:
                print("fuzz-dissector: 0 passed, %d failed" % bad)
                return 1

        files = sorted(glob.glob(os.path.join(CAPTURES, "*.pcap")))
        if a.captures:
            files = [f for f in files if any(fnmatch.fnmatch(os.path.basename(f), g) or
                                             fnmatch.fnmatch(os.path.basename(f), g + ".pcap") for g in a.captures)]
        if not files:
            print("fuzz-dissector: no captures selected", file=sys.stderr)
            return 2
        only = None
        if a.only:
            only = set()
            for o in a.only:
                n, _, v = o.rpartition(":")
                only.add((n.removesuffix(".pcap"), int(v)))
        mode_filter = set(a.modes.split(",")) if a.modes else None

        crypto = None
        if any(os.path.basename(f).startswith("spiped-") for f in files):
            try:
                crypto = SpipedCrypto(workdir)
            except Exception as e:  # noqa: BLE001 - optional mutation
                print(f"note: spiped plaintext mutation off ({e})", flush=True)

        keep = os.path.abspath(a.keep_failures) if a.keep_failures else None
        stats = {os.path.basename(f)[:-5]: {"variants": 0, "runs": 0, "failed": 0, "worst": 0.0,
                                             "worst_mode": "", "worst_rss_kb": 0} for f in files}
        counts = {"runs": 0, "passed": 0, "failed": 0, "crash": 0, "sanitizer": 0, "hang": 0,
                  "memory": 0, "dissector-bug": 0, "baseline_runs": 0, "mutated_files": 0,
                  "wireshark_own": 0}
        failures = []
        lock = threading.Lock()
        budget_hit = threading.Event()

        def over_budget():
            if a.time_budget and time.monotonic() - t_start > a.time_budget:
                budget_hit.set()
            return budget_hit.is_set()

        order = [(v, f) for v in range(0 if a.baseline else 1, a.variants + 1) for f in files]
        if a.shuffle:  # a budget then covers a sample of all captures and variants
            originals = [t for t in order if t[0] == 0]
            rest = [t for t in order if t[0] > 0]
            random.Random(f"{a.seed}:order").shuffle(rest)
            order = originals + rest

        def tasks():
            for v, f in order:
                name = os.path.basename(f)[:-5]
                if only is not None and (name, v) not in only:
                    continue
                if over_budget():
                    return
                keylog = os.path.join(CAPTURES, name + ".keylog")
                ctx = {"spiped": name.startswith("spiped-"), "crypto": crypto,
                       "keylog": keylog if os.path.exists(keylog) else None}
                path, desc = make_variant(name, f, v, a.seed, workdir, ctx)
                with lock:
                    stats[name]["variants"] += 1
                    counts["mutated_files"] += v > 0
                mrng = random.Random(f"{a.seed}:{name}:{v}:modes")
                ms = modes_for(name, mode_filter, mrng.randrange(60, 3000))
                if a.sample_modes and v > 0 and len(ms) > a.sample_modes:
                    ms = mrng.sample(ms, a.sample_modes)
                remaining = [len(ms)]
                for mode, margs in ms:
                    if over_budget():
                        return
                    yield name, v, path, desc, mode, margs, remaining

        def run_one(task):
            name, v, path, desc, mode, margs, remaining = task
            err = os.path.join(workdir, f"{name}.v{v}.{mode}.{threading.get_ident()}.err")
            e = dict(env)
            # alternate wmem's debug allocators: simple (one malloc each: ASan sees every
            # allocation) and strict (canaries, scrubbing)
            e["WIRESHARK_DEBUG_WMEM_OVERRIDE"] = "strict" if (v + len(mode)) % 3 == 0 else "simple"
            if mode == "treelimit":
                e.pop("WIRESHARK_ABORT_ON_TOO_MANY_ITEMS", None)
            args = ["-n", "-r", path, *margs]
            res = run_tshark(args, e, a.timeout, err, max_rss_mb=a.max_rss_mb)
            text = open(err, errors="replace").read()
            wireshark_own = False
            if mode == "treelimit":
                text = TOO_MANY_RE.sub("", text)
                wireshark_own = bool(FRAME_LIMIT_RE.search(text)) and not SANITIZER_RE.search(text)
            kinds = [] if wireshark_own else classify(res, text, a.max_rss_mb)
            with lock:
                st = stats[name]
                st["runs"] += 1
                counts["runs"] += 1
                counts["baseline_runs"] += v == 0
                if res["secs"] > st["worst"]:
                    st["worst"], st["worst_mode"] = res["secs"], f"v{v} {mode}"
                st["worst_rss_kb"] = max(st["worst_rss_kb"], res["rss_kb"])
                if kinds:
                    counts["failed"] += 1
                    st["failed"] += 1
                    for k in kinds:
                        counts[k] += 1
                    cmd = "tools/tshark-plugin " + " ".join(args)
                    fail = {"capture": name, "variant": v, "mutation": desc, "mode": mode, "kinds": kinds,
                            "rc": res["rc"], "secs": round(res["secs"], 2), "rss_mb": res["rss_kb"] // 1024,
                            "wmem": e["WIRESHARK_DEBUG_WMEM_OVERRIDE"], "excerpt": sanitizer_excerpt(text)}
                    if keep:
                        os.makedirs(keep, exist_ok=True)
                        base = os.path.join(keep, f"{name}.seed{a.seed}.v{v}")
                        if not os.path.exists(base + ".pcap"):
                            shutil.copy(path, base + ".pcap")
                        shutil.copy(err, f"{base}.{mode}.stderr")
                        with open(f"{base}.{mode}.txt", "w") as fh:
                            fh.write(f"capture: {name} variant {v} (seed {a.seed}): {desc}\n"
                                     f"mode: {mode}; kinds: {kinds}; rc {res['rc']}; {res['secs']:.1f} s\n"
                                     f"env: BUILD_DIR={build} WIRESHARK_DEBUG_WMEM_OVERRIDE="
                                     f"{e['WIRESHARK_DEBUG_WMEM_OVERRIDE']} LD_PRELOAD={e.get('LD_PRELOAD', '')} "
                                     f"ASAN_OPTIONS={e.get('ASAN_OPTIONS', '')}\n"
                                     f"command: {cmd.replace(path, base + '.pcap')}\n")
                        fail["saved"] = base + ".pcap"
                    failures.append(fail)
                    print(f"FAIL {name} v{v} [{mode}] {','.join(kinds)} rc={res['rc']} {res['secs']:.1f}s "
                          f"({desc})\n    " + fail["excerpt"].replace("\n", "\n    ")[:3000], flush=True)
                elif wireshark_own:  # the file was not dissected to its end: no pass either
                    counts["wireshark_own"] += 1
                else:
                    counts["passed"] += 1
                    if a.verbose:
                        print(f"ok   {name} v{v} [{mode}] {res['secs']:.1f}s {res['rss_kb'] // 1024} MB ({desc})",
                              flush=True)
                remaining[0] -= 1
                last = remaining[0] == 0
            os.unlink(err)
            if last and v > 0 and not (kinds and keep):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
            pending = set()
            for t in tasks():
                pending.add(ex.submit(run_one, t))
                if len(pending) >= 2 * a.jobs:
                    done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                    for d in done:
                        d.result()
            for d in concurrent.futures.as_completed(pending):
                d.result()

        elapsed = time.monotonic() - t_start
        print("\nper capture: variants run (v0 = the original), runs, failed, worst time (variant mode), peak RSS")
        for name, st in stats.items():
            if st["runs"]:
                print(f"  {name:28s} {st['variants']:4d} {st['runs']:5d} {st['failed']:4d} "
                      f"{st['worst']:6.1f}s ({st['worst_mode']}) {st['worst_rss_kb'] // 1024} MB")
        worst = max(stats.items(), key=lambda kv: kv[1]["worst"])
        print(f"\nfiles: {sum(1 for s in stats.values() if s['runs'])} captures, {counts['mutated_files']} mutated "
              f"variants; runs: {counts['runs']} ({counts['baseline_runs']} on the originals); "
              f"crashes: {counts['crash']}; sanitizer reports: {counts['sanitizer']}; "
              f"dissector bugs: {counts['dissector-bug']}; hangs: {counts['hang']}; "
              f"excessive memory: {counts['memory']}; worst time per file: {worst[1]['worst']:.1f}s "
              f"({worst[0]} {worst[1]['worst_mode']}); elapsed {elapsed:.0f}s"
              + ("; time budget reached" if budget_hit.is_set() else ""))
        if a.json:
            with open(a.json, "w") as fh:
                json.dump({"seed": a.seed, "variants": a.variants, "build": build, "sanitized": sanitized,
                           "elapsed": round(elapsed, 1), "counts": counts, "per_capture": stats,
                           "failures": failures, "budget_reached": budget_hit.is_set()}, fh, indent=1)
        if counts["wireshark_own"]:
            print(f"note: {counts['wireshark_own']} treelimit runs were ended early by Wireshark's own frame "
                  "dissector (an unhandled tree-limit exception on a frame.* item; not the plugin), "
                  "counted neither as passed nor as failed", flush=True)
        print(f"fuzz-dissector: {counts['passed']} passed, {counts['failed']} failed", flush=True)
        return 1 if counts["failed"] else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
