#!/usr/bin/python3
"""Traffic generator and ground-truth collector for the new-command captures
(newcmd-<server>-<version>.pcap): real Redis 8 / Valkey traffic using the
commands and subcommands that Redis 7.0.15 does not have.  Called by
make-newcommand-captures.sh inside its private network namespace; run it
with /usr/bin/python3.

    newcommand_traffic.py run --port P --sock S --server NAME --sidecar OUT.json
    newcommand_traffic.py check-pcap FILE.pcap --port P
    newcommand_traffic.py annotate --sidecar S.json --pcap F.pcap
                                   --capture NAME.pcap --truth OUT.truth.json
    newcommand_traffic.py new-commands --sock S     (print what is new, exit)

"run":
  1. on a unix-socket control connection (never captured): INFO server and
     COMMAND; the commands and container subcommands this server lists and
     Redis 7.0.15 does not (REDIS_7_0_15 below, the COMMAND output of
     Debian 12's redis-server 7.0.15) are "new"; every new one must have
     traffic in CATALOG (else the run fails, naming it);
  2. COMMAND GETKEYS <line> for every command line of the traffic, on the
     control connection (the keys the server names, or its error);
  3. INFO commandstats/errorstats, then the TCP traffic (what tcpdump sees):
     one raw-socket client sends every line one at a time and keeps the exact
     reply bytes (RESP2, then RESP3 after HELLO 3, back to RESP2); then a few
     lines through the server's own CLI (redis-cli / valkey-cli), one process
     (connection) a line;
  4. INFO again; the sidecar file holds all of it.
"annotate" reads the capture with the little TCP reassembler of
replication_traffic.py, checks that every connection carries exactly the
bytes sent and received, that every reply comes after its request and
before the next one, and that the commandstats delta counts exactly the
lines sent (calls + rejected_calls per command), then writes the truth; it
refuses to write one when anything disagrees.

Every socket operation, subprocess and wait is bounded by a timeout.
"""

import argparse
import collections
import json
import os
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import resp_traffic as rt          # noqa: E402  (Conn, read_pcap, tcp_fields, cmd_check, parse_info)
import replication_traffic as rp   # noqa: E402  (tcp_streams)
import capture_common as cc        # noqa: E402  (connect_unix)

expect = rt.expect
IO_TIMEOUT = 30.0
CLI_TIMEOUT = 30.0
HOST = "127.0.0.1"

# COMMAND of redis-server 7.0.15 (Debian 12): every command and container
# subcommand, lower case, as COMMAND names them ("container|sub").
REDIS_7_0_15 = set("""
    acl acl|cat acl|deluser acl|dryrun acl|genpass acl|getuser acl|help acl|list acl|load
    acl|log acl|save acl|setuser acl|users acl|whoami append asking auth bgrewriteaof bgsave
    bitcount bitfield bitfield_ro bitop bitpos blmove blmpop blpop brpop brpoplpush bzmpop
    bzpopmax bzpopmin client client|caching client|getname client|getredir client|help client|id
    client|info client|kill client|list client|no-evict client|pause client|reply client|setname
    client|tracking client|trackinginfo client|unblock client|unpause cluster cluster|addslots
    cluster|addslotsrange cluster|bumpepoch cluster|count-failure-reports
    cluster|countkeysinslot cluster|delslots cluster|delslotsrange cluster|failover
    cluster|flushslots cluster|forget cluster|getkeysinslot cluster|help cluster|info
    cluster|keyslot cluster|links cluster|meet cluster|myid cluster|nodes cluster|replicas
    cluster|replicate cluster|reset cluster|saveconfig cluster|set-config-epoch cluster|setslot
    cluster|shards cluster|slaves cluster|slots command command|count command|docs
    command|getkeys command|getkeysandflags command|help command|info command|list config
    config|get config|help config|resetstat config|rewrite config|set copy dbsize debug decr
    decrby del discard dump echo eval eval_ro evalsha evalsha_ro exec exists expire expireat
    expiretime failover fcall fcall_ro flushall flushdb function function|delete function|dump
    function|flush function|help function|kill function|list function|load function|restore
    function|stats geoadd geodist geohash geopos georadius georadius_ro georadiusbymember
    georadiusbymember_ro geosearch geosearchstore get getbit getdel getex getrange getset hdel
    hello hexists hget hgetall hincrby hincrbyfloat hkeys hlen hmget hmset hrandfield hscan hset
    hsetnx hstrlen hvals incr incrby incrbyfloat info keys lastsave latency latency|doctor
    latency|graph latency|help latency|histogram latency|history latency|latest latency|reset
    lcs lindex linsert llen lmove lmpop lolwut lpop lpos lpush lpushx lrange lrem lset ltrim
    memory memory|doctor memory|help memory|malloc-stats memory|purge memory|stats memory|usage
    mget migrate module module|help module|list module|load module|loadex module|unload monitor
    move mset msetnx multi object object|encoding object|freq object|help object|idletime
    object|refcount persist pexpire pexpireat pexpiretime pfadd pfcount pfdebug pfmerge
    pfselftest ping psetex psubscribe psync pttl publish pubsub pubsub|channels pubsub|help
    pubsub|numpat pubsub|numsub pubsub|shardchannels pubsub|shardnumsub punsubscribe quit
    randomkey readonly readwrite rename renamenx replconf replicaof reset restore restore-asking
    role rpop rpoplpush rpush rpushx sadd save scan scard script script|debug script|exists
    script|flush script|help script|kill script|load sdiff sdiffstore select set setbit setex
    setnx setrange shutdown sinter sintercard sinterstore sismember slaveof slowlog slowlog|get
    slowlog|help slowlog|len slowlog|reset smembers smismember smove sort sort_ro spop spublish
    srandmember srem sscan ssubscribe strlen subscribe substr sunion sunionstore sunsubscribe
    swapdb sync time touch ttl type unlink unsubscribe unwatch wait watch xack xadd xautoclaim
    xclaim xdel xgroup xgroup|create xgroup|createconsumer xgroup|delconsumer xgroup|destroy
    xgroup|help xgroup|setid xinfo xinfo|consumers xinfo|groups xinfo|help xinfo|stream xlen
    xpending xrange xread xreadgroup xrevrange xsetid xtrim zadd zcard zcount zdiff zdiffstore
    zincrby zinter zintercard zinterstore zlexcount zmpop zmscore zpopmax zpopmin zrandmember
    zrange zrangebylex zrangebyscore zrangestore zrank zrem zremrangebylex zremrangebyrank
    zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore zrevrank zscan zscore zunion
    zunionstore
""".split())


# ---------------------------------------------------------------------------
# the traffic
# ---------------------------------------------------------------------------

class Srv:
    """What the traffic may depend on: which server, which version, what it lists."""

    def __init__(self, family, version, known, containers):
        self.family = family              # "redis" or "valkey"
        self.version = version            # (major, minor, patch)
        self.known = known                # lower-case names: "cmd", "cmd|sub"
        self.containers = containers      # lower-case container names


def redis_from(major, minor=0):
    return lambda s: s.family == "redis" and s.version >= (major, minor)


def valkey_from(major, minor=0):
    return lambda s: s.family == "valkey" and s.version >= (major, minor)


def either(*preds):
    return lambda s: any(p(s) for p in preds)


class Line:
    """One command line: args (str or bytes); err: the server is expected to
    answer with an error (wrong arguments, or a cluster-only command on a
    standalone server); when: predicate on Srv (default: always)."""

    def __init__(self, args, err=False, when=None):
        self.args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.err = err
        self.when = when


def L(*args, when=None):
    return Line(args, False, when)


def E(*args, when=None):
    return Line(args, True, when)


def fp32(*xs):
    return struct.pack("<%df" % len(xs), *xs)


AT_SECONDS = "4102444800"           # 2100-01-01T00:00:00Z: fixed, far in the future
AT_MILLIS = AT_SECONDS + "000"

# Classic commands (Redis 7.0 has them), some with several keys, first.
CLASSIC_BEFORE = [
    L("PING"),
    L("SET", "cls:str", "hello"),
    L("GET", "cls:str"),
    L("MSET", "cls:m1", "one", "cls:m2", "two", "cls:m3", "three"),
    L("MGET", "cls:m1", "cls:m2", "cls:none"),
    L("RPUSH", "cls:l1", "a", "b", "c"),
    L("LMPOP", "2", "cls:l0", "cls:l1", "LEFT", "COUNT", "2"),
    L("SADD", "cls:s1", "x", "y", "z"),
    L("SADD", "cls:s2", "y", "z", "w"),
    L("SINTERCARD", "2", "cls:s1", "cls:s2"),
    L("HSET", "cls:h", "name", "redis", "ver", "8"),
    L("XADD", "cls:x", "1-1", "f", "v"),
    L("COPY", "cls:str", "cls:copy"),
    E("GET"),                               # wrong number of arguments
]

# One entry per new command or container subcommand (lower case, as COMMAND
# names it).  An entry is sent when its name is new on the server at hand;
# its lines may use classic commands to set up data.
CATALOG = [
    # -- hash field expiry (Redis 7.4 / 8.0, Valkey 9) ----------------------
    ("hsetex", [
        L("HSETEX", "hfe:1", "EX", "1000", "FIELDS", "2", "f1", "v1", "f2", "v2"),
        L("HSETEX", "hfe:1", "FNX", "PX", "500000", "FIELDS", "1", "f3", "v3"),
        L("HSETEX", "hfe:1", "KEEPTTL", "FIELDS", "1", "f1", "v1b"),
        L("HSETEX", "hfe:1", "NX", "FIELDS", "1", "f9", "v9", when=valkey_from(9)),
        E("HSETEX", "hfe:1", "EX", "100", "FIELDS", "3", "a", "b"),
    ]),
    ("hgetex", [
        L("HGETEX", "hfe:1", "PERSIST", "FIELDS", "1", "f1"),
        L("HGETEX", "hfe:1", "EX", "2000", "FIELDS", "2", "f1", "f2"),
        L("HGETEX", "hfe:1", "FIELDS", "1", "nosuch"),
        E("HGETEX", "hfe:1", "EX", "-5", "FIELDS", "1", "f1"),
    ]),
    ("hexpire", [
        L("HSET", "hfe:2", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"),
        L("HEXPIRE", "hfe:2", "1000", "FIELDS", "2", "a", "b"),
        L("HEXPIRE", "hfe:2", "500", "LT", "FIELDS", "1", "a"),
        L("HEXPIRE", "hfe:2", "10", "NX", "FIELDS", "1", "nosuch"),
        E("HEXPIRE", "hfe:2", "100", "FIELDS", "0"),
        E("HEXPIRE", "hfe:2", "100", "FIELDS", "3", "a"),
    ]),
    ("hpexpire", [L("HPEXPIRE", "hfe:2", "900000", "FIELDS", "1", "c")]),
    ("hexpireat", [L("HEXPIREAT", "hfe:2", AT_SECONDS, "FIELDS", "1", "d")]),
    ("hpexpireat", [L("HPEXPIREAT", "hfe:2", AT_MILLIS, "XX", "FIELDS", "1", "d")]),
    ("httl", [L("HTTL", "hfe:2", "FIELDS", "3", "a", "b", "nosuch")]),
    ("hpttl", [L("HPTTL", "hfe:2", "FIELDS", "1", "c")]),
    ("hexpiretime", [L("HEXPIRETIME", "hfe:2", "FIELDS", "1", "d")]),
    ("hpexpiretime", [L("HPEXPIRETIME", "hfe:2", "FIELDS", "2", "d", "e")]),
    ("hpersist", [
        L("HPERSIST", "hfe:2", "FIELDS", "2", "a", "e"),
        E("HPERSIST", "hfe:2", "FIELDS"),
    ]),
    ("hgetdel", [
        L("HGETDEL", "hfe:2", "FIELDS", "2", "b", "c"),
        L("HGETALL", "hfe:2"),
        E("HGETDEL", "hfe:2", "FIELDS", "2", "b"),
    ]),
    # -- durability, clients, cluster ----------------------------------------
    ("waitaof", [
        L("WAITAOF", "1", "0", "0"),
        L("WAITAOF", "0", "0", "100"),
        E("WAITAOF", "1", "0"),
    ]),
    ("client|no-touch", [
        L("CLIENT", "NO-TOUCH", "ON"),
        L("GET", "cls:str"),
        L("OBJECT", "IDLETIME", "cls:str"),
        L("CLIENT", "NO-TOUCH", "OFF"),
        E("CLIENT", "NO-TOUCH", "MAYBE"),
    ]),
    ("client|setinfo", [
        L("CLIENT", "SETINFO", "LIB-NAME", "hD-newcmd"),
        L("CLIENT", "SETINFO", "LIB-VER", "1.0.0"),
        E("CLIENT", "SETINFO", "LIB-COLOR", "blue"),
    ]),
    ("cluster|myshardid", [E("CLUSTER", "MYSHARDID")]),
    ("client|capa", [L("CLIENT", "CAPA", "redirect")]),
    ("client|import-source", [E("CLIENT", "IMPORT-SOURCE", "ON")]),
    ("cluster|slot-stats", [E("CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "100")]),
    ("cluster|flushslot", [E("CLUSTER", "FLUSHSLOT", "100", "ASYNC")]),
    ("cluster|getslotmigrations", [E("CLUSTER", "GETSLOTMIGRATIONS")]),
    ("cluster|migrateslots", [E("CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", "0", "100",
                                "NODE", "0123456789abcdef0123456789abcdef01234567")]),
    ("cluster|syncslots", [E("CLUSTER", "SYNCSLOTS", "ESTABLISH")]),
    ("cluster|cancelslotmigrations", [E("CLUSTER", "CANCELSLOTMIGRATIONS")]),
    ("clusterscan", [E("CLUSTERSCAN", "0", "MATCH", "cls:*", "COUNT", "10")]),
    # -- Valkey: command log, script show, conditional delete, MSETEX ---------
    ("commandlog", []),                    # the container itself: its subcommands below
    ("commandlog|get", [
        L("COMMANDLOG", "GET", "5", "slow"),
        L("COMMANDLOG", "GET", "-1", "large-request"),
        E("COMMANDLOG", "GET", "5", "nosuch"),
    ]),
    ("commandlog|len", [L("COMMANDLOG", "LEN", "large-reply")]),
    ("commandlog|reset", [L("COMMANDLOG", "RESET", "slow")]),
    ("commandlog|help", [L("COMMANDLOG", "HELP")]),
    ("script|show", [
        L("SCRIPT", "LOAD", "return 'newcmd'"),
        L("SCRIPT", "SHOW", "@SHA@"),
        E("SCRIPT", "SHOW", "0000000000000000000000000000000000000000"),
    ]),
    ("delifeq", [
        L("SET", "dif:1", "token-a"),
        L("DELIFEQ", "dif:1", "token-b"),
        L("DELIFEQ", "dif:1", "token-a"),
        L("EXISTS", "dif:1"),
        E("DELIFEQ", "dif:1"),
    ]),
    ("msetex", [
        L("MSETEX", "2", "mx:1", "one", "mx:2", "two", "EX", "1000"),
        L("MSETEX", "2", "mx:2", "zwei", "mx:3", "drei", "NX", "PX", "600000"),
        L("MSETEX", "3", "mx:4", "a", "mx:5", "b", "mx:6", "c", "KEEPTTL"),
        L("MGET", "mx:1", "mx:2", "mx:3"),
        E("MSETEX", "3", "mx:1", "one", "mx:2", "two"),
    ]),
    # -- vector sets (Redis 8 module commands, upper case in COMMAND) ---------
    ("vadd", [
        L("VADD", "vs:1", "VALUES", "3", "0.1", "0.2", "0.3", "elem:a"),
        L("VADD", "vs:1", "VALUES", "3", "0.9", "0.1", "0.0", "elem:b", "SETATTR", '{"year":1999}'),
        L("VADD", "vs:1", "FP32", fp32(0.5, 0.5, 0.25), "elem:c"),
        L("VADD", "vs:1", "VALUES", "3", "0.2", "0.2", "0.9", "elem:d", "EF", "100"),
        L("VADD", "vs:4", "VALUES", "2", "1", "1", "m:x", "NOQUANT", "M", "8"),
        E("VADD", "vs:1", "VALUES", "3", "1", "1", "1", "elem:f", "M", "8"),
        L("VADD", "vs:2", "VALUES", "4", "1", "0", "0", "1", "q:x", "Q8"),
        L("VADD", "vs:3", "REDUCE", "2", "VALUES", "4", "1", "2", "3", "4", "r:x"),
        E("VADD", "vs:1", "VALUES", "2", "1", "2", "elem:e"),
        E("VADD", "vs:1", "VALUES", "3", "1", "2"),
    ]),
    ("vcard", [L("VCARD", "vs:1"), L("VCARD", "vs:none"), E("VCARD")]),
    ("vdim", [L("VDIM", "vs:1"), L("VDIM", "vs:3")]),
    ("vemb", [L("VEMB", "vs:1", "elem:a"), L("VEMB", "vs:2", "q:x", "RAW")]),
    ("vsim", [
        L("VSIM", "vs:1", "ELE", "elem:a", "WITHSCORES", "COUNT", "3"),
        L("VSIM", "vs:1", "VALUES", "3", "0.1", "0.2", "0.3", "COUNT", "2", "FILTER", ".year > 1990"),
        L("VSIM", "vs:1", "FP32", fp32(0.5, 0.5, 0.25), "COUNT", "1", "EF", "50", "TRUTH"),
        E("VSIM", "vs:1", "ELE", "elem:none"),
    ]),
    ("vinfo", [L("VINFO", "vs:1")]),
    ("vlinks", [L("VLINKS", "vs:1", "elem:a", "WITHSCORES")]),
    ("vrandmember", [L("VRANDMEMBER", "vs:1"), L("VRANDMEMBER", "vs:1", "2")]),
    ("vsetattr", [L("VSETATTR", "vs:1", "elem:a", '{"year":2024,"tag":"new"}')]),
    ("vgetattr", [L("VGETATTR", "vs:1", "elem:a"), L("VGETATTR", "vs:1", "elem:c")]),
    ("vismember", [L("VISMEMBER", "vs:1", "elem:b"), L("VISMEMBER", "vs:1", "elem:none")]),
    ("vrem", [L("VREM", "vs:1", "elem:c"), L("VREM", "vs:1", "elem:c"), L("VCARD", "vs:1")]),
]

# RESP3 after HELLO 3: replies as maps, sets, doubles (lines whose command the
# server does not list are left out).
RESP3 = [
    L("HELLO", "3", "SETNAME", "hD-newcmd-resp3"),
    L("HGETEX", "hfe:1", "FIELDS", "2", "f1", "f3"),
    L("HTTL", "hfe:2", "FIELDS", "2", "a", "d"),
    L("VSIM", "vs:1", "ELE", "elem:a", "WITHSCORES", "COUNT", "2"),
    L("VINFO", "vs:1"),
    L("VEMB", "vs:1", "elem:a"),
    L("COMMANDLOG", "GET", "1", "slow"),
    L("WAITAOF", "0", "0", "0"),
    L("HGETALL", "cls:h"),
    L("HELLO", "2"),
]

# New options of old commands.
OPTIONS = [
    L("HSCAN", "cls:h", "0", "NOVALUES", when=either(redis_from(7, 4), valkey_from(8))),
    L("CLIENT", "KILL", "MAXAGE", "864000", when=either(redis_from(7, 4), valkey_from(8))),
    L("XREAD", "COUNT", "1", "STREAMS", "cls:x", "+", when=redis_from(7, 4)),
    L("SET", "cls:str", "world", "IFEQ", "hello", when=valkey_from(8, 1)),
    L("SET", "cls:str", "again", "IFEQ", "nomatch", when=valkey_from(8, 1)),
    L("CLIENT", "KILL", "NAME", "nobody-has-this-name", when=valkey_from(9)),
]

CLASSIC_AFTER = [
    L("DEL", "cls:m1", "cls:m2", "cls:copy", "hfe:none"),
    L("UNLINK", "cls:l1", "cls:s1"),
    L("DBSIZE"),
    L("ECHO", "end of the raw client"),
]

# Through redis-cli / valkey-cli: one process (one connection) a line.
CLI_LINES = [
    L("HSETEX", "cli:h", "EX", "100", "FIELDS", "1", "f", "v"),
    L("HTTL", "cli:h", "FIELDS", "1", "f"),
    L("VADD", "cli:vs", "VALUES", "2", "1", "0", "e1"),
    L("VCARD", "cli:vs"),
    L("COMMANDLOG", "LEN", "slow"),
    L("DELIFEQ", "cls:str", "not-the-value"),
    L("WAITAOF", "0", "0", "0"),
    L("SET", "cli:str", "by-cli"),
    L("MGET", "cli:str", "cls:str"),
]


def statname(args, srv):
    """The name commandstats counts a line under (as COMMAND names it)."""
    name = args[0].decode().lower()
    if name in srv.containers and len(args) > 1:
        sub = name + "|" + args[1].decode().lower()
        if sub in srv.known:
            return sub
    return name


def plan(srv):
    """The raw client's lines and the CLI lines for this server; fails if a
    new command has no traffic."""
    new = sorted(n for n in srv.known if n not in REDIS_7_0_15)
    covered = {n for n, _ in CATALOG}
    missing = [n for n in new if n not in covered]
    expect(not missing, "no traffic in CATALOG for the new command(s) %s" % " ".join(missing))

    def usable(line):
        return (line.when is None or line.when(srv)) and statname(line.args, srv) in srv.known
    raw = [x for x in CLASSIC_BEFORE if usable(x)]
    for name, lines in CATALOG:
        if name in new:
            raw += [x for x in lines if x.when is None or x.when(srv)]
    raw += [x for x in RESP3 if usable(x)]
    raw += [x for x in OPTIONS if usable(x)]
    raw += [x for x in CLASSIC_AFTER if usable(x)]
    for x in raw:
        expect(statname(x.args, srv) in srv.known,
               "%s: not a command of this server" % b" ".join(x.args).decode("latin-1"))
    cli = [x for x in CLI_LINES if usable(x)]
    return new, raw, cli


# ---------------------------------------------------------------------------
# RESP framing of replies (RESP2 and RESP3), on raw bytes
# ---------------------------------------------------------------------------

class Incomplete(Exception):
    pass


def resp_end(data, p=0):
    """Offset just past the RESP value that starts at p (Incomplete if the
    bytes end first, ValueError if they are not RESP)."""
    nl = data.find(b"\r\n", p)
    if nl < 0:
        raise Incomplete()
    t, rest = data[p:p + 1], data[p + 1:nl]
    q = nl + 2
    if t in (b"+", b"-", b":", b"_", b"#", b",", b"("):
        return q
    if t in (b"$", b"=", b"!"):
        n = int(rest)
        if n < 0:
            return q
        if len(data) < q + n + 2:
            raise Incomplete()
        expect(data[q + n:q + n + 2] == b"\r\n", "bulk not ended by CRLF")
        return q + n + 2
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(rest)
        n = n * 2 if t in (b"%", b"|") else n
        for _ in range(max(n, 0)):
            q = resp_end(data, q)
        return resp_end(data, q) if t == b"|" else q     # an attribute precedes its value
    raise ValueError("not RESP: %r" % data[p:p + 20])


def split_replies(data):
    out, p = [], 0
    while p < len(data):
        e = resp_end(data, p)
        out.append(bytes(data[p:e]))
        p = e
    return out


def is_error(reply):
    return reply[:1] in (b"-", b"!")


def esc(b, limit=None):
    s = b.decode("latin-1").encode("unicode_escape").decode()
    return s if limit is None or len(s) <= limit else s[:limit] + "..."


def arg_json(a):
    try:
        s = a.decode("utf-8")
        if s.isprintable():
            return s
    except UnicodeDecodeError:
        pass
    return {"hex": a.hex()}


def arg_bytes(j):
    return bytes.fromhex(j["hex"]) if isinstance(j, dict) else j.encode()


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

class Control:
    """Unix-socket connection (never captured) that counts its own commands."""

    def __init__(self, path):
        self.c = cc.connect_unix(path, IO_TIMEOUT)
        self.sent = collections.Counter()

    def call(self, *args):
        self.sent[args[0].lower() if isinstance(args[0], str) else args[0].decode().lower()] += 1
        return self.c.call(*args)

    def ok(self, *args):
        r = self.call(*args)
        expect(not isinstance(r, rt.Err), "%s: %s" % (args, r))
        return r


def parse_kv(text):
    return {k: v.strip() for k, _, v in (ln.partition(":") for ln in text.splitlines())
            if _ and not k.startswith("#")}


def server_of(ctl):
    info = parse_kv(ctl.ok("INFO", "server").decode())
    family = "valkey" if "valkey_version" in info or info.get("server_name") == "valkey" else "redis"
    version = info.get("valkey_version") if family == "valkey" else info["redis_version"]
    known, containers = set(), set()
    for e in ctl.ok("COMMAND"):
        name = e[0].decode().lower()
        known.add(name)
        subs = e[9] if len(e) > 9 else []
        if subs:
            containers.add(name)
        for s in subs:
            known.add(s[0].decode().lower())
    expect(len({n for n in known if "|" not in n}) == ctl.ok("COMMAND", "COUNT"), "COMMAND COUNT")
    srv = Srv(family, tuple(int(x) for x in version.split(".")[:3]), known, containers)
    keep = ("redis_version", "valkey_version", "server_name", "redis_mode", "server_mode", "os",
            "arch_bits", "gcc_version")
    return srv, version, {k: info[k] for k in keep if k in info}


class Raw:
    """A raw-socket client: sends the exact bytes, returns the exact reply bytes."""

    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.settimeout(IO_TIMEOUT)
        self.s.connect((HOST, port))
        self.port = self.s.getsockname()[1]

    def exchange(self, raw):
        self.s.sendall(raw)
        buf = b""
        deadline = time.time() + IO_TIMEOUT
        while True:
            try:
                end = resp_end(buf)
                break
            except Incomplete:
                expect(time.time() < deadline, "no reply to %r" % raw[:60])
                d = self.s.recv(1 << 20)
                expect(d, "server closed the connection after %r" % raw[:60])
                buf += d
        expect(end == len(buf), "more than one reply to %r" % raw[:60])
        return buf

    def quiet(self):
        """Nothing more comes (no stray push or reply), then close."""
        self.s.settimeout(0.3)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            d = b""
        expect(d == b"", "unexpected bytes after the last reply: %r" % d[:80])
        self.s.close()


NOKEY_ERRORS = ("The command has no key arguments",)


def getkeys(ctl, args):
    r = ctl.call("COMMAND", "GETKEYS", *args)
    if isinstance(r, rt.Err):
        msg = str(r)
        return None, msg[4:] if msg.startswith("ERR ") else msg
    return [bytes(k) for k in r], None


def key_positions(args, names):
    pos = []
    for n in names:
        cand = [i for i in range(1, len(args)) if args[i] == n]
        expect(len(cand) == 1, "key %r of %r is not unique in the line" % (n, args))
        pos.append(cand[0])
    return pos


def cmd_run(a):
    ctl = Control(a.sock)
    srv, version, info = server_of(ctl)
    new, raw_lines, cli_lines = plan(srv)
    cli = "valkey-cli" if a.server == "valkey-server" else "redis-cli"
    before = ctl.ok("INFO", "commandstats", "errorstats").decode()
    reqs = []
    c = Raw(a.port)
    sha = None
    for x in raw_lines:
        args = [sha if arg == b"@SHA@" else arg for arg in x.args]
        expect(None not in args, "SCRIPT SHOW before SCRIPT LOAD")
        raw = rt.Conn.encode(args)
        rep = c.exchange(raw)
        if [w.upper() for w in args[:2]] == [b"SCRIPT", b"LOAD"]:
            sha = rep.split(b"\r\n")[1]
        reqs.append({"conn": "raw", "args": args, "raw": raw, "reply": rep, "err": x.err})
    c.quiet()
    for x in cli_lines:
        p = subprocess.run([cli, "-h", HOST, "-p", str(a.port)] + [w.decode() for w in x.args],
                           capture_output=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)
        expect(p.returncode == 0, "%s %r: %s" % (cli, x.args, p.stderr[-300:]))
        reqs.append({"conn": "cli", "args": x.args, "raw": rt.Conn.encode(x.args), "reply": None,
                     "err": x.err, "cli_output": p.stdout.decode("utf-8", "replace")})
    after = ctl.ok("INFO", "commandstats", "errorstats").decode()
    own = collections.Counter({"info": 1})          # the first INFO commandstats
    # keys as the server names them (after the traffic: GETKEYS does not touch data)
    for r in reqs:
        r["getkeys"], r["getkeys_error"] = getkeys(ctl, r["args"])
    out = {
        "server_binary": a.server, "server_name": srv.family, "server_version": version,
        "info_server": info, "server_port": a.port, "raw_client_port": c.port,
        "known_commands": sorted(srv.known), "containers": sorted(srv.containers),
        "new_commands": new,
        "requests": [{
            "conn": r["conn"], "args": [arg_json(w) for w in r["args"]], "raw_hex": r["raw"].hex(),
            "reply_hex": r["reply"].hex() if r["reply"] is not None else None,
            "cli_output": r.get("cli_output"), "expect_error": r["err"],
            "getkeys": [arg_json(k) for k in r["getkeys"]] if r["getkeys"] is not None else None,
            "getkeys_error": r["getkeys_error"]} for r in reqs],
        "info_before": before, "info_after": after, "own_between": dict(own),
    }
    with open(a.sidecar, "w") as f:
        json.dump(out, f, indent=1)


# ---------------------------------------------------------------------------
# annotate
# ---------------------------------------------------------------------------

def cmd_annotate(a):
    with open(a.sidecar) as f:
        side = json.load(f)
    port = side["server_port"]
    known, containers = set(side["known_commands"]), set(side["containers"])
    srv = Srv(side["server_name"], None, known, containers)
    conns = [(k, c) for k, c in rp.tcp_streams(a.pcap) if k[1] == port]
    reqs = side["requests"]
    raw_reqs = [r for r in reqs if r["conn"] == "raw"]
    cli_reqs = [r for r in reqs if r["conn"] == "cli"]
    expect(len(conns) == 1 + len(cli_reqs), "%d connections in the capture, %d expected"
           % (len(conns), 1 + len(cli_reqs)))
    expect(conns[0][0][0] == side["raw_client_port"], "the first connection is the raw client's")
    groups = [(conns[0], raw_reqs)] + [(conns[i + 1], [r]) for i, r in enumerate(cli_reqs)]
    connections = []
    for ((cport, _), c), rs in groups:
        c2s, s2c = bytes(c["c2s"].data), bytes(c["s2c"].data)
        expect(c2s == b"".join(bytes.fromhex(r["raw_hex"]) for r in rs),
               "client %d: the capture's client->server bytes are not the lines sent" % cport)
        replies = split_replies(s2c)
        expect(len(replies) == len(rs), "client %d: %d replies for %d requests"
               % (cport, len(replies), len(rs)))
        off = roff = 0
        for r, rep in zip(rs, replies):
            if r["reply_hex"] is not None:
                expect(bytes.fromhex(r["reply_hex"]) == rep,
                       "client %d: reply bytes differ from what the client received" % cport)
            r["reply_hex"] = rep.hex()
            n = len(r["raw_hex"]) // 2
            r["frame"] = c["c2s"].frame_at(off + n - 1)
            expect(c["c2s"].frame_at(off) == r["frame"], "a request in more than one segment")
            r["reply_frame"] = c["s2c"].frame_at(roff + len(rep) - 1)
            r["client_port"] = cport
            off += n
            roff += len(rep)
        for i, r in enumerate(rs):
            nxt = rs[i + 1]["frame"] if i + 1 < len(rs) else 1 << 30
            expect(r["frame"] < r["reply_frame"] < nxt, "reply of %r out of place" % r["args"])
        connections.append({"client_port": cport, "kind": rs[0]["conn"], "requests": len(rs)})
    # commandstats: every line counted once (calls, or rejected_calls), under its name
    b_calls, b_rej, b_fail, b_err = rt.parse_info(side["info_before"])
    a_calls, a_rej, a_fail, a_err = rt.parse_info(side["info_after"])
    own = side["own_between"]
    low = lambda d: {k.lower(): v for k, v in d.items()}           # noqa: E731
    b_calls, b_rej, b_fail, a_calls, a_rej, a_fail = map(low, (b_calls, b_rej, b_fail, a_calls,
                                                              a_rej, a_fail))
    stats = {}
    for k in sorted(set(a_calls) | set(b_calls)):
        d = {"calls": a_calls.get(k, 0) - b_calls.get(k, 0) - own.get(k, 0),
             "rejected_calls": a_rej.get(k, 0) - b_rej.get(k, 0),
             "failed_calls": a_fail.get(k, 0) - b_fail.get(k, 0)}
        if any(d.values()):
            stats[k] = d
    errstats = {k: a_err.get(k, 0) - b_err.get(k, 0) for k in sorted(set(a_err) | set(b_err))
                if a_err.get(k, 0) != b_err.get(k, 0)}
    sent = collections.Counter()
    out_reqs = []
    refused = 0
    for i, r in enumerate(reqs):
        args = [arg_bytes(w) for w in r["args"]]
        name = statname(args, srv)
        sent[name] += 1
        cmd = args[0].decode().upper()
        sub = args[1].decode().upper() if cmd.lower() in containers and len(args) > 1 else None
        rep = bytes.fromhex(r["reply_hex"])
        err = is_error(rep)
        expect(err == r["expect_error"], "request %d %r: %s reply, %s expected: %r" % (
            i, r["args"], "an error" if err else "a non-error", "an error" if r["expect_error"]
            else "none", rep[:200]))
        gk = [arg_bytes(k) for k in r["getkeys"]] if r["getkeys"] is not None else None
        if gk is not None:
            pos = key_positions(args, gk)
            keys = [args[p] for p in sorted(pos)]
        elif r["getkeys_error"] in NOKEY_ERRORS:
            pos, keys = [], []
        else:
            pos, keys = None, None
            refused += 1
        out_reqs.append({
            "index": i, "frame": r["frame"], "reply_frame": r["reply_frame"],
            "client_port": r["client_port"], "via": "raw socket" if r["conn"] == "raw" else
            side["server_binary"].replace("-server", "-cli"),
            "args": r["args"], "command": cmd, "subcommand": sub, "statname": name,
            "unknown_to_redis_7_0_15": name not in REDIS_7_0_15,
            "getkeys": r["getkeys"], "getkeys_error": r["getkeys_error"],
            "key_positions": sorted(pos) if pos is not None else None,
            "keys": [arg_json(k) for k in keys] if keys is not None else None,
            "error_reply": err, "reply": esc(rep, 400), "reply_hex": r["reply_hex"],
            "raw_hex": r["raw_hex"],
            **({"cli_output": r["cli_output"]} if r["conn"] == "cli" else {}),
        })
    for k in sorted(set(sent) | set(stats)):
        got = stats.get(k, {"calls": 0, "rejected_calls": 0})
        expect(got["calls"] + got["rejected_calls"] == sent[k],
               "commandstats %s: calls %d + rejected %d, %d lines sent" % (
                   k, got["calls"], got["rejected_calls"], sent[k]))
    sent_new = sorted({r["statname"] for r in out_reqs if r["unknown_to_redis_7_0_15"]})
    missing = [n for n in side["new_commands"] if n not in sent_new and
               not any(s.startswith(n + "|") for s in sent_new)]
    expect(not missing, "new commands not in the traffic: %s" % missing)
    t = {
        "capture": a.capture,
        "server_binary": side["server_binary"],
        "server_name": side["server_name"],
        "server_version": side["server_version"],
        "info_server": side["info_server"],
        "server_port": port,
        "connections": connections,
        "new_commands": side["new_commands"],
        "new_commands_sent": sent_new,
        "requests_total": len(out_reqs),
        "error_replies": sum(r["error_reply"] for r in out_reqs),
        "getkeys_refused": refused,
        "commandstats_delta": stats,
        "errorstats_delta": errstats,
        "commandstats_own_subtracted": side["own_between"],
        "notes": NOTES,
        "requests": out_reqs,
    }
    with open(a.truth, "w") as f:
        json.dump(t, f, indent=1)
        f.write("\n")


NOTES = [
    "Made by test-captures/make-newcommand-captures.sh with newcommand_traffic.py: a fresh "
    "server (--appendonly yes, so that WAITAOF works) in a private network namespace, "
    "tcpdump on its lo. new_commands: every command and container subcommand the server's "
    "COMMAND lists that redis-server 7.0.15's COMMAND does not (lower case, 'container|sub'); "
    "every one of them is in the traffic (new_commands_sent, by commandstats name).",
    "requests: in the order sent. The first connection is a raw-socket client (TCP_NODELAY, "
    "one request at a time, the reply read to its last byte before the next request; HELLO 3 "
    "switches it to RESP3 for a few lines, HELLO 2 back); then one connection per line of "
    "the server's own CLI. Checked against the capture: each connection's client->server "
    "bytes are exactly its requests (raw_hex), the server->client bytes exactly its replies "
    "(reply_hex: what the raw client received), every request in one segment ('frame'), "
    "its reply ending in 'reply_frame', between the request and the next one.",
    "command: argv[0] upper case; subcommand: argv[1] upper case when the server lists argv[0] "
    "as a container, else null; statname: the name INFO commandstats counts the line under. "
    "getkeys/getkeys_error: COMMAND GETKEYS <the line> on the same server (unix socket, after "
    "the traffic). keys: the GETKEYS keys in argument order (key_positions), [] when the "
    "server says the command has no key arguments, null when it refuses the line (wrong "
    "number of arguments and the like: getkeys_error).",
    "expect_error lines were meant to fail (wrong arguments, or a cluster-only command on a "
    "standalone server) and did; error_reply is the reply's type. commandstats_delta: INFO "
    "commandstats after minus before (the control connection's first INFO subtracted); for "
    "every name, calls + rejected_calls equals the number of lines sent under that name.",
]


def cmd_new(a):
    ctl = Control(a.sock)
    srv, version, _ = server_of(ctl)
    print(srv.family, version)
    print(" ".join(sorted(n for n in srv.known if n not in REDIS_7_0_15)))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="what", required=True)
    r = sp.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--sock", required=True)
    r.add_argument("--server", default="redis-server")
    r.add_argument("--sidecar", required=True)
    k = sp.add_parser("check-pcap")
    k.add_argument("pcap")
    k.add_argument("--port", type=int, required=True)
    n = sp.add_parser("annotate")
    n.add_argument("--sidecar", required=True)
    n.add_argument("--pcap", required=True)
    n.add_argument("--capture", required=True)
    n.add_argument("--truth", required=True)
    w = sp.add_parser("new-commands")
    w.add_argument("--sock", required=True)
    a = ap.parse_args()
    {"run": cmd_run, "check-pcap": rt.cmd_check, "annotate": cmd_annotate,
     "new-commands": cmd_new}[a.what](a)


if __name__ == "__main__":
    main()
