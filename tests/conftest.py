"""Shared helpers: run tshark with the freshly built plugin and read fields back."""
import collections
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "test-captures"
TSHARK = ROOT / "tools" / "tshark-plugin"
SEP = "\x1f"  # between occurrences of a field in one frame
# Every tshark run of the suite aborts on a dissector bug (as Wireshark's own fuzz tests do),
# so that a bug report can never pass unnoticed in some test's stderr.
os.environ["WIRESHARK_ABORT_ON_DISSECTOR_BUG"] = "1"


def _boolean_spelling():
    """How this tshark prints a boolean field: "1"/"0" on 4.0, "True"/"False" from 4.4 on.
    Read off the handshake of a bundled capture (SYN, SYN/ACK, ACK) rather than guessed."""
    out = subprocess.run(["tshark", "-n", "-r", str(CAPTURES / "resp-basic.pcap"), "-c", "3", "-T", "fields",
                          "-e", "tcp.flags.syn"], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, HOME=tempfile.gettempdir())).stdout.split()
    assert len(out) == 3 and out[0] == out[1] != out[2], out
    return out[0], out[2]


TRUE, FALSE = _boolean_spelling()


def tshark(*args, timeout=600, check=True):
    # its own process group: on a timeout the wrapper and the tshark it started (as another
    # user, under root) are stopped together
    with subprocess.Popen([str(TSHARK), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, errors="replace", start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # the wrapper then removes its staging folder
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
            raise
    p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check and p.returncode != 0:
        raise AssertionError(f"tshark {args} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p


def frames(capture, fields, display_filter=None, extra=()):
    """One dict per frame: field name -> list of occurrences (empty list when absent)."""
    args = ["-r", capture, "-T", "fields", "-E", f"aggregator={SEP}", "-E", "occurrence=a",
            "-E", "separator=\t"]
    for f in fields:
        args += ["-e", f]
    if display_filter:
        args += ["-Y", display_filter]
    args += list(extra)
    out = tshark(*args).stdout
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(fields) - len(cols))
        rows.append({f: (c.split(SEP) if c != "" else []) for f, c in zip(fields, cols)})
    return rows


def values(capture, field, display_filter=None, extra=()):
    """All occurrences of one field, in frame order."""
    out = []
    for row in frames(capture, [field], display_filter or field, extra):
        out += row[field]
    return out


def netns_problem():
    """Why a private network namespace cannot be made and entered here (None: it can). The
    live tests run their servers in one; a chroot that is no mount point of its own fails at
    `ip netns exec`."""
    probe = f"resp-probe-{os.getpid()}"
    p = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=30)
    if p.returncode == 0:
        p = subprocess.run(["ip", "netns", "exec", probe, "true"], capture_output=True, text=True,
                           timeout=30)
        subprocess.run(["ip", "netns", "delete", probe], capture_output=True, timeout=30)
    return None if p.returncode == 0 else f"network namespaces are not usable here: {p.stderr.strip()}"


def truth(name):
    with open(CAPTURES / f"{name}.truth.json") as f:
        return json.load(f)


@pytest.fixture
def shared_tmp():
    """A temporary folder readable by the unprivileged user tshark runs as under root."""
    d = tempfile.mkdtemp(prefix="resp-test-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- truth-file captures
# Shared by the test files whose checks take a folder and a capture name (the committed
# captures, or fresh ones the live test makes), so that both run the very same checks.

def load(d, name):
    with open(pathlib.Path(d) / f"{name}.truth.json") as f:
        return json.load(f)


def pcap(d, name):
    return str(pathlib.Path(d) / f"{name}.pcap")


def ints(xs):
    return [int(x) for x in xs]


def rows_by_frame(d, name, fields, flt, extra=("-2",)):
    """{frame number: row} of frames() on a capture (two-pass by default)."""
    return {int(r["frame.number"][0]): r for r in frames(pcap(d, name), ["frame.number", *fields], flt,
                                                          list(extra))}


def ports_filter(ports):
    return "(%s)" % " || ".join(f"tcp.port == {p}" for p in ports)


def check_reply_pairing(conns, rows):
    """resp.response_in / resp.response_to of every request and reply of the client connections
    in conns = the pairs the truth records; returns how many requests were checked."""
    n = 0
    for c in conns:
        if c["kind"] != "client":
            continue
        want_in, want_to = collections.defaultdict(list), collections.defaultdict(list)
        for q in c["requests"]:
            want_in[q["frame"]]
            if q.get("reply_frame"):
                want_in[q["frame"]].append(q["reply_frame"])
                want_to[q["reply_frame"]].append(q["frame"])
        for f, w in want_in.items():
            assert ints(rows[f]["resp.response_in"]) == w, (c["client_port"], c["server_port"], f)
            n += 1
        for f, w in want_to.items():
            assert ints(rows[f]["resp.response_to"]) == w, (c["client_port"], c["server_port"], f)
    return n


def live_capture(script, server, out, args=(), timeout=400, why="live captures need root"):
    """Run a make-*-captures.sh with the local server into out (skips where it cannot run:
    not root, a tool missing, no usable network namespace), then make its files readable."""
    if os.geteuid() != 0:
        pytest.skip(f"{why} (network namespace, tcpdump)")
    for tool in ("ip", "ss", "ps", "tcpdump", server, server.replace("-server", "-cli")):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    problem = netns_problem()
    if problem:
        pytest.skip(problem)
    p = subprocess.run([str(script), "--server", server, "--out", str(out), *args], capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr[-3000:]
    for f in pathlib.Path(out).iterdir():
        f.chmod(0o644)


def run_checks(d, names, checks):
    """Every check on every capture, all failures reported together."""
    failures = []
    for name in names:
        for check in checks:
            try:
                check(d, name)
            except AssertionError as e:
                label = f"{check.__name__}({name})" if len(names) > 1 else check.__name__
                failures.append(f"{label}: {str(e)[:600]}")
    assert not failures, "\n".join(failures)
