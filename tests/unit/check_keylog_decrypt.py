#!/usr/bin/python3
"""End-to-end proof that a spiped key log decrypts a forward-secret capture.

usage: check_keylog_decrypt.py --pcap P --key KEYFILE --keylog KEYLOG
                               [--tunnel-port 6489] [--truth T.truth.json]
                               [--cli PATH]

Parses the capture with the stdlib (the pcap/TCP reassembly of
test-captures/spiped_traffic.py), hands nonces, DH messages and record
streams of every tunnel connection to the C CLI check_keylog_decrypt (built
from core/spiped_keylog.c + core/spiped_crypto.c into a temporary directory
unless --cli is given), which looks y_S / y_C up in the key log, derives the
session keys and opens every record.  With --truth, the decrypted streams
must equal the plaintext leg recorded in the truth file (length and SHA-256)
and the Redis commands parsed from them must equal what redis-server's
MONITOR saw.  Exit status 0 on success.
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test-captures"))
import spiped_traffic as st  # noqa: E402  (shared stdlib pcap/TCP parser)


def build_cli(tmp):
    out = os.path.join(tmp, "check_keylog_decrypt")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libgcrypt"], check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-std=c11", "-O2",
                    "-I" + os.path.join(ROOT, "core"),
                    os.path.join(ROOT, "core", "spiped_keylog.c"),
                    os.path.join(ROOT, "core", "spiped_crypto.c"),
                    os.path.join(HERE, "check_keylog_decrypt.c")] + flags + ["-o", out],
                   check=True, timeout=120)
    return out


def sessions(pcap, port):
    """[(client_port, server_port, blob)] for every tunnel connection."""
    out = []
    for c in st.connections(pcap, port):
        c.c2s.finish()
        c.s2c.finish()
        for d in (c.c2s, c.s2c):
            if not c.syn_seen or not d.complete(0, d.length) or d.length < st.HANDSHAKE_LEN:
                raise SystemExit("%s:%d: %s not completely captured"
                                 % (c.client[0], c.client[1], d.name))
        nc, mc = c.c2s.data[:32], c.c2s.data[32:st.HANDSHAKE_LEN]
        ns, ms = c.s2c.data[:32], c.s2c.data[32:st.HANDSHAKE_LEN]
        rc, rs = c.c2s.data[st.HANDSHAKE_LEN:], c.s2c.data[st.HANDSHAKE_LEN:]
        blob = (struct.pack(">HH", c.client[1], c.server[1]) + nc + ns + mc + ms +
                struct.pack(">Q", len(rc)) + rc + struct.pack(">Q", len(rs)) + rs)
        out.append((c.client[1], c.server[1], blob, mc[:256], ms[:256]))
    return out


# --- minimal RESP reader (requests are arrays of bulk strings) -------------

def resp_values(buf):
    """Split a RESP2/RESP3 byte stream into top-level values (parsed)."""
    vals, i = [], 0

    def line(j):
        k = buf.index(b"\r\n", j)
        return buf[j:k], k + 2

    def one(j):
        t = buf[j:j + 1]
        if t in (b"+", b"-", b":", b",", b"#", b"_", b"("):
            s, j = line(j + 1)
            return (t, s), j
        if t in (b"$", b"=", b"!"):
            s, j = line(j + 1)
            n = int(s)
            if n < 0:
                return None, j
            return buf[j:j + n], j + n + 2
        if t in (b"*", b"~", b">", b"%", b"|"):
            s, j = line(j + 1)
            n = int(s)
            if t in (b"%", b"|"):
                n *= 2
            items = []
            for _ in range(max(n, 0)):
                v, j = one(j)
                items.append(v)
            return items, j
        raise ValueError("not RESP at offset %d: %r" % (j, buf[j:j + 20]))

    while i < len(buf):
        v, i = one(i)
        vals.append(v)
    return vals


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcap", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--keylog", required=True)
    ap.add_argument("--tunnel-port", type=int, default=6489)
    ap.add_argument("--truth")
    ap.add_argument("--cli")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="keylog-check.") as tmp:
        cli = a.cli or build_cli(tmp)
        sess = sessions(a.pcap, a.tunnel_port)
        if not sess:
            raise SystemExit("no tunnel connection on port %d" % a.tunnel_port)
        sfile = os.path.join(tmp, "sessions.bin")
        with open(sfile, "wb") as f:
            for s in sess:
                f.write(s[2])
        outdir = os.path.join(tmp, "plain")
        os.mkdir(outdir)
        res = subprocess.run([cli, a.key, a.keylog, sfile, outdir], capture_output=True,
                             text=True, timeout=300)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        ok = res.returncode == 0
        if not ok:
            print("C check failed (exit %d)" % res.returncode)

        if a.truth and ok:
            with open(a.truth) as f:
                truth = json.load(f)
            tcs = truth["tunnel_connections"]
            if len(tcs) != len(sess):
                raise SystemExit("truth has %d tunnel connections, capture %d"
                                 % (len(tcs), len(sess)))
            missing = list(truth.get("not_in_monitor", []))
            for (cport, _sport, _b, _yc, _ys), tc in zip(sess, tcs):
                if tc["client_port"] != cport:
                    raise SystemExit("connection order differs from the truth file")
                plain = {}
                for d in ("c2s", "s2c"):
                    with open(os.path.join(outdir, "%d.%s" % (cport, d)), "rb") as f:
                        plain[d] = f.read()
                    want = tc["plaintext"][d]
                    same = (len(plain[d]) == want["bytes"] and
                            hashlib.sha256(plain[d]).hexdigest() == want["sha256"])
                    print("port %d %s: %d bytes decrypted, equal to the plaintext leg: %s"
                          % (cport, d, len(plain[d]), same))
                    ok &= same
                reqs = resp_values(plain["c2s"])
                replies = resp_values(plain["s2c"])
                names = [r[0].decode("latin-1").upper() for r in reqs]
                mon = truth["connections"].get(str(tc["redis_port"]), [])
                rest = list(names)
                for m in list(missing):       # unknown commands never reach MONITOR
                    if m in rest and rest.count(m) > mon.count(m):
                        rest.remove(m)
                        missing.remove(m)
                same = rest == mon
                print("port %d: %d commands decrypted, %d replies; commands equal MONITOR's "
                      "list for redis port %d: %s"
                      % (cport, len(reqs), len(replies), tc["redis_port"], same))
                ok &= same and len(reqs) == len(replies)
            if missing:
                print("not_in_monitor entries not found in any decrypted stream: %s" % missing)
                ok = False
    print("RESULT: %s" % ("OK" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
