"""RESP on real Redis Sentinel traffic, checked against the record of test-captures/sentinel.truth.json
(made by test-captures/make-sentinel-captures.sh with sentinel_traffic.py; see
test-captures/README.md): a master, a replica and three Sentinels, redis-cli and raw clients
querying a Sentinel, a PSUBSCRIBE * client on it, subscribers to __sentinel__:hello on the
master and the replica, and a SENTINEL FAILOVER.

Field contract: resp.sentinel.hello on every __sentinel__:hello message (a PUBLISH request or a
received message) with resp.sentinel.ip/.port/.runid/.epoch/.master_name/.master_ip/
.master_port/.master_epoch; resp.sentinel.event (the channel) on every event message with
resp.sentinel.instance_type/.instance_name/.ip/.port/.master_name/.master_ip/.master_port, and
for +switch-master resp.sentinel.master_name/.old_ip/.old_port/.new_ip/.new_port.
"""
import collections
import os

import pytest

from conftest import (CAPTURES, ROOT, check_reply_pairing, frames, live_capture, load, pcap, ports_filter,
                      rows_by_frame, run_checks)

SCRIPT = ROOT / "test-captures" / "make-sentinel-captures.sh"
NAMES = ["sentinel"]
HELLO_FIELDS = ["ip", "port", "runid", "epoch", "master_name", "master_ip", "master_port", "master_epoch"]
EVENT_FIELDS = ["instance_type", "instance_name", "ip", "port", "master_name", "master_ip", "master_port",
                "old_ip", "old_port", "new_ip", "new_port"]
ALL_FIELDS = sorted(set(HELLO_FIELDS) | set(EVENT_FIELDS))


def instance_ports_filter(t):
    return ports_filter([t["master_port"], t["replica_port"], *t["sentinel_ports"]])


def requests_by_frame(t):
    out = collections.defaultdict(list)
    for c in t["client_connections"]:
        for q in c["requests"]:
            out[q["frame"]].append(q)
    return out


def sentinel_items(t):
    """{frame: [(kind, {field: value})]} in stream order: hellos published and received, events."""
    items = collections.defaultdict(list)
    for h in t["hello_published"] + t["hello_received"] + t["hello_delivered"]:
        items[h["frame"]].append((h["offset"], "hello", h["fields"], None))
    for e in t["events"]:
        items[e["frame"]].append((e["offset"], "event", e["fields"], e["channel"]))
    return {f: sorted(v, key=lambda x: x[0]) for f, v in items.items()}


# --------------------------------------------------------------------------- checks

def check_truth(d, name):
    t = load(d, name)
    assert os.path.getsize(pcap(d, name)) < 4 << 20
    assert len(t["hello_received"]) >= 5 and len(t["hello_published"]) >= len(t["hello_received"]) // 2
    assert {h["where"] for h in t["hello_delivered"]} == {"pubsub link", "replication stream"}
    for h in t["hello_published"] + t["hello_received"] + t["hello_delivered"]:
        f = h["fields"]
        assert ",".join(f[k] for k in HELLO_FIELDS) == h["payload"], h
        assert f["master_name"] == t["master_name"] and int(f["port"]) in t["sentinel_ports"], h
    chans = [e["channel"] for e in t["events"]]
    for want in ("+sentinel", "+try-failover", "+elected-leader", "+promoted-slave", "+failover-end",
                 "+switch-master"):
        assert want in chans, want
    (sw,) = [e for e in t["events"] if e["channel"] == "+switch-master"]
    assert sw["fields"] == {"master_name": t["master_name"], "old_ip": "127.0.0.1",
                            "old_port": str(t["master_port"]), "new_ip": "127.0.0.1",
                            "new_port": str(t["replica_port"])}
    for e in t["events"]:
        f = e["fields"]
        if "instance_type" in f:
            words = [f["instance_type"], f["instance_name"], f["ip"], f["port"]]
            if "master_name" in f:
                words += ["@", f["master_name"], f["master_ip"], f["master_port"]]
            assert e["payload"].startswith(" ".join(words)), e
    subs = {q["args"][1].upper() for c in t["client_connections"] for q in c["requests"]
            if q["args"][0].upper() == "SENTINEL" and len(q["args"]) > 1}
    assert {"MASTERS", "MASTER", "REPLICAS", "SLAVES", "SENTINELS", "GET-MASTER-ADDR-BY-NAME", "CKQUORUM",
            "INFO-CACHE", "IS-MASTER-DOWN-BY-ADDR", "PENDING-SCRIPTS", "MYID", "CONFIG", "DEBUG", "RESET",
            "FLUSHCONFIG", "SET", "SIMULATE-FAILURE", "HELP", "FAILOVER"} <= subs, subs
    assert t["commandstats_delta"][str(t["master_port"])].get("slaveof") or \
        t["commandstats_delta"][str(t["master_port"])].get("replicaof")


def check_commands(d, name):
    t = load(d, name)
    want = requests_by_frame(t)
    rows = rows_by_frame(d, name, ["resp.command"], f"{instance_ports_filter(t)} && resp.request")
    repl = {q["frame"] for c in t["client_connections"] if c["kind"] == "replication" for q in c["requests"]}
    got = {f: r["resp.command"] for f, r in rows.items() if f not in repl or f in want}
    assert sorted(got) == sorted(want), sorted(set(got) ^ set(want))[:10]
    for f, qs in want.items():
        assert got[f] == [q["args"][0].upper() for q in qs], (f, [q["args"][:3] for q in qs])


def check_pairing(d, name):
    t = load(d, name)
    rows = rows_by_frame(d, name, ["resp.response_in", "resp.response_to"],
                         f"{instance_ports_filter(t)} && resp")
    n = check_reply_pairing(t["client_connections"], rows)
    assert n > 100, n


def check_no_unknown_command(d, name):
    rows = frames(pcap(d, name), ["frame.number", "resp.command"], "resp.unknown_command")
    assert rows == [], rows[:10]


def check_sentinel_subcommands(d, name):
    """Every SENTINEL request carries its subcommand."""
    t = load(d, name)
    want = requests_by_frame(t)
    rows = rows_by_frame(d, name, ["resp.command", "resp.subcommand"], 'resp.command == "SENTINEL"')
    sent = {f: qs for f, qs in want.items() if any(q["args"][0].upper() == "SENTINEL" for q in qs)}
    assert sorted(rows) == sorted(sent)
    for f, qs in sent.items():
        assert all(len(q["args"]) > 1 for q in qs if q["args"][0].upper() == "SENTINEL")
        subs = [q["args"][1].upper() for q in qs if len(q["args"]) > 1]
        assert [s.upper() for s in rows[f]["resp.subcommand"]] == subs, (f, qs)


def check_hellos_and_events(d, name):
    """resp.sentinel.* of every frame = the hellos and events recorded there, in order."""
    t = load(d, name)
    items = sentinel_items(t)
    fields = ["resp.sentinel.hello", "resp.sentinel.event"] + [f"resp.sentinel.{f}" for f in ALL_FIELDS]
    rows = rows_by_frame(d, name, fields, "resp.sentinel.hello || resp.sentinel.event")
    assert sorted(rows) == sorted(items), sorted(set(rows) ^ set(items))[:10]
    for f, its in items.items():
        r = rows[f]
        assert len(r["resp.sentinel.hello"]) == sum(1 for i in its if i[1] == "hello"), f
        assert r["resp.sentinel.event"] == [i[3] for i in its if i[1] == "event"], f
        for fld in ALL_FIELDS:
            want = [i[2][fld] for i in its if fld in i[2]]
            assert r[f"resp.sentinel.{fld}"] == want, (f, fld)


def check_sentinel_only(d, name):
    """SENTINEL and its subcommands are known as a Sentinel's only (resp.command.servers)."""
    rows = frames(pcap(d, name), ["resp.command", "resp.command.servers"], 'resp.command == "SENTINEL"')
    assert rows
    for r in rows:
        # the command's text, then each subcommand's: all of them Sentinel-only
        assert all(s.startswith("Sentinel (") and ";" not in s for s in r["resp.command.servers"]), r


def check_info_names_the_channel(d, name):
    """A delivered hello or event is shown in the Info column as "message <channel>: <payload>"
    (or pmessage), its payload as the subscriber received it."""
    t = load(d, name)
    want = collections.defaultdict(list)
    for h in t["hello_received"]:   # the events client has a pattern subscription
        kind = "pmessage" if h["subscriber"] == "events" else "message"
        want[h["frame"]].append(f"{kind} __sentinel__:hello: {h['payload'][:64]}")
    for e in t["events"]:
        want[e["frame"]].append(f"pmessage {e['channel']}: {e['payload'][:64]}")
    rows = {int(r["frame.number"][0]): r["_ws.col.Info"][0] for r in
            frames(pcap(d, name), ["frame.number", "_ws.col.Info"], "resp.pubsub_message", ["-2"])}
    for f, texts in want.items():
        assert all(x in rows[f] for x in texts), (f, texts, rows.get(f))


def check_clean(d, name):
    t = load(d, name)
    rows = frames(pcap(d, name), ["frame.number", "_ws.expert.message"],
                  f"{instance_ports_filter(t)} && (_ws.malformed || resp.malformed || resp.skipped || "
                  "resp.unmatched_response)")
    assert rows == [], rows[:5]


CHECKS = (check_truth, check_commands, check_pairing, check_no_unknown_command, check_sentinel_subcommands,
          check_sentinel_only, check_info_names_the_channel,
          check_hellos_and_events, check_clean)


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
@pytest.mark.parametrize("name", NAMES)
def test_sentinel_capture(name, check):
    check(CAPTURES, name)


@pytest.mark.parametrize("server", ["redis-server", "valkey-server"])
def test_live_sentinel_capture(server, shared_tmp):
    """Make a fresh capture with the local server and run the same checks on it."""
    live_capture(SCRIPT, server, shared_tmp, timeout=400, why="the live Sentinel capture needs root")
    run_checks(shared_tmp, ("sentinel",), CHECKS)


def test_malformed_hello_is_flagged_not_split(shared_tmp):
    """A message on __sentinel__:hello without the eight values of a hello (hand-built: a real
    sentinel's hello with its last value cut off, then one with a port out of range) gets
    resp.sentinel.malformed and no hello fields; the good one before them is split."""
    from pcapgen import TcpConversation

    def cmd(*words):
        return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)

    good = b"127.0.0.1,26379,93dfad42d829a384a2d85f7583c4b78685b394d6,0,mymaster,127.0.0.1,6379,0"
    conv = TcpConversation()
    conv.send("c", cmd(b"PUBLISH", b"__sentinel__:hello", good))               # frame 4
    conv.send("s", b":1\r\n")
    conv.send("c", cmd(b"PUBLISH", b"__sentinel__:hello", good.rsplit(b",", 1)[0]))  # 6
    conv.send("s", b":1\r\n")
    conv.send("c", cmd(b"PUBLISH", b"__sentinel__:hello", good.replace(b",26379,", b",96379,")))  # 8
    conv.send("s", b":1\r\n")
    path = conv.write(shared_tmp / "sentinel-malformed-hello.pcap")
    rows = {int(r["frame.number"][0]): r for r in
            frames(path, ["frame.number", "resp.sentinel.port", "_ws.expert.message"], "resp.sentinel.hello")}
    assert sorted(rows) == [4, 6, 8]
    assert rows[4]["resp.sentinel.port"] == ["26379"]
    for f in (6, 8):
        assert rows[f]["resp.sentinel.port"] == [], rows[f]
        assert any("Not a sentinel hello" in m for m in rows[f]["_ws.expert.message"]), rows[f]
