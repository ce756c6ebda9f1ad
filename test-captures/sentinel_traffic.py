#!/usr/bin/python3
"""Traffic generator and ground-truth collector for the Sentinel capture
(sentinel*.pcap).  Called by make-sentinel-captures.sh inside its private network
namespace; run it with /usr/bin/python3.

    sentinel_traffic.py run --sidecar OUT.json --cli redis-cli --server redis-server
                        --master-port 6379 --replica-port 6380 --sentinel-ports 26379,26380,26381
                        --socks-dir DIR --sync DIR
    sentinel_traffic.py annotate --sidecar S.json --pcap F.pcap --capture NAME.pcap
                        --truth OUT.truth.json

"run": raw subscribers to __sentinel__:hello on the master and on the replica (before any
Sentinel starts: the script waits for the file <sync>/hello-subscribed), a raw PSUBSCRIBE *
client on the first Sentinel (before the other two start: <sync>/sentinel1 ->
<sync>/events-subscribed -> <sync>/sentinels), then, once every Sentinel knows the replica
and the two other Sentinels, a raw client on the first Sentinel sending every SENTINEL
subcommand of SENTINEL HELP that changes nothing (and PING, INFO, ROLE, CLIENT LIST, HELLO,
two errors), redis-cli doing some of them too, then `SENTINEL FAILOVER mymaster` (redis-cli)
and the waits for +switch-master and the new roles.  It records what each raw client sent and
received, and the servers' and Sentinels' INFO commandstats.  Control connections use unix
sockets (never captured); the Sentinels' CLIENT KILL TYPE normal during the failover also
kills those on the master and the replica, which are then opened again.

"annotate" reassembles the capture (own parser; no retransmission or hole, checked by
cluster_traffic.py check-pcap), splits every client stream into requests and replies, and
refuses to write a truth unless the raw clients' bytes equal the capture's, every hello the
subscribers received is a PUBLISH on the wire, and every PUBLISH to __sentinel__:hello made
while a subscriber listened reached it.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import resp_traffic as rt  # noqa: E402
import cluster_traffic as ct  # noqa: E402
import cluster_bus_truth as cbt  # noqa: E402
import capture_common as cc  # noqa: E402

expect = rt.expect
HOST = "127.0.0.1"
MASTER = "mymaster"
HELLO = "__sentinel__:hello"


class Ctl(ct.Control):
    """A unix-socket control connection that reopens itself once if the server killed it."""

    def call(self, *args, ok=True):
        try:
            return super().call(*args, ok=ok)
        except (EOFError, ConnectionError, OSError):
            self.c.close()
            self.sent[ct.statname([str(a) for a in args])] -= 1
            self.c = rt.Conn.unix(self.path)
            self.reconnects = getattr(self, "reconnects", 0) + 1
            return super().call(*args, ok=ok)


def wait_file(path, timeout=30):
    ct.wait_for("file " + path, lambda: os.path.exists(path), timeout=timeout, step=0.05)


def touch(path):
    with open(path, "w"):
        pass


def decode_push(raw):
    """[b'message', chan, payload] / [b'pmessage', pattern, chan, payload] of one raw push."""
    c = rt.Conn(_Fake(raw))
    return c.read()


class _Fake:
    """A socket stand-in that serves one byte string to rt.Conn."""

    def __init__(self, data):
        self.data = data

    def settimeout(self, t):
        pass

    def recv(self, n):
        d, self.data = self.data[:n], self.data[n:]
        return d


def hello_fields(payload):
    f = payload.split(",")
    if len(f) != 8:
        return {"unparsed": payload}
    keys = ["ip", "port", "runid", "epoch", "master_name", "master_ip", "master_port", "master_epoch"]
    return dict(zip(keys, f))


def event_fields(channel, payload):
    """Fields of a Sentinel event: '<type> <name> <ip> <port> [@ <master> <ip> <port>] ...' or
    +switch-master '<master> <old ip> <old port> <new ip> <new port>'."""
    w = payload.split(" ")
    if channel == "+switch-master" and len(w) == 5:
        return {"master_name": w[0], "old_ip": w[1], "old_port": w[2], "new_ip": w[3], "new_port": w[4]}
    if len(w) >= 4 and w[0] in ("master", "slave", "sentinel"):
        out = {"instance_type": w[0], "instance_name": w[1], "ip": w[2], "port": w[3]}
        rest = w[4:]
        if len(rest) >= 4 and rest[0] == "@":
            out.update({"master_name": rest[1], "master_ip": rest[2], "master_port": rest[3]})
            rest = rest[4:]
        if rest:
            out["rest"] = " ".join(rest)
        return out
    return {"text": payload}


class Listener(ct.Raw):
    """A raw subscriber: reads whatever arrives, in the background of the main steps. The
    server may close it (the failover's CLIENT KILL): closed is set then."""
    closed = False

    def drain(self, what, quiet=0.2, limit=5.0):
        got, deadline = [], time.time() + limit
        while time.time() < deadline and not self.closed:
            try:
                end = ct.reply_end(self.buf, 0)
                r, self.buf = self.buf[:end], self.buf[end:]
                got.append(r)
                continue
            except ct.Incomplete:
                pass
            self.s.settimeout(quiet)
            try:
                d = self.s.recv(65536)
            except OSError:
                break
            if not d:
                self.closed = True
                break
            self.buf += d
        if got:
            self.steps.append({"args": None, "waited_for": what, "sent": "", "sent_hex": "",
                               "replies": [ct.esc(g) for g in got], "replies_hex": [g.hex() for g in got]})
        return got

    def stop(self, *cmd):
        """Unsubscribe: every push before the unsubscribe reply is recorded, none can follow."""
        self.drain("before " + cmd[0], quiet=0.05, limit=0.3)
        if self.closed:
            return
        raw = rt.Conn.encode(cmd)
        self.s.sendall(raw)
        pushes = []
        while True:
            r = self._read_reply(10.0)
            m = decode_push(r)
            if m and m[0] in (b"unsubscribe", b"punsubscribe"):
                break
            pushes.append(r)
        if pushes:
            self.steps.append({"args": None, "waited_for": "until " + cmd[0], "sent": "", "sent_hex": "",
                               "replies": [ct.esc(g) for g in pushes], "replies_hex": [g.hex() for g in pushes]})
        self.steps.append({"args": list(cmd), "sent": ct.esc(raw), "sent_hex": raw.hex(),
                           "replies": [ct.esc(r)], "replies_hex": [r.hex()]})


SAFE = [
    ("SENTINEL", "HELP"), ("SENTINEL", "MASTERS"), ("SENTINEL", "MASTER", MASTER),
    ("SENTINEL", "REPLICAS", MASTER), ("SENTINEL", "SLAVES", MASTER), ("SENTINEL", "SENTINELS", MASTER),
    ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER), ("SENTINEL", "CKQUORUM", MASTER),
    ("SENTINEL", "INFO-CACHE", MASTER), ("SENTINEL", "IS-MASTER-DOWN-BY-ADDR", HOST, "6379", "0", "*"),
    ("SENTINEL", "PENDING-SCRIPTS"), ("SENTINEL", "MYID"), ("SENTINEL", "CONFIG", "GET", "*"),
    ("SENTINEL", "CONFIG", "GET", "resolve-hostnames"),
    ("SENTINEL", "CONFIG", "SET", "resolve-hostnames", "no"),
    ("SENTINEL", "DEBUG"), ("SENTINEL", "SIMULATE-FAILURE", "HELP"),
    ("SENTINEL", "RESET", "no-such-master-*"), ("SENTINEL", "FLUSHCONFIG"),
    ("SENTINEL", "SET", MASTER, "down-after-milliseconds", "5000"),
    ("SENTINEL", "MONITOR", "other", HOST, "6390", "2"), ("SENTINEL", "REMOVE", "other"),
    ("SENTINEL", "MASTER", "no-such-master"), ("SENTINEL", "NO-SUCH-SUBCOMMAND"),
    ("PING",), ("PING", "hello"), ("INFO",), ("INFO", "sentinel"), ("ROLE",), ("CLIENT", "LIST"),
    ("CLIENT", "SETNAME", "raw-queries"), ("CLIENT", "GETNAME"), ("CLIENT", "ID"), ("HELLO",),
    ("COMMAND", "COUNT"), ("SET", "not", "allowed"),
]


def run(a):
    sports = [int(p) for p in a.sentinel_ports.split(",")]
    mport, rport = a.master_port, a.replica_port
    sock = lambda p: os.path.join(a.socks_dir, "n%d" % p, "sock")  # noqa: E731
    ctl = {p: Ctl(sock(p)) for p in (mport, rport)}
    base = {p: ctl[p].commandstats() for p in (mport, rport)}
    for p in (mport, rport):
        ctl[p].sent.clear()
        ctl[p].sent["info"] = 1           # the baseline INFO counts after it
    events = []
    clis = []

    def cli(port, *args, stdin=None):
        p = subprocess.run([a.cli, "-h", HOST, "-p", str(port), *args], input=stdin, capture_output=True,
                           text=True, timeout=60)
        clis.append({"port": port, "args": list(args), "stdin": stdin, "stdout": p.stdout,
                     "stderr": p.stderr, "rc": p.returncode})
        return p.stdout

    hm = Listener("hello-master", mport)
    hm.call("SUBSCRIBE", HELLO)
    hr = Listener("hello-replica", rport)
    hr.call("SUBSCRIBE", HELLO)
    touch(os.path.join(a.sync, "hello-subscribed"))
    wait_file(os.path.join(a.sync, "sentinel1"))
    ev = Listener("events", sports[0])
    ev.call("PSUBSCRIBE", "*")
    touch(os.path.join(a.sync, "events-subscribed"))
    wait_file(os.path.join(a.sync, "sentinels"))
    sctl = {p: Ctl(sock(p)) for p in sports}

    def sentinel_master(p):
        r = sctl[p].call("SENTINEL", "MASTER", MASTER)
        return {r[i].decode(): r[i + 1].decode() for i in range(0, len(r), 2)}

    def discovered():
        for p in sports:
            m = sentinel_master(p)
            if m.get("num-other-sentinels") != "2" or m.get("num-slaves") != "1":
                return False
            if "s_down" in m.get("flags", ""):
                return False
        return True
    ct.wait_for("sentinels discover each other and the replica", discovered, timeout=40, step=0.2)
    events.append("every sentinel knows the replica and 2 other sentinels")
    ev.drain("events so far")
    q = ct.Raw("queries", sports[0])
    for cmd in SAFE:
        q.call(*cmd)
    r3 = ct.Raw("resp3", sports[0])
    r3.call("HELLO", "3")
    r3.call("SENTINEL", "MASTER", MASTER)
    r3.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
    r3.call("PING")
    cli(sports[1], "SENTINEL", "MASTERS")
    cli(sports[1], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
    cli(sports[2], stdin="SENTINEL SENTINELS mymaster\nSENTINEL REPLICAS mymaster\nSENTINEL CKQUORUM "
        "mymaster\nSENTINEL MYID\nINFO\n")
    ev.drain("events before the failover")
    events.append("SENTINEL FAILOVER %s on %d" % (MASTER, sports[0]))
    cli(sports[0], "SENTINEL", "FAILOVER", MASTER)

    got_switch = []

    def switched():
        for raw in ev.drain("events during the failover", quiet=0.1, limit=0.5):
            m = decode_push(raw)
            if m[0] == b"pmessage" and m[2] == b"+switch-master":
                got_switch.append(m)
        if not got_switch:
            return False
        for p in sports:
            r = sctl[p].call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
            if int(r[1]) != rport:
                return False
        ri = ctl[mport].kv("INFO", "replication")
        return ri.get("role") == "slave" and ri.get("master_port") == str(rport) and \
            ri.get("master_link_status") == "up"
    ct.wait_for("+switch-master and the old master replicating from the new one", switched, timeout=60,
                step=0.1)
    events.append("+switch-master received; %d is the master, %d replicates from it" % (rport, mport))
    # one more round of hellos with the new epoch, and the sentinels' +slave/-sdown news
    ev.drain("events after the failover", quiet=0.3, limit=3.0)
    # the failover closes the old master's normal and pub/sub clients: subscribe again
    again = []
    for h in (hm, hr):
        h.drain("hellos until now", quiet=0.05, limit=0.3)
        if h.closed:
            n = Listener(h.name + "-again", h.port)
            n.call("SUBSCRIBE", HELLO)
            again.append(n)
            events.append("%s was closed by the server; subscribed again from port %d"
                          % (h.name, n.client_port))
    ev.drain("events after the failover", quiet=0.3, limit=2.5)
    q.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
    q.call("SENTINEL", "MASTER", MASTER)
    q.call("ROLE")
    for h in [hm, hr] + again:
        h.stop("UNSUBSCRIBE", HELLO)
    ev.stop("PUNSUBSCRIBE", "*")
    stats = {}
    for p in (mport, rport):
        own = collections.Counter(ctl[p].sent)
        after = ctl[p].commandstats()
        stats[str(p)] = ct.cs_delta(after, base[p], own)
    sstats = {}
    for p in sports:
        own = collections.Counter(sctl[p].sent)
        after = sctl[p].commandstats()
        sstats[str(p)] = ct.cs_delta(after, {}, own)
    srv = ctl[rport].kv("INFO", "server")
    listeners = [hm, hr] + again + [ev, q, r3]
    for c in listeners:
        c.close()
    return {
        "server_binary": a.server, "cli": a.cli, "server_version": srv.get("redis_version"),
        "valkey_version": srv.get("valkey_version"), "master_port": mport, "replica_port": rport,
        "sentinel_ports": sports, "master_name": MASTER,
        "commandstats_delta": stats, "sentinel_commandstats": sstats,
        "control_reconnects": {str(p): getattr(ctl[p], "reconnects", 0) for p in (mport, rport)},
        "raw_clients": [c.record() for c in listeners],
        "redis_cli": clis, "events": events,
    }


def cmd_run(a):
    side = run(a)
    with open(a.sidecar, "w") as f:
        json.dump(side, f, indent=1)


# ---------------------------------------------------------------------------
# annotate
# ---------------------------------------------------------------------------

def cmd_annotate(a):
    with open(a.sidecar) as f:
        side = json.load(f)
    mport, rport, sports = side["master_port"], side["replica_port"], side["sentinel_ports"]
    ports = [mport, rport] + sports
    t = collections.OrderedDict()
    t["capture"] = a.capture
    for k in ("server_binary", "server_version", "valkey_version", "cli", "master_port", "replica_port",
              "sentinel_ports", "master_name"):
        t[k] = side[k]
    streams = cbt.connections(a.pcap, ports)
    conns, errors = [], []
    published = []             # PUBLISH __sentinel__:hello on the wire
    wire = collections.defaultdict(collections.Counter)
    for (cp, sp), c2s, s2c in streams:
        reqs, reps, replication, pubsub = ct.parse_client(c2s, s2c)
        kind = "replication" if replication else "pubsub" if pubsub else "client"
        c = {"client_port": cp, "server_port": sp, "kind": kind, "requests": [], "replies": len(reps)}
        if kind == "client":
            expect(len(reqs) == len(reps) or len(reqs) == len(reps) + 1,
                   "%d->%d: %d requests, %d replies" % (cp, sp, len(reqs), len(reps)))
        for i, r in enumerate(reqs):
            w = [x.decode("latin-1") for x in r["words"]]
            q = {"args": [ct.word(x) for x in r["words"]], "frame": r["frame"], "stat": ct.statname(w)}
            if kind == "client" and i < len(reps):
                q["reply_frame"] = reps[i]["frame"]
            c["requests"].append(q)
            wire[sp][q["stat"]] += 1
            if w[0].upper() == "PUBLISH" and len(w) == 3 and w[1] == HELLO:
                published.append({"frame": r["frame"], "time": _time(c2s, r["frame"]), "offset": r["offset"],
                                  "server_port": sp, "client_port": cp, "payload": w[2],
                                  "fields": hello_fields(w[2])})
        for j, rp in enumerate(reps):
            for text, depth in rp["errors"]:
                e = {"frame": rp["frame"], "client_port": cp, "server_port": sp, "text": text,
                     "code": text.split(" ", 1)[0], "nested": depth > 0}
                if kind == "client" and j < len(reqs):
                    e["request"] = c["requests"][j]["args"][:3]
                errors.append(e)
        conns.append(c)
    t["client_connections"] = conns
    t["errors"] = errors
    t["hello_published"] = published
    # raw clients: exactly their bytes; their pushes decoded
    by_key = {(cp, sp): (c2s, s2c) for (cp, sp), c2s, s2c in streams}
    hellos, events = [], []
    for r in side["raw_clients"]:
        key, c2s, s2c = cc.raw_client_flows(by_key, r)
        off = 0
        for s in r["steps"]:
            for h in s["replies_hex"]:
                raw = bytes.fromhex(h)
                off += len(raw)
                frame, ts = s2c.frame_at(off - 1)
                if s["args"] is not None:
                    continue
                m = decode_push(raw)
                kind = m[0].decode()
                where = {"frame": frame, "time": round(ts, 6), "offset": off - len(raw),
                         "subscriber": r["name"], "server_port": r["server_port"],
                         "client_port": r["client_port"]}
                if kind == "message" and m[1].decode() == HELLO:
                    p = m[2].decode()
                    hellos.append(dict(where, payload=p, fields=hello_fields(p)))
                elif kind == "pmessage":
                    ch, p = m[2].decode(), m[3].decode()
                    if ch == HELLO:          # PSUBSCRIBE * on a Sentinel sees the hellos it gets
                        hellos.append(dict(where, payload=p, fields=hello_fields(p), pattern=True))
                        continue
                    events.append(dict(where, channel=ch, payload=p, fields=event_fields(ch, p)))
        for c in conns:
            if (c["client_port"], c["server_port"]) == key:
                c["raw_client"] = r["name"]
    t["hello_received"] = hellos
    t["events"] = events
    # every other hello the capture carries: on the Sentinels' own pub/sub links, and the
    # PUBLISHes a master streams to its replica
    raw_keys = {(r["client_port"], r["server_port"]) for r in side["raw_clients"]}
    other = []
    for c in conns:
        key = (c["client_port"], c["server_port"])
        c2s, s2c = by_key[key]
        if key in raw_keys:
            continue
        if c["kind"] == "pubsub":
            for off, m, fr in pushes(s2c):
                if isinstance(m, list) and len(m) == 3 and m[0] == b"message" and m[1] == HELLO.encode():
                    p = m[2].decode()
                    other.append({"frame": fr, "offset": off, "where": "pubsub link", "client_port": key[0],
                                  "server_port": key[1], "payload": p, "fields": hello_fields(p)})
        elif c["kind"] == "replication":
            for off, w, fr in repl_stream(s2c):
                if len(w) == 3 and w[0].upper() == b"PUBLISH" and w[1] == HELLO.encode():
                    p = w[2].decode()
                    other.append({"frame": fr, "offset": off, "where": "replication stream",
                                  "client_port": key[0], "server_port": key[1], "payload": p,
                                  "fields": hello_fields(p)})
    allp = collections.Counter(p["payload"] for p in published)
    expect(all(allp[h["payload"]] for h in other), "a hello delivered that nobody published")
    t["hello_delivered"] = other
    # every received hello was published on the wire to that server; every hello published to a
    # server while its subscriber listened (after the SUBSCRIBE reply) was received
    for r in side["raw_clients"]:
        sub = r["name"]
        if not sub.startswith("hello-"):
            continue
        mine = [h for h in hellos if h["subscriber"] == sub]
        c2s, s2c = by_key[(r["client_port"], r["server_port"])]
        t_sub = s2c.segs[0][1]
        t_end = s2c.segs[-1][1]
        pubs = [p for p in published if p["server_port"] == r["server_port"] and t_sub < p["time"] < t_end]
        # a replica also delivers the PUBLISHes its master streams to it
        allp = collections.Counter(p["payload"] for p in published)
        got = collections.Counter(h["payload"] for h in mine)
        expect(all(allp[k] >= v for k, v in got.items()), "%s received hellos nobody published" % sub)
        expect(all(got[p["payload"]] >= 1 for p in pubs), "%s missed published hellos" % sub)
    expect(any(e["channel"] == "+switch-master" for e in events), "no +switch-master event")
    t["raw_clients"] = side["raw_clients"]
    t["redis_cli"] = side["redis_cli"]
    t["commandstats_delta"] = side["commandstats_delta"]
    t["sentinel_commandstats"] = side["sentinel_commandstats"]
    t["wire_requests_per_port"] = {str(p): dict(sorted(wire[p].items())) for p in ports}
    # the sentinels count exactly what the capture shows them (they have no replication stream)
    mism = {}
    for p in sports:
        got = {k: v[0] + v[1] for k, v in side["sentinel_commandstats"][str(p)].items() if v[0] + v[1]}
        if got != dict(wire[p]):
            mism[str(p)] = {k: [wire[p].get(k, 0), got.get(k, 0)] for k in set(got) | set(wire[p])
                            if wire[p].get(k, 0) != got.get(k, 0)}
    t["sentinel_wire_vs_commandstats"] = mism
    answered = all(side["sentinel_commandstats"][str(p)] for p in sports)
    t["sentinel_commandstats_answered"] = answered
    expect(not answered or not mism, "sentinel requests on the wire vs their commandstats [wire, server]: %r" % mism)
    t["control_reconnects"] = side["control_reconnects"]
    t["run_events"] = side["events"]
    t["notes"] = [
        "Made by test-captures/make-sentinel-captures.sh with sentinel_traffic.py: a master, a "
        "replica, three Sentinels (quorum 2), all started after tcpdump, so every Sentinel "
        "connection (command and pub/sub links to the master and the replica, the links between "
        "Sentinels) is in the capture. Frame numbers are 1-based pcap packet numbers of the "
        "segment holding a message's last byte.",
        "raw_clients: exactly what each raw client sent and received (checked byte for byte "
        "against the capture): hello-master/hello-replica (SUBSCRIBE __sentinel__:hello before "
        "any Sentinel started), events (PSUBSCRIBE * on the first Sentinel), queries (every "
        "SENTINEL subcommand of SENTINEL HELP that changes nothing, and a few errors), resp3.",
        "hello_received: every hello the subscribers received (hello-*: SUBSCRIBE on the master "
        "or replica; events with pattern: the PSUBSCRIBE * client on a Sentinel, which other "
        "Sentinels PUBLISH their hellos to) (frame, stream offset, payload, fields "
        "ip,port,runid,epoch,master_name,master_ip,master_port,master_epoch); hello_published: "
        "every PUBLISH __sentinel__:hello on the wire (checked: each received one was published, "
        "to that server or, as a replica delivers what its master streams, to its master; each one "
        "published to a server while a subscriber listened there was received). events: every pmessage "
        "the events client received other than hellos, with the fields of "
        "'<type> <name> <ip> <port> [@ <master> <ip> <port>]' or +switch-master's "
        "'<master> <old ip> <old port> <new ip> <new port>'. hello_delivered: every other "
        "hello in the capture: received on the Sentinels' own pub/sub links, or a PUBLISH the "
        "master streams to its replica (where: pubsub link / replication stream); each one was "
        "published on the wire.",
        "commandstats_delta: master and replica since before the Sentinels started (control "
        "commands subtracted; the old master's CLIENT KILL TYPE normal closes the control "
        "connection, control_reconnects counts how often it was opened again). "
        "sentinel_commandstats: each Sentinel's INFO commandstats at the end ([calls, "
        "rejected_calls, failed_calls]) minus control commands; when a Sentinel answers it "
        "(sentinel_commandstats_answered; Redis 7.0's Sentinel INFO has no commandstats section), "
        "checked equal to the requests the capture shows it. sentinel_wire_vs_commandstats: "
        "[wire, server] per command where they differ.",
    ]
    with open(a.truth, "w") as f:
        json.dump(t, f, indent=1)
        f.write("\n")


def repl_stream(s2c):
    """[(offset, words, frame)] of the commands a master streams on a replication connection:
    after the handshake replies, +FULLRESYNC and the RDB ($<len> or $EOF:<mark>), or +CONTINUE,
    or Redis 8's +RDBCHANNELSYNC (the snapshot then comes on a second connection)."""
    d, p = bytes(s2c.data), 0
    while True:
        while d[p:p + 1] == b"\n":
            p += 1
        i = d.find(b"\r\n", p)
        if i < 0:
            return []
        line, p = d[p:i], i + 2
        if line.startswith(b"+FULLRESYNC"):
            while d[p:p + 1] == b"\n":
                p += 1
            i = d.index(b"\r\n", p)
            head, p = d[p:i], i + 2
            if head.startswith(b"$EOF:"):
                p = d.index(head[5:], p) + len(head) - 5
            else:
                p += int(head[1:])
            break
        if line.startswith((b"+CONTINUE", b"+RDBCHANNELSYNC")):
            break
    out = []
    while p < len(d):
        if d[p:p + 1] == b"\n":
            p += 1
            continue
        try:
            end, words = ct.request_end(d, p)
        except ct.Incomplete:
            break
        out.append((p, words, s2c.frame_at(end - 1)[0]))
        p = end
    return out


def pushes(s2c):
    """[(offset, decoded push, frame)] of every reply on a connection's server side."""
    d, p, out = bytes(s2c.data), 0, []
    while p < len(d):
        try:
            end = ct.reply_end(d, p)
        except ct.Incomplete:
            break
        out.append((p, decode_push(d[p:end]), s2c.frame_at(end - 1)[0]))
        p = end
    return out


def _time(d, frame):
    for fr, ts, st, ln in d.segs:
        if fr == frame:
            return ts
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="what", required=True)
    r = sp.add_parser("run")
    r.add_argument("--sidecar", required=True)
    r.add_argument("--server", default="redis-server")
    r.add_argument("--cli", default="redis-cli")
    r.add_argument("--master-port", type=int, default=6379)
    r.add_argument("--replica-port", type=int, default=6380)
    r.add_argument("--sentinel-ports", default="26379,26380,26381")
    r.add_argument("--socks-dir", required=True)
    r.add_argument("--sync", required=True)
    n = sp.add_parser("annotate")
    n.add_argument("--sidecar", required=True)
    n.add_argument("--pcap", required=True)
    n.add_argument("--capture", required=True)
    n.add_argument("--truth", required=True)
    a = ap.parse_args()
    if a.what == "run":
        cmd_run(a)
    else:
        cmd_annotate(a)


if __name__ == "__main__":
    main()
