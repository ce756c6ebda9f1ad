"""The RESP dissector on real replication links and on CLIENT REPLY, checked against the
servers' own record (test-captures/repl-*.truth.json, made by
test-captures/make-replication-captures.sh; see test-captures/README.md).

Field contract for replication (see README.md): resp.replication (marker on every command the
master streams), resp.replication.id / .offset (+FULLRESYNC, +CONTINUE), resp.rdb with
.length / .version / .framing, resp.replication.keepalive (newlines), resp.replication.lag
(on every REPLCONF ACK). Redis 8's RDB-channel sync (diskless, repl-rdb-channel yes, the default)
uses two connections: the truth's connections[].role is "main" (PSYNC answered +RDBCHANNELSYNC
<client id>, then the master's stream and the replica's ACKs; sync "rdbchannel") or "rdb_channel"
(its own handshake, +FULLRESYNC, keepalives, the RDB; sync "full"). Frame numbers in the truths are 1-based packet numbers of the segment
holding a message's last byte (where a reassembled message is shown).
"""
import collections
import os
import shutil
import subprocess

import pytest

from conftest import CAPTURES, ROOT, frames, ints, load, netns_problem, pcap, values

KEY = str(CAPTURES / "spiped-test.key")
WITH_KEY = ["-o", f"spiped.key_file:{KEY}"]
DIRECT = ["repl-disk", "repl-diskless", "repl-psync"]
ALL_REPL = DIRECT + ["repl-tunnel"]
SCRIPT = ROOT / "test-captures" / "make-replication-captures.sh"
BAD = ("_ws.malformed || resp.malformed || resp.skipped || resp.skipped_bytes || "
       "resp.unmatched_response")


def by_frame(rows):
    return {int(r["frame.number"][0]): r for r in rows}


# --------------------------------------------------------------------------- checks
# Each check takes the folder and the capture name, so that the live test below runs the very
# same checks on captures it has just made.

def check_clean(d, name, extra=()):
    """No malformed packet, no skipped bytes, nothing flagged as an unmatched response."""
    rows = frames(pcap(d, name), ["frame.number", "_ws.expert.message"], BAD, extra)
    assert rows == [], f"{name}: {rows[:5]}"


def conn_rows(d, name, t, cport, fields, c2s, extra=("-2",)):
    m = t["master_port"]
    flt = (f"tcp.srcport == {cport} && tcp.dstport == {m}" if c2s
           else f"tcp.srcport == {m} && tcp.dstport == {cport}")
    return by_frame(frames(pcap(d, name), ["frame.number", *fields], flt + " && resp", list(extra)))


def check_handshake(d, name):
    t = load(d, name)
    for cport, c in t["connections"].items():
        req = conn_rows(d, name, t, cport, ["resp.command", "resp.subcommand", "resp.argument",
                                             "resp.response_in"], True)
        rep = conn_rows(d, name, t, cport, ["resp.response_to"], False)
        # the replica may send several handshake commands in one segment (REPLCONF
        # listening-port + REPLCONF capa), and the master answer them in one
        by_req, by_rep = collections.defaultdict(list), collections.defaultdict(list)
        for h in c["handshake"]:
            by_req[h["frame"]].append(h)
            by_rep[h["reply_frame"]].append(h)
        for f, hs in by_req.items():
            r = req[f]
            assert r["resp.command"] == [h["args"][0].upper() for h in hs], (cport, hs)
            assert r["resp.subcommand"] == [], (cport, hs)      # REPLCONF has no subcommands
            assert r["resp.argument"] == [a for h in hs for a in h["args"][1:]], (cport, hs)
            assert ints(r["resp.response_in"]) == [h["reply_frame"] for h in hs], (cport, hs)
        for f, hs in by_rep.items():
            assert ints(rep[f]["resp.response_to"]) == [h["frame"] for h in hs], (cport, hs)
        # the first frame of the connection with a request is the first handshake command
        assert min(req) == c["handshake"][0]["frame"]


def check_psync_reply(d, name):
    t = load(d, name)
    for cport, c in t["connections"].items():
        f = c["handshake"][-1]["reply_frame"]
        (row,) = frames(pcap(d, name), ["resp.replication.id", "resp.replication.offset", "resp.string"],
                        f"frame.number == {f}")
        if c["sync"] == "rdbchannel":
            # +RDBCHANNELSYNC <client id of this connection>: no replication id, no offset
            assert c.get("role") == "main" and c["psync_reply"] == "+RDBCHANNELSYNC " + c["rdb_channel_client_id"]
            assert row["resp.string"] == [c["psync_reply"][1:]], (cport, row)
            assert row["resp.replication.id"] == [] and row["resp.replication.offset"] == [], (cport, row)
            continue
        assert row["resp.replication.id"] == [c["replid"]]
        if c["sync"] == "full":
            assert c["psync_reply"].startswith("+FULLRESYNC ")
            assert ints(row["resp.replication.offset"]) == [c["fullresync_offset"]]
        else:
            assert c["psync_reply"] == "+CONTINUE " + c["replid"]
            assert row["resp.replication.offset"] == []      # Redis 7's +CONTINUE has only the id


def check_rdb(d, name):
    t = load(d, name)
    (c,) = [c for c in t["connections"].values() if c["sync"] == "full"]
    rows = by_frame(frames(pcap(d, name), ["frame.number", "resp.rdb.length", "resp.rdb.version",
                                           "resp.rdb.framing"], "resp.rdb"))
    assert set(c["rdb_frames"]) <= set(rows) <= set(c["rdb_framing_frames"]), sorted(rows)
    lengths = [int(x) for r in rows.values() for x in r["resp.rdb.length"]]
    versions = [int(x) for r in rows.values() for x in r["resp.rdb.version"]]
    framings = [x for r in rows.values() for x in r["resp.rdb.framing"]]
    assert lengths and set(lengths) == {t["rdb"]["length"]} == {c["rdb_length"]}
    assert versions and set(versions) == {t["rdb"]["version"]}
    assert framings and set(framings) == {t["rdb"]["framing"]}


def check_keepalives(d, name):
    t = load(d, name)
    rows = frames(pcap(d, name), ["frame.number", "resp.replication.keepalive"],
                  "resp.replication.keepalive")
    got = sorted(int(r["frame.number"][0]) for r in rows for _ in r["resp.replication.keepalive"])
    want = sorted(k["frame"] for c in t["connections"].values() for k in c["keepalive"])
    assert got == want


def streamed_names(row):
    cmds, subs = row["resp.command"], row["resp.subcommand"]
    if not subs:
        return [c.lower() for c in cmds]
    assert len(subs) == len(cmds), row        # every streamed command here has a subcommand
    return [f"{c.lower()}|{s.lower()}" for c, s in zip(cmds, subs)]


def check_streamed(d, name):
    t = load(d, name)
    total = collections.Counter()
    for cport, c in t["connections"].items():
        rows = conn_rows(d, name, t, cport, ["resp.replication", "resp.command", "resp.subcommand",
                                             "resp.argument", "resp.response_to", "resp.response_in",
                                             "resp.request"], False)
        after = {f: r for f, r in rows.items() if f > c["handshake"][-1]["reply_frame"]}
        want = collections.defaultdict(list)
        for s in c["streamed"]:
            want[s["frame"]].append(s)
        assert sorted(f for f, r in after.items() if r["resp.command"]) == sorted(want), cport
        # the stream marker only on streamed commands (never on an RDB channel's RDB/keepalives)
        assert {f for f, r in after.items() if r["resp.replication"]} <= set(want), cport
        if c.get("role") == "rdb_channel":
            assert want == {} and c["acks"] == [], cport
        getack_frames = {s["frame"] for s in c["streamed"] if s["args"][:2] == ["REPLCONF", "GETACK"]}
        answer = {s["frame"]: s.get("answered_by_frame") for s in c["streamed"]
                  if s["args"][:2] == ["REPLCONF", "GETACK"]}
        for f, ss in want.items():
            r = after[f]
            assert len(r["resp.replication"]) >= len(ss), (cport, f)     # one marker per command
            assert r["resp.command"] == [s["args"][0].upper() for s in ss], (cport, f)
            assert r["resp.argument"] == [a for s in ss for a in s["args"][1:]], (cport, f)
            assert streamed_names(r) == [s["stat"] for s in ss], (cport, f)
            assert r["resp.response_to"] == [], (cport, f)             # never a reply
            if f in getack_frames:
                assert set(ints(r["resp.response_in"])) <= {answer[f]}, (cport, f)
            else:
                assert r["resp.response_in"] == [], (cport, f)
            total.update(streamed_names(r))
        assert sum(len(v) for v in want.values()) == len(c["streamed"])
    assert dict(total) == t["replica_commandstats_delta"] == t["streamed_commandstats"]


def check_acks(d, name, exact_lag=False):
    t = load(d, name)
    for cport, c in t["connections"].items():
        rows = conn_rows(d, name, t, cport, ["resp.command", "resp.argument", "resp.response_to",
                                             "resp.replication.lag", "_ws.expert.message"], True)
        ack_frames = [a["frame"] for a in c["acks"]]
        after = sorted(f for f in rows if f > c["handshake"][-1]["frame"])
        assert after == sorted(set(ack_frames)), cport
        for a in c["acks"]:
            r = rows[a["frame"]]
            assert r["resp.command"] == ["REPLCONF"]
            assert r["resp.argument"] == a["args"][1:]
            lag = ints(r["resp.replication.lag"])
            assert len(lag) == 1 and lag[0] >= 0, (cport, a, lag)
            if exact_lag:
                assert lag == [a["lag"]], (cport, a)
            if "answers_getack_frame" in a:
                assert ints(r["resp.response_to"]) == [a["answers_getack_frame"]], (cport, a)
            else:
                assert r["resp.response_to"] == [], (cport, a)
                assert r["_ws.expert.message"] == [], (cport, a)


def check_clientreply(d, name="repl-clientreply"):
    t = load(d, name)
    port = t["server_port"]
    c = pcap(d, name)
    req = by_frame(frames(c, ["frame.number", "resp.response_in"], f"tcp.dstport == {port} && tcp.len > 0",
                          ["-2"]))
    rep = by_frame(frames(c, ["frame.number", "resp.response_to", "tcp.payload"],
                          f"tcp.srcport == {port} && tcp.len > 0", ["-2"]))
    want_in = collections.defaultdict(list)
    want_to = collections.defaultdict(list)
    payload = collections.defaultdict(str)
    for r in t["requests"]:
        want_in[r["frame"]]
        if r["reply_hex"]:
            want_in[r["frame"]].append(r["reply_frame"])
            want_to[r["reply_frame"]].append(r["frame"])
            payload[r["reply_frame"]] += r["reply_hex"]
    assert sorted(req) == sorted(want_in)
    for f, w in want_in.items():
        assert ints(req[f]["resp.response_in"]) == w, (f, [r["words"] for r in t["requests"] if r["frame"] == f])
    assert sorted(rep) == sorted(want_to)
    for f, w in want_to.items():
        assert ints(rep[f]["resp.response_to"]) == w, f
        assert rep[f]["tcp.payload"][0].replace(":", "") == payload[f], f
    check_clean(d, name)


def check_tunnel(d, name="repl-tunnel"):
    t = load(d, name)
    tp = t["tunnel"]["tunnel_port"]
    c = pcap(d, name)
    rows = frames(c, ["resp.replication", "resp.command", "resp.subcommand"],
                  f"tcp.srcport == {tp} && resp.replication", WITH_KEY)
    got = collections.Counter(n for r in rows for n in streamed_names(r))
    assert dict(got) == t["streamed_commandstats"] == t["replica_commandstats_delta"]
    lengths = set(ints(values(c, "resp.rdb.length", extra=WITH_KEY)))
    assert lengths == {t["rdb"]["length"]}
    assert set(values(c, "resp.rdb.framing", extra=WITH_KEY)) == {t["rdb"]["framing"]}
    (conn,) = t["connections"].values()
    hs = values(c, "resp.command", f"tcp.srcport != {tp} && resp.request", WITH_KEY)
    want = [h["args"][0].upper() for h in conn["handshake"]] + ["REPLCONF"] * len(conn["acks"])
    assert hs == want
    check_clean(d, name, WITH_KEY)


# --------------------------------------------------------------------------- the captures

@pytest.mark.parametrize("name", ALL_REPL + ["repl-clientreply"])
def test_truth_is_consistent(name):
    """Parts that need no dissector: the truth files are there and agree with themselves."""
    assert (CAPTURES / f"{name}.pcap").stat().st_size < 1 << 20
    t = load(CAPTURES, name)
    if name == "repl-clientreply":
        assert t["requests_total"] == len(t["requests"])
        assert t["requests_with_reply"] == sum(1 for r in t["requests"] if r["reply_hex"])
        return
    full = [c for c in t["connections"].values() if c["sync"] == "full"]
    mains = [c for c in t["connections"].values() if c.get("role", "main") == "main"]
    assert mains
    assert len(full) == 1 and full[0]["rdb_length"] == t["rdb"]["length"] == t["rdb"]["replica_file"]["length"]
    assert t["streamed_commandstats"] == t["replica_commandstats_delta"]
    assert t["wait_reply"] == 1
    for c in mains:
        assert [h["args"][0] for h in c["handshake"]] == ["PING", "AUTH", "REPLCONF", "REPLCONF", "PSYNC"]
        assert any(a.get("answers_getack_frame") for a in c["acks"])


@pytest.mark.parametrize("name", DIRECT)
def test_handshake_requests_are_paired(name):
    check_handshake(CAPTURES, name)


@pytest.mark.parametrize("name", DIRECT)
def test_psync_reply_carries_replication_id_and_offset(name):
    check_psync_reply(CAPTURES, name)


@pytest.mark.parametrize("name", DIRECT)
def test_rdb_length_version_and_framing(name):
    check_rdb(CAPTURES, name)


@pytest.mark.parametrize("name", DIRECT)
def test_newlines_while_the_master_prepares_the_rdb(name):   # resp.replication.keepalive
    check_keepalives(CAPTURES, name)


@pytest.mark.parametrize("name", DIRECT)
def test_no_malformed_skipped_or_unmatched(name):
    check_clean(CAPTURES, name)


@pytest.mark.parametrize("name", DIRECT)
def test_streamed_commands_equal_replica_commandstats(name):
    check_streamed(CAPTURES, name)


@pytest.mark.parametrize("name", DIRECT)
def test_getack_answered_by_next_ack_and_ack_lag(name):
    check_acks(CAPTURES, name)


@pytest.mark.parametrize("name", DIRECT)
def test_ack_lag_is_master_offset_seen_minus_acked_offset(name):
    check_acks(CAPTURES, name, exact_lag=True)


def test_tunnel_decrypted_matches_truth():
    check_tunnel(CAPTURES)


def test_clientreply_pairing_follows_what_the_client_received():
    check_clientreply(CAPTURES)


# --------------------------------------------------------------------------- live

def check_rdb_channel(d, name):
    """Redis 8 RDB-channel sync: the truth's two connections are what the plugin shows."""
    t = load(d, name)
    conns = t["connections"]
    rc = t.get("rdb_channel")
    if not rc:
        assert all(c.get("role", "main") == "main" and c["sync"] != "rdbchannel" for c in conns.values())
        return
    m, r = conns[str(rc["main_channel_port"])], conns[str(rc["rdb_channel_port"])]
    assert (m["role"], m["sync"], r["role"], r["sync"]) == ("main", "rdbchannel", "rdb_channel", "full")
    assert r["main_ch_client_id"] == m["rdb_channel_client_id"] == rc["client_id"]
    assert [h["args"][0] for h in r["handshake"]] == ["AUTH", "REPLCONF", "PSYNC"]
    assert m["stream_base_offset"] == r["fullresync_offset"] == rc["stream_base_offset"]
    assert t["rdb"]["rdb_channel"] and r["rdb_length"] == t["rdb"]["length"]
    # the RDB (resp.rdb) only on the RDB channel, the stream (resp.replication) only on the main
    rdb_ports = set(ints(values(pcap(d, name), "tcp.dstport", "resp.rdb")))
    assert rdb_ports == {rc["rdb_channel_port"]}
    stream_ports = set(ints(values(pcap(d, name), "tcp.dstport", "resp.replication")))
    assert stream_ports == {rc["main_channel_port"]}


def _live_skip(server):
    if os.geteuid() != 0:
        pytest.skip("live replication captures need root (network namespace, tcpdump)")
    if not shutil.which("ip"):
        pytest.skip("ip (iproute2) is not installed")
    problem = netns_problem()
    if problem:
        pytest.skip(problem)
    cli = server.replace("-server", "-cli")
    for tool in (server, cli, "tcpdump"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")


@pytest.mark.parametrize("server", ["redis-server", "valkey-server"])
def test_live_replication_captures(server, shared_tmp):
    """Make fresh captures with the local server (the release roots: Redis 8, Valkey) and run
    the same checks on them."""
    _live_skip(server)
    scenarios = ["disk", "diskless", "psync", "clientreply"]
    ver = subprocess.run([server, "--version"], capture_output=True, text=True, timeout=30).stdout
    redis8 = server == "redis-server" and int(ver.split("v=")[1].split(".")[0]) >= 8
    if redis8:                     # the classic $EOF sync too (diskless is its RDB channel)
        scenarios.append("diskless-nochannel")
    if shutil.which("spiped"):
        scenarios.append("tunnel")
    p = subprocess.run([str(SCRIPT), "--server", server, "--out", str(shared_tmp), *scenarios],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    for f in shared_tmp.iterdir():
        f.chmod(0o644)
    failures = []

    def run(check, *args, **kw):      # every check on every capture, then all failures at once
        try:
            check(shared_tmp, *args, **kw)
        except AssertionError as e:
            failures.append(f"{check.__name__}{args}: {str(e)[:600]}")
    for sc in ("disk", "diskless", "psync") + (("diskless-nochannel",) if redis8 else ()):
        name = f"repl-{sc}"
        t = load(shared_tmp, name)
        # Redis 8 answers a diskless PSYNC on the main channel with +RDBCHANNELSYNC
        assert bool(t.get("rdb_channel")) == (redis8 and sc == "diskless"), name
        for check in (check_rdb_channel, check_clean, check_handshake, check_psync_reply, check_rdb,
                      check_keepalives, check_streamed, check_acks):
            run(check, name)
        run(check_acks, name, exact_lag=True)
    run(check_clientreply)
    if "tunnel" in scenarios:
        run(check_tunnel)
    assert not failures, "\n".join(failures)
