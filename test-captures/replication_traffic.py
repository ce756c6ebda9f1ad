#!/usr/bin/python3
"""Traffic generator and ground-truth collector for the replication and
CLIENT REPLY captures (repl-*.pcap).  Called by make-replication-captures.sh
inside its private network namespace; run it with /usr/bin/python3.

    replication_traffic.py preload --sock S --password PW --keys N
    replication_traffic.py run SCENARIO --sidecar OUT.json [server options]
    replication_traffic.py check-pcap FILE.pcap --port P
    replication_traffic.py annotate --sidecar S.json --pcap WIRE.pcap
                                    --truth OUT.truth.json --capture NAME.pcap
                                    [--tunnel-pcap T.pcap --tunnel-port P]

"run" makes the traffic and records what the servers say (INFO
commandstats/errorstats/replication/stats, MONITOR on the replica, the RDB
file the replica received, the replica's log).  All control connections use
the servers' unix sockets, so they are never captured.  "annotate" then
reads the capture with an independent little parser (plain TCP stream
reassembly - the script only keeps captures without retransmissions or
holes), cross-checks it with the server record and writes the truth file;
it refuses to write one when the two disagree.

Every socket operation and wait is bounded by a timeout.
"""

import argparse
import collections
import hashlib
import json
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import resp_traffic as rt  # noqa: E402  (Conn, read_pcap, tcp_fields, cmd_check, ...)
import capture_common as cc  # noqa: E402

expect = rt.expect
WAIT_TIMEOUT = 30.0
HOST = "127.0.0.1"


# ---------------------------------------------------------------------------
# control connections (unix socket) that count what they send
# ---------------------------------------------------------------------------

class Control:
    """A unix-socket connection whose own commands are counted, so that they
    can be subtracted from the server's commandstats."""

    def __init__(self, path, password=None, counter=None):
        self.c = cc.connect_unix(path, WAIT_TIMEOUT)
        self.sent = counter if counter is not None else collections.Counter()
        if password:
            self.call("AUTH", password)

    @staticmethod
    def statname(args):
        name = args[0].lower()
        if name in ("client", "config", "command", "debug", "object") and len(args) > 1:
            name += "|" + args[1].lower()
        return name

    def call(self, *args):
        self.sent[self.statname(args)] += 1
        r = self.c.call(*args)
        expect(not isinstance(r, rt.Err), "%s: %s" % (" ".join(map(str, args)), r))
        return r

    def info(self, *sections):
        return parse_kv(self.call("INFO", *sections).decode())

    def stats(self):
        text = self.call("INFO", "commandstats").decode()
        calls = rt.parse_info(text)[0]
        return calls

    def errorstats(self):
        return rt.parse_info(self.call("INFO", "errorstats").decode())[3]


def parse_kv(text):
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def wait_for(what, cond, timeout=WAIT_TIMEOUT, step=0.05):
    deadline = time.time() + timeout
    while True:
        r = cond()
        if r:
            return r
        expect(time.time() < deadline, "timed out waiting for " + what)
        time.sleep(step)


class Monitor:
    """MONITOR on a unix socket, read to the end by finish()."""

    def __init__(self, path, password, counter):
        self.ctl = Control(path, password, counter)
        self.ctl.sent["monitor"] += 1
        self.ctl.c.send("MONITOR")
        expect(self.ctl.c.reply() == "OK", "MONITOR")
        self.lines = []

    def finish(self, control, marker):
        control.call("ECHO", marker)
        while True:
            line = self.ctl.c.reply()
            if marker in line:
                break
            self.lines.append(line)
        self.ctl.c.close()
        out = []
        for line in self.lines:
            m = rt.MONITOR_RE.match(line.encode())
            expect(m, "MONITOR line %r" % line)
            addr = m.group(3).decode()
            args = [rt.arg_for_json(x) for x in rt.unrepr(m.group(4))]
            out.append({"db": int(m.group(2)), "addr": addr, "args": args})
        return out


def stats_delta(after, before, own):
    out = {}
    for k in sorted(set(after) | set(before) | set(own)):
        d = after.get(k, 0) - before.get(k, 0) - own.get(k, 0)
        if d:
            out[k] = d
    return out


# ---------------------------------------------------------------------------
# preload: a few thousand keys of mixed types (unix socket, not captured)
# ---------------------------------------------------------------------------

def cmd_preload(a):
    c = rt.Conn.unix(a.sock)
    if a.password:
        expect(c.call("AUTH", a.password) == "OK", "AUTH")
    cmds = []
    for i in range(a.keys):
        kind = i % 5
        if kind == 0:
            cmds.append(("SET", "str:%05d" % i, "value-%d-" % i + "x" * (i % 40)))
        elif kind == 1:
            cmds.append(("HSET", "hash:%05d" % i, "f1", str(i), "f2", "v%d" % (i * 7), "f3", "z"))
        elif kind == 2:
            cmds.append(("RPUSH", "list:%05d" % i, *["e%d" % j for j in range(i % 7 + 1)]))
        elif kind == 3:
            cmds.append(("SADD", "set:%05d" % i, *["m%d" % j for j in range(i % 5 + 2)]))
        else:
            cmds.append(("ZADD", "zset:%05d" % i, "1", "a", "2.5", "b", str(i), "c"))
    cmds.append(("SET", "counter", "100"))
    for i in range(0, len(cmds), 500):
        batch = cmds[i:i + 500]
        c.send_raw(b"".join(rt.Conn.encode(x) for x in batch))
        for _ in batch:
            r = c.read()
            expect(not isinstance(r, rt.Err), "preload: %s" % r)
    expect(c.call("DBSIZE") == a.keys + 1, "DBSIZE after preload")
    c.close()


# ---------------------------------------------------------------------------
# run: replication scenarios
# ---------------------------------------------------------------------------

def writer_session(port, password, steps):
    """A TCP client to the master (captured): runs steps, returns replies."""
    w = rt.Conn.tcp(port)
    out = []
    if password:
        expect(w.call("AUTH", password) == "OK", "writer AUTH")
    for s in steps:
        r = w.call(*s)
        expect(not isinstance(r, rt.Err), "writer %s: %s" % (s, r))
        out.append([list(s), r if not isinstance(r, bytes) else r.decode()])
    return w, out


WRITES_A = [
    ("SET", "k:str", "hello"),
    ("INCR", "counter"),
    ("HSET", "k:hash", "name", "redis", "ver", "7"),
    ("LPUSH", "k:list", "a", "b", "c"),
    ("DEL", "str:00000", "hash:00001"),
    ("MSET", "k:m1", "1", "k:m2", "2"),
    ("EXPIRE", "k:str", "1000"),
    ("MULTI",), ("SET", "k:tx", "in-multi"), ("INCR", "counter"), ("EXEC",),
    ("SELECT", "3"), ("SET", "k:db3", "three"), ("SELECT", "0"),
    ("EVAL", "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[2]); return 1",
     "2", "k:lua", "counter", "from-lua"),
]
WRITES_B = [
    ("SET", "k:after", "1"), ("INCRBY", "counter", "5"), ("SADD", "k:set", "x", "y"),
    ("RPUSH", "k:list", "tail"), ("HDEL", "k:hash", "ver"), ("UNLINK", "k:m1"),
]


class Repl:
    def __init__(self, a):
        self.a = a
        self.own_m = collections.Counter()
        self.own_r = collections.Counter()
        # the master's baseline was taken before the replica started
        with open(a.master_baseline) as f:
            base = json.load(f)
        self.own_m.update(base["own"])
        self.m_before = base["commandstats"]
        self.m_stats_before = base["stats"]
        self.m = Control(a.master_sock, a.password, self.own_m)
        # the replica is a fresh server: everything but its master's commands
        # and ours is zero, so its baseline is empty and all our commands count
        self.r = Control(a.replica_sock, None, self.own_r)
        self.r_before = {}
        self.mon = Monitor(a.replica_sock, None, self.own_r)
        self.events = []
        self.replica_ports = []

    def note(self, what):
        self.events.append(what)

    def synced(self):
        i = self.r.info("replication")
        return i.get("master_link_status") == "up" and i.get("master_sync_in_progress") == "0" and i

    def replica_client_port(self, exclude=()):
        def find():
            lst = self.m.call("CLIENT", "LIST", "TYPE", "replica").decode()
            ports = [int(p) for p in re.findall(r"(?:^| )addr=[\d.]+:(\d+)", lst)]
            ports = [p for p in ports if p not in exclude]
            return ports[0] if len(ports) == 1 else None
        return wait_for("replica in CLIENT LIST", find)

    def wait_sync(self):
        wait_for("replica sync", self.synced)
        port = self.replica_client_port(self.replica_ports)
        self.replica_ports.append(port)
        self.note("replica link up (replica client port %d)" % port)
        return port

    def set_ping_period(self, n):
        self.m.call("CONFIG", "SET", "repl-ping-replica-period", str(n))

    def quiesce(self):
        """No more master PINGs; wait until the replica has processed everything."""
        self.set_ping_period(3600)
        time.sleep(1.3)
        mo = int(self.m.info("replication")["master_repl_offset"])
        wait_for("replica offset = master offset",
                 lambda: int(self.r.info("replication")["slave_repl_offset"]) == mo)
        return mo

    def finish(self, extra):
        a = self.a
        mo = self.quiesce()
        r_after = self.r.stats()
        # our commands since the baseline INFO (which the later INFO counts);
        # the final INFO does not count itself
        own_r = collections.Counter(self.own_r)
        own_r["info"] -= 1
        r_repl = self.r.info("replication")
        monitor = self.mon.finish(self.r, "repl-traffic-end-marker")
        r_delta = stats_delta(r_after, self.r_before, own_r)
        # close the link from the replica side so that every ACK it sent has
        # been counted by the master when the master is asked last
        self.r.call("REPLICAOF", "NO", "ONE")
        wait_for("master to drop the replica",
                 lambda: self.m.info("replication").get("connected_slaves") == "0")
        m_repl = self.m.info("replication")
        m_stats = self.m.info("stats")
        m_after = self.m.stats()
        own_m = collections.Counter(self.own_m)
        own_m["info"] -= 1
        r_server = self.r.info("server")
        m_delta = stats_delta(m_after, self.m_before, own_m)
        rdb_path = os.path.join(a.replica_dir, a.dbfilename)
        with open(rdb_path, "rb") as f:
            rdb = f.read()
        with open(a.replica_log, errors="replace") as f:
            rlog = f.read()
        with open(a.master_log, errors="replace") as f:
            mlog = f.read()
        side = {
            "scenario": a.scenario,
            "server_version": r_server.get("redis_version"),
            "valkey_version": r_server.get("valkey_version"),
            "server_binary": a.server,
            "master_port": a.master_port,
            "replica_port": a.replica_port,
            "replica_client_ports": self.replica_ports,
            "replid": m_repl["master_replid"],
            "master_repl_offset_end": int(m_repl["master_repl_offset"]),
            "master_repl_offset_quiesced": mo,
            "replica_offset_end": int(r_repl["slave_repl_offset"]),
            "replica_info_replication": {k: r_repl[k] for k in (
                "master_replid", "slave_repl_offset", "master_link_status") if k in r_repl},
            "master_stats": {k: int(m_stats[k]) - int(self.m_stats_before.get(k, 0))
                             for k in ("sync_full", "sync_partial_ok", "sync_partial_err")},
            "replica_commandstats_delta": r_delta,
            "replica_own_commands_subtracted": {k: v for k, v in sorted(own_r.items()) if v},
            "master_commandstats_delta": m_delta,
            "master_own_commands_subtracted": {k: v for k, v in sorted(own_m.items()) if v},
            "replica_monitor": monitor,
            "rdb_file": {"length": len(rdb), "sha256": hashlib.sha256(rdb).hexdigest(),
                         "header": rdb[:9].decode("latin-1")},
            "replica_log_receiving": re.findall(
                r"sync: receiving (streamed RDB from (?:master|primary) with EOF|\d+ bytes from "
                r"(?:master|primary))", rlog),
            "replica_log_full_resync": re.findall(
                r"Full resync from (?:master|primary): ([0-9a-f]{40}):(\d+)", rlog),
            "replica_log_rdb_channel": len(re.findall(r"initialize RDB channel", rlog)),
            "replica_log_partial": re.findall(r"Successful partial resynchronization[^\n]*", rlog),
            "master_log_partial": len(re.findall(r"Partial resynchronization request from .* accepted",
                                                 mlog)),
            "events": self.events,
        }
        side.update(extra)
        return side


def sc_repl(a, scenario):
    x = Repl(a)
    port1 = x.wait_sync()
    extra = {}
    if scenario in ("disk", "tunnel", "psync"):
        time.sleep(1.5)          # a master PING and replica ACKs before the writes
    w, replies = writer_session(a.master_port, a.password,
                                WRITES_A if not scenario.startswith("diskless") else WRITES_A[:7])
    # WAIT on the writing connection: master sends REPLCONF GETACK *, replica ACKs
    t0 = time.time()
    r = w.call("WAIT", "1", "2000")
    replies.append([["WAIT", "1", "2000"], r])
    extra["wait_reply"] = r
    extra["wait_seconds"] = round(time.time() - t0, 3)
    x.note("writer (client port %d) ran %d commands and WAIT 1 2000 -> %r" % (w.port, len(replies), r))
    if scenario == "psync":
        x.quiesce()
        partial0 = int(x.m.info("stats")["sync_partial_ok"])
        x.r.call("CLIENT", "KILL", "TYPE", "master")
        x.note("CLIENT KILL TYPE master on the replica (after quiescing: no PINGs in flight)")
        x.set_ping_period(1)
        wait_for("partial resync", lambda: int(x.m.info("stats")["sync_partial_ok"]) > partial0,
                 timeout=15, step=0.1)
        port2 = x.wait_sync()
        expect(port2 != port1, "a new replication connection")
        for s in WRITES_B:
            expect(not isinstance(w.call(*s), rt.Err), "writer %s" % (s,))
            replies.append([list(s), "ok"])
        r = w.call("WAIT", "1", "2000")
        replies.append([["WAIT", "1", "2000"], r])
        extra["wait_reply_2"] = r
    time.sleep(2.5)              # periodic PINGs (period 1 s) and ACKs
    extra["writer_client_port"] = w.port
    expect(w.call("QUIT") == "OK", "QUIT")
    w.close()
    extra["writer_commands"] = [s for s, _ in replies]
    return x.finish(extra)


# ---------------------------------------------------------------------------
# run: CLIENT REPLY scenario
# ---------------------------------------------------------------------------

def A(*words):
    return {"words": list(words), "raw": rt.Conn.encode(words)}


def RAW(raw, label):
    return {"words": [label], "raw": raw}


CLIENTREPLY_STEPS = [
    A("HELLO"),                          # the server says what it is (Redis 8 differs below)
    A("PING"),
    A("CLIENT", "REPLY", "OFF"),
    A("SET", "a", "1"),
    A("GET", "a"),
    A("FOOBAR", "while-off"),            # unknown command while OFF
    A("GET"),                            # wrong arity while OFF
    A("CLIENT", "REPLY", "ON"),
    A("GET", "a"),
    A("CLIENT", "REPLY", "SKIP"),
    A("INCR", "n"),
    A("GET", "n"),
    A("CLIENT", "REPLY", "SKIP"),
    A("FOOBAR", "after-skip"),           # its error is skipped too
    A("ECHO", "after-skipped-error"),
    A("CLIENT", "REPLY", "OFF"),
    A("CLIENT", "REPLY", "SKIP"),        # ignored while OFF
    A("PING"),
    A("CLIENT", "REPLY", "ON"),
    A("PING"),
    RAW(b"*-10\r\n", "*-10"),
    A("ECHO", "after-minus-10"),
    RAW(b"*0\r\n", "*0"),
    A("ECHO", "after-star-0"),
    A("CLIENT", "REPLY", "SKIP"),
    RAW(b"*0\r\n", "*0"),                # does an empty request use up the SKIP?
    A("ECHO", "after-skip-star-0"),
    A("CLIENT", "REPLY", "SKIP"),
    RAW(b"\r\n", "(empty inline line)"),
    A("ECHO", "after-skip-empty-line"),
    A("CLIENT", "REPLY", "SKIP"),
    A("CLIENT", "REPLY", "ON"),          # ON right after SKIP
    A("CLIENT", "REPLY", "SKIP"),
    A("CLIENT", "REPLY", "SKIP"),        # skipped itself, skips the next
    A("ECHO", "skip-skip-1"),
    A("ECHO", "skip-skip-2"),
    A("CLIENT", "REPLY", "FOO"),         # syntax error while ON
    A("CLIENT", "REPLY", "OFF"),
    A("CLIENT", "REPLY", "FOO"),         # syntax error while OFF
    A("CLIENT", "REPLY", "ON"),
    {"burst": [
        A("ECHO", "b0"),
        A("CLIENT", "REPLY", "SKIP"),
        A("ECHO", "b1"),
        A("ECHO", "b2"),
        A("CLIENT", "REPLY", "OFF"),
        A("ECHO", "b3"),
        RAW(b"*0\r\n", "*0"),
        A("CLIENT", "REPLY", "SKIP"),
        A("FOOBAR", "burst-off"),
        A("CLIENT", "REPLY", "ON"),
        A("ECHO", "b4"),
        RAW(b"*-10\r\n", "*-10"),
        A("ECHO", "b5"),
        A("CLIENT", "REPLY", "SKIP"),
        RAW(b"*0\r\n", "*0"),
        A("ECHO", "b6"),
        A("CLIENT", "REPLY", "SKIP"),
        A("ECHO", "b7"),
        A("PING"),
    ]},
    A("CLIENT", "REPLY", "OFF"),
    A("QUIT"),                           # while OFF
]


def recv_quiet(sock, first=0.3, quiet=0.15):
    data = b""
    sock.settimeout(first)
    while True:
        try:
            d = sock.recv(65536)
        except socket.timeout:
            return data
        if not d:
            return data
        data += d
        sock.settimeout(quiet)


def split_replies(data):
    """Split a byte string into top-level RESP2 replies (raw bytes each)."""
    out, pos = [], 0

    def one(p):
        nl = data.index(b"\r\n", p)
        t, rest = data[p:p + 1], data[p + 1:nl]
        p = nl + 2
        if t in (b"+", b"-", b":"):
            return p
        if t == b"$":
            n = int(rest)
            return p if n < 0 else p + n + 2
        if t == b"*":
            for _ in range(max(int(rest), 0)):
                p = one(p)
            return p
        raise ValueError("reply type %r" % t)
    while pos < len(data):
        end = one(pos)
        out.append(data[pos:end])
        pos = end
    return out


def owner_of(reply, reqs):
    """Which request of a burst produced this reply (the burst's replies are unique)."""
    cands = []
    for i, r in enumerate(reqs):
        w = [x.upper() for x in r["words"]]
        if w[:1] == ["ECHO"] and reply == b"$%d\r\n%s\r\n" % (len(r["words"][1]), r["words"][1].encode()):
            cands.append(i)
        elif w == ["PING"] and reply == b"+PONG\r\n":
            cands.append(i)
        elif w == ["CLIENT", "REPLY", "ON"] and reply == b"+OK\r\n":
            cands.append(i)
        elif w[:1] == ["FOOBAR"] and reply.startswith(b"-"):
            cands.append(i)
    expect(len(cands) == 1, "burst reply %r maps to %r" % (reply, cands))
    return cands[0]


def esc(b):
    return None if b is None else b.decode("latin-1").encode("unicode_escape").decode()


def sc_clientreply(a):
    own = collections.Counter()
    ctl = Control(a.master_sock, None, own)
    own.clear()
    before = ctl.stats()
    ebefore = ctl.errorstats()
    mon = Monitor(a.master_sock, None, own)
    s = socket.create_connection((HOST, a.master_port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reqs = []
    for step in CLIENTREPLY_STEPS:
        if "burst" in step:
            group = step["burst"]
            s.sendall(b"".join(r["raw"] for r in group))
            data = recv_quiet(s, 1.0, 0.3)
            got = [None] * len(group)
            for rep in split_replies(data):
                i = owner_of(rep, group)
                expect(got[i] is None, "two replies for burst request %d" % i)
                got[i] = rep
            for r, g in zip(group, got):
                reqs.append(dict(r, reply=g, burst=True))
            continue
        s.sendall(step["raw"])
        data = recv_quiet(s)
        if step["words"][0] == "QUIT":
            s.settimeout(2)
            try:
                rest = s.recv(65536)
                while rest:
                    data += rest
                    rest = s.recv(65536)
            except socket.timeout:
                pass
        if data:
            expect(len(split_replies(data)) == 1, "step %r: more than one reply %r" % (step["words"], data))
        reqs.append(dict(step, reply=data or None, burst=False))
    client_port = s.getsockname()[1]
    s.close()
    time.sleep(0.2)
    after = ctl.stats()
    own = collections.Counter(own)
    own["info"] -= 1             # the final INFO does not count itself
    eafter = ctl.errorstats()
    monitor = mon.finish(ctl, "clientreply-end-marker")
    truth_reqs = []
    for i, r in enumerate(reqs):
        truth_reqs.append({
            "index": i, "words": r["words"], "raw": esc(r["raw"]), "raw_hex": r["raw"].hex(),
            "reply": esc(r["reply"]), "reply_hex": None if r["reply"] is None else r["reply"].hex(),
            "burst": r["burst"]})
    srv = ctl.info("server")
    return {
        "scenario": "clientreply",
        "server_version": srv.get("redis_version"),
        "valkey_version": srv.get("valkey_version"),
        "server_binary": a.server,
        "server_port": a.master_port,
        "client_port": client_port,
        "requests": truth_reqs,
        "commandstats_delta": stats_delta(after, before, own),
        "errorstats_delta": stats_delta(eafter, ebefore, {}),
        "own_commands_subtracted": {k: v for k, v in sorted(own.items()) if v},
        "monitor": [m for m in monitor if m["addr"].startswith(HOST + ":")],
    }


def cmd_baseline(a):
    """The master's INFO before the replica starts (the handshake is counted)."""
    own = collections.Counter()
    c = Control(a.sock, a.password, own)
    own.clear()                      # from the baseline INFO on
    calls = c.stats()
    stats = c.info("stats")
    with open(a.out, "w") as f:
        json.dump({"commandstats": calls, "stats": stats, "own": own}, f)


def cmd_run(a):
    if a.scenario == "clientreply":
        side = sc_clientreply(a)
    else:
        side = sc_repl(a, a.scenario)
    with open(a.sidecar, "w") as f:
        json.dump(side, f, indent=1)


# ---------------------------------------------------------------------------
# reading the capture
# ---------------------------------------------------------------------------

class Flow:
    def __init__(self):
        self.data = bytearray()
        self.segs = []          # (frame, start offset, length)
        self.isn = None

    def frame_at(self, off):
        """Frame holding stream byte off."""
        for fr, st, ln in self.segs:
            if st <= off < st + ln:
                return fr
        raise KeyError(off)

    def frames_between(self, a, b):
        return sorted({fr for fr, st, ln in self.segs if st < b and st + ln > a})


def tcp_streams(path):
    """{(client port, server port): {"c2s": Flow, "s2c": Flow}} in connection order;
    the client is the side that sent the SYN."""
    conns, flows, order = {}, {}, []
    for idx, frame in enumerate(rt.read_pcap(path), 1):
        f = rt.tcp_fields(frame)
        if not f:
            continue
        sp, dp, seq, flags, plen = f
        key = (sp, dp)
        if flags & 0x02 and not flags & 0x10:             # SYN
            conns[(sp, dp)] = {"c2s": Flow(), "s2c": Flow()}
            order.append((sp, dp))
            flows[(sp, dp)] = conns[(sp, dp)]["c2s"]
            flows[(dp, sp)] = conns[(sp, dp)]["s2c"]
        fl = flows.get(key)
        if fl is None:
            continue
        if flags & 0x02:
            fl.isn = seq
            continue
        if plen == 0:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        tcp = ip[ihl:]
        doff = (tcp[12] >> 4) * 4
        payload = tcp[doff:doff + plen]
        off = (seq - fl.isn - 1) % (1 << 32)
        expect(off == len(fl.data), "%s: frame %d not contiguous" % (path, idx))
        fl.segs.append((idx, off, len(payload)))
        fl.data += payload
    return [(k, conns[k]) for k in order]


class Parser:
    def __init__(self, data):
        self.d = bytes(data)
        self.p = 0

    def more(self):
        return self.p < len(self.d)

    def line(self):
        i = self.d.index(b"\r\n", self.p)
        s = self.d[self.p:i]
        self.p = i + 2
        return s

    def command(self):
        """A multibulk request; returns its words (bytes)."""
        head = self.line()
        expect(head[:1] == b"*", "expected a multibulk at %d: %r" % (self.p, head))
        words = []
        for _ in range(int(head[1:])):
            h = self.line()
            expect(h[:1] == b"$", "expected a bulk: %r" % h)
            n = int(h[1:])
            words.append(self.d[self.p:self.p + n])
            expect(self.d[self.p + n:self.p + n + 2] == b"\r\n", "bulk CRLF")
            self.p += n + 2
        return words


def dec(ws):
    return [w.decode("latin-1") for w in ws]


def statname(words, containers):
    n = words[0].lower()
    if n in containers and len(words) > 1:
        n += "|" + words[1].lower()
    return n


def rdb_magic(header):
    """('REDIS', 12) for REDIS0012, ('VALKEY', 80) for VALKEY080 (Valkey 9)."""
    m = re.match(rb"(REDIS|VALKEY)(\d+)$", header[:9])
    expect(m, "RDB header %r" % header[:9])
    return m.group(1).decode(), int(m.group(2))


def replconf_opts(args):
    """REPLCONF k1 v1 k2 v2 ... -> {k: v} (lower-case keys; repeated capa joined)."""
    out = {}
    for k, v in zip(args[1::2], args[2::2]):
        k = k.lower()
        out[k] = out[k] + " " + v if k in out else v
    return out


def parse_replication(conn, containers, base=None):
    """One replication connection (replica -> master). base: the master stream offset at which
    the stream on this connection starts, when the connection itself does not say it (the main
    channel of a Redis 8 RDB-channel sync: its +RDBCHANNELSYNC carries no offset; the stream
    starts at the offset of the +FULLRESYNC on the RDB channel)."""
    c2s, s2c = conn["c2s"], conn["s2c"]
    out = {}
    pc = Parser(c2s.data)
    hs = []
    newline_c2s = []
    while pc.more():
        if pc.d[pc.p:pc.p + 1] == b"\n":
            newline_c2s.append(c2s.frame_at(pc.p))
            pc.p += 1
            continue
        start = pc.p
        w = pc.command()
        hs.append((dec(w), c2s.frame_at(start), c2s.frame_at(pc.p - 1), start, pc.p))
    npsync = next(i for i, h in enumerate(hs) if h[0][0].upper() in ("PSYNC", "SYNC"))
    handshake, after = hs[:npsync + 1], hs[npsync + 1:]
    opts = {}
    for h in handshake:
        if h[0][0].upper() == "REPLCONF":
            opts.update(replconf_opts(h[0]))
    # Redis 8 RDB channel: the replica's second connection, REPLCONF ... rdb-only 1
    # rdb-channel 1 main-ch-client-id <id>: it carries only the snapshot
    out["role"] = "rdb_channel" if opts.get("rdb-channel") == "1" else "main"
    if out["role"] == "rdb_channel":
        out["main_ch_client_id"] = opts.get("main-ch-client-id")
    ps = Parser(s2c.data)
    replies = []
    keep = []          # keepalive newlines: (frame, where)

    def newlines(where):
        while ps.d[ps.p:ps.p + 1] == b"\n":
            keep.append({"frame": s2c.frame_at(ps.p), "where": where})
            ps.p += 1
    for h in handshake:
        newlines("before_psync_reply")
        start = ps.p
        line = ps.line()
        replies.append((line.decode("latin-1"), s2c.frame_at(start)))
    out["handshake"] = [{"args": h[0], "frame": h[2], "reply": r[0], "reply_frame": r[1]}
                        for h, r in zip(handshake, replies)]
    psync_reply = replies[-1][0]
    out["psync_reply"] = psync_reply
    parts = psync_reply.split()
    if parts[0] == "+FULLRESYNC":
        out["sync"] = "full"
        out["replid"], base = parts[1], int(parts[2])
        out["fullresync_offset"] = base
        newlines("before_rdb")
        hstart = ps.p
        head = ps.line()
        out["rdb_header_line"] = head.decode("latin-1")
        if head.startswith(b"$EOF:"):
            mark = head[5:]
            expect(len(mark) == 40, "EOF mark length")
            end = ps.d.index(mark, ps.p)
            payload = ps.d[ps.p:end]
            out["framing"] = "eof"
            out["eof_mark"] = mark.decode("latin-1")
            pstart, ps.p = ps.p, end + 40
        else:
            n = int(head[1:])
            payload = ps.d[ps.p:ps.p + n]
            out["framing"] = "sized"
            pstart, ps.p = ps.p, ps.p + n
        out["rdb_length"] = len(payload)
        out["rdb_magic"], out["rdb_version"] = rdb_magic(payload)
        out["rdb_sha256"] = hashlib.sha256(payload).hexdigest()
        out["rdb_header_frame"] = s2c.frame_at(hstart)
        out["rdb_frames"] = s2c.frames_between(pstart, pstart + len(payload))
        out["rdb_framing_frames"] = s2c.frames_between(hstart, ps.p)
    elif parts[0] == "+RDBCHANNELSYNC":
        # Redis 8 (repl-rdb-channel yes, diskless master): the replica opens the RDB channel,
        # this connection then carries the master's stream from the RDB channel's offset on
        expect(out["role"] == "main" and len(parts) == 2, "PSYNC reply " + psync_reply)
        out["sync"] = "rdbchannel"
        out["replid"] = None
        out["rdb_channel_client_id"] = parts[1]
        expect(base is not None, "+RDBCHANNELSYNC: stream offset from the RDB channel")
    else:
        expect(parts[0] == "+CONTINUE", "PSYNC reply " + psync_reply)
        out["sync"] = "partial"
        out["replid"] = parts[1] if len(parts) > 1 else None
        psync = handshake[-1][0]
        base = int(psync[2]) - 1
        out["psync_offset"] = int(psync[2])
    out["keepalive_newlines"] = len(keep)
    out["keepalive"] = keep
    out["keepalive_frames"] = sorted({k["frame"] for k in keep})
    stream_start = ps.p
    streamed = []
    while ps.more():
        start = ps.p
        w = ps.command()
        streamed.append({"args": dec(w), "frame": s2c.frame_at(ps.p - 1),
                         "offset_after": base + ps.p - stream_start,
                         "stat": statname(dec(w), containers)})
    out["stream_base_offset"] = base
    out["stream_bytes"] = len(ps.d) - stream_start
    out["stream_end_offset"] = base + len(ps.d) - stream_start
    out["streamed"] = streamed

    def sent_before(frame):
        n = 0
        for fr, st, ln in s2c.segs:
            if fr < frame:
                n = max(n, st + ln)
        return base + max(0, n - stream_start)
    acks = []
    for args, f0, f1, st, en in after:
        expect(args[0].upper() == "REPLCONF" and args[1].upper() == "ACK",
               "replica sent %r after PSYNC" % args)
        off = int(args[2])
        acks.append({"args": args, "frame": f1, "offset": off,
                     "master_offset_seen": sent_before(f1), "lag": sent_before(f1) - off})
    getacks = [s for s in streamed if [x.upper() for x in s["args"][:2]] == ["REPLCONF", "GETACK"]]
    for g in getacks:
        nxt = [k for k in acks if k["frame"] > g["frame"]]
        g["answered_by_frame"] = nxt[0]["frame"] if nxt else None
        if nxt:
            nxt[0]["answers_getack_frame"] = g["frame"]
    out["acks"] = acks
    out["replica_newlines"] = newline_c2s
    return out


def cmd_annotate(a):
    with open(a.sidecar) as f:
        side = json.load(f)
    t = collections.OrderedDict()
    t["capture"] = a.capture
    for k in ("scenario", "server_binary", "server_version", "valkey_version"):
        if side.get(k):
            t[k] = side[k]
    conns = tcp_streams(a.pcap)
    if side["scenario"] == "clientreply":
        annotate_clientreply(a, side, conns, t)
        return write_truth(t, a.truth)
    mport = side["master_port"]
    containers = {k.split("|")[0] for k in list(side["replica_commandstats_delta"])
                  + list(side["master_commandstats_delta"]) if "|" in k} | {"client", "config"}
    t["master_port"] = mport
    t["replica_port"] = side["replica_port"]
    t["replid"] = side["replid"]
    t["master_repl_offset_end"] = side["master_repl_offset_end"]
    t["replica_repl_offset_end"] = side["replica_offset_end"]
    t["master_sync_stats_delta"] = side["master_stats"]
    repl, other, raw = [], [], []
    for (cp, sp), c in conns:
        if sp != mport:
            continue
        if re.search(rb"\r\n(P?SYNC)\r\n", bytes(c["c2s"].data[:4096]), re.I):
            raw.append((cp, c))
        else:
            other.append(cp)
    rdbch_base = None
    for cp, c in raw:
        try:
            r = parse_replication(c, containers)
        except AssertionError:
            if b"+RDBCHANNELSYNC " not in bytes(c["s2c"].data[:4096]):
                raise
            r = None                     # a main channel: parsed again below, with its base
        if r and r["role"] == "rdb_channel":
            expect(rdbch_base is None, "one RDB channel per capture")
            rdbch_base = r["fullresync_offset"]
        repl.append([cp, r, c])
    for x in repl:
        if x[1] is None:
            x[1] = parse_replication(x[2], containers, base=rdbch_base)
    repl = [(cp, r) for cp, r, _ in repl]
    mains = [(cp, r) for cp, r in repl if r["role"] == "main"]
    rdbch = [(cp, r) for cp, r in repl if r["role"] == "rdb_channel"]
    # CLIENT LIST TYPE replica shows main channels only (the RDB channel is gone by then)
    expect(len(mains) == len(side["replica_client_ports"]),
           "replication connections in the capture %r vs server %r"
           % ([p for p, _ in mains], side["replica_client_ports"]))
    if not a.tunnel_pcap:
        expect([p for p, _ in mains] == side["replica_client_ports"], "replica client ports")
    rdbchannel_sync = [r for _, r in repl if r["sync"] == "rdbchannel"]
    expect(len(rdbchannel_sync) == len(rdbch) <= 1, "+RDBCHANNELSYNC and RDB channels")
    if rdbch:
        (mcp, m), (rcp, r) = [(cp, r) for cp, r in mains if r["sync"] == "rdbchannel"][0], rdbch[0]
        # the RDB channel names the main channel by the client id that +RDBCHANNELSYNC gave
        expect(r["main_ch_client_id"] == m["rdb_channel_client_id"], "main-ch-client-id")
        expect(r["handshake"][0]["frame"] > m["handshake"][-1]["reply_frame"],
               "the RDB channel starts after +RDBCHANNELSYNC")
        expect(r["streamed"] == [] and r["acks"] == [], "the RDB channel carries only the RDB")
        m["rdb_channel_port"], r["main_channel_port"] = rcp, mcp
        m["replid"] = r["replid"]
        expect(side["replica_log_rdb_channel"] == 1, "replica log: initialize RDB channel")
        t["rdb_channel"] = {"main_channel_port": mcp, "rdb_channel_port": rcp,
                            "client_id": m["rdb_channel_client_id"],
                            "stream_base_offset": rdbch_base}
    else:
        expect(side.get("replica_log_rdb_channel", 0) == 0, "replica log: RDB channel not on wire")
    t["connections"] = collections.OrderedDict()
    wire_stats = collections.Counter()
    for cp, r in repl:
        wire_stats.update(s["stat"] for s in r["streamed"])
        t["connections"][str(cp)] = r
    full = [r for _, r in repl if r["sync"] == "full"]
    expect(len(full) == side["master_stats"]["sync_full"], "full syncs")
    expect(len([r for _, r in repl if r["sync"] == "partial"]) == side["master_stats"]["sync_partial_ok"],
           "partial syncs")
    expect(len(full) == 1, "one full sync per capture")
    f0 = full[0]
    rdbf = side["rdb_file"]
    expect(f0["rdb_length"] == rdbf["length"] and f0["rdb_sha256"] == rdbf["sha256"],
           "RDB on the wire (%d) != replica's received file (%d)" % (f0["rdb_length"], rdbf["length"]))
    expect(rdb_magic(rdbf["header"].encode("latin-1")) == (f0["rdb_magic"], f0["rdb_version"]),
           "RDB version")
    # Valkey 8.1+ logs "primary" where Redis and older Valkey say "master"
    logged = [x.replace(" primary", " master") for x in side["replica_log_receiving"]]
    if f0["framing"] == "sized":
        expect(logged == ["%d bytes from master" % f0["rdb_length"]], "replica log %r" % logged)
    else:
        expect(logged == ["streamed RDB from master with EOF"], "replica log %r" % logged)
    # Redis 8's replica logs no "Full resync from master" line for an RDB-channel sync
    expect([list(x) for x in side["replica_log_full_resync"]] ==
           ([] if rdbch else [[f0["replid"], str(f0["fullresync_offset"])]]), "Full resync log line")
    expect(f0["replid"] == side["replid"], "+FULLRESYNC id = the master's replid")
    # every command the replica executed from its master is on the wire, and back. Valkey 9's
    # Lua engine is a module that runs CONFIG GET itself when it starts again (after a full
    # sync's flush); no connection carries those, and a master never streams CONFIG GET.
    executed = dict(side["replica_commandstats_delta"])
    internal = {k: executed.pop(k) for k in ("config|get",) if k in executed and k not in wire_stats}
    valkey_major = int((side.get("valkey_version") or "0").split(".")[0])
    expect(not internal or valkey_major >= 9,
           "replica ran %r that its master did not stream" % internal)
    expect(dict(wire_stats) == executed,
           "streamed commands %r != replica commandstats delta %r" % (dict(wire_stats), executed))
    t["replica_internal_calls"] = internal
    last = mains[-1][1]
    expect(last["stream_end_offset"] == side["master_repl_offset_end"], "master offset at the end")
    expect(last["stream_end_offset"] == side["replica_offset_end"], "replica offset at the end")
    # the master counted every command the replicas sent it
    m_wire = collections.Counter()
    for _, r in repl:
        for h in r["handshake"]:
            m_wire[statname(h["args"], containers)] += 1
        for k in r["acks"]:
            m_wire["replconf"] += 1
    md = side["master_commandstats_delta"]
    for name, n in m_wire.items():
        if name in ("replconf", "psync", "sync"):
            expect(md.get(name, 0) == n, "master %s: %s vs wire %d" % (name, md.get(name), n))
    t["rdb"] = {"framing": f0["framing"], "length": f0["rdb_length"], "version": f0["rdb_version"],
                "magic": f0["rdb_magic"], "rdb_channel": bool(rdbch),
                "sha256": f0["rdb_sha256"], "replica_file": rdbf,
                "replica_log": logged}
    t["streamed_commandstats"] = dict(sorted(wire_stats.items()))
    t["streamed_command_count"] = sum(wire_stats.values())
    t["replica_commandstats_delta"] = executed  # without replica_internal_calls
    t["replica_own_commands_subtracted"] = side["replica_own_commands_subtracted"]
    t["master_commandstats_delta"] = side["master_commandstats_delta"]
    t["master_own_commands_subtracted"] = side["master_own_commands_subtracted"]
    mon = [m for m in side["replica_monitor"] if not m["addr"].startswith("unix:")]
    mon_stats = collections.Counter(statname(m["args"], containers) for m in mon)
    t["replica_monitor_commands"] = len(mon)
    t["replica_monitor_vs_commandstats"] = {
        k: [mon_stats.get(k, 0), v] for k, v in sorted(wire_stats.items()) if mon_stats.get(k, 0) != v}
    t["replica_monitor"] = [[m["db"], m["addr"]] + m["args"] for m in mon]
    t["writer_client_port"] = side["writer_client_port"]
    t["writer_commands"] = side["writer_commands"]
    t["wait_reply"] = side["wait_reply"]
    if "wait_reply_2" in side:
        t["wait_reply_2"] = side["wait_reply_2"]
    t["other_client_ports"] = other
    t["events"] = side["events"]
    if a.tunnel_pcap:
        tconns = [(cp, sp) for (cp, sp), _ in tcp_streams(a.tunnel_pcap) if sp == a.tunnel_port]
        expect(len(tconns) == 1, "one tunnel connection")
        t["tunnel"] = {"capture": os.path.basename(a.tunnel_pcap), "tunnel_port": a.tunnel_port,
                       "tunnel_client_port": tconns[0][0],
                       "clear_leg_capture": a.capture,
                       "note": "the replica connects to spiped -e on %d; spiped -e (-f) encrypts to "
                               "spiped -d (-f) on %d, which connects to the master on %d. "
                               "The connection details below are from the clear leg (%s); the "
                               "tunnel carries exactly those bytes." % (
                                   a.plain_port, a.tunnel_port, mport, a.capture)}
        t["capture"] = os.path.basename(a.tunnel_pcap)
    t["notes"] = repl_notes(t, side)
    write_truth(t, a.truth)


def repl_notes(t, side):
    n = [
        "Ground truth for a real Redis-protocol replication link, made by "
        "test-captures/make-replication-captures.sh (scenario %s). 'connections' is keyed by the "
        "replica's TCP client port of each replication connection; it is read from the capture "
        "by replication_traffic.py's own little parser and checked against the servers: the RDB "
        "payload equals the file the replica saved (length and sha256; the replica stores the "
        "received payload as its dbfilename, repl-diskless-load disabled), the replica log line, "
        "the multiset of streamed commands equals the replica's INFO commandstats delta, the "
        "stream end offset equals both servers' repl offsets, the master counted every REPLCONF "
        "(handshake and ACKs) and PSYNC the replica sent." % side["scenario"],
        "Counting: the master's PINGs (repl-ping-replica-period 1) are 'ping' on the replica; "
        "REPLCONF GETACK * (sent by the master for WAIT) is 'replconf'; the SELECT the master "
        "inserts when the db changes is 'select'; EXPIRE is propagated as PEXPIREAT; a "
        "MULTI/EXEC is streamed as multi, the commands, exec; an EVAL that writes twice is "
        "streamed as its effects wrapped in MULTI/EXEC (no EVAL). replica_own_commands_subtracted "
        "are our unix-socket control commands on the replica (INFO, MONITOR, ECHO marker, CLIENT "
        "LIST/KILL, REPLICAOF) taken out of the delta.",
        "MONITOR on the replica shows commands executed from the master (addr = the master's "
        "address as seen by the replica) except admin commands: REPLCONF GETACK never appears "
        "there (replica_monitor_vs_commandstats lists [monitor, commandstats] where they differ).",
        "acks: every REPLCONF ACK <offset> the replica sent after PSYNC; 'lag' = master stream "
        "offset the capture had shown before that frame minus the ACKed offset (>= 0); an ACK "
        "with answers_getack_frame is the first ACK after a GETACK. Frame numbers are 1-based "
        "pcap packet numbers of the segment holding a message's last byte.",
        "Handshake: PING is answered -NOAUTH (requirepass) and the replica goes on with AUTH; "
        "REPLCONF listening-port and REPLCONF capa are sent together in one segment.",
    ]
    if t["rdb"]["framing"] == "eof":
        n.append("Diskless sync: the payload is framed $EOF:<40-byte mark>\\r\\n ... <mark>; "
                 "rdb.length excludes both. The master waits repl-diskless-sync-delay 2 s "
                 "before it answers PSYNC and sends one keepalive newline a second meanwhile, so "
                 "the newlines come BEFORE +FULLRESYNC (keepalive[].where = before_psync_reply); "
                 "the PINGs it fed into the new backlog meanwhile make the FULLRESYNC offset > 0.")
    else:
        n.append("Disk sync: +FULLRESYNC at once, then (while the BGSAVE child runs, one a second, "
                 "where = before_rdb; none when it is fast) keepalive newlines, then $<len>\\r\\n "
                 "and exactly len RDB bytes, no CRLF after them.")
    if t["rdb"].get("rdb_channel"):
        n.append("RDB channel (Redis 8, repl-rdb-channel yes by default, diskless master): the "
                 "main connection's PSYNC ? -1 is answered +RDBCHANNELSYNC <client id> (role "
                 "main, sync rdbchannel); the replica then opens a second connection (role "
                 "rdb_channel): AUTH, REPLCONF capa eof rdb-only 1 rdb-channel 1 "
                 "main-ch-client-id <that id> listening-port <port>, PSYNC ? -1, keepalive "
                 "newlines (repl-diskless-sync-delay), +FULLRESYNC <replid> <offset>, the RDB, "
                 "then the replica closes it. The main channel carries the master's stream from "
                 "that +FULLRESYNC offset on (stream_base_offset) and the replica's ACKs; only "
                 "it is in CLIENT LIST TYPE replica. The replica logs no 'Full resync from "
                 "master' line then. rdb_channel links the two.")
    if any(c["sync"] == "partial" for c in t["connections"].values()):
        n.append("Partial resync: after CLIENT KILL TYPE master on the replica, it reconnects "
                 "(new TCP connection) with PSYNC <replid> <offset+1>, answered +CONTINUE "
                 "<replid> (no offset); the stream continues at that offset.")
    return n


def annotate_clientreply(a, side, conns, t):
    port = side["server_port"]
    mine = [c for (cp, sp), c in conns if cp == side["client_port"] and sp == port]
    expect(len(mine) == 1, "client connection in the capture")
    c = mine[0]
    reqs = side["requests"]
    raw = b"".join(bytes.fromhex(r["raw_hex"]) for r in reqs)
    expect(bytes(c["c2s"].data) == raw, "client->server bytes differ from what was sent")
    replies = b"".join(bytes.fromhex(r["reply_hex"]) for r in reqs if r["reply_hex"])
    expect(bytes(c["s2c"].data) == replies, "server->client bytes differ from what was received")
    # frames: the segment holding each request's last byte; each reply's segment
    off, roff = 0, 0
    for r in reqs:
        ln = len(r["raw_hex"]) // 2
        r["frame"] = c["c2s"].frame_at(off + ln - 1)
        off += ln
        if r["reply_hex"]:
            rl = len(r["reply_hex"]) // 2
            r["reply_frame"] = c["s2c"].frame_at(roff + rl - 1)
            roff += rl
        else:
            r["reply_frame"] = None
    # one-at-a-time requests: a reply segment lies between its request and the next
    for i, r in enumerate(reqs):
        if r["reply_frame"] and not r["burst"]:
            nxt = reqs[i + 1]["frame"] if i + 1 < len(reqs) else 1 << 30
            expect(r["frame"] < r["reply_frame"] < nxt, "reply of request %d out of place" % i)
    t["server_port"] = port
    t["client_port"] = side["client_port"]
    t["requests_total"] = len(reqs)
    t["requests_with_reply"] = sum(1 for r in reqs if r["reply_hex"])
    t["requests"] = reqs
    t["commandstats_delta"] = side["commandstats_delta"]
    t["errorstats_delta"] = side["errorstats_delta"]
    t["own_commands_subtracted"] = side["own_commands_subtracted"]
    t["monitor"] = [[m["db"]] + m["args"] for m in side["monitor"]]
    t["notes"] = [
        "A raw-socket client sends the requests one at a time (TCP_NODELAY), and waits for a "
        "reply up to 0.3 s (then until 0.15 s of silence); 'reply' is exactly what it received "
        "(escaped; reply_hex the same bytes), null when nothing came. The requests marked "
        "burst were sent in one write; their replies are unique (ECHO tokens, +PONG, +OK of "
        "CLIENT REPLY ON, the error of FOOBAR) and mapped to their requests by content.",
        "Checked against the capture: the client->server stream is exactly the requests, the "
        "server->client stream exactly the concatenated replies, and each one-at-a-time reply "
        "segment lies between its request's segment and the next request's. 'frame' is the "
        "packet with the request's last byte, 'reply_frame' the packet with its reply's last byte.",
        "Seen on redis-server 7.0.15: OFF suppresses every reply, errors included (unknown "
        "command, wrong arity, CLIENT REPLY FOO), but errorstats still counts them; SKIP "
        "suppresses the next request's reply, errors included; SKIP while OFF is ignored; ON "
        "replies +OK even right after SKIP; SKIP SKIP X: the second SKIP is skipped itself and "
        "re-arms, so X is skipped too; *-10 and *0 (and an empty inline line) get no reply, are "
        "not commands (no commandstats, no MONITOR line) and yet use up a pending SKIP (the "
        "request after them is answered); QUIT while OFF gets no +OK, the server just closes.",
        "commandstats_delta/errorstats_delta: INFO on a unix-socket control connection, before "
        "minus after, own INFO/ECHO/MONITOR subtracted. monitor: what MONITOR showed for the "
        "TCP client.",
    ]


def write_truth(t, path):
    with open(path, "w") as f:
        json.dump(t, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="what", required=True)
    p = sp.add_parser("preload")
    p.add_argument("--sock", required=True)
    p.add_argument("--password")
    p.add_argument("--keys", type=int, default=3000)
    b = sp.add_parser("baseline")
    b.add_argument("--sock", required=True)
    b.add_argument("--password")
    b.add_argument("--out", required=True)
    r = sp.add_parser("run")
    r.add_argument("scenario", choices=["disk", "diskless", "diskless-nochannel", "psync",
                                            "tunnel", "clientreply"])
    r.add_argument("--sidecar", required=True)
    r.add_argument("--server", default="redis-server")
    r.add_argument("--master-port", type=int, required=True)
    r.add_argument("--master-sock", required=True)
    r.add_argument("--master-log")
    r.add_argument("--replica-port", type=int)
    r.add_argument("--replica-sock")
    r.add_argument("--replica-dir")
    r.add_argument("--replica-log")
    r.add_argument("--dbfilename", default="dump.rdb")
    r.add_argument("--password")
    r.add_argument("--master-baseline")
    k = sp.add_parser("check-pcap")
    k.add_argument("pcap")
    k.add_argument("--port", type=int, required=True)
    n = sp.add_parser("annotate")
    n.add_argument("--sidecar", required=True)
    n.add_argument("--pcap", required=True)
    n.add_argument("--truth", required=True)
    n.add_argument("--capture", required=True)
    n.add_argument("--tunnel-pcap")
    n.add_argument("--tunnel-port", type=int)
    n.add_argument("--plain-port", type=int)
    a = ap.parse_args()
    if a.what == "preload":
        cmd_preload(a)
    elif a.what == "baseline":
        cmd_baseline(a)
    elif a.what == "run":
        cmd_run(a)
    elif a.what == "check-pcap":
        rt.cmd_check(a)
    else:
        cmd_annotate(a)


if __name__ == "__main__":
    main()
