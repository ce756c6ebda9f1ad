"""Export Objects › RESP (`tshark --export-objects resp,DIR`, the GUI's File › Export Objects, sharkd's
"eo:resp" tap): replication snapshots and big bulk values, checked byte for byte against the
servers' own record (the truth files of the committed captures).

What is exported (README.md, "Preferences"): every RDB snapshot of a replication link as
"rdb_<server>_<n>.rdb" (application/x-redis-rdb), whole or not at all, unless it is larger than
resp.export_max_size; every bulk value of at least resp.export_min_size bytes (a request's
arguments, a top-level bulk reply) as "<COMMAND>_<key>.bin" or "<COMMAND>_<key>_reply.bin"
(application/octet-stream). File names are shown as tshark writes them: characters a file name
may not hold (":", "/", ...) become "%xx" (Wireshark's eo_massage_str), a name seen before gets
"(1)", "(2)", ... before its extension.
"""
import base64
import collections
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import CAPTURES, ROOT, frames, truth, tshark

KEY = str(CAPTURES / "spiped-test.key")
TUNNEL = ["-o", f"spiped.key_file:{KEY}"]
KEYLOG_CLIENT = ["-o", "spiped.tcp.port:6489", *TUNNEL,
                 "-o", f"spiped.keylog_file:{CAPTURES / 'spiped-fs-keylog-client.keylog'}"]
OPTIONS = {"repl-tunnel": TUNNEL, "spiped-bigvalue": TUNNEL, "spiped-fs-keylog-client": KEYLOG_CLIENT}
PASSES = {"one-pass": [], "two-pass": ["-2"]}
DEFAULT_MIN = 64 * 1024
REPL = ["repl-disk", "repl-diskless", "repl-tunnel"]
VALUES = ["resp-bigvalue", "spiped-bigvalue", "spiped-fs-keylog-client"]


def cap(name):
    return str(CAPTURES / f"{name}.pcap")


def massage(name):
    """A file name as Wireshark writes it: eo_massage_str() turns <>:"/\\|?* and control
    characters into %xx."""
    return re.sub(r'[<>:"/\\|?*\x01-\x1f]', lambda m: "%%%02x" % ord(m.group()), name)


def digest(data):
    return len(data), hashlib.sha256(data).hexdigest()


def export(capture, *opts):
    """{file name: (length, sha256)} of what tshark --export-objects resp writes. tshark runs as
    nobody under root (tools/tshark-plugin): the folder it writes into is world-writable."""
    d = tempfile.mkdtemp(prefix="resp-eo-")
    try:
        os.chmod(d, 0o777)
        out = pathlib.Path(d) / "objects"
        tshark("-r", capture, "-q", "--export-objects", f"resp,{out}", *opts)
        if not out.is_dir():
            return {}
        return {p.name: digest(p.read_bytes()) for p in out.iterdir()}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def skipped_frames(capture, *opts):
    """Frames with the expert info resp.export_skipped (an object not exported: too large)."""
    return [int(r["frame.number"][0]) for r in frames(capture, ["frame.number"], "resp.export_skipped",
                                                        list(opts))]


# ------------------------------------------------------------------------------ expectations

def rdb_truth(name):
    t = truth(name)
    port = t["tunnel"]["tunnel_port"] if "tunnel" in t else t["master_port"]
    # through spiped, the RESP stream's addresses are the tunnel's
    return f"127.0.0.1:{port}", t["rdb"]["length"], t["rdb"]["sha256"]


def expected_rdb(name):
    server, length, sha = rdb_truth(name)
    addr, port = server.rsplit(":", 1)
    return {massage(f"rdb_{addr}_{port}_1") + ".rdb": (length, sha)}


BIG = re.compile(r"^<<len=(\d+) sha256=([0-9a-f]{64})>>$")


def monitor_arg(a):
    """(length, sha256) of one MONITOR argument of a truth: a big one is recorded by its digest."""
    m = BIG.match(a)
    return (int(m.group(1)), m.group(2)) if m else digest(a.encode("latin-1"))


def bigvalue_truth(name):
    """(key, length, sha256) of the one big value the capture's client SET and then GOT."""
    t = truth(name)
    if "bigvalue" in t:
        b = t["bigvalue"]
        return b["key"], b["length"], b["sha256"]
    (args,) = [a for cmds in t["monitor_args"].values() for a in cmds if a[0] == "SET"]
    return (args[1], *monitor_arg(args[2]))


def expected_values(name):
    key, length, sha = bigvalue_truth(name)
    return {massage(f"SET_{key}.bin"): (length, sha), massage(f"GET_{key}_reply.bin"): (length, sha)}


def every_bulk_string(name):
    """resp-bigvalue: [(object name, length, sha256)] of every bulk string of the connection,
    from the server's MONITOR: each argument after the command name that is no key (a
    request's arguments are bulk strings), named after the command and its key, and the GET
    reply (the value). Keys are no values: the capture's commands with arguments (SET, STRLEN,
    GET) each have one key, their first argument (COMMAND GETKEYS on Redis 7.0)."""
    t = truth(name)
    key, length, sha = bigvalue_truth(name)
    out = []
    for cmds in t["monitor_args"].values():
        for cmd, *args in cmds:
            assert cmd in ("PING", "QUIT") or cmd in ("SET", "STRLEN", "GET") and args, cmd
            for a in args[1:]:
                out.append((massage(f"{cmd}_{args[0]}.bin"), *monitor_arg(a)))
            if cmd == "GET":
                out.append((massage(f"GET_{args[0]}_reply.bin"), length, sha))
    return out


def without_counter(files):
    """Sorted (name, length, sha256) with the "(n)" tshark adds to a repeated name taken off."""
    return sorted((re.sub(r"\(\d+\)(?=\.[^.]*$)", "", n), *v) for n, v in files.items())


# ------------------------------------------------------------------------------ tests

@pytest.mark.parametrize("passes", PASSES)
@pytest.mark.parametrize("name", REPL + VALUES)
def test_exactly_the_expected_objects(name, passes):
    """Each capture: exactly its snapshot or its two big values (the SET's argument, the GET's
    reply), byte-identical to what the servers recorded; nothing under the minimum size."""
    want = expected_rdb(name) if name in REPL else expected_values(name)
    got = export(cap(name), *OPTIONS.get(name, []), *PASSES[passes])
    assert got == want
    assert all(length >= DEFAULT_MIN for length, _ in got.values())


@pytest.mark.parametrize("name", VALUES)
def test_min_size_is_the_smallest_value_exported(name):
    _, length, _ = bigvalue_truth(name)
    opts = OPTIONS.get(name, [])
    assert export(cap(name), *opts, "-o", f"resp.export_min_size:{length}") == expected_values(name)
    assert export(cap(name), *opts, "-o", f"resp.export_min_size:{length + 1}") == {}


@pytest.mark.parametrize("min_size", [1, 3, 4, DEFAULT_MIN])
def test_min_size_against_every_bulk_string(min_size):
    """resp-bigvalue holds bulk strings of 3 bytes (the key "big", in SET, STRLEN and GET) and
    two of 1.5 MiB (the SET's value, the GET's reply): exactly the values of at least the
    minimum size are exported, each with its own bytes; a key is no value, even at minimum 1."""
    want = sorted(o for o in every_bulk_string("resp-bigvalue") if o[1] >= min_size)
    got = export(cap("resp-bigvalue"), "-o", f"resp.export_min_size:{min_size}")
    assert without_counter(got) == want
    assert len(want) == 2


def test_min_size_zero_exports_no_value_but_the_snapshot():
    """resp.export_min_size 0 turns value export off; a snapshot is no value."""
    assert export(cap("resp-bigvalue"), "-o", "resp.export_min_size:0") == {}
    assert export(cap("repl-disk"), "-o", "resp.export_min_size:0") == expected_rdb("repl-disk")


@pytest.mark.parametrize("passes", PASSES)
@pytest.mark.parametrize("name", REPL)
def test_max_size_bounds_the_snapshot(name, passes):
    """A snapshot of exactly resp.export_max_size bytes is exported, one byte more is not (and
    resp.export_skipped says so); for a diskless snapshot the 40-byte EOF mark after the payload
    does not count."""
    _, length, _ = rdb_truth(name)
    opts = [*OPTIONS.get(name, []), *PASSES[passes]]
    assert export(cap(name), *opts, "-o", f"resp.export_max_size:{length}") == expected_rdb(name)
    assert export(cap(name), *opts, "-o", f"resp.export_max_size:{length - 1}") == {}
    assert skipped_frames(cap(name), *opts, "-o", f"resp.export_max_size:{length - 1}")


@pytest.mark.parametrize("name", REPL)
def test_export_skipped_exactly_when_not_exported(name):
    """The expert info resp.export_skipped appears exactly when the snapshot is not exported."""
    _, length, _ = rdb_truth(name)
    opts = OPTIONS.get(name, [])
    seen = {}
    for m in (length - 1, length, length + 1):
        exported = bool(export(cap(name), *opts, "-o", f"resp.export_max_size:{m}"))
        skipped = bool(skipped_frames(cap(name), *opts, "-o", f"resp.export_max_size:{m}"))
        seen[m] = (exported, skipped)
    assert seen == {length - 1: (False, True), length: (True, False), length + 1: (True, False)}


@pytest.mark.parametrize("passes", PASSES)
def test_max_size_bounds_a_value(passes):
    _, length, _ = bigvalue_truth("resp-bigvalue")
    extra = PASSES[passes]
    assert export(cap("resp-bigvalue"), *extra, "-o", f"resp.export_max_size:{length}") == \
        expected_values("resp-bigvalue")
    assert export(cap("resp-bigvalue"), *extra, "-o", f"resp.export_max_size:{length - 1}") == {}
    # the SET request and the GET reply
    assert len(skipped_frames(cap("resp-bigvalue"), *extra, "-o", f"resp.export_max_size:{length - 1}")) == 2


def rdb_data_frames(name):
    return [int(r["frame.number"][0]) for r in frames(cap(name), ["frame.number"], "resp.rdb.offset")]


def edited(tmp, name, options=(), frames_=()):
    """editcap [options] capture out [frames]"""
    out = tmp / f"{name}-edited.pcap"
    subprocess.run(["editcap", *map(str, options), cap(name), str(out), *map(str, frames_)],
                   check=True, capture_output=True)
    out.chmod(0o644)
    return str(out)


@pytest.mark.parametrize("name", ["repl-disk", "repl-diskless"])
@pytest.mark.parametrize("cut", ["segment lost", "capture ends inside", "snap length"])
def test_a_snapshot_that_cannot_be_whole_is_not_exported(shared_tmp, name, cut):
    data = rdb_data_frames(name)
    assert len(data) >= 4, data
    middle = data[len(data) // 2]
    if cut == "segment lost":
        pcap = edited(shared_tmp, name, frames_=[middle])                   # delete that frame
    elif cut == "capture ends inside":
        pcap = edited(shared_tmp, name, ["-r"], [f"1-{middle}"])          # keep frames up to it
    else:
        pcap = edited(shared_tmp, name, ["-s", 1000])                      # every frame cut to 1000 bytes
    assert export(pcap) == {}
    assert export(pcap, "-2") == {}


# ------------------------------------------------------------------------------ retaps (sharkd)

def sharkd(capture, requests):
    """Runs sharkd on capture with the freshly built plugin (as nobody under root, like
    tools/tshark-plugin), sends JSON-RPC requests; returns the results, in order."""
    if not shutil.which("sharkd"):
        pytest.skip("sharkd is not installed")
    build = pathlib.Path(os.environ.get("BUILD_DIR", ROOT / "build"))
    if not build.is_absolute():
        build = ROOT / build
    stage = pathlib.Path(tempfile.mkdtemp(prefix="resp-sharkd-"))
    try:
        shutil.copytree(build / "plugins", stage / "plugins")
        shutil.copy(capture, stage / "capture.pcap")
        (stage / "home").mkdir()
        env = dict(os.environ, HOME=str(stage / "home"), WIRESHARK_PLUGIN_DIR=str(stage / "plugins"))
        so = next((stage / "plugins").glob("*/epan/*.so"))
        if b"__asan_report" in so.read_bytes() and not env.get("LD_PRELOAD"):
            libs = [subprocess.run(["gcc", f"-print-file-name={lib}"], capture_output=True, text=True).stdout.strip()
                    for lib in ("libasan.so", "libubsan.so")]
            env.update(LD_PRELOAD=":".join(libs), ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
        cmd = ["sharkd", "-"]
        if os.geteuid() == 0:
            for p in stage.rglob("*"):
                p.chmod(0o755 if p.is_dir() else 0o644)
            stage.chmod(0o755)
            os.chown(stage / "home", 65534, 65534)
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        lines = [json.dumps({"jsonrpc": "2.0", "id": 1, "method": "load",
                             "params": {"file": str(stage / "capture.pcap")}})]
        lines += [json.dumps({"jsonrpc": "2.0", "id": i + 2, **r}) for i, r in enumerate(requests)]
        p = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, env=env,
                           timeout=300)
        replies = {}
        for line in p.stdout.splitlines():
            if line.startswith("{"):
                msg = json.loads(line)
                replies[msg["id"]] = msg
        assert replies.get(1, {}).get("result", {}).get("status") == "OK", (p.stdout[-2000:], p.stderr[-2000:])
        return [replies[i + 2]["result"] for i in range(len(requests))]
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@pytest.mark.parametrize("name", ["repl-diskless", "resp-bigvalue"])
def test_retap_lists_each_object_once(name):
    """sharkd taps the whole file again on every request (as the GUI does on reopening its
    dialog): the same objects each time, none twice, with the same bytes."""
    tap = {"method": "tap", "params": {"tap0": "eo:resp"}}
    n = 2 if name == "resp-bigvalue" else 1
    downloads = [{"method": "download", "params": {"token": f"eo:resp_{i}"}} for i in range(n)]
    results = sharkd(cap(name), [tap, tap, *downloads, tap])
    lists = [[(o["filename"], o["len"], o["type"]) for o in r["taps"][0]["objects"]]
             for r in (results[0], results[1], results[-1])]
    want = expected_rdb(name) if name == "repl-diskless" else expected_values(name)
    kind = "application/x-redis-rdb" if name == "repl-diskless" else "application/octet-stream"
    assert lists[0] == lists[1] == lists[2]
    # sharkd shows the name before it is made a file name
    assert sorted((massage(f), length) for f, length, _ in lists[0]) == sorted((f, v[0]) for f, v in want.items())
    assert {t for _, _, t in lists[0]} == {kind}
    got = {massage(d["file"]): digest(base64.b64decode(d["data"])) for d in results[2:2 + n]}
    assert got == want


# ------------------------------------------------------------------------------ resp-answers

ANSWERS = CAPTURES / "resp-answers.pcap"
needs_answers = pytest.mark.skipif(not (ANSWERS.exists() and (CAPTURES / "resp-answers.truth.json").exists()),
                                   reason="test-captures/resp-answers.pcap is not made yet")


def answers_values(min_size=DEFAULT_MIN, max_size=None):
    """The truth's big values (SET by one client, then GOT back), as the objects they make."""
    want = {}
    for b in truth("resp-answers")["big_values"]:
        if b["length"] < min_size or (max_size is not None and b["length"] > max_size):
            continue
        want[massage(f"SET_{b['key']}.bin")] = (b["length"], b["sha256"])
        want[massage(f"GET_{b['key']}_reply.bin")] = (b["get"]["received_length"], b["get"]["received_sha256"])
    return want


@needs_answers
@pytest.mark.parametrize("passes", PASSES)
def test_answers_big_values(passes):
    want = answers_values()
    assert len(want) == 2 * len(truth("resp-answers")["big_values"]) >= 4
    assert export(str(ANSWERS), *PASSES[passes]) == want


@needs_answers
def test_answers_min_and_max_size():
    bigs = sorted(truth("resp-answers")["big_values"], key=lambda b: b["length"])
    small, large = bigs[0]["length"], bigs[-1]["length"]
    assert small < large
    # a minimum above the smaller value, or just the larger one: only the larger one
    for m in (small + 1, large):
        assert export(str(ANSWERS), "-o", f"resp.export_min_size:{m}") == answers_values(m)
    assert len(answers_values(large)) == 2
    # a maximum of just the larger value: all of them, nothing skipped
    assert export(str(ANSWERS), "-o", f"resp.export_max_size:{large}") == answers_values()
    assert skipped_frames(str(ANSWERS), "-o", f"resp.export_max_size:{large}") == []
    # a maximum below the larger value: only the smaller one, and resp.export_skipped on the larger
    # one's SET request and GET reply
    assert export(str(ANSWERS), "-o", f"resp.export_max_size:{large - 1}") == answers_values(max_size=large - 1)
    # (a message is shown in the frame of its last byte)
    skipped = skipped_frames(str(ANSWERS), "-o", f"resp.export_max_size:{large - 1}")
    assert skipped == sorted(f for b in bigs if b["length"] > large - 1
                             for f in (b["set"]["frames"][-1], b["get"]["reply_frames"][-1]))
    assert skipped_frames(str(ANSWERS)) == []
