"""RESP on real Redis/Valkey Cluster traffic and the cluster bus, checked against the servers'
own record (test-captures/cluster-*.truth.json, made by test-captures/make-cluster-captures.sh
with cluster_traffic.py and cluster_bus_truth.py; see test-captures/README.md).

Field contract: resp.slot (one per resp.key, same order, = CLUSTER KEYSLOT), resp.error.code
(the first word of every error reply), resp.redirect.slot / .host / .port (on MOVED and ASK
replies); the bus: redis_cluster.type (the 16-bit type code, Valkey's light-header bit
0x8000 compared apart) and redis_cluster.totlen, one per bus message, in stream order.
Frame numbers in the truths are 1-based packet numbers of the segment holding a message's
last byte (where a reassembled message is shown).
"""
import collections
import hashlib
import os
import re

import pytest

from conftest import (CAPTURES, ROOT, check_reply_pairing, frames, ints, live_capture, load, pcap,
                      ports_filter, rows_by_frame, run_checks, tshark)

SCRIPT = ROOT / "test-captures" / "make-cluster-captures.sh"
REDIRECT = ["cluster-redirect", "cluster-redirect-redis8", "cluster-redirect-valkey9"]
ALL = REDIRECT + ["cluster-failover"]
LIGHT = 0x8000
SECRET_EXT = re.compile(rb"\x00\x00\x00\x30\x00\x04\x00\x00([0-9a-f]{40})")


def crc16(data):
    """CRC-16/XMODEM (poly 0x1021, init 0), as the Cluster specification defines it."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def hash_slot(key):
    """The Cluster specification's key -> slot mapping (hash tags included)."""
    k = key.encode("latin-1")
    s = k.find(b"{")
    if s >= 0:
        e = k.find(b"}", s + 1)
        if e > s + 1:
            k = k[s + 1:e]
    return crc16(k) % 16384


def client_conns(t):
    return [c for c in t["client_connections"] if c["kind"] != "replication"]


def conn_filter(c, c2s=True):
    cp, sp = c["client_port"], c["server_port"]
    return (f"tcp.srcport == {cp} && tcp.dstport == {sp}" if c2s
            else f"tcp.srcport == {sp} && tcp.dstport == {cp}")


def requests_by_frame(t):
    """{frame: [request, ...]} over every non-replication client connection."""
    out = collections.defaultdict(list)
    for c in client_conns(t):
        for q in c["requests"]:
            out[q["frame"]].append(q)
    return out


def client_ports_filter(t):
    return ports_filter(t["ports"])


def bus_ports_filter(t):
    return ports_filter(t["bus_ports"])


# --------------------------------------------------------------------------- checks
# Each takes the folder and the capture name, so the live test runs the very same checks.

def check_truth(d, name):
    """What needs no dissector: the truth agrees with itself and with the Cluster specification."""
    t = load(d, name)
    assert os.path.getsize(pcap(d, name)) < 4 << 20
    assert t["key_slots"], name
    for k, s in t["key_slots"].items():          # CLUSTER KEYSLOT = the specification's CRC16
        assert hash_slot(k) == s, (k, s)
    for c in t["client_connections"]:
        for q in c["requests"]:
            assert q["slots"] == [t["key_slots"][k] for k in q["keys"]], q
    for e in t["errors"]:
        assert e["code"] == e["text"].split(" ")[0]
    for r in t["redirects"]:
        assert r["text"] == f"{r['kind']} {r['slot']} {r['host']}:{r['port']}"
        assert r["port"] in t["ports"] and r["host"] == "127.0.0.1"
    b = t["bus"]
    total = collections.Counter()
    for c in b["connections"]:
        for dirn in ("c2s", "s2c"):
            assert len(c[dirn]) == len(c[dirn + "_frames"])
            assert sum(n for _, n in c[dirn]) + c.get(dirn + "_trailing_incomplete", 0) == c[dirn + "_bytes"]
            total.update(str(ty) for ty, _ in c[dirn])
    assert dict(total) == b["counts"] and sum(total.values()) == b["messages"]
    assert b["counts"].get("2", 0) >= 2, "MEET messages: the cluster's creation is in the capture"
    if name.startswith("cluster-redirect"):
        kinds = collections.Counter(r["kind"] for r in t["redirects"])
        assert kinds["MOVED"] >= 10 and kinds["ASK"] >= 3, kinds
        assert {"CROSSSLOT", "TRYAGAIN", "ERR"} <= set(t["wire_error_codes"])
        assert t["wire_vs_commandstats"] == {}
        # the raw client's ASKING + GET on the importing node was served
        raw = {r["name"]: r for r in t["raw_clients"]}
        steps = raw["raw-dst"]["steps"]
        assert [s["args"][0] for s in steps] == ["GET", "ASKING", "GET", "GET"]
        assert steps[0]["replies"][0].startswith("-MOVED ") and steps[1]["replies"] == ["+OK\\r\\n"]
        assert steps[2]["replies"][0].startswith("$") and steps[3]["replies"][0].startswith("-MOVED ")
    else:
        for ty in ("3", "5", "6", "8"):         # FAIL, AUTH_REQUEST, AUTH_ACK, MFSTART
            assert b["counts"].get(ty, 0) >= 1, ty


def check_commands(d, name):
    """Every request the independent parse found is a resp.command in its frame, and no other."""
    t = load(d, name)
    want = requests_by_frame(t)
    rows = rows_by_frame(d, name, ["resp.command"], f"{client_ports_filter(t)} && resp.request")
    got = {f: r["resp.command"] for f, r in rows.items() if f in want or r["resp.command"]}
    repl_frames = {q["frame"] for c in t["client_connections"] if c["kind"] == "replication"
                   for q in c["requests"]}
    for f in repl_frames:
        got.pop(f, None)
    assert sorted(got) == sorted(want), sorted(set(got) ^ set(want))[:10]
    for f, qs in want.items():
        assert got[f] == [q["args"][0].upper() for q in qs], (f, [q["args"][:3] for q in qs])


def check_pairing(d, name):
    t = load(d, name)
    rows = rows_by_frame(d, name, ["resp.response_in", "resp.response_to"], f"{client_ports_filter(t)} && resp")
    n = check_reply_pairing(client_conns(t), rows)
    assert n > 10, n


def check_keys(d, name):
    """resp.key of every request = the keys COMMAND GETKEYSANDFLAGS names (not_key ones excluded)."""
    t = load(d, name)
    want = requests_by_frame(t)
    rows = rows_by_frame(d, name, ["resp.key"], f"{client_ports_filter(t)} && resp.request")
    for f, qs in want.items():
        assert rows[f]["resp.key"] == [k for q in qs for k in q["keys"]], (f, [q["args"][:4] for q in qs])


def check_slots(d, name):
    """One resp.slot per resp.key, in the same order, equal to CLUSTER KEYSLOT."""
    t = load(d, name)
    want = requests_by_frame(t)
    rows = rows_by_frame(d, name, ["resp.key", "resp.slot"], f"{client_ports_filter(t)} && resp.key")
    assert rows, name
    for f, r in rows.items():
        keys, slots = r["resp.key"], ints(r["resp.slot"])
        assert len(slots) == len(keys), (f, keys, slots)
        for k, s in zip(keys, slots):
            assert s == t["key_slots"].get(k, hash_slot(k)), (f, k, s)
        if f in want:
            assert slots == [s for q in want[f] for s in q["slots"]], f


def check_errors(d, name):
    """resp.error.code of every frame = the first words of the error replies it carries."""
    t = load(d, name)
    want = collections.defaultdict(list)
    for e in t["errors"]:
        want[e["frame"]].append(e["code"])
    rows = rows_by_frame(d, name, ["resp.error.code"], f"{client_ports_filter(t)} && resp")
    got = {f: r["resp.error.code"] for f, r in rows.items() if r["resp.error.code"]}
    assert sorted(got) == sorted(want), sorted(set(got) ^ set(want))[:10]
    for f, codes in want.items():
        assert got[f] == codes, f


def check_redirects(d, name):
    """resp.redirect.slot/host/port of every MOVED/ASK reply = the server's reply."""
    t = load(d, name)
    want = collections.defaultdict(list)
    for r in t["redirects"]:
        want[r["frame"]].append(r)
    rows = rows_by_frame(d, name, ["resp.error.code", "resp.redirect.slot", "resp.redirect.host",
                                   "resp.redirect.port"], f"{client_ports_filter(t)} && resp")
    got = {f: r for f, r in rows.items() if r["resp.redirect.slot"]}
    assert sorted(got) == sorted(want)
    for f, rs in want.items():
        r = got[f]
        assert ints(r["resp.redirect.slot"]) == [x["slot"] for x in rs], f
        assert r["resp.redirect.host"] == [x["host"] for x in rs], f
        assert ints(r["resp.redirect.port"]) == [x["port"] for x in rs], f
        assert [c for c in r["resp.error.code"] if c in ("MOVED", "ASK")] == [x["kind"] for x in rs], f


def bus_rows(d, name, t):
    return frames(pcap(d, name), ["frame.number", "tcp.srcport", "tcp.dstport", "redis_cluster.type",
                                  "redis_cluster.totlen"], "redis_cluster", ["-2"])


def check_bus(d, name):
    """Per connection and direction, the sequence of (type, total length) = the independent parse;
    the counts per type too."""
    t = load(d, name)
    got = collections.defaultdict(list)
    got_frames = collections.defaultdict(list)
    for r in bus_rows(d, name, t):
        key = (int(r["tcp.srcport"][0]), int(r["tcp.dstport"][0]))
        types, lens = ints(r["redis_cluster.type"]), ints(r["redis_cluster.totlen"])
        assert len(types) == len(lens), r
        got[key] += list(zip(types, lens))
        got_frames[key] += [int(r["frame.number"][0])] * len(types)
    # a client port may be used again by a later connection (the failover's reconnects to a
    # dead node): the sequences of one port pair are those of its connections, in SYN order
    want, want_frames = collections.defaultdict(list), collections.defaultdict(list)
    for c in t["bus"]["connections"]:
        for dirn, key in (("c2s", (c["client_port"], c["server_port"])),
                          ("s2c", (c["server_port"], c["client_port"]))):
            want[key] += [(ty, n) for ty, n in c[dirn]]
            want_frames[key] += c[dirn + "_frames"]
    counts = collections.Counter()
    for key, w in want.items():
        g = got.pop(key, [])
        # Valkey's light header: the type's bit 0x8000 may be shown as its own flag
        assert [(ty & ~LIGHT, n) for ty, n in g] == [(ty & ~LIGHT, n) for ty, n in w], key
        assert got_frames.get(key, []) == want_frames[key], key
        counts.update(ty & ~LIGHT for ty, _ in g)
    assert not got, f"bus messages on connections the parse does not know: {sorted(got)[:5]}"
    want_counts = collections.Counter()
    for ty, n in t["bus"]["counts"].items():
        want_counts[int(ty) & ~LIGHT] += n
    assert counts == want_counts


def check_bus_not_resp(d, name):
    """No bus segment is taken for RESP; no malformed packet or warning/error expert info on the bus."""
    t = load(d, name)
    bus = bus_ports_filter(t)
    rows = frames(pcap(d, name), ["frame.number", "resp.command"], f"{bus} && resp")
    assert rows == [], rows[:5]
    rows = frames(pcap(d, name), ["frame.number", "_ws.expert.message"],
                  f"{bus} && (_ws.malformed || (_ws.expert.severity >= 0x00600000 && !tcp.flags.reset))")
    assert rows == [], rows[:5]


def check_clean(d, name):
    """No malformed packet or skipped bytes on the client connections."""
    t = load(d, name)
    rows = frames(pcap(d, name), ["frame.number", "_ws.expert.message"],
                  f"{client_ports_filter(t)} && (_ws.malformed || resp.malformed || resp.skipped)")
    assert rows == [], rows[:5]


# --------------------------------------------------------------------------- the captures

@pytest.mark.parametrize("name", ALL)
def test_truth_is_consistent(name):
    check_truth(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_commands_equal_the_wire(name):
    check_commands(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_requests_paired_with_their_replies(name):
    check_pairing(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_keys_equal_command_getkeys(name):
    check_keys(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_slots_equal_cluster_keyslot(name):
    check_slots(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_error_codes_equal_the_replies(name):
    check_errors(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_redirects_equal_the_servers_replies(name):
    check_redirects(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_bus_messages_equal_the_independent_parse(name):
    check_bus(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_bus_is_not_resp_and_clean(name):
    check_bus_not_resp(CAPTURES, name)


@pytest.mark.parametrize("name", ALL)
def test_client_connections_clean(name):
    check_clean(CAPTURES, name)


# --------------------------------------------------------------------------- live

CHECKS = (check_truth, check_commands, check_pairing, check_keys, check_slots, check_errors,
          check_redirects, check_bus, check_bus_not_resp, check_clean)


@pytest.mark.parametrize("server", ["redis-server", "valkey-server"])
def test_live_cluster_captures(server, shared_tmp):
    """Make fresh captures with the local server (the release roots: Redis 8, Valkey) and run the
    same checks on them."""
    live_capture(SCRIPT, server, shared_tmp, ["redirect", "failover"], timeout=600,
                 why="live cluster captures need root")
    run_checks(shared_tmp, ("cluster-redirect", "cluster-failover"), CHECKS)


@pytest.mark.parametrize("name", REDIRECT)
def test_redirect_expert_names_the_node(name):
    """Each MOVED/ASK reply gets one resp.redirect expert naming the slot and the node, as the
    server's reply (recorded by the raw clients) says."""
    t = load(CAPTURES, name)
    want = collections.Counter(
        (r["frame"], f"{'Moved' if r['kind'] == 'MOVED' else 'Ask'}: slot {r['slot']} is served by "
                     f"{r['host']}:{r['port']}") for r in t["redirects"])
    got = collections.Counter()
    for r in frames(pcap(CAPTURES, name), ["frame.number", "_ws.expert.message"], "resp.redirect", ["-2"]):
        for m in r["_ws.expert.message"]:
            if m.startswith(("Moved: ", "Ask: ")):
                got[(int(r["frame.number"][0]), m.split(" (for this command")[0])] += 1
    assert got == want


def bus_secrets(name):
    """Redis 8's internal secrets, read from the raw TCP payloads: ping extensions of type 4 and
    length 48 (8-byte extension header, 40 bytes of secret)."""
    secrets = set()
    for row in frames(pcap(CAPTURES, name), ["tcp.payload"], "tcp.len > 0",
                      ["-o", "tcp.desegment_tcp_streams:FALSE"]):
        for hexdata in row["tcp.payload"]:
            data = bytes.fromhex(hexdata.replace(":", ""))
            secrets |= {m.group(1) for m in SECRET_EXT.finditer(data)}
    return secrets


def test_internal_secret_only_as_fingerprint():
    """Redis 8 sends its cluster's internal secret in every ping: the tree shows only a SHA-256
    prefix of it, never the secret."""
    name = "cluster-redirect-redis8"
    secrets = bus_secrets(name)
    assert secrets, "no internal-secret extension found in the capture"
    field = "redis_cluster.ext.internal_secret.fingerprint"
    shown = set()
    for r in frames(pcap(CAPTURES, name), [field], field):
        shown |= set(r[field])
    assert shown == {hashlib.sha256(s).hexdigest()[:16] for s in secrets}
    tree = tshark("-r", pcap(CAPTURES, name), "-V", "-Y", "redis_cluster").stdout
    assert not any(s.decode() in tree for s in secrets)
