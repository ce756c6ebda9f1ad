"""Forward-secret spiped sessions decrypted with a key log written by libspiped-keylog.so."""
import collections
import json
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import CAPTURES, FALSE, ROOT, TRUE, frames, tshark, values

KEY = str(CAPTURES / "spiped-test.key")
PORT = ["-o", "spiped.tcp.port:6489"]
PRELOAD = ROOT / os.environ.get("BUILD_DIR", "build") / "keylog" / "libspiped-keylog.so"


# tcpdump on a busy loopback sometimes captures a segment after the one that follows it; TCP
# in Wireshark 4.0 hands such a segment to no dissector unless told to reorder
TCP_OOO = ["-o", "tcp.reassemble_out_of_order:TRUE"]


def opts(keylog=None, extra=()):
    o = PORT + list(extra) + ["-o", f"spiped.key_file:{KEY}"]
    if keylog:
        o += ["-o", f"spiped.keylog_file:{keylog}"]
    return o


def sessions(pcap, extra):
    """resp.command sequences per tunnel connection, in the order the connections started."""
    seqs = collections.OrderedDict()
    for row in frames(pcap, ["tcp.stream", "resp.command"], "resp.request", extra):
        seqs.setdefault(row["tcp.stream"][0], []).extend(row["resp.command"])
    return sorted(seqs.values())


def truth_sessions(truth_path):
    t = json.load(open(truth_path))
    skip = set(t.get("not_in_monitor", []))
    return sorted(list(cmds) for cmds in t["connections"].values()), skip


def check_decrypts(pcap, keylog, truth_path, extra=()):
    want, skip = truth_sessions(truth_path)
    got = [[c for c in s if c not in skip] for s in sessions(pcap, opts(keylog, extra))]
    assert got == want
    lengths = [int(n) for n in values(pcap, "resp.bulk_string.length", extra=opts(keylog, extra))]
    assert max(lengths) >= 1_000_000
    assert values(pcap, "spiped.mac_invalid", extra=opts(keylog, extra)) == []


@pytest.mark.parametrize("side", ["client", "server"])
def test_committed_capture_decrypts_with_its_key_log(side):
    base = CAPTURES / f"spiped-fs-keylog-{side}"
    check_decrypts(f"{base}.pcap", f"{base}.keylog", f"{base}.truth.json")
    assert set(values(f"{base}.pcap", "spiped.keylog", extra=opts(f"{base}.keylog"))) == {TRUE}


@pytest.mark.parametrize("side", ["client", "server"])
def test_key_file_alone_verifies_but_does_not_decrypt(side):
    pcap = str(CAPTURES / f"spiped-fs-keylog-{side}.pcap")
    assert set(values(pcap, "spiped.key_verified", extra=opts())) == {TRUE}
    assert set(values(pcap, "spiped.forward_secrecy", extra=opts())) == {TRUE}
    msgs = values(pcap, "_ws.expert.message", "spiped.dh", opts())
    assert sum("Forward-secret session" in m for m in msgs) == 3
    assert values(pcap, "spiped.decrypted", extra=opts()) == []
    assert values(pcap, "resp", extra=opts()) == []


def test_other_endpoints_log_does_not_fit():
    pcap = str(CAPTURES / "spiped-fs-keylog-server.pcap")
    keylog = str(CAPTURES / "spiped-fs-keylog-client.keylog")
    assert values(pcap, "spiped.decrypted", extra=opts(keylog)) == []


def test_malformed_lines_are_skipped_with_one_message(shared_tmp):
    good = (CAPTURES / "spiped-fs-keylog-client.keylog").read_text().splitlines()
    bad = shared_tmp / "mixed.keylog"
    bad.write_text("\n".join(["# comment", "SPIPED_DH_SECRET abc def", "garbage line",
                              "SPIPED_DH_SECRET " + "0" * 512 + " " + "1" * 511, good[0],
                              "SPIPED_DH_SECRET " + "zz" * 256 + " " + "11" * 256] + good[1:]) + "\n")
    pcap = str(CAPTURES / "spiped-fs-keylog-client.pcap")
    p = tshark("-r", pcap, *opts(bad), "-Y", "resp.request", "-T", "fields", "-e", "resp.command")
    assert p.stderr.count("malformed line(s) skipped") == 1
    assert "line 2" in p.stderr
    assert len([l for l in p.stdout.splitlines() if l]) > 20


def test_last_line_without_newline_is_used(shared_tmp):
    # a key log cut right after its last entry (the writer not done with the line yet)
    base = CAPTURES / "spiped-fs-keylog-client"
    cut = shared_tmp / "cut.keylog"
    cut.write_text((CAPTURES / "spiped-fs-keylog-client.keylog").read_text().rstrip("\n"))
    check_decrypts(f"{base}.pcap", cut, f"{base}.truth.json")


def test_missing_key_log_is_reported(shared_tmp):
    pcap = str(CAPTURES / "spiped-fs-keylog-client.pcap")
    p = tshark("-r", pcap, *opts(shared_tmp / "nope.keylog"), "-Y", "spiped.dh", "-T", "fields",
               "-e", "_ws.expert.message")
    assert "cannot be read" in p.stderr + p.stdout


def _as_root():
    """The prefix that runs a live capture as root (tcpdump on lo needs it): nothing for root,
    sudo for a user with password-less sudo (as the README's sudo user has), else None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True,
                                               timeout=30).returncode == 0:
        return ["sudo", "-n"]
    return None


AS_ROOT = _as_root()


@pytest.mark.skipif(AS_ROOT is None or not shutil.which("spiped") or not shutil.which("tcpdump"),
                    reason="needs root or password-less sudo, spiped and tcpdump for a live capture")
@pytest.mark.parametrize("side", ["client", "server"])
def test_live_tunnel_with_preloaded_helper(side, shared_tmp):
    """Real redis-server and spiped without -f, the helper preloaded at one end."""
    assert PRELOAD.exists(), "build the spiped-keylog target first"
    p = subprocess.run([*AS_ROOT, "env", f"OUTDIR={shared_tmp}", f"SPIPED_KEYLOG_LIB={PRELOAD}", "bash",
                        str(CAPTURES / "make-spiped-keylog-capture.sh"), side],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    base = shared_tmp / f"spiped-fs-keylog-{side}"
    files = [f"{base}.pcap", f"{base}.keylog", f"{base}.truth.json"]
    if AS_ROOT:  # written by root: hand them to this user
        subprocess.run([*AS_ROOT, "chown", f"{os.getuid()}:{os.getgid()}", *files], check=True, timeout=30)
    for f in files:
        os.chmod(f, 0o644)
    check_decrypts(f"{base}.pcap", f"{base}.keylog", f"{base}.truth.json", TCP_OOO)
    assert set(values(f"{base}.pcap", "spiped.key_verified", extra=opts())) == {TRUE}
    assert values(f"{base}.pcap", "spiped.decrypted", extra=opts()) == []
