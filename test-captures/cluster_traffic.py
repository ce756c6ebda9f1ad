#!/usr/bin/python3
"""Traffic generator and ground-truth collector for the Redis/Valkey Cluster captures
(cluster-*.pcap).  Called by make-cluster-captures.sh inside its private network
namespace; run it with /usr/bin/python3.

    cluster_traffic.py baseline --socks S1,S2,... --out BASE.json
    cluster_traffic.py run SCENARIO --sidecar OUT.json --cli redis-cli --server redis-server
                       --ports 6379,6380,... --socks S1,S2,... --baseline BASE.json
                       [--pids 6379:PID,...]
    cluster_traffic.py check-pcap FILE.pcap
    cluster_traffic.py annotate --sidecar S.json --pcap F.pcap --capture NAME.pcap
                       --truth OUT.truth.json --socks S1,S2,...

"run" makes the traffic: `<cli> --cluster create` (the whole cluster's birth is in the
capture: MEET, the first PINGs/PONGs), redis-cli with and without -c, raw-socket clients
whose exact bytes it records, a half-migrated slot (redirect), or replicas, PUBLISH,
SPUBLISH, a manual failover and a killed master (failover).  It records what the servers
say (INFO commandstats/errorstats per node, CLUSTER INFO's bus message counters with the
time they were read, CLUSTER NODES).  Control connections use the servers' unix sockets,
so they are never captured.

"annotate" runs while the servers are still up (the script stops tcpdump first): it
reassembles the capture with its own small parser (the capture has no retransmission or
hole: check-pcap), splits every client stream into requests and replies, asks the
servers COMMAND GETKEYSANDFLAGS (or GETKEYS) for each request's keys and CLUSTER KEYSLOT
for each key, parses the bus with cluster_bus_truth.py, and refuses to write a truth
unless: the raw clients' streams equal the bytes they sent and received, every redirect
redis-cli printed is a reply on the wire, every node's commandstats delta (calls +
rejected_calls) equals the requests the capture shows to it (redirect scenario), the
bus tiles exactly and every node's CLUSTER INFO receive counters lie between the bus
messages captured before and after it was read.

Every socket operation, subprocess and wait is bounded by a timeout.
"""

import argparse
import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import resp_traffic as rt  # noqa: E402
import cluster_bus_truth as cbt  # noqa: E402
import capture_common as cc  # noqa: E402

expect = rt.expect
HOST = "127.0.0.1"
WAIT_TIMEOUT = 30.0
CLI_TIMEOUT = 60
CONTAINERS = {"client", "config", "command", "debug", "object", "cluster", "memory", "xinfo",
              "acl", "function", "script", "latency", "module", "pubsub", "slowlog", "object"}


# ---------------------------------------------------------------------------
# control connections (unix sockets, never captured) that count what they send
# ---------------------------------------------------------------------------

def statname(args):
    n = args[0].lower()
    if n in CONTAINERS and len(args) > 1:
        n += "|" + args[1].lower()
    return n


class Control:
    def __init__(self, path):
        self.c = cc.connect_unix(path, WAIT_TIMEOUT)
        self.path = path
        self.sent = collections.Counter()

    def call(self, *args, ok=True):
        self.sent[statname([str(a) for a in args])] += 1
        r = self.c.call(*args)
        if ok:
            expect(not isinstance(r, rt.Err), "%s: %s" % (" ".join(map(str, args)), r))
        return r

    def text(self, *args):
        r = self.call(*args)
        return r.decode() if isinstance(r, bytes) else str(r)

    def kv(self, *args):
        out = {}
        for line in self.text(*args).splitlines():
            if ":" in line and not line.startswith("#"):
                k, _, v = line.partition(":")
                out[k] = v.strip()
        return out

    def commandstats(self):
        calls, rejected, failed, _ = rt.parse_info(self.text("INFO", "commandstats"))
        return {k: [calls[k], rejected.get(k, 0), failed.get(k, 0)] for k in calls}

    def errorstats(self):
        return rt.parse_info(self.text("INFO", "errorstats"))[3]


def wait_for(what, cond, timeout=WAIT_TIMEOUT, step=0.1):
    deadline = time.time() + timeout
    while True:
        r = cond()
        if r:
            return r
        expect(time.time() < deadline, "timed out waiting for " + what)
        time.sleep(step)


def cs_delta(after, before, own):
    """commandstats delta: {name: [calls, rejected_calls, failed_calls]}, own calls out."""
    out = {}
    for k in sorted(set(after) | set(before)):
        a, b = after.get(k, [0, 0, 0]), before.get(k, [0, 0, 0])
        d = [a[0] - b[0] - own.get(k, 0), a[1] - b[1], a[2] - b[2]]
        if any(d):
            out[k] = d
    return out


def counter_delta(after, before):
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(after) | set(before))
            if after.get(k, 0) != before.get(k, 0)}


# ---------------------------------------------------------------------------
# RESP framing (requests and replies) used both live and on the capture
# ---------------------------------------------------------------------------

class Incomplete(Exception):
    pass


def _line(d, p):
    i = d.find(b"\r\n", p)
    if i < 0:
        raise Incomplete()
    return d[p:i], i + 2


def reply_end(d, p, errors=None, depth=0):
    """End offset of the RESP2/RESP3 reply starting at p; error texts appended to errors."""
    if p >= len(d):
        raise Incomplete()
    head, q = _line(d, p)
    t, rest = head[:1], head[1:]
    if t == b"-":
        if errors is not None:
            errors.append((rest.decode("latin-1"), depth))
        return q
    if t in (b"+", b":", b"_", b"#", b",", b"("):
        return q
    if t in (b"$", b"=", b"!"):
        n = int(rest)
        if n < 0:
            return q
        if len(d) < q + n + 2:
            raise Incomplete()
        expect(d[q + n:q + n + 2] == b"\r\n", "bulk not terminated at %d" % q)
        if t == b"!" and errors is not None:
            errors.append((d[q:q + n].decode("latin-1"), depth))
        return q + n + 2
    if t in (b"*", b">", b"~", b"%", b"|"):
        n = int(rest)
        if t in (b"%", b"|"):
            n *= 2
        for _ in range(max(n, 0)):
            q = reply_end(d, q, errors, depth + 1)
        if t == b"|":                    # an attribute precedes the real reply
            q = reply_end(d, q, errors, depth)
        return q
    raise ValueError("RESP type byte %r at %d" % (t, p))


def request_end(d, p):
    """(end, words) of the request at p (multibulk or inline)."""
    if d[p:p + 1] != b"*":
        line, q = d.find(b"\n", p), None
        if line < 0:
            raise Incomplete()
        return line + 1, d[p:line].rstrip(b"\r").split()
    head, q = _line(d, p)
    words = []
    for _ in range(int(head[1:])):
        h, q = _line(d, q)
        expect(h[:1] == b"$", "bulk header %r" % h)
        n = int(h[1:])
        if len(d) < q + n + 2:
            raise Incomplete()
        words.append(d[q:q + n])
        q += n + 2
    return q, words


def esc(b):
    return b.decode("latin-1").encode("unicode_escape").decode("ascii")


def word(b):
    """A request word for the truth: text as is, binary escaped, long ones summarised."""
    try:
        s = b.decode("utf-8")
        if s.isprintable():
            return s if len(s) <= 200 else "<%d bytes>" % len(b)
    except UnicodeDecodeError:
        pass
    return "<%d bytes>" % len(b) if len(b) > 64 else esc(b)


REDIRECT_RE = re.compile(r"^(MOVED|ASK) (\d+) (\S*):(\d+)$")


def redirect_of(text):
    m = REDIRECT_RE.match(text)
    if not m:
        return None
    return {"kind": m.group(1), "slot": int(m.group(2)), "host": m.group(3), "port": int(m.group(4))}


# ---------------------------------------------------------------------------
# clients whose traffic is captured
# ---------------------------------------------------------------------------

class Raw:
    """A raw-socket client: records exactly what it sent and received."""

    def __init__(self, name, port):
        self.name, self.port = name, port
        self.s = socket.create_connection((HOST, port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_port = self.s.getsockname()[1]
        self.buf = b""
        self.steps = []

    def _read_reply(self, timeout=10.0):
        deadline = time.time() + timeout
        while True:
            try:
                end = reply_end(self.buf, 0)
                r, self.buf = self.buf[:end], self.buf[end:]
                return r
            except Incomplete:
                pass
            left = deadline - time.time()
            expect(left > 0, "%s: no complete reply (have %r)" % (self.name, self.buf[:200]))
            self.s.settimeout(left)
            d = self.s.recv(65536)
            expect(d, "%s: server closed" % self.name)
            self.buf += d

    def call(self, *args, replies=1):
        raw = rt.Conn.encode(args)
        self.s.sendall(raw)
        got = [self._read_reply() for _ in range(replies)]
        self.steps.append({"args": [str(a) for a in args], "sent": esc(raw), "sent_hex": raw.hex(),
                           "replies": [esc(g) for g in got], "replies_hex": [g.hex() for g in got]})
        return got

    def collect(self, what, n, timeout=10.0):
        """Wait for n more (push) messages without sending anything."""
        got = [self._read_reply(timeout) for _ in range(n)]
        self.steps.append({"args": None, "waited_for": what, "sent": "", "sent_hex": "",
                           "replies": [esc(g) for g in got], "replies_hex": [g.hex() for g in got]})
        return got

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def record(self):
        return {"name": self.name, "server_port": self.port, "client_port": self.client_port,
                "steps": self.steps}


class Run:
    def __init__(self, a):
        self.a = a
        self.ports = [int(p) for p in a.ports.split(",")]
        self.socks = dict(zip(self.ports, a.socks.split(",")))
        self.ctl = {p: Control(self.socks[p]) for p in self.ports}
        with open(a.baseline) as f:
            base = json.load(f)
        self.before = {int(k): v for k, v in base["commandstats"].items()}
        self.ebefore = {int(k): v for k, v in base["errorstats"].items()}
        # the baseline's own two INFO calls are counted after it
        self.base_own = {int(k): v for k, v in base["own"].items()}
        self.clis = []
        self.raws = []
        self.events = []
        self.ids = {}
        self.dead = set()

    def note(self, s):
        self.events.append(s)

    def cli(self, port, *args, cluster=False, stdin=None, expect_rc=0):
        cmd = [self.a.cli, "-h", HOST, "-p", str(port)] + (["-c"] if cluster else []) + list(args)
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=CLI_TIMEOUT)
        rec = {"port": port, "cluster_mode": cluster, "args": list(args), "stdin": stdin,
               "stdout": p.stdout, "stderr": p.stderr, "rc": p.returncode}
        expect(expect_rc is None or p.returncode == expect_rc, "%r: rc %d, %s" % (cmd, p.returncode, p.stderr))
        self.clis.append(rec)
        return p.stdout

    def raw(self, name, port):
        r = Raw(name, port)
        self.raws.append(r)
        return r

    # -- cluster state --------------------------------------------------
    def alive(self):
        return [p for p in self.ports if p not in self.dead]

    def nodes(self, port):
        """CLUSTER NODES of one node: {port: {id, flags, master, slots}}."""
        out = {}
        for line in self.ctl[port].text("CLUSTER", "NODES").splitlines():
            f = line.split()
            addr = f[1].split("@")[0]
            p = int(addr.rsplit(":", 1)[1]) if ":" in addr and addr.rsplit(":", 1)[1] else None
            out[p] = {"id": f[0], "flags": f[2].split(","), "master": f[3], "link": f[7],
                      "slots": f[8:]}
        return out

    def state_ok(self, expect_masters, expect_replicas=0):
        for p in self.alive():
            if self.ctl[p].kv("CLUSTER", "INFO").get("cluster_state") != "ok":
                return False
            n = self.nodes(p)
            masters = [x for x in n.values() if "master" in x["flags"] and "fail" not in x["flags"]
                       and x["slots"]]
            replicas = [x for x in n.values() if "slave" in x["flags"] and "fail" not in x["flags"]]
            if len(masters) != expect_masters or len(replicas) != expect_replicas:
                return False
            if any("handshake" in x["flags"] or "noaddr" in x["flags"] for x in n.values()):
                return False
        return True

    def slot_owner(self, slot, via=None):
        via = via or self.alive()[0]
        for r in self.ctl[via].call("CLUSTER", "SLOTS"):
            if r[0] <= slot <= r[1]:
                return r[2][1]
        raise AssertionError("slot %d has no owner" % slot)

    def keyslot(self, key):
        return self.ctl[self.alive()[0]].call("CLUSTER", "KEYSLOT", key)

    def keys_on(self, prefix, n=3):
        """{port: [keys]}: n keys of the form prefix<i> that live on each master."""
        out = collections.defaultdict(list)
        owners = {}
        for i in range(2000):
            k = "%s%d" % (prefix, i)
            s = self.keyslot(k)
            if s not in owners:
                owners[s] = self.slot_owner(s)
            if len(out[owners[s]]) < n:
                out[owners[s]].append(k)
            if len(out) == len(self.masters()) and all(len(v) >= n for v in out.values()):
                break
        return out

    def masters(self):
        n = self.nodes(self.alive()[0])
        return sorted(p for p, x in n.items() if "master" in x["flags"] and x["slots"]
                      and "fail" not in x["flags"])

    def create(self, replicas):
        addrs = ["%s:%d" % (HOST, p) for p in self.ports]
        self.note("%s --cluster create %s --cluster-replicas %d --cluster-yes"
                  % (self.a.cli, " ".join(addrs), replicas))
        self.cli(self.ports[0], "--cluster", "create", *addrs, "--cluster-replicas", str(replicas),
                 "--cluster-yes")
        nm = len(self.ports) // (replicas + 1)
        wait_for("cluster state ok on every node", lambda: self.state_ok(nm, len(self.ports) - nm),
                 timeout=40, step=0.2)
        for p in self.ports:
            self.ids[p] = self.ctl[p].text("CLUSTER", "MYID")
        self.note("cluster ok: %d masters, %d replicas" % (nm, len(self.ports) - nm))

    # -- the record -------------------------------------------------------
    def finish(self, extra):
        time.sleep(1.0)               # a little more bus traffic (PING/PONG) after the last step
        t = {"scenario": self.a.scenario, "server_binary": self.a.server, "cli": self.a.cli,
             "ports": self.ports, "bus_ports": [p + 10000 for p in self.ports],
             "node_ids": {str(p): i for p, i in self.ids.items()}, "dead": sorted(self.dead)}
        srv = self.ctl[self.alive()[0]].kv("INFO", "server")
        t["server_version"] = srv.get("redis_version")
        t["valkey_version"] = srv.get("valkey_version")
        cs, es, ci, nodes = {}, {}, {}, {}
        for p in self.alive():
            c = self.ctl[p]
            t0 = time.time()
            info = c.kv("CLUSTER", "INFO")
            t1 = time.time()
            ci[str(p)] = {"time_before": round(t0, 6), "time_after": round(t1, 6), "info": info}
            nodes[str(p)] = c.text("CLUSTER", "NODES")
        for p in self.alive():
            c = self.ctl[p]
            own = collections.Counter(c.sent)   # the INFO below does not count itself
            own.update(self.base_own[p])
            after = c.commandstats()
            cs[str(p)] = cs_delta(after, self.before[p], own)
            es[str(p)] = counter_delta(c.errorstats(), self.ebefore[p])
            t.setdefault("own_commands_subtracted", {})[str(p)] = {k: v for k, v in sorted(own.items()) if v}
        for p in self.dead:
            cs[str(p)] = self.dead_stats[p]["commandstats"]
            es[str(p)] = self.dead_stats[p]["errorstats"]
        t["commandstats_delta"] = cs
        t["errorstats_delta"] = es
        t["cluster_info_end"] = ci
        t["cluster_nodes_end"] = nodes
        t["redis_cli"] = self.clis
        t["raw_clients"] = [r.record() for r in self.raws]
        t["events"] = self.events
        t.update(extra)
        return t

    def stats_now(self, p):
        c = self.ctl[p]
        own = collections.Counter(c.sent)
        own.update(self.base_own[p])
        after = c.commandstats()
        return {"commandstats": cs_delta(after, self.before[p], own),
                "errorstats": counter_delta(c.errorstats(), self.ebefore[p])}


# ---------------------------------------------------------------------------
# scenario: redirect (MOVED, ASK, CROSSSLOT, a half-migrated slot)
# ---------------------------------------------------------------------------

def sc_redirect(a):
    x = Run(a)
    x.create(0)
    A, B, C = x.masters()
    k = x.keys_on("key:", 3)
    x.note("masters %d %d %d; keys %r" % (A, B, C, dict(k)))
    # redis-cli without -c: MOVED is printed, not followed
    x.cli(A, "SET", k[A][0], "on-a")
    x.cli(A, "GET", k[A][0])
    x.cli(A, "SET", k[B][0], "on-b")                       # MOVED to B
    x.cli(A, "GET", k[C][0])                               # MOVED to C
    # with -c: redis-cli follows MOVED to the right node
    x.cli(A, "SET", k[B][0], "via-moved", cluster=True)
    x.cli(A, "GET", k[B][0], cluster=True)
    x.cli(B, "SET", k[C][0], "via-moved-c", cluster=True)
    x.cli(A, "INCR", k[C][1], cluster=True)
    # hash tags: one slot; a multi-key command across slots: CROSSSLOT
    x.cli(A, "SET", "{user1}.a", "1", cluster=True)
    x.cli(A, "SET", "{user1}.b", "2", cluster=True)
    x.cli(A, "MGET", "{user1}.a", "{user1}.b", cluster=True)
    x.cli(A, "MSET", k[A][1], "x", k[B][1], "y", cluster=True)          # CROSSSLOT
    x.cli(A, "DEL", "{user1}.a", k[A][2])                              # CROSSSLOT, no -c
    # cluster introspection, several commands on one connection (redis-cli reads stdin)
    sa = x.keyslot(k[A][0])
    x.cli(A, stdin="\n".join([
        "CLUSTER INFO", "CLUSTER NODES", "CLUSTER SLOTS", "CLUSTER SHARDS",
        "CLUSTER KEYSLOT foo", "CLUSTER KEYSLOT {user1}.b", "CLUSTER COUNTKEYSINSLOT %d" % sa,
        "CLUSTER GETKEYSINSLOT %d 10" % sa, "CLUSTER MYID", "READONLY", "READWRITE",
        "CLUSTER COUNT-FAILURE-REPORTS %s" % x.ids[B], "CLUSTER LINKS"]) + "\n",
        expect_rc=None)
    # a raw client: the exact MOVED bytes
    r1 = x.raw("raw-a", A)
    r1.call("GET", k[B][0])
    r1.call("SET", k[C][0], "raw")
    r1.call("GET", k[A][0])
    r1.call("GET")                                         # wrong arity: -ERR
    r1.call("MSET", k[A][1], "1", k[B][1], "2")            # CROSSSLOT
    r1.call("READONLY")
    r1.call("GET", k[B][1])                                # a master still redirects
    r1.call("READWRITE")
    r1.call("CLUSTER", "KEYSLOT", k[B][0])
    r1.call("PUBLISH", "news", "hello-over-the-bus")        # a PUBLISH message on the bus
    r1.call("SPUBLISH", "shard:" + k[B][0], "to-b")         # MOVED (shard channel's slot)
    # a half-migrated slot: {mig}
    sm = x.keyslot("{mig}")
    src = x.slot_owner(sm)
    dst = [p for p in (A, B, C) if p != src][0]
    third = [p for p in (A, B, C) if p not in (src, dst)][0]
    mig = ["{mig}:%d" % i for i in range(1, 6)]
    x.cli(src, stdin="".join("SET %s value-%d\n" % (m, i) for i, m in enumerate(mig, 1)), cluster=True)
    x.cli(dst, "CLUSTER", "SETSLOT", str(sm), "IMPORTING", x.ids[src])
    x.cli(src, "CLUSTER", "SETSLOT", str(sm), "MIGRATING", x.ids[dst])
    x.cli(src, "CLUSTER", "COUNTKEYSINSLOT", str(sm))
    x.cli(src, "CLUSTER", "GETKEYSINSLOT", str(sm), "10")
    x.cli(src, "MIGRATE", HOST, str(dst), "", "0", "5000", "KEYS", *mig[:3])
    x.note("slot %d half-migrated from %d to %d: %r moved, %r not" % (sm, src, dst, mig[:3], mig[3:]))
    r2 = x.raw("raw-src", src)
    r2.call("GET", mig[0])                                 # -ASK
    r2.call("GET", mig[3])                                 # still here
    r2.call("SET", "{mig}:new", "x")                       # a new key: -ASK
    r2.call("MGET", mig[0], mig[3])                        # -TRYAGAIN (keys split)
    r3 = x.raw("raw-dst", dst)
    r3.call("GET", mig[0])                                 # -MOVED (no ASKING)
    r3.call("ASKING")
    r3.call("GET", mig[0])                                 # served once
    r3.call("GET", mig[1])                                 # -MOVED again
    x.cli(src, "GET", mig[1])                              # prints ASK
    x.cli(src, "GET", mig[1], cluster=True)                # follows ASK (ASKING + GET on dst)
    # finish the migration
    x.cli(src, "MIGRATE", HOST, str(dst), "", "0", "5000", "KEYS", *mig[3:])
    x.cli(dst, "CLUSTER", "SETSLOT", str(sm), "NODE", x.ids[dst])
    x.cli(src, "CLUSTER", "SETSLOT", str(sm), "NODE", x.ids[dst])
    x.cli(third, "CLUSTER", "SETSLOT", str(sm), "NODE", x.ids[dst])
    wait_for("slot %d owned by %d everywhere" % (sm, dst),
             lambda: all(x.slot_owner(sm, via=p) == dst for p in (A, B, C)))
    r4 = x.raw("raw-src-after", src)
    r4.call("GET", mig[0])                                 # -MOVED to dst now
    r4.call("GET", mig[4])
    r1.call("GET", mig[2])                                 # A: MOVED to dst
    x.cli(src, "GET", mig[4], cluster=True)
    x.note("slot %d now on %d" % (sm, dst))
    for r in x.raws:
        r.close()
    return x.finish({"migrated_slot": sm, "migration": {"source": src, "target": dst, "third": third,
                                                          "keys": mig}, "masters": [A, B, C]})


# ---------------------------------------------------------------------------
# scenario: failover (replicas, PUBLISH/SPUBLISH, manual failover, a killed master)
# ---------------------------------------------------------------------------

def role(x, p):
    r = x.ctl[p].call("ROLE")
    return r[0].decode() if isinstance(r[0], bytes) else r[0]


def sc_failover(a):
    x = Run(a)
    pids = {int(k): int(v) for k, v in (i.split(":") for i in a.pids.split(","))}
    x.create(1)
    wait_for("replicas in sync", lambda: all(
        x.ctl[p].kv("INFO", "replication").get("master_link_status") == "up"
        for p in x.ports if role(x, p) == "slave"), timeout=30)
    n = x.nodes(x.ports[0])
    masters = x.masters()
    rep_of = {}
    for p, v in n.items():
        if "slave" in v["flags"]:
            mp = [q for q, w in n.items() if w["id"] == v["master"]][0]
            rep_of[mp] = p
    x.note("masters %r, replicas %r" % (masters, rep_of))
    m1, m2 = masters[0], masters[1]
    r1, r2 = rep_of[m1], rep_of[m2]
    # subscribers: a channel on one node, a shard channel on a replica of its shard
    sch = None
    for i in range(1000):
        c = "orders:%d" % i
        if x.slot_owner(x.keyslot(c)) == masters[2]:
            sch = c
            break
    sub = x.raw("subscriber", m1)
    sub.call("SUBSCRIBE", "news")
    ssub = x.raw("shard-subscriber", rep_of[masters[2]])
    ssub.call("READONLY")
    ssub.call("SSUBSCRIBE", sch)
    x.cli(m2, "PUBLISH", "news", "hello from %d" % m2)             # bus PUBLISH to every node
    sub.collect("message from PUBLISH on %d" % m2, 1)
    x.cli(masters[2], "SPUBLISH", sch, "shard hello", cluster=True)  # bus PUBLISHSHARD to its replica
    ssub.collect("smessage from SPUBLISH on %d" % masters[2], 1)
    x.cli(m1, "SET", "before-failover", "1", cluster=True)
    # manual failover: the replica asks its master to pause (MFSTART), then for votes
    x.note("CLUSTER FAILOVER on replica %d of %d" % (r1, m1))
    x.cli(r1, "CLUSTER", "FAILOVER")
    wait_for("manual failover", lambda: role(x, r1) == "master" and role(x, m1) == "slave", timeout=30)
    wait_for("cluster state after the manual failover", lambda: x.state_ok(3, 3), timeout=30)
    x.note("%d is a master, %d its replica" % (r1, m1))
    # a master stopped by PID: FAIL, its replica takes over
    x.dead_stats = {m2: x.stats_now(m2)}
    t0 = time.time()
    os.kill(pids[m2], signal.SIGKILL)
    x.dead.add(m2)
    x.note("master %d (pid %d) killed at %.3f" % (m2, pids[m2], t0))

    def failed_over():
        for p in x.alive():
            v = x.nodes(p)
            if "fail" not in v[m2]["flags"] or "master" not in v[r2]["flags"]:
                return False
        return x.ctl[r2].kv("CLUSTER", "INFO").get("cluster_state") == "ok"
    wait_for("FAIL of %d and %d promoted" % (m2, r2), failed_over, timeout=40, step=0.2)
    x.note("%d marked FAIL, %d promoted after %.1f s" % (m2, r2, time.time() - t0))
    x.cli(r2, "SET", "after-failover", "1", cluster=True)
    x.cli(r2, "CLUSTER", "NODES")
    sub.call("PING")
    for r in x.raws:
        r.close()
    return x.finish({"masters_at_start": masters, "replica_of": {str(k): v for k, v in rep_of.items()},
                     "manual_failover": {"replica": r1, "master": m1},
                     "killed_master": m2, "promoted_replica": r2, "shard_channel": sch})


# ---------------------------------------------------------------------------
# baseline / run
# ---------------------------------------------------------------------------

def cmd_baseline(a):
    ports_socks = a.socks.split(",")
    cs, es, own = {}, {}, {}
    for i, s in enumerate(ports_socks):
        c = Control(s)
        cs[i], es[i] = c.commandstats(), c.errorstats()
        own[i] = dict(c.sent)
    ports = [int(p) for p in a.ports.split(",")]
    with open(a.out, "w") as f:
        json.dump({"commandstats": {p: cs[i] for i, p in enumerate(ports)},
                   "errorstats": {p: es[i] for i, p in enumerate(ports)},
                   "own": {p: own[i] for i, p in enumerate(ports)}}, f)


def cmd_run(a):
    side = sc_redirect(a) if a.scenario == "redirect" else sc_failover(a)
    with open(a.sidecar, "w") as f:
        json.dump(side, f, indent=1)


# ---------------------------------------------------------------------------
# reading the capture
# ---------------------------------------------------------------------------

def check_pcap(a):
    """Exit 3 on a retransmission, overlap or hole in any TCP flow (remade then)."""
    nxt, problems = {}, []
    for fr, ts, frame in cbt.read_packets(a.pcap):
        seg = cbt.tcp_segment(frame)
        if not seg:
            continue
        sp, dp, seq, flags, payload = seg
        flow = (sp, dp)
        if flags & 0x02:
            nxt[flow] = (seq + 1) % (1 << 32)
            continue
        if not payload:
            continue
        if flow in nxt and seq != nxt[flow]:
            problems.append("frame %d %d->%d" % (fr, sp, dp))
        nxt[flow] = (seq + len(payload)) % (1 << 32)
    if problems:
        print("%s: retransmission/overlap/hole: %s" % (a.pcap, "; ".join(problems[:5])), file=sys.stderr)
        sys.exit(3)


def client_streams(path, ports):
    """Client connections (server port in ports), in SYN order."""
    return cbt.connections(path, ports)


def parse_client(c2s, s2c):
    d = bytes(c2s.data)
    reqs, p = [], 0
    while p < len(d):
        if d[p:p + 1] == b"\n":                  # a replica's keepalive newline
            p += 1
            continue
        try:
            end, words = request_end(d, p)
        except Incomplete:
            break
        fr, _ = c2s.frame_at(end - 1)
        reqs.append({"words": words, "frame": fr, "offset": p})
        p = end
    replication = any(r["words"] and r["words"][0].upper() in (b"PSYNC", b"SYNC") for r in reqs)
    pubsub = any(r["words"] and r["words"][0].upper() in (b"SUBSCRIBE", b"SSUBSCRIBE", b"PSUBSCRIBE")
                 for r in reqs)
    replies = []
    if not replication:
        d, p = bytes(s2c.data), 0
        while p < len(d):
            errs = []
            try:
                end = reply_end(d, p, errs)
            except Incomplete:
                break
            fr, _ = s2c.frame_at(end - 1)
            replies.append({"frame": fr, "errors": errs, "first": d[p:min(end, p + 1)].decode("latin-1")})
            p = end
    return reqs, replies, replication, pubsub


def getkeys(ctl, words, cache):
    key = tuple(words)
    if key in cache:
        return cache[key]
    r = ctl.c.call("COMMAND", "GETKEYSANDFLAGS", *words)
    if isinstance(r, rt.Err) and "unknown subcommand" in r.lower():
        r = ctl.c.call("COMMAND", "GETKEYS", *words)
        if isinstance(r, rt.Err):
            out = {"keys": [], "not_keys": [], "getkeys_error": str(r)}
        else:
            out = {"keys": [k.decode("latin-1") for k in r], "not_keys": []}
    elif isinstance(r, rt.Err):
        out = {"keys": [], "not_keys": [], "getkeys_error": str(r)}
    else:
        keys, nk = [], []
        for k, flags in r:
            flags = [f.decode() if isinstance(f, bytes) else str(f) for f in flags]
            (nk if "not_key" in flags else keys).append(k.decode("latin-1"))
        out = {"keys": keys, "not_keys": nk}
    cache[key] = out
    return out


def cmd_annotate(a):
    with open(a.sidecar) as f:
        side = json.load(f)
    ports = side["ports"]
    alive = [p for p in ports if p not in side["dead"]]
    socks = dict(zip(ports, a.socks.split(",")))
    ctl = Control(socks[alive[0]])
    t = collections.OrderedDict()
    t["capture"] = a.capture
    for k in ("scenario", "server_binary", "server_version", "valkey_version", "cli", "ports",
              "bus_ports", "node_ids", "dead"):
        t[k] = side.get(k)
    cache, slots = {}, {}
    conns, redirects, errors = [], [], []
    wire = collections.defaultdict(collections.Counter)
    for (cp, sp), c2s, s2c in client_streams(a.pcap, ports):
        reqs, reps, replication, pubsub = parse_client(c2s, s2c)
        kind = "replication" if replication else "pubsub" if pubsub else "client"
        c = {"client_port": cp, "server_port": sp, "kind": kind, "requests": [], "replies": len(reps),
             "c2s_bytes": len(c2s.data), "s2c_bytes": len(s2c.data)}
        if kind == "client":
            # a node killed by the scenario leaves its last requests unanswered
            expect(len(reps) == len(reqs) or (sp in side["dead"] and len(reps) < len(reqs)),
                   "%d->%d: %d requests, %d replies" % (cp, sp, len(reqs), len(reps)))
        for i, r in enumerate(reqs):
            w = r["words"]
            g = getkeys(ctl, w, cache)
            for k in g["keys"]:
                if k not in slots:
                    slots[k] = ctl.c.call("CLUSTER", "KEYSLOT", k)
            q = {"args": [word(x) for x in w], "frame": r["frame"], "stat": statname([x.decode("latin-1") for x in w]),
                 "keys": g["keys"], "slots": [slots[k] for k in g["keys"]]}
            if g["not_keys"]:
                q["not_keys"] = g["not_keys"]
            if "getkeys_error" in g:
                q["getkeys_error"] = g["getkeys_error"]
            if kind == "client":
                q["reply_frame"] = reps[i]["frame"] if i < len(reps) else None
            c["requests"].append(q)
            wire[sp][q["stat"]] += 1
        for j, rp in enumerate(reps):
            for text, depth in rp["errors"]:
                e = {"frame": rp["frame"], "client_port": cp, "server_port": sp, "text": text,
                     "code": text.split(" ", 1)[0], "nested": depth > 0}
                if kind == "client":
                    e["request_frame"] = reqs[j]["frame"]
                    e["request"] = c["requests"][j]["args"][:3]
                rd = redirect_of(text)
                if rd:
                    e.update(rd)
                    redirects.append(e)
                errors.append(e)
        conns.append(c)
    t["key_slots"] = dict(sorted(slots.items()))
    t["client_connections"] = conns
    t["errors"] = errors
    t["redirects"] = redirects
    # raw clients: the capture carries exactly their bytes
    by_port = {(c["client_port"], c["server_port"]): c for c in conns}
    streams = {(cp, sp): (c2s, s2c) for (cp, sp), c2s, s2c in client_streams(a.pcap, ports)}
    for r in side["raw_clients"]:
        key, _, _ = cc.raw_client_flows(streams, r)
        by_port[key]["raw_client"] = r["name"]
    t["raw_clients"] = side["raw_clients"]
    # redis-cli: every redirect it printed is a reply the capture shows
    wire_redirects = collections.Counter(e["text"] for e in redirects)
    printed = collections.Counter()
    for c in side["redis_cli"]:
        for m in re.finditer(r"(?:^|\(error\) )((?:MOVED|ASK) \d+ [\d.]+:\d+)", c["stdout"], re.M):
            printed[m.group(1)] += 1
    for text, n in printed.items():
        expect(wire_redirects[text] >= n, "redis-cli printed %r %d times, the capture has %d"
               % (text, n, wire_redirects[text]))
    t["redis_cli"] = side["redis_cli"]
    t["redis_cli_printed_redirects"] = dict(printed)
    # the servers counted exactly the requests on the wire (calls + rejected_calls)
    cs = side["commandstats_delta"]
    t["commandstats_delta"] = cs
    t["errorstats_delta"] = side["errorstats_delta"]
    t["own_commands_subtracted"] = side.get("own_commands_subtracted")
    t["wire_requests_per_node"] = {str(p): dict(sorted(wire[p].items())) for p in ports}
    mismatch = {}
    for p in ports:
        got = {k: v[0] + v[1] for k, v in cs[str(p)].items() if v[0] + v[1]}
        if got != dict(wire[p]):
            mismatch[str(p)] = {k: [wire[p].get(k, 0), got.get(k, 0)]
                                for k in set(got) | set(wire[p]) if wire[p].get(k, 0) != got.get(k, 0)}
    t["wire_vs_commandstats"] = mismatch
    if side["scenario"] == "redirect":
        expect(not mismatch, "wire requests vs commandstats [wire, server]: %r" % mismatch)
    # errors: every error the servers counted is a reply on the wire (errorstats: by code)
    wire_codes = collections.Counter(e["code"] for e in errors)
    es = collections.Counter()
    for p in ports:
        es.update(side["errorstats_delta"][str(p)])
    t["wire_error_codes"] = dict(sorted(wire_codes.items()))
    if side["scenario"] == "redirect":
        expect(dict(wire_codes) == dict(es), "error codes on the wire %r vs errorstats %r"
               % (dict(wire_codes), dict(es)))
    # the bus
    try:
        bus = cbt.parse(a.pcap, side["bus_ports"])
    except cbt.BusError as e:
        raise AssertionError("bus: %s" % e)
    t["bus"] = bus
    brack = {}
    for p in alive:
        ci = side["cluster_info_end"][str(p)]
        info = ci["info"]
        bp = p + 10000
        lo, hi = collections.Counter(), collections.Counter()
        for c in bus["connections"]:
            for name in ("c2s", "s2c"):
                recv = (c["server_port"] == bp) if name == "c2s" else (c["c2s_sender_cport"] == bp)
                if not recv:
                    continue
                for (ty, _), ts in zip(c[name], c[name + "_times"]):
                    if ts < ci["time_before"] - 0.5:
                        lo[ty & 0x7fff] += 1
                    if ts <= ci["time_after"]:
                        hi[ty & 0x7fff] += 1
        row = {}
        for ty in set(lo) | set(hi):
            name = cbt.TYPE_NAMES.get(ty, str(ty)).lower().replace("_", "-")
            name = {"failover-auth-request": "auth-req", "failover-auth-ack": "auth-ack",
                    "publishshard": "publishshard"}.get(name, name)
            v = int(info.get("cluster_stats_messages_%s_received" % name, 0))
            row[str(ty)] = [lo[ty], v, hi[ty]]
            expect(lo[ty] <= v <= hi[ty], "node %d: CLUSTER INFO says %d %s received, the capture "
                   "%d..%d" % (p, v, name, lo[ty], hi[ty]))
        brack[str(p)] = row
    t["bus_received_vs_cluster_info"] = brack
    t["cluster_info_end"] = side["cluster_info_end"]
    t["cluster_nodes_end"] = side["cluster_nodes_end"]
    for k in ("migrated_slot", "migration", "masters", "masters_at_start", "replica_of",
              "manual_failover", "killed_master", "promoted_replica", "shard_channel"):
        if k in side:
            t[k] = side[k]
    if side["scenario"] == "failover":
        for ty in (2, 3, 4, 5, 6, 8, 10):
            expect(bus["counts"].get(str(ty) if ty != 4 else "4", 0) or
                   bus["counts"].get(str(ty | 0x8000), 0), "no bus message of type %d" % ty)
    t["events"] = side["events"]
    t["notes"] = notes(side)
    with open(a.truth, "w") as f:
        json.dump(t, f, indent=1)
        f.write("\n")


def notes(side):
    n = [
        "Made by test-captures/make-cluster-captures.sh (scenario %s) with cluster_traffic.py; "
        "the bus part by cluster_bus_truth.py (an independent parse of the reassembled bus "
        "streams: signature RCmb, 32-bit big-endian total length at offset 4, type at offset "
        "12; Valkey's light header sets bit 0x8000 of the type). Frame numbers are 1-based pcap "
        "packet numbers of the segment holding a message's last byte." % side["scenario"],
        "client_connections: every TCP connection to a node's client port, in SYN order (redis-cli, "
        "the raw clients, --cluster create, MIGRATE's node-to-node connection, replication links). "
        "requests[].keys/.slots: COMMAND GETKEYSANDFLAGS of the server (keys flagged not_key, e.g. "
        "a shard channel, are under not_keys) and CLUSTER KEYSLOT of each; key_slots: all of them.",
        "errors: every error reply on the wire (code = its first word); redirects: the MOVED/ASK "
        "ones with slot/host/port. raw_clients: exactly what each raw client sent and received "
        "(checked byte for byte against the capture); redis_cli: each invocation and what it "
        "printed (every redirect it printed is a reply on the wire).",
        "commandstats_delta per node: [calls, rejected_calls, failed_calls] since before the "
        "cluster was created, control commands (unix socket) subtracted; a redirected or "
        "CROSSSLOT request counts as rejected_calls. wire_vs_commandstats lists differences "
        "[wire, calls+rejected] (none in the redirect scenario: checked).",
        "bus_received_vs_cluster_info: per node and type [messages received before CLUSTER INFO "
        "was read minus 0.5 s, cluster_stats_messages_<type>_received, messages received up to "
        "the end of that read] (checked lo <= value <= hi).",
    ]
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="what", required=True)
    b = sp.add_parser("baseline")
    b.add_argument("--ports", required=True)
    b.add_argument("--socks", required=True)
    b.add_argument("--out", required=True)
    r = sp.add_parser("run")
    r.add_argument("scenario", choices=["redirect", "failover"])
    r.add_argument("--sidecar", required=True)
    r.add_argument("--server", default="redis-server")
    r.add_argument("--cli", default="redis-cli")
    r.add_argument("--ports", required=True)
    r.add_argument("--socks", required=True)
    r.add_argument("--baseline", required=True)
    r.add_argument("--pids", default="")
    k = sp.add_parser("check-pcap")
    k.add_argument("pcap")
    n = sp.add_parser("annotate")
    n.add_argument("--sidecar", required=True)
    n.add_argument("--pcap", required=True)
    n.add_argument("--capture", required=True)
    n.add_argument("--truth", required=True)
    n.add_argument("--socks", required=True)
    a = ap.parse_args()
    if a.what == "baseline":
        cmd_baseline(a)
    elif a.what == "run":
        cmd_run(a)
    elif a.what == "check-pcap":
        check_pcap(a)
    else:
        cmd_annotate(a)


if __name__ == "__main__":
    main()
