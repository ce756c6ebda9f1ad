"""Follow spiped Stream: `tshark -z follow,spiped,MODE,STREAM` prints a tunnel's plaintext.

The truth is the plaintext leg behind each captured tunnel (length and SHA-256 per direction,
recorded by the capture scripts from an uncommitted shadow capture, or for repl-tunnel the
committed clear leg read by the capture scripts' own stdlib TCP parser). Tunnels a server
speaks first in, or whose capture starts without the client's SYN, are built here: the
committed captures all have the client speak first.
"""
import base64
import glob
import hashlib
import hmac
import json
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

import pytest

from conftest import CAPTURES, ROOT, TSHARK, frames, truth, values
from pcapgen import TcpConversation

sys.path.insert(0, str(CAPTURES))
import spiped_traffic  # noqa: E402  (the capture scripts' stdlib pcap/TCP parser)

KEY = str(CAPTURES / "spiped-test.key")
WRONG = str(CAPTURES / "spiped-wrong.key")
WITH_KEY = ["-o", f"spiped.key_file:{KEY}"]
SEPARATOR = b"=" * 67 + b"\n"


def cap(name):
    return str(CAPTURES / f"{name}.pcap")


def keylog_opts(name, keylog=True):
    o = ["-o", "spiped.tcp.port:6489"] + WITH_KEY
    if keylog:
        o += ["-o", f"spiped.keylog_file:{CAPTURES / name}.keylog"]
    return o


# --------------------------------------------------------------------------- running, parsing

def run_follow(capture, stream, mode="raw", extra=()):
    """stdout of `tshark -q -z follow,spiped,MODE,STREAM` as bytes (the ASCII view carries
    CR bytes, which text mode would turn into newlines)."""
    return _tshark_bytes(["-r", capture, "-q", *extra, "-z", f"follow,spiped,{mode},{stream}"])


def follow_all(capture, streams, modes, extra=()):
    """{(mode, stream): Followed} from one tshark run holding one -z follow per pair (tshark
    prints each follow on its own, in the reverse order of the -z options)."""
    args = ["-r", capture, "-q", *extra]
    for m in modes:
        for st in streams:
            args += ["-z", f"follow,spiped,{m},{st}"]
    out = _tshark_bytes(args)
    start = b"\n" + SEPARATOR + b"Follow: spiped,"
    blocks = [start + b for b in out.split(start)[1:]]
    assert out.startswith(start) and len(blocks) == len(modes) * len(streams), out[:300]
    got = {}
    for b in blocks:
        mode = b[len(start):b.index(b"\n", len(start))].decode()
        f = Followed(b, mode)
        got[mode, int(f.filter.removeprefix("tcp.stream eq "))] = f
    assert len(got) == len(blocks)
    return got


def _tshark_bytes(args):
    args = [str(TSHARK), *map(str, args)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate()
            raise
    assert proc.returncode == 0, (args, err[-2000:])
    return out


class Followed:
    """One follow output: its header and its chunks [(from_server, payload)], where payload
    is the bytes (raw) or the printed text (ascii) of one tapped record, or one hex line."""

    def __init__(self, out, mode):
        assert out.endswith(SEPARATOR), out[-200:]
        head, sep, body = out.partition(b"\nNode 1: ")
        assert sep, out[:400]
        lines = head.split(b"\n")
        assert lines[:2] == [b"", SEPARATOR.rstrip(b"\n")], lines
        assert lines[2] == b"Follow: spiped," + mode.encode(), lines
        self.filter = lines[3].removeprefix(b"Filter: ").decode()
        self.node0 = lines[4].removeprefix(b"Node 0: ").decode()
        node1, _, body = body.partition(b"\n")
        self.node1 = node1.decode()
        body = body[:-len(SEPARATOR)]
        self.chunks = getattr(self, "_" + mode)(body)

    @staticmethod
    def _raw(body):
        return [(ln.startswith(b"\t"), bytes.fromhex(ln.lstrip(b"\t").decode()))
                for ln in body.split(b"\n")[:-1]]

    @staticmethod
    def _hex(body):
        # "OFFSET  up to 16 hex bytes  text" per line, each record from a new line; the offset
        # counts each direction's bytes. Chunks here are lines (records cannot always be told
        # apart: one of 16n bytes followed by one from the same side).
        chunks, pos = [], {False: 0, True: 0}
        for ln in body.split(b"\n")[:-1]:
            server = ln.startswith(b"\t")
            ln = ln.lstrip(b"\t")
            assert int(ln[:8], 16) == pos[server], ln
            data = bytes.fromhex(ln[10:58].decode())
            shown = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in data)
            assert 1 <= len(data) <= 16 and ln[58:60] == b"  ", ln
            text = shown[:8] + (b" " if len(data) >= 8 else b"") + shown[8:]
            assert ln[60:] == (text[:-1] if text.endswith(b" ") else text), ln  # (one trailing space dropped)
            chunks.append((server, data))
            pos[server] += len(data)
        return chunks

    @staticmethod
    def _ascii(body):
        # "LENGTH\n" (a tab first from the server), LENGTH characters, "\n"
        chunks, i = [], 0
        while i < len(body):
            server = body[i:i + 1] == b"\t"
            i += server
            nl = body.index(b"\n", i)
            n = int(body[i:nl])
            text = body[nl + 1:nl + 1 + n]
            assert len(text) == n and body[nl + 1 + n:nl + 2 + n] == b"\n", body[i:i + 80]
            chunks.append((server, text))
            i = nl + 2 + n
        return chunks

    def data(self, server):
        return b"".join(d for s, d in self.chunks if s == server)

    def lengths(self, server):
        return [len(d) for s, d in self.chunks if s == server]


def ascii_view(data):
    """What the ASCII mode prints for bytes: CR and LF as they are, other non-printables as '.'."""
    return bytes(b if b in (10, 13) or 0x20 <= b < 0x7F else 0x2E for b in data)


def blob(data):
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def streams(capture):
    """{TCP port: tcp.stream} of every connection in a capture (both ends' ports)."""
    out = {}
    for r in frames(capture, ["tcp.stream", "tcp.srcport", "tcp.dstport"], "tcp"):
        for p in r["tcp.srcport"] + r["tcp.dstport"]:
            out.setdefault(int(p), int(r["tcp.stream"][0]))
    return out


# --------------------------------------------------------------------------- the truth

def tunnels(name):
    """[(options, client "ip:port", server "ip:port", c2s truth, s2c truth, records or None)]
    of each tunnel in a capture that decrypts, from its truth file."""
    t = truth(name)
    if name.startswith("spiped-fs-keylog-"):
        port = t["tunnel_port"]
        return [(keylog_opts(name), f"127.0.0.1:{c['client_port']}", f"127.0.0.1:{port}",
                 c["plaintext"]["c2s"], c["plaintext"]["s2c"],
                 (c["directions"]["c2s"]["records"], c["directions"]["s2c"]["records"]))
                for c in t["tunnel_connections"]]
    if name == "repl-tunnel":
        tun = t["tunnel"]
        (clear,) = [c for c in spiped_traffic.connections(str(CAPTURES / tun["clear_leg_capture"]), 6379)
                    if str(c.client[1]) in t["connections"]]
        for d in (clear.c2s, clear.s2c):
            d.finish()
            assert clear.syn_seen and d.fin and d.complete(0, d.length), d.name  # nothing lost
        return [(WITH_KEY, f"127.0.0.1:{tun['tunnel_client_port']}", f"127.0.0.1:{tun['tunnel_port']}",
                 blob(clear.c2s.data), blob(clear.s2c.data), None)]
    (conn,) = t["wire"]["connections"]
    (plain,) = t["plaintext"]
    dirs = conn["directions"]
    return [(WITH_KEY, conn["client"], conn["server"], plain["c2s"], plain["s2c"],
             (dirs["c2s"]["records"], dirs["s2c"]["records"]))]


DECRYPTED = ["spiped-fast", "spiped-pipeline", "spiped-bigvalue", "spiped-other",
             "spiped-fs-keylog-client", "spiped-fs-keylog-server", "repl-tunnel"]
# captures with plaintext truth that cannot be decrypted: following them shows nothing
UNDECRYPTABLE = {
    "spiped-fs": "forward secrecy and no key log",
    "spiped-midstream": "the capture starts after the handshake",
    "spiped-snaplen": "no key exchange and no record is captured whole",
}
FLIPPED = "spiped-flipped"  # spiped-fast with one record altered: checked against spiped-fast


def test_every_capture_with_plaintext_truth_is_followed():
    with_plaintext = set()
    for path in glob.glob(str(CAPTURES / "*.truth.json")):
        t = json.load(open(path))
        conns = t.get("tunnel_connections", [])
        if "plaintext" in t or "tunnel" in t or any("plaintext" in c for c in conns):
            with_plaintext.add(pathlib.Path(path).name.removesuffix(".truth.json"))
    assert with_plaintext == set(DECRYPTED) | set(UNDECRYPTABLE) | {FLIPPED}


@pytest.mark.parametrize("name", DECRYPTED)
def test_follow_prints_the_plaintext_leg_byte_for_byte(name):
    port_stream = streams(cap(name))
    expect = tunnels(name)
    opts = expect[0][0]
    numbers = sorted(port_stream[int(e[1].rsplit(":", 1)[1])] for e in expect)
    # every TCP connection of the capture is a tunnel here, each followed on its own
    assert numbers == sorted(set(port_stream.values()))
    one_pass = follow_all(cap(name), numbers, ["raw", "hex", "ascii"], opts)
    two_pass = follow_all(cap(name), numbers, ["raw"], opts + ["-2"])  # taps run on the second
    for _, client, server, c2s, s2c, records in expect:
        stream = port_stream[int(client.rsplit(":", 1)[1])]
        raw = one_pass["raw", stream]
        assert (raw.filter, raw.node0, raw.node1) == (f"tcp.stream eq {stream}", client, server)
        for server_side, want in ((False, c2s), (True, s2c)):
            got = raw.data(server_side)
            want = {"bytes": want["bytes"], "sha256": want["sha256"]}
            assert blob(got) == want, (name, stream, server_side)
        if records:  # one chunk per record: none left out, none shown twice
            assert (len(raw.lengths(False)), len(raw.lengths(True))) == tuple(records)
        # the other views show the same records, byte for byte
        hexed, text = one_pass["hex", stream], one_pass["ascii", stream]
        for server_side in (False, True):
            assert hexed.data(server_side) == raw.data(server_side)
            assert text.lengths(server_side) == raw.lengths(server_side)
            assert text.data(server_side) == ascii_view(raw.data(server_side))
        assert [s for s, _ in text.chunks] == [s for s, _ in raw.chunks]
        twice = two_pass["raw", stream]
        assert (twice.chunks, twice.node0, twice.node1) == (raw.chunks, raw.node0, raw.node1)


def test_altered_record_is_left_out_and_nothing_else():
    fast = Followed(run_follow(cap("spiped-fast"), 0, "raw", WITH_KEY), "raw")
    flipped = Followed(run_follow(cap(FLIPPED), 0, "raw", WITH_KEY), "raw")
    t = truth(FLIPPED)
    n = t["flipped"]["record_number"]
    assert t["flipped"]["direction"].endswith("(c2s)")
    assert t["flipped"]["command_in_flipped_record"] == "SET counter 10"
    c_fast = [d for s, d in fast.chunks if not s]
    assert c_fast[n] == b"*3\r\n$3\r\nSET\r\n$7\r\ncounter\r\n$2\r\n10\r\n"  # one command per record here
    assert [d for s, d in flipped.chunks if not s] == c_fast[:n] + c_fast[n + 1:]
    assert blob(flipped.data(True)) == {k: t["plaintext"][0]["s2c"][k] for k in ("bytes", "sha256")}
    assert (flipped.node0, flipped.node1) == (fast.node0, fast.node1)


NOTHING = [
    *[(name, WITH_KEY, why) for name, why in UNDECRYPTABLE.items()],
    ("spiped-fast", [], "no key"),
    ("spiped-fast", ["-o", f"spiped.key_file:{WRONG}"], "the wrong key"),
    ("spiped-fs-keylog-client", keylog_opts("spiped-fs-keylog-client", keylog=False), "no key log"),
    ("spiped-fs-keylog-client", ["-o", "spiped.tcp.port:6489"] + WITH_KEY +
     ["-o", f"spiped.keylog_file:{CAPTURES}/spiped-fs-keylog-server.keylog"], "another capture's key log"),
    ("resp-basic", WITH_KEY, "no tunnel at all"),
]


@pytest.mark.parametrize("name,opts,why", NOTHING, ids=[f"{n}: {w}" for n, _, w in NOTHING])
def test_nothing_is_followed_without_the_secret(name, opts, why):
    numbers = sorted(set(streams(cap(name)).values()))
    for passes, modes in (([], ["raw", "ascii"]), (["-2"], ["raw"])):
        for (mode, stream), f in follow_all(cap(name), numbers, modes, opts + passes).items():
            assert f.chunks == [], (why, stream, passes, mode)


def test_address_pair_selects_the_same_tunnel():
    (opts, client, server, c2s, s2c, _), = tunnels("spiped-fast")
    by_index = Followed(run_follow(cap("spiped-fast"), 0, "raw", opts), "raw")
    for pair in (f"{client},{server}", f"{server},{client}"):
        f = Followed(run_follow(cap("spiped-fast"), pair, "raw", opts), "raw")
        assert f.chunks == by_index.chunks and f.chunks
        assert (f.node0, f.node1) == (client, server)
        assert "tcp.srcport eq" in f.filter


# --------------------------------------------------------------------------- built tunnels

def _xtime(a):
    return ((a << 1) ^ 0x11B) if a & 0x80 else a << 1


def _gmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a, b = _xtime(a), b >> 1
    return r


def _sbox():
    box = []
    for x in range(256):
        inv, p, e = 1, x, 254  # x^254 is x's inverse in GF(2^8) (0 for 0)
        while e:
            if e & 1:
                inv = _gmul(inv, p)
            p, e = _gmul(p, p), e >> 1
        inv = inv if x else 0
        s = inv
        for k in range(1, 5):
            s ^= ((inv << k) | (inv >> (8 - k))) & 0xFF
        box.append(s ^ 0x63)
    return box


SBOX = _sbox()


def aes256_blocks(key):
    """A FIPS-197 AES-256 block encryptor (the only primitive the stdlib lacks), so that the
    built tunnels need nothing installed."""
    w = [list(key[4 * i:4 * i + 4]) for i in range(8)]
    rcon = 1
    for i in range(8, 60):
        t = list(w[i - 1])
        if i % 8 == 0:
            t = [SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        elif i % 8 == 4:
            t = [SBOX[b] for b in t]
        w.append([a ^ b for a, b in zip(w[i - 8], t)])
    rk = [sum(w[4 * r:4 * r + 4], []) for r in range(15)]

    def encrypt(block):
        s = [b ^ k for b, k in zip(block, rk[0])]
        for r in range(1, 15):
            s = [SBOX[b] for b in s]
            s = [s[(i + 4 * (i % 4)) % 16] for i in range(16)]  # ShiftRows (column-major)
            if r < 14:
                m = []
                for c in range(4):
                    a = s[4 * c:4 * c + 4]
                    m += [_gmul(a[0], 2) ^ _gmul(a[1], 3) ^ a[2] ^ a[3],
                          a[0] ^ _gmul(a[1], 2) ^ _gmul(a[2], 3) ^ a[3],
                          a[0] ^ a[1] ^ _gmul(a[2], 2) ^ _gmul(a[3], 3),
                          _gmul(a[0], 3) ^ a[1] ^ a[2] ^ _gmul(a[3], 2)]
                s = m
            s = [b ^ k for b, k in zip(s, rk[r])]
        return bytes(s)
    return encrypt


def test_aes_matches_fips_197():
    enc = aes256_blocks(bytes(range(32)))
    assert enc(bytes.fromhex("00112233445566778899aabbccddeeff")).hex() == "8ea2b7ca516745bfeafc49904b496089"


ONE = bytes(255) + b"\x01"  # y = 1: the fast handshake (-f), no forward secrecy


class Tunnel:
    """A spiped connection (shared/spiped-protocol.md) between 10.0.0.1:40001 and
    10.0.0.2:6479, written as a pcap. start="synack": the capture misses the client's SYN."""

    CLIENT, SERVER = "10.0.0.1:40001", "10.0.0.2:6479"

    def __init__(self, key_path, start="syn"):
        K = hashlib.sha256(open(key_path, "rb").read()).digest()
        nc, ns = hashlib.sha256(b"client nonce").digest(), hashlib.sha256(b"server nonce").digest()
        dk1 = hashlib.pbkdf2_hmac("sha256", K, nc + ns, 1, 64)
        dk2 = hashlib.pbkdf2_hmac("sha256", K, nc + ns + ONE, 1, 128)
        self.nonce = {"c": nc, "s": ns}
        self.dh = {"c": ONE + hmac.new(dk1[:32], ONE, hashlib.sha256).digest(),
                   "s": ONE + hmac.new(dk1[32:], ONE, hashlib.sha256).digest()}
        self.keys = {"c": (aes256_blocks(dk2[0:32]), dk2[32:64]),
                     "s": (aes256_blocks(dk2[64:96]), dk2[96:128])}
        self.n = {"c": 0, "s": 0}
        self.sent = {"c": b"", "s": b""}  # plaintext that decrypts (good MACs)
        self.tcp = t = TcpConversation(40001, 6479, handshake=False)
        if start == "syn":
            t._pkt("c", t.SYN, b"")
        t.seq["c"] += 1
        t._pkt("s", t.SYN | t.ACK, b"")
        t.seq["s"] += 1
        t._pkt("c", t.ACK, b"")
        for who in "sc":  # the server's nonce first, as spiped often does
            t.send(who, self.nonce[who])
        t.send("c", self.dh["c"])
        t.send("s", self.dh["s"])

    def record(self, who, data, corrupt=False):
        enc, H = self.keys[who]
        n = self.n[who]
        self.n[who] += 1
        plain = data + bytes(1024 - len(data)) + struct.pack(">I", len(data))
        stream = b"".join(enc(struct.pack(">QQ", n, i)) for i in range(65))
        ct = bytes(a ^ b for a, b in zip(plain, stream))
        mac = hmac.new(H, ct + struct.pack(">Q", n), hashlib.sha256).digest()
        if corrupt:  # altered after its MAC was made
            ct = bytes([ct[0] ^ 1]) + ct[1:]
        else:
            self.sent[who] += data
        return ct + mac

    def send(self, who, data, corrupt=False):
        self.tcp.send(who, b"".join(self.record(who, data[i:i + 1024], corrupt)
                                    for i in range(0, len(data), 1024)))

    def write(self, path):
        self.tcp.write(str(path))
        return str(path)


def server_first(key, start="syn", client_fails_first=False):
    t = Tunnel(key, start)
    if client_fails_first:
        t.send("c", b"*1\r\n$4\r\nPING\r\n", corrupt=True)  # fails its MAC: never plaintext
    t.send("s", b"220 spiped test server ready\r\n")
    t.send("c", b"HELO client\r\n")
    t.send("s", b"250-hello\r\n" * 300)  # 3300 bytes: 4 records in one segment
    t.send("c", b"QUIT\r\n")
    t.send("s", b"221 bye\r\n")
    return t


@pytest.mark.parametrize("start,client_fails_first", [("syn", False), ("synack", False), ("syn", True)],
                         ids=["server speaks first", "capture starts at the SYN/ACK",
                              "the client's first record fails"])
def test_direction_is_the_tunnels_when_the_server_plaintext_comes_first(shared_tmp, start,
                                                                        client_fails_first):
    t = server_first(KEY, start, client_fails_first)
    pcap = t.write(shared_tmp / "server-first.pcap")
    assert len(values(pcap, "spiped.decrypted", extra=WITH_KEY)) == t.n["c"] + t.n["s"] - client_fails_first
    for passes in ([], ["-2"]):
        f = Followed(run_follow(pcap, 0, "raw", WITH_KEY + passes), "raw")
        assert (f.node0, f.node1) == (Tunnel.CLIENT, Tunnel.SERVER)
        assert f.chunks[0] == (True, b"220 spiped test server ready\r\n")  # indented: from the server
        assert f.data(False) == t.sent["c"] == b"HELO client\r\nQUIT\r\n"
        assert f.data(True) == t.sent["s"]
        text = Followed(run_follow(pcap, 0, "ascii", WITH_KEY + passes), "ascii")
        assert [s for s, _ in text.chunks] == [s for s, _ in f.chunks]
        assert text.data(True) == ascii_view(t.sent["s"])


def test_a_record_shown_again_is_followed_once(shared_tmp):
    # without TCP's sequence analysis a retransmitted segment reaches spiped a second time
    t = Tunnel(KEY)
    t.send("c", b"*1\r\n$4\r\nPING\r\n")
    rec = t.record("s", b"+PONG\r\n")
    t.tcp.send("s", rec)
    t.tcp.seq["s"] -= len(rec)
    t.tcp.send("s", rec)
    t.send("c", b"*1\r\n$4\r\nQUIT\r\n")
    t.send("s", b"+OK\r\n")
    pcap = t.write(shared_tmp / "retransmitted.pcap")
    opts = WITH_KEY + ["-o", "tcp.analyze_sequence_numbers:FALSE"]
    assert values(pcap, "spiped.decrypted", extra=opts).count(b"+PONG\r\n".hex()) == 2
    f = Followed(run_follow(pcap, 0, "raw", opts), "raw")
    assert f.chunks == [(False, b"*1\r\n$4\r\nPING\r\n"), (True, b"+PONG\r\n"),
                        (False, b"*1\r\n$4\r\nQUIT\r\n"), (True, b"+OK\r\n")]


# --------------------------------------------------------------------------- sharkd (GUI path)

def sharkd(requests, files, prefs, tmp):
    """Replies of sharkd (the engine behind Wireshark's web front ends) to JSON-RPC requests,
    with the plugin of this build. Like tools/tshark-plugin, as root it runs as nobody with a
    copy of the plugin and the files (root would ignore WIRESHARK_PLUGIN_DIR)."""
    build = pathlib.Path(os.environ.get("BUILD_DIR", ROOT / "build")).resolve()
    stage = pathlib.Path(tempfile.mkdtemp(dir=tmp))
    shutil.copytree(build / "plugins", stage / "plugins")
    staged = {}
    for f in files:
        staged[f] = str(shutil.copy(f, stage))
    home = stage / "home"
    (home / ".config" / "wireshark").mkdir(parents=True)
    (home / ".config" / "wireshark" / "preferences").write_text(
        "".join(f"{k}: {staged.get(v, v)}\n" for k, v in prefs.items()))
    (stage / "extcap").mkdir()
    env = dict(os.environ, HOME=str(home), WIRESHARK_PLUGIN_DIR=str(stage / "plugins"),
               WIRESHARK_EXTCAP_DIR=str(stage / "extcap"))
    (so,) = (stage / "plugins").glob("*/epan/*.so")
    if not env.get("LD_PRELOAD") and b"__asan_report" in so.read_bytes():  # a sanitized build
        lib = lambda n: subprocess.run(["gcc", f"-print-file-name={n}"], capture_output=True,  # noqa: E731
                                       text=True).stdout.strip()
        env["LD_PRELOAD"] = f"{lib('libasan.so')}:{lib('libubsan.so')}"
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
    cmd = ["sharkd", "-"]
    if os.geteuid() == 0:
        for p in [stage, *stage.rglob("*")]:
            os.chown(p, 65534, 65534)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    text = "".join(json.dumps(dict(jsonrpc="2.0", id=i + 1, method=m,
                                   params={k: staged.get(v, v) for k, v in p.items()})) + "\n"
                   for i, (m, p) in enumerate(requests))
    p = subprocess.run(cmd, input=text, capture_output=True, text=True, env=env, timeout=300)
    replies = [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]
    ids = list(range(1, len(requests) + 1))
    assert [r.get("id") for r in replies] == ids, (p.stdout[-2000:], p.stderr[-2000:])
    assert all("result" in r for r in replies), replies
    return [r["result"] for r in replies]


def test_gui_follow_path_builds_the_filter_from_a_tunnel_packet(shared_tmp):
    # The Qt GUI (4.4, 4.6) and sharkd offer "Follow spiped Stream" on a packet that has spiped
    # in its layers and ask the follower's conversation filter for it; then they retap.
    (opts, client, server, c2s, s2c, _), = tunnels("spiped-fast")
    first_record = int(values(cap("spiped-fast"), "frame.number", "spiped.record")[0])
    res = sharkd([("load", {"file": cap("spiped-fast")}),
                  ("frame", {"frame": first_record}),
                  ("frame", {"frame": 1}),
                  ("follow", {"follow": "spiped", "filter": "tcp.stream eq 0"})],
                 [cap("spiped-fast"), KEY], {"spiped.key_file": KEY}, shared_tmp)
    assert ["spiped", "tcp.stream eq 0"] in res[1]["fol"]
    assert "spiped" not in [f[0] for f in res[2]["fol"]]  # the SYN: no tunnel message in it
    payloads = res[3]["payloads"]
    got = {side: b"".join(base64.b64decode(p["d"]) for p in payloads if bool(p.get("s")) == side)
           for side in (False, True)}
    assert blob(got[False]) == {k: c2s[k] for k in ("bytes", "sha256")}
    assert blob(got[True]) == {k: s2c[k] for k in ("bytes", "sha256")}
    assert f'{res[3]["chost"]}:{res[3]["cport"]}' == client
