#!/usr/bin/python3
# -*- coding: utf-8 -*-
"""Command knowledge from real servers: dump one server, or merge all dumps into C tables.

    /usr/bin/python3 tools/gen-command-table.py dump --server PATH [--sentinel] [--root DIR]
        [--port N] [--package TEXT] [--out DIR]
    /usr/bin/python3 tools/gen-command-table.py [merge] [--check] [--data DIR]
        [--table FILE] [--vectors-file FILE]

dump starts one private, throw-away server (redis-server or valkey-server, in normal or
Sentinel mode; with --root inside that chroot), reads its own command metadata (COMMAND,
cross-checked with COMMAND COUNT and COMMAND INFO, and COMMAND DOCS for each command's and
subcommand's "since"), asks COMMAND GETKEYS and COMMAND GETKEYSANDFLAGS for every test
command line, stops the server again by PID and writes tools/command-data/
<redis|valkey>-<version>[-sentinel].json.  tools/dump-command-data.sh makes every dump
(the host's Redis 7.0 and pristine Debian roots for the others).

merge (the default; no server needed) reads every tools/command-data/*.json and writes
core/resp_command_table.h (one table: every command and subcommand any of the servers has,
each with the set of servers that have it) and tests/unit/resp_commands_getkeys_vectors.h
(the GETKEYS answers of every server, each vector tagged with the servers that gave it).
--check writes nothing and exits 1 if a generated file differs from what is on disk.

Redis 7.2 and 7.4 are not packaged by Debian, so no server of theirs is dumped: a command or
subcommand counts as present in 7.2 (7.4) when the newest Redis dump of the same mode has it
with a COMMAND DOCS "since" of 7.2.x (7.4.x) or older.  Nothing else is inferred; every other
release bit comes from a dump of that release.

Only the Python standard library is used; the RESP client is a minimal built-in one so that
the raw server replies are seen exactly as sent.
"""

import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPO_ROOT, "tools", "command-data")
DEFAULT_TABLE = os.path.join(REPO_ROOT, "core", "resp_command_table.h")
DEFAULT_VECTORS = os.path.join(REPO_ROOT, "tests", "unit",
                               "resp_commands_getkeys_vectors.h")
SCRIPT_NAME = "tools/gen-command-table.py"
DUMP_FORMAT = 1

# ---------------------------------------------------------------------------
# Symbol maps.  Every flag / category / key-spec flag the server reports must
# be listed here; an unknown one is a hard error so that running this script
# against a newer Redis never silently drops information.  The C values live
# in core/resp_commands.h (the
# key-flag values are read from there for the vectors).
# ---------------------------------------------------------------------------

COMMAND_FLAGS = {
    "admin": "RESP_CMD_FLAG_ADMIN",
    "pubsub": "RESP_CMD_FLAG_PUBSUB",
    "noscript": "RESP_CMD_FLAG_NOSCRIPT",
    "readonly": "RESP_CMD_FLAG_READONLY",
    "write": "RESP_CMD_FLAG_WRITE",
    "denyoom": "RESP_CMD_FLAG_DENYOOM",
    "blocking": "RESP_CMD_FLAG_BLOCKING",
    "movablekeys": "RESP_CMD_FLAG_MOVABLEKEYS",
    "fast": "RESP_CMD_FLAG_FAST",
    "loading": "RESP_CMD_FLAG_LOADING",
    "stale": "RESP_CMD_FLAG_STALE",
    "skip_monitor": "RESP_CMD_FLAG_SKIP_MONITOR",
    "skip_slowlog": "RESP_CMD_FLAG_SKIP_SLOWLOG",
    "asking": "RESP_CMD_FLAG_ASKING",
    "no_auth": "RESP_CMD_FLAG_NO_AUTH",
    "no_multi": "RESP_CMD_FLAG_NO_MULTI",
    "no_async_loading": "RESP_CMD_FLAG_NO_ASYNC_LOADING",
    "no_mandatory_keys": "RESP_CMD_FLAG_NO_MANDATORY_KEYS",
    "allow_busy": "RESP_CMD_FLAG_ALLOW_BUSY",
    "module": "RESP_CMD_FLAG_MODULE",
    "skip_commandlog": "RESP_CMD_FLAG_SKIP_COMMANDLOG",     # Valkey 8.1+
}

# Command tips that are folded into the command flags.  The request/response
# policy tips only matter to cluster clients and are deliberately not kept.
TIP_FLAGS = {
    "nondeterministic_output": "RESP_CMD_FLAG_NONDETERMINISTIC_OUTPUT",
    "nondeterministic_output_order":
        "RESP_CMD_FLAG_NONDETERMINISTIC_OUTPUT_ORDER",
}
IGNORED_TIP_PREFIXES = ("request_policy:", "response_policy:")

ACL_CATEGORIES = {
    "@keyspace": "RESP_ACL_KEYSPACE",
    "@read": "RESP_ACL_READ",
    "@write": "RESP_ACL_WRITE",
    "@set": "RESP_ACL_SET",
    "@sortedset": "RESP_ACL_SORTEDSET",
    "@list": "RESP_ACL_LIST",
    "@hash": "RESP_ACL_HASH",
    "@string": "RESP_ACL_STRING",
    "@bitmap": "RESP_ACL_BITMAP",
    "@hyperloglog": "RESP_ACL_HYPERLOGLOG",
    "@geo": "RESP_ACL_GEO",
    "@stream": "RESP_ACL_STREAM",
    "@pubsub": "RESP_ACL_PUBSUB",
    "@admin": "RESP_ACL_ADMIN",
    "@fast": "RESP_ACL_FAST",
    "@slow": "RESP_ACL_SLOW",
    "@blocking": "RESP_ACL_BLOCKING",
    "@dangerous": "RESP_ACL_DANGEROUS",
    "@connection": "RESP_ACL_CONNECTION",
    "@transaction": "RESP_ACL_TRANSACTION",
    "@scripting": "RESP_ACL_SCRIPTING",
}

KEY_FLAGS = {
    "RO": "RESP_KEY_FLAG_RO",
    "RW": "RESP_KEY_FLAG_RW",
    "OW": "RESP_KEY_FLAG_OW",
    "RM": "RESP_KEY_FLAG_RM",
    "access": "RESP_KEY_FLAG_ACCESS",
    "update": "RESP_KEY_FLAG_UPDATE",
    "insert": "RESP_KEY_FLAG_INSERT",
    "delete": "RESP_KEY_FLAG_DELETE",
    "not_key": "RESP_KEY_FLAG_NOT_KEY",
    "incomplete": "RESP_KEY_FLAG_INCOMPLETE",
    "variable_flags": "RESP_KEY_FLAG_VARIABLE_FLAGS",
}

# Key specifications that the generic begin_search/find_keys interpretation
# cannot evaluate (begin_search or find_keys of type "unknown", or the
# "incomplete" flag).  For those, COMMAND GETKEYS does not use the key specs
# but a routine written for that one command.  Each such spec must be listed
# here with the handler core/resp_commands.c implements for it; an unlisted
# one stops the generator.  "check" is a predicate that makes sure the spec
# is the one we think it is.
#   NONE            - the spec never yields keys that GETKEYS reports.
#   SORT_STORE      - SORT ... STORE dst (last STORE wins, LIMIT/GET/BY
#                     arguments are skipped).
#   MIGRATE_SINGLE  - MIGRATE host port key ...: the key, unless the KEYS
#                     form is used.
#   MIGRATE_KEYS    - MIGRATE host port "" ... KEYS k1 k2 ...
SPECIAL_SPECS = {
    ("sort", 1): ("NONE",
                  lambda s: s["bs_type"] == "unknown"
                  and "BY/GET" in s.get("notes", "")),
    ("sort", 2): ("SORT_STORE",
                  lambda s: s["bs_type"] == "unknown"
                  and "STORE" in s.get("notes", "")),
    ("sort_ro", 1): ("NONE",
                     lambda s: s["bs_type"] == "unknown"
                     and "BY/GET" in s.get("notes", "")),
    ("migrate", 0): ("MIGRATE_SINGLE",
                     lambda s: s["bs_type"] == "index" and s["bs_index"] == 3),
    ("migrate", 1): ("MIGRATE_KEYS",
                     lambda s: s["bs_type"] == "keyword"
                     and s["keyword"] == "KEYS"),
}


def header_values():
    """RESP_* constants of core/resp_commands.h (the vectors need the key-flag values)."""
    with open(os.path.join(REPO_ROOT, "core", "resp_commands.h"), encoding="utf-8") as f:
        return {m.group(1): int(m.group(2), 16) for m in re.finditer(
            r"#define\s+(RESP_\w+)\s+0x([0-9a-fA-F]+)u", f.read())}


_HV = header_values()
for _sym in list(COMMAND_FLAGS.values()) + list(TIP_FLAGS.values()) + \
        list(ACL_CATEGORIES.values()) + list(KEY_FLAGS.values()):
    if _sym not in _HV:
        raise SystemExit("gen-command-table: %s is not defined in core/resp_commands.h"
                         % _sym)
KEY_FLAG_VALUES = {k: _HV[v] for k, v in KEY_FLAGS.items()}


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------
# Minimal RESP2 client
# ---------------------------------------------------------------------------

class RedisError(Exception):
    pass


class Resp:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise GenError("connection closed by redis-server")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise GenError("unexpected RESP type byte %r" % t)

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, int):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        r = self._reply()
        return r


def text(x):
    if isinstance(x, bytes):
        return x.decode()
    if isinstance(x, list):
        return [text(i) for i in x]
    return x


# ---------------------------------------------------------------------------
# Private server
# ---------------------------------------------------------------------------

class Server:
    """One throw-away server on 127.0.0.1:port, optionally inside a chroot."""

    def __init__(self, binary, port, sentinel=False, root=None):
        self.binary = binary
        self.port = port
        self.sentinel = sentinel
        self.root = root
        self.proc = None
        self.tmpdir = None
        self.log = None

    def start(self):
        # Refuse to talk to somebody else's server.
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            s.close()
            raise GenError("port %d on 127.0.0.1 is already in use; pick "
                           "another with --port" % self.port)
        except OSError:
            pass
        base = os.path.join(self.root, "tmp") if self.root else None
        self.tmpdir = tempfile.mkdtemp(prefix="gen-command-table-", dir=base)
        inside = self.tmpdir[len(self.root):] if self.root else self.tmpdir
        self.log = open(os.path.join(self.tmpdir, "server.log"), "w+b")
        if self.sentinel:
            # A sentinel needs a writable config file; it monitors nothing.
            with open(os.path.join(self.tmpdir, "sentinel.conf"), "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                        % (self.port, inside))
            argv = [self.binary, os.path.join(inside, "sentinel.conf"),
                    "--sentinel"]
        else:
            argv = [self.binary, "--port", str(self.port), "--bind",
                    "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--dir", inside, "--databases", "1"]
        if self.root:
            argv = ["chroot", self.root] + argv   # chroot execs: same PID
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15.0
        while True:
            if self.proc.poll() is not None:
                raise GenError("server exited early (status %s):\n%s"
                               % (self.proc.returncode, self._logtext()))
            try:
                c = Resp("127.0.0.1", self.port, timeout=10)
                if c.call("PING") == "PONG":
                    return c
                c.close()
            except (OSError, GenError):
                pass
            if time.monotonic() > deadline:
                raise GenError("server did not answer within 15s:\n%s"
                               % self._logtext())
            time.sleep(0.05)

    def _logtext(self):
        try:
            self.log.flush()
            self.log.seek(0)
            return self.log.read().decode(errors="replace")[-4000:]
        except (OSError, ValueError):
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()          # SIGTERM to our own child's PID
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    sys.stderr.write("warning: server pid %d did not exit\n"
                                     % self.proc.pid)
        if self.log is not None:
            self.log.close()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


# ---------------------------------------------------------------------------
# dump: one server's replies, kept as they came (only what merge needs)
# ---------------------------------------------------------------------------

def pairs(lst):
    if not isinstance(lst, list) or len(lst) % 2:
        raise GenError("not a map in reply: %r" % (lst,))
    return dict(zip(lst[0::2], lst[1::2]))


def spec_json(raw):
    """A key specification as a flat dict: flags, notes, bs {type, ...}, fk {type, ...}."""
    m = pairs(text(raw))
    out = {"flags": list(m.get("flags") or [])}
    if m.get("notes"):
        out["notes"] = m["notes"]
    for k, short in (("begin_search", "bs"), ("find_keys", "fk")):
        d = pairs(m[k])
        e = {"type": d["type"]}
        if d.get("spec"):
            e.update(pairs(d["spec"]))
        out[short] = e
    return out


def command_json(raw, since, parent=None):
    name, arity, flags, first, last, step, acl, tips, specs, subs = raw[:10]
    name = text(name).lower()
    if parent is not None and not name.startswith(parent + "|"):
        raise GenError("subcommand %r does not belong to %r" % (name, parent))
    c = {"name": name, "arity": arity,
         "flags": [text(f).lower() for f in flags],
         "first": first, "last": last, "step": step,
         "acl": [text(a).lower() for a in acl],
         "tips": [text(t).lower() for t in tips],
         "specs": [spec_json(s) for s in specs],
         "since": since.get(name)}
    if parent is None:
        c["subs"] = sorted((command_json(s, since, name) for s in subs or []),
                           key=lambda x: x["name"])
    elif subs:
        raise GenError("%s: nested subcommands are not supported" % name)
    return c


def flatten(cmds):
    """Commands, each followed by its subcommands ("config|get"), one entry each."""
    out = []
    for c in cmds:
        top = dict(c)
        subs = top.pop("subs")
        out.append(top)
        out.extend(subs)
    return out


def docs_since(conn):
    """{command or "container|sub": since} from COMMAND DOCS."""
    raw = conn.call("COMMAND", "DOCS")
    if isinstance(raw, RedisError):
        raise GenError("COMMAND DOCS failed: %s" % raw)
    out = {}

    def walk(lst):
        for name, doc in pairs(lst).items():
            d = {text(k): v for k, v in pairs(doc).items()}
            if d.get("since"):
                out[text(name).lower()] = text(d["since"])
            if d.get("subcommands"):
                walk(d["subcommands"])
    walk(raw)
    return out


def fetch_commands(conn):
    raw = conn.call("COMMAND")
    if isinstance(raw, RedisError):
        raise GenError("COMMAND failed: %s" % raw)
    count = conn.call("COMMAND", "COUNT")
    if count != len(raw):
        raise GenError("COMMAND COUNT %r != %d entries" % (count, len(raw)))
    since = docs_since(conn)
    cmds = sorted((command_json(r, since) for r in raw),
                  key=lambda c: c["name"])
    names = [c["name"] for c in cmds]
    if len(set(names)) != len(names):
        raise GenError("duplicate command names")
    # Cross-check every entry against COMMAND INFO <name>.
    info = conn.call("COMMAND", "INFO", *names)
    for c, r in zip(cmds, info):
        if r is None:
            raise GenError("COMMAND INFO has no entry for %s" % c["name"])
        if command_json(r, since) != c:
            raise GenError("COMMAND and COMMAND INFO disagree on %s"
                           % c["name"])
    return cmds


def server_identity(conn):
    info = text(conn.call("INFO", "server"))
    fields = {}
    for line in info.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    if "valkey_version" in fields:
        product, version = "valkey", fields["valkey_version"]
    elif "redis_version" in fields:
        product, version = "redis", fields["redis_version"]
    else:
        raise GenError("INFO server names no version")
    mode = fields.get("server_mode") or fields.get("redis_mode") or ""
    return product, version, mode


def getkeys(conn, argv):
    """The server's answer for one command line: {"keys": [[name, flags]]} or {"error"}."""
    label = " ".join(a if a else '""' for a in argv)
    r = conn.call("COMMAND", "GETKEYS", *argv)
    rf = conn.call("COMMAND", "GETKEYSANDFLAGS", *argv)
    if isinstance(r, RedisError):
        if not isinstance(rf, RedisError) or str(rf).replace(
                "command|getkeysandflags", "command|getkeys") != str(r):
            raise GenError("%s: GETKEYS/GETKEYSANDFLAGS disagree" % label)
        msg = str(r)
        return {"argv": argv, "error": msg[4:] if msg.startswith("ERR ")
                else msg}
    names = [bytes(k).decode() for k in r]
    fl = [(bytes(k[0]).decode(), text(k[1])) for k in rf]
    if [n for n, _ in fl] != names:
        raise GenError("%s: GETKEYS/GETKEYSANDFLAGS disagree" % label)
    return {"argv": argv, "keys": [[n, f] for n, f in fl]}


def dump_json(meta, cmds, vectors):
    """Compact, diff-friendly JSON: one line per command and per vector."""
    out = ["{"]
    for k in ("format", "product", "version", "mode", "package"):
        out.append('  %s: %s,' % (json.dumps(k), json.dumps(meta[k])))
    out.append('  "commands": [')
    out.append(",\n".join("    " + json.dumps(c, separators=(",", ":"))
                          for c in cmds))
    out.append('  ],')
    out.append('  "vectors": [')
    out.append(",\n".join("    " + json.dumps(v, separators=(",", ":"))
                          for v in vectors))
    out.append('  ]')
    out.append("}")
    return "\n".join(out) + "\n"


def do_dump(args):
    server = Server(args.server, args.port, args.sentinel, args.root)
    t0 = time.monotonic()
    try:
        conn = server.start()
        product, version, mode = server_identity(conn)
        if (mode == "sentinel") != bool(args.sentinel):
            raise GenError("server reports mode %r" % mode)
        cmds = fetch_commands(conn)
        lines = dump_lines(cmds, args.sentinel)
        vectors = [getkeys(conn, argv) for argv in lines]
        conn.close()
    finally:
        server.stop()
    name = "%s-%s%s" % (product, version, "-sentinel" if args.sentinel else "")
    meta = {"format": DUMP_FORMAT, "product": product, "version": version,
            "mode": "sentinel" if args.sentinel else "server",
            "package": args.package or ""}
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, name + ".json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(dump_json(meta, flatten(cmds), vectors))
    os.replace(path + ".tmp", path)
    nsub = sum(len(c["subs"]) for c in cmds)
    sys.stdout.write("%s: %d commands, %d subcommands, %d vectors (%.1fs)\n"
                     % (os.path.relpath(path), len(cmds), nsub, len(vectors),
                        time.monotonic() - t0))
    return 0


def auto_lines(cmds):
    """One command line per command/subcommand derived from its arity (plus a longer one
    for variadic key ranges).  Commands whose key specs need a numkeys argument are
    covered by hand_vectors() / NEW_COMMAND_LINES instead."""
    out = []
    for c in cmds:
        for x in ([c] if not c["subs"] else c["subs"]):
            if any(s["fk"]["type"] == "keynum" for s in x["specs"]):
                continue
            prefix = x["name"].upper().split("|")
            n = abs(x["arity"])
            lens = [max(n, len(prefix))]
            if x["arity"] < 0 and any(s["fk"]["type"] == "range"
                                      and s["fk"]["lastkey"] < 0
                                      for s in x["specs"]):
                step = max(s["fk"].get("keystep", 1) for s in x["specs"])
                lens.append(max(n, len(prefix)) + 2 * step)
            for total in lens:
                if total < 2:
                    # COMMAND GETKEYS needs at least one argument after the
                    # command name, so a bare "PING" cannot be asked.
                    continue
                out.append(prefix + ["a%d" % i
                                     for i in range(len(prefix), total)])
    return out



# ---------------------------------------------------------------------------
# Test command lines
# ---------------------------------------------------------------------------

PARTIAL = "Redis rejects the command line; resp_command_keys() evaluates " \
          "each key spec on its own and reports the keys that are certain"
ATOI = "Redis GETKEYS falls back to a legacy routine that parses numkeys " \
       "with atoi(); the command itself rejects this numkeys " \
       "(\"value is not an integer\"), so the numkeys key spec yields no " \
       "keys (other key specs still do)"
TRUNC = "Redis GETKEYS truncates numkeys to int (4294967297 -> 1); the " \
        "command itself rejects this numkeys, so the numkeys key spec " \
        "yields no keys"


def hand_vectors():
    V = []

    def v(line, expect=None, note=None):
        argv = line if isinstance(line, list) else line.split(" ")
        V.append((argv, expect, note))

    # plain key positions
    v("SET k v")
    v("SET k v GET")
    v("SET k v EX 10 NX")
    v("set k v")
    v("sEt k v")
    v("GET k")
    v("get k")
    v("GETEX k PERSIST")
    v("GETDEL k")
    v("APPEND k v")
    v("INCR counter")
    v("MSET a 1 b 2 c 3")
    v("MSET a 1 b")
    v("MSETNX a 1 b 2")
    v("MGET a b c")
    v("DEL a b c")
    v("DEL a")
    v("UNLINK a b")
    v("EXISTS a b a2")
    v("TOUCH a b")
    v("WATCH a b c")
    v("RENAME src dst")
    v("RENAMENX src dst")
    v("COPY src dst DB 1 REPLACE")
    v("MOVE k 1")
    v("DUMP k")
    v("RESTORE k 0 payload REPLACE")
    v("EXPIRE k 10 NX")
    v("TTL k")
    v("TYPE k")
    v("LPUSH l a b c")
    v("LMOVE src dst LEFT RIGHT")
    v("RPOPLPUSH src dst")
    v("BLPOP k1 k2 0")
    v("BRPOP k1 0")
    v("BLMOVE src dst LEFT RIGHT 0")
    v("BRPOPLPUSH src dst 0")
    v("BZPOPMIN z1 z2 z3 1.5")
    v("BZPOPMAX z1 0")
    v("HSET h f v f2 v2")
    v("HMGET h f1 f2")
    v("SADD s m1 m2")
    v("SMOVE src dst m")
    v("SDIFFSTORE dst a b")
    v("SINTERSTORE dst a")
    v("SUNIONSTORE dst a b c")
    v("SINTER a b")
    v("SUNION a")
    v("ZADD z 1 m")
    v("ZRANGESTORE dst src 0 -1")
    v("ZRANGE z 0 -1 WITHSCORES")
    v("PFADD hll a b")
    v("PFCOUNT a b")
    v("PFMERGE dst a b")
    v("BITOP AND dst a b c")
    v("BITOP NOT dst a")
    v("BITFIELD k GET u8 0")
    v("BITFIELD k GET u8 0 SET u8 0 1 INCRBY u8 0 1")
    v("BITFIELD_RO k GET u8 0")
    v("BITCOUNT k 0 -1")
    v("LCS a b IDX MINMATCHLEN 2")
    v("GEOADD g 13.361389 38.115556 palermo")
    v("GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km ASC")
    v("GEOSEARCHSTORE dst src FROMMEMBER m BYRADIUS 10 km STOREDIST")
    v("XADD s * f v")
    v("XRANGE s - +")
    v("XAUTOCLAIM s g c 0 0-0")
    v("XCLAIM s g c 0 1-0")
    v("XTRIM s MAXLEN 10")
    # subcommands (container commands)
    v("OBJECT ENCODING k")
    v("object encoding k")
    v("OBJECT FREQ k")
    v("OBJECT IDLETIME k")
    v("OBJECT REFCOUNT k")
    v("XINFO STREAM k")
    v("XINFO STREAM k FULL COUNT 10")
    v("XINFO GROUPS k")
    v("XINFO CONSUMERS k g")
    v("xinfo stream k")
    v("XGROUP CREATE k g $ MKSTREAM")
    v("XGROUP SETID k g 0")
    v("XGROUP DESTROY k g")
    v("MEMORY USAGE k")
    v("MEMORY USAGE k SAMPLES 5")
    # numkeys (keynum) commands
    v("EVAL script 2 k1 k2 a1 a2")
    v("EVAL script 1 k1")
    v("EVAL script 0")
    v("EVAL script 0 a1 a2")
    v("EVALSHA sha 1 k1 a1")
    v("EVAL_RO script 1 k1")
    v("EVALSHA_RO sha 2 k1 k2 a1")
    v("FCALL fn 2 k1 k2 a1")
    v("FCALL fn 0 a1")
    v("FCALL_RO fn 1 k1")
    v("ZUNIONSTORE dst 2 z1 z2 WEIGHTS 1 2 AGGREGATE MAX")
    v("zunionstore dst 1 z1")
    v("ZINTERSTORE dst 3 z1 z2 z3")
    v("ZDIFFSTORE dst 2 z1 z2")
    v("ZUNION 2 z1 z2 WITHSCORES")
    v("ZINTER 3 z1 z2 z3")
    v("ZDIFF 1 z1")
    v("ZINTERCARD 2 z1 z2 LIMIT 10")
    v("ZINTERCARD 1 z1")
    v("SINTERCARD 3 s1 s2 s3 LIMIT 1")
    v("LMPOP 2 l1 l2 LEFT COUNT 3")
    v("LMPOP 1 l1 RIGHT")
    v("BLMPOP 1.5 3 l1 l2 l3 RIGHT")
    v("ZMPOP 1 z1 MIN")
    v("BZMPOP 0 2 z1 z2 MAX COUNT 2")
    # keyword commands
    v("XREAD STREAMS s1 s2 0 0")
    v("XREAD COUNT 10 BLOCK 100 STREAMS s1 $")
    v("xread streams s1 0")
    v("XREAD STREAMS s1 s2 s3 0 0")
    v("XREAD STREAMS s1 s2 0")
    v("XREAD COUNT STREAMS STREAMS s1 0", ("@", [3]))
    v("XREADGROUP GROUP g c COUNT 1 STREAMS s1 s2 > >")
    v("XREADGROUP GROUP g c NOACK STREAMS s1 >")
    v("GEORADIUS g 15 37 200 km STORE dst")
    v("GEORADIUS g 15 37 200 km WITHDIST STOREDIST dd")
    v("GEORADIUS g 15 37 200 km STOREDIST dd STORE ds")
    v("GEORADIUS g 15 37 200 km STORE")
    v("GEORADIUS g 15 37 200 STORE dst")
    v("georadius g 15 37 200 km store dst")
    v("GEORADIUS_RO g 15 37 200 km")
    v("GEORADIUSBYMEMBER g m 100 km STORE ds")
    v("GEORADIUSBYMEMBER g m 100 km STORE ds STORE dt")
    v("GEORADIUSBYMEMBER g m 100 km STOREDIST dd")
    # SORT / SORT_RO (STORE position needs the SORT-specific scan)
    v("SORT src")
    v("SORT src BY w_* GET o_* STORE dst")
    v("SORT src LIMIT 0 10 ALPHA DESC STORE dst")
    v("SORT src STORE d1 STORE d2")
    v("SORT src LIMIT 0 STORE dst")
    v("SORT src GET STORE STORE dst")
    v("SORT src BY STORE STORE dst")
    v("SORT src STORE STORE x")
    v("SORT src STORE dst GET x")
    v("SORT src STORE")
    v("SORT src STORE dst STORE")
    v("sort src store dst")
    v("SORT_RO src BY w_* GET o_*")
    v("SORT_RO src STORE dst")
    # MIGRATE (KEYS form needs the MIGRATE-specific scan)
    v(["MIGRATE", "host", "6379", "key", "0", "5000"])
    v(["MIGRATE", "host", "6379", "key", "0", "5000", "COPY", "REPLACE"])
    v(["MIGRATE", "host", "6379", "", "0", "5000"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "COPY", "REPLACE",
       "KEYS", "k1", "k2", "k3"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "keys", "k1"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "AUTH", "pw", "KEYS",
       "k1"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "AUTH2", "user", "pw",
       "KEYS", "k1", "k2"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "AUTH", "KEYS", "KEYS",
       "k1"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "AUTH2", "u", "KEYS",
       "k1"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "COPY", "KEYS"])
    v(["MIGRATE", "host", "6379", "", "0", "5000", "KEYS", "KEYS", "k2"],
      ("@", [7, 8]))
    v(["MIGRATE", "host", "6379", "", "0", "KEYS", "k1"])
    v(["MIGRATE", "host", "6379", "key", "0", "5000", "COPY", "KEYS"])
    v(["MIGRATE", "host", "6379", "key", "0", "5000", "KEYS", "k1"], [],
      "Redis rejects KEYS together with a non-empty key argument")
    # commands without keys
    v("PING", [], "COMMAND GETKEYS cannot take a command without arguments")
    v("PING hello")
    v("PUBLISH ch msg")
    v("SPUBLISH ch msg")
    v("SSUBSCRIBE ch1 ch2")
    v("SUBSCRIBE ch1")
    v("CONFIG GET maxmemory")
    v("CLIENT LIST")
    v("CLIENT NO-EVICT on")
    v("MEMORY STATS")
    v("OBJECT HELP")
    v("XINFO HELP")
    v("FUNCTION LIST")
    v("SCRIPT EXISTS sha")
    v("OBJECT NOSUCH k")
    v("NOSUCHCOMMAND k")
    # hostile numkeys / arity / keyword cases
    v("EVAL script 999999999 k1")
    v("EVAL script -1 k1")
    v("EVAL script abc k1")
    v("EVAL script 3 k1 k2")
    v("EVAL script -0 k1")
    v("EVAL script 01 k1", [], ATOI)
    v("EVAL script +1 k1", [], ATOI)
    v(["EVAL", "script", " 1", "k1"], [], ATOI)
    v("EVAL script 1abc k1", [], ATOI)
    v("EVAL script 4294967297 k1", [], TRUNC)
    v("ZUNIONSTORE dst 999999999 z1", [1], PARTIAL)
    v("ZUNIONSTORE dst -1 z1", [1], PARTIAL)
    v("ZUNIONSTORE dst abc z1", [1], PARTIAL)
    v("ZUNIONSTORE dst 0 z1", [1], PARTIAL)
    v("ZUNIONSTORE dst 3 z1 z2", [1], PARTIAL)
    v("ZUNIONSTORE dst 01 z1 z2", [1], ATOI)
    v("ZUNIONSTORE dst 2abc z1 z2", [1], ATOI)
    v("ZUNION 999999999 z1", [], PARTIAL)
    v("ZUNION 3 z1 z2", [], PARTIAL)
    v("LMPOP 999999999 l1 LEFT", [], PARTIAL)
    v("LMPOP -1 l1 LEFT", [], PARTIAL)
    v("LMPOP abc l1 LEFT", [], PARTIAL)
    v("LMPOP 01 l1 LEFT", [], ATOI)
    v("ZINTERCARD 5 z1 z2", [], PARTIAL)
    v("ZINTERCARD 01 z1", [], ATOI)
    v("BLMPOP 0 999999999 l1 LEFT", [], PARTIAL)
    v("XREAD COUNT 1 BLOCK 0 s1 0", [], PARTIAL)
    v("XREAD STREAMS", [], PARTIAL)
    v("XREAD STREAMS s1", [], PARTIAL)
    v("XREAD COUNT 1 STREAMS", [], PARTIAL)
    v("XREADGROUP GROUP g c STREAMS s1", [], PARTIAL)
    v("GET", [], "argc 1")
    v("GET k extra", [1], PARTIAL + " (wrong arity)")
    v("DEL", [], "argc 1")
    v("MSET a", [1], PARTIAL + " (wrong arity)")
    v("BLPOP k1", [], PARTIAL)
    v("SORT", [], "argc 1")
    v("OBJECT ENCODING", [], PARTIAL)
    v("BITOP AND dst", [2], PARTIAL + " (wrong arity)")
    v(["MIGRATE", "host", "6379", "key", "0"], [3],
      PARTIAL + " (wrong arity)")
    v("LCS a", [], PARTIAL)
    # Redis 7.2+ and what Sentinels send to the servers they watch
    v("WAITAOF 1 0 0")
    v("CLIENT SETINFO LIB-NAME mylib")
    v("CLIENT NO-TOUCH on")
    v("CLUSTER MYSHARDID")
    v("PUBLISH __sentinel__:hello 127.0.0.1,26379,abc,0,mymaster,127.0.0.1,6379,0")
    v("SUBSCRIBE __sentinel__:hello")
    v("CLIENT SETNAME sentinel-3a4b5c6d-cmd")
    v("CLIENT KILL TYPE normal")
    v("REPLICAOF 127.0.0.1 6379")
    v("SLAVEOF NO ONE")
    v("CONFIG REWRITE")
    v("SCRIPT KILL")
    v("INFO all")
    v("MULTI x", [], "MULTI takes no argument; asked with one since GETKEYS needs it")
    # Redis 7.4 / 8.0 and Valkey 9: hash field expiration
    v("HEXPIRE h 10 FIELDS 2 f1 f2")
    v("HEXPIRE h 10 NX FIELDS 1 f")
    v("HPEXPIRE h 1000 XX FIELDS 1 f")
    v("HEXPIREAT h 1700000000 FIELDS 1 f")
    v("HPEXPIREAT h 1700000000000 GT FIELDS 1 f")
    v("HTTL h FIELDS 2 f1 f2")
    v("HPTTL h FIELDS 1 f")
    v("HEXPIRETIME h FIELDS 1 f")
    v("HPEXPIRETIME h FIELDS 1 f")
    v("HPERSIST h FIELDS 1 f")
    v("HGETDEL h FIELDS 2 f1 f2")
    v("HGETEX h EX 10 FIELDS 1 f")
    v("HGETEX h PERSIST FIELDS 1 f")
    v("HSETEX h EX 10 FIELDS 1 f v")
    v("HSETEX h FIELDS 2 f1 v1 f2 v2")
    v("hexpire h 10 fields 1 f")
    # Redis 8.0 vector sets (a module built into Debian's redis-server)
    v("VADD vs VALUES 3 0.1 0.2 0.3 e1")
    v("VADD vs REDUCE 2 VALUES 3 1 2 3 e1 CAS Q8 EF 100 M 16")
    v("VCARD vs")
    v("VDIM vs")
    v("VEMB vs e1 RAW")
    v("VGETATTR vs e1")
    v("VINFO vs")
    v("VISMEMBER vs e1")
    v("VLINKS vs e1 WITHSCORES")
    v("VRANDMEMBER vs 2")
    v("VREM vs e1")
    v(["VSETATTR", "vs", "e1", '{"a":1}'])
    v("VSIM vs ELE e1 WITHSCORES COUNT 10")
    v("VSIM vs VALUES 2 1 2 FILTER .a>1")
    # Valkey additions
    v("SET k v IFEQ old")
    v("SET k v IFEQ old GET")
    v("DELIFEQ k v")
    v("MSETEX 2 k1 v1 k2 v2 EX 10")
    v("MSETEX 1 k1 v1")
    v("MSETEX 3 k1 v1 k2 v2", [], PARTIAL)
    v("CLUSTERSCAN 0 MATCH k*")
    v("CLUSTER SLOT-STATS SLOTSRANGE 0 100")
    v("CLUSTER SLOT-STATS ORDERBY key-count LIMIT 10")
    v("COMMANDLOG GET 10 slow")
    v("COMMANDLOG LEN large-request")
    v("COMMANDLOG RESET large-reply")
    v("CLIENT CAPA redirect")
    v("CLIENT IMPORT-SOURCE on")
    v("SCRIPT SHOW sha")
    v("CLUSTER GETSLOTMIGRATIONS")
    v("CLUSTER FLUSHSLOT 0")
    return V


def sentinel_vectors():
    """Lines for a Sentinel: its own commands, what other Sentinels and clients send it,
    and a few a normal server has and a Sentinel refuses."""
    V = []

    def v(line, expect=None, note=None):
        V.append((line.split(" "), expect, note))

    v("SENTINEL GET-MASTER-ADDR-BY-NAME mymaster")
    v("SENTINEL GET-PRIMARY-ADDR-BY-NAME mymaster")
    v("SENTINEL IS-MASTER-DOWN-BY-ADDR 127.0.0.1 6379 0 *")
    v("SENTINEL IS-PRIMARY-DOWN-BY-ADDR 127.0.0.1 6379 0 *")
    v("SENTINEL MASTERS")
    v("SENTINEL PRIMARIES")
    v("SENTINEL REPLICAS mymaster")
    v("SENTINEL MONITOR mymaster 127.0.0.1 6379 2")
    v("SENTINEL SET mymaster down-after-milliseconds 1000")
    v("SENTINEL CONFIG GET *")
    v("SENTINEL CONFIG SET resolve-hostnames yes")
    v("SENTINEL FAILOVER mymaster")
    v("sentinel myid")
    v("SENTINEL NOSUCH x")
    v("PUBLISH __sentinel__:hello 127.0.0.1,26379,abc,0,mymaster,127.0.0.1,6379,0")
    v("SUBSCRIBE __sentinel__:hello")
    v("PING x")
    v("INFO all")
    v("ROLE x", [], "ROLE takes no argument; asked with one since GETKEYS needs it")
    v("HELLO 3")
    v("AUTH pw")
    v("CLIENT SETNAME sentinel-3a4b5c6d-cmd")
    v("CLIENT KILL TYPE normal")
    v("GET k")
    v("SET k v")
    v("REPLICAOF 127.0.0.1 6379")
    v("CONFIG GET maxmemory")
    v("SCRIPT KILL")
    return V


# Answers of one server that differ from the key specifications the table keeps (those of
# the newest dump of that release and of every other server), keyed by (dump, line):
# (expect, position hint or None, note).  Redis 8.0.2 flags the STORE key specs of
# GEORADIUS/GEORADIUSBYMEMBER and the STREAMS spec of XREAD/XREADGROUP "incomplete", so its
# GETKEYS runs the commands' own key routines instead; 8.0.6 dropped the flag again.
R802 = ("Redis 8.0.2's key spec is flagged incomplete, so its GETKEYS runs the "
        "command's own key routine; resp_command_keys() follows the key specs, "
        "as Redis 8.0.6 and every other server do")
V912 = ("Valkey 9.1's GEORADIUS/GEORADIUSBYMEMBER STORE and STOREDIST key specs are "
        "flagged variable_flags and its GETKEYS runs the command's own key routine "
        "(options after the unit, the last STORE/STOREDIST wins); resp_command_keys() "
        "follows the key specs, as Redis 7.0, 8.0.6 and Valkey 8 do")
SOURCE_EXPECT = {
    ("valkey-9.1.2", "GEORADIUS g 15 37 200 km STOREDIST dd STORE ds"):
        ([1, 7, 9], None, V912),
    ("valkey-9.1.2", "GEORADIUS g 15 37 200 STORE dst"): ([1], None, V912),
    ("valkey-9.1.2", "GEORADIUSBYMEMBER g m 100 km STORE ds STORE dt"):
        ([1, 6], None, V912),
    ("redis-8.0.2", "XREAD STREAMS s1 s2 s3 0 0"): ([2, 3], None, R802),
    ("redis-8.0.2", "XREAD STREAMS s1 s2 0"): ([2], None, R802),
    ("redis-8.0.2", "XREAD COUNT STREAMS STREAMS s1 0"): ([3], None, R802),
    ("redis-8.0.2", "GEORADIUS g 15 37 200 km STOREDIST dd STORE ds"):
        ([1, 7, 9], None, R802),
    ("redis-8.0.2", "GEORADIUSBYMEMBER g m 100 km STORE ds STORE dt"):
        ([1, 6], None, R802),
    ("redis-8.0.2", "SORT src STORE STORE x"):
        ([1, 4], [1, 3], "Redis 8.0.2's SORT key routine takes the STORE right "
         "after the first one as the destination; Redis 7.0 and 8.0.6 and Valkey "
         "take x, and so does resp_command_keys()"),
}

# Expectations for generated (arity-derived) vectors that Redis refuses.
AUTO_EXPECT = {
    "PFMERGE a1": ([1], "PFMERGE with only a destination is a valid "
                   "command, but GETKEYS treats the empty source-key range "
                   "as an error and reports nothing; we report the "
                   "destination"),
    "XREAD a1 a2 a3": ([], "no STREAMS keyword"),
    "XREAD a1 a2 a3 a4 a5": ([], "no STREAMS keyword"),
    "XREADGROUP a1 a2 a3 a4 a5 a6": ([], "no STREAMS keyword"),
    "XREADGROUP a1 a2 a3 a4 a5 a6 a7 a8": ([], "no STREAMS keyword"),
}



def dump_lines(cmds, sentinel):
    """The command lines asked of one server: the hand-written ones, then one or two per
    command and subcommand derived from its arity."""
    hand = sentinel_vectors() if sentinel else hand_vectors()
    out, seen = [], set()
    for argv in [h[0] for h in hand] + auto_lines(cmds):
        if tuple(argv) not in seen:
            seen.add(tuple(argv))
            out.append(argv)
    return out


# ---------------------------------------------------------------------------
# merge: every dump into one table
# ---------------------------------------------------------------------------

# The releases the table knows, in the order of their RESP_SERVER_* bits (core/
# resp_commands.h): bit i for the server, bit 8+i for the same release's Sentinel.
RELEASES = [("redis", "7.0"), ("redis", "7.2"), ("redis", "7.4"),
            ("redis", "8.0"), ("valkey", "8.0"), ("valkey", "8.1"),
            ("valkey", "9.1")]
# Not packaged by Debian: membership from the newest Redis dump's COMMAND DOCS since.
DERIVED = [("redis", "7.2"), ("redis", "7.4")]
PRODUCT_NAME = {"redis": "Redis", "valkey": "Valkey"}
EN_DASH = "\u2013"


def vtuple(v):
    out = []
    for p in v.split("."):
        m = re.match(r"\d+", p)
        out.append(int(m.group(0)) if m else 0)
    return tuple(out)


def release_bit(product, release, sentinel):
    return 1 << (RELEASES.index((product, release)) + (8 if sentinel else 0))


def bit_symbol(b):
    i = b.bit_length() - 1
    product, release = RELEASES[i % 8]
    return "RESP_SERVER_%s%s_%s" % ("SENTINEL_" if i >= 8 else "",
                                    product.upper(), release.replace(".", "_"))


def servers_text(mask):
    """"Redis 7.0–8.0, Valkey 8.0–9.1; Sentinel (Redis 7.0–8.0, Valkey 8.0–9.1)"."""
    parts = []
    for sentinel in (False, True):
        prods = []
        for product in ("redis", "valkey"):
            rels = [r for p, r in RELEASES if p == product]
            have = [mask & release_bit(product, r, sentinel) != 0 for r in rels]
            runs, i = [], 0
            while i < len(rels):
                if not have[i]:
                    i += 1
                    continue
                j = i
                while j + 1 < len(rels) and have[j + 1]:
                    j += 1
                runs.append(rels[i] if i == j else rels[i] + EN_DASH + rels[j])
                i = j + 1
            if runs:
                prods.append("%s %s" % (PRODUCT_NAME[product], ", ".join(runs)))
        if prods:
            t = ", ".join(prods)
            parts.append("Sentinel (%s)" % t if sentinel else t)
    return "; ".join(parts)


class Dump:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        if d.get("format") != DUMP_FORMAT:
            raise GenError("%s: dump format %r, expected %d; re-run the dump"
                           % (path, d.get("format"), DUMP_FORMAT))
        self.path = path
        self.product = d["product"]
        self.version = d["version"]
        self.sentinel = d["mode"] == "sentinel"
        self.package = d.get("package", "")
        self.name = "%s-%s%s" % (self.product, self.version,
                                 "-sentinel" if self.sentinel else "")
        self.release = ".".join(self.version.split(".")[:2])
        if (self.product, self.release) not in RELEASES:
            raise GenError("%s: %s %s has no RESP_SERVER_* bit; add the release "
                           "to RELEASES and core/resp_commands.h"
                           % (path, self.product, self.release))
        if (self.product, self.release) in DERIVED:
            raise GenError("%s: %s %s is derived from COMMAND DOCS; a dump of it "
                           "would need DERIVED changed" % (path, self.product,
                                                           self.release))
        self.bit = release_bit(self.product, self.release, self.sentinel)
        self.entries = {c["name"]: c for c in d["commands"]}
        self.vectors = d["vectors"]
        for n in self.entries:
            if "|" in n and n.split("|")[0] not in self.entries:
                raise GenError("%s: %s without its container" % (path, n))

    def order_key(self):
        # preferred source of a command's properties: servers before Sentinels,
        # Redis before Valkey, newest first
        return (self.sentinel, self.product != "redis",
                tuple(-x for x in vtuple(self.version)))


def norm_specs(specs):
    return [{k: v for k, v in s.items() if k != "notes"} for s in specs]


def positional(specs):
    return [{k: v for k, v in s.items() if k not in ("notes", "flags")}
            for s in specs]


def parse_spec(j, name):
    """A dumped key spec as the generator's internal form, validated."""
    spec = {"flags": list(j["flags"]), "notes": j.get("notes", "")}
    bs, fk = j["bs"], j["fk"]
    spec["bs_type"] = bs["type"]
    spec["bs_index"] = 0
    spec["startfrom"] = 0
    spec["keyword"] = None
    if bs["type"] == "index":
        spec["bs_index"] = bs["index"]
        if spec["bs_index"] < 1:
            raise GenError("%s: begin_search index < 1" % name)
    elif bs["type"] == "keyword":
        spec["keyword"] = bs["keyword"].upper()
        spec["startfrom"] = bs["startfrom"]
        if spec["startfrom"] == 0 or not spec["keyword"]:
            raise GenError("%s: odd keyword begin_search" % name)
    elif bs["type"] != "unknown":
        raise GenError("%s: unknown begin_search type %r" % (name, bs["type"]))
    spec["fk_type"] = fk["type"]
    spec["lastkey"] = spec["limit"] = 0
    spec["keynumidx"] = spec["firstkey"] = 0
    spec["keystep"] = 1
    if fk["type"] == "range":
        spec["lastkey"] = fk["lastkey"]
        spec["keystep"] = fk["keystep"]
        spec["limit"] = fk["limit"]
        if spec["limit"] < 0 or (spec["limit"] > 0 and spec["lastkey"] >= 0):
            raise GenError("%s: odd range find_keys" % name)
    elif fk["type"] == "keynum":
        spec["keynumidx"] = fk["keynumidx"]
        spec["firstkey"] = fk["firstkey"]
        spec["keystep"] = fk["keystep"]
        if spec["keynumidx"] < 0 or spec["firstkey"] < 0:
            raise GenError("%s: odd keynum find_keys" % name)
    elif fk["type"] != "unknown":
        raise GenError("%s: unknown find_keys type %r" % (name, fk["type"]))
    if spec["keystep"] < 1:
        raise GenError("%s: keystep < 1" % name)
    for f in spec["flags"]:
        if f not in KEY_FLAGS:
            raise GenError("%s: unknown key-spec flag %r (extend KEY_FLAGS "
                           "and core/resp_commands.h)" % (name, f))
    return spec


def check_symbols(e, where):
    for f in e["flags"]:
        if f not in COMMAND_FLAGS:
            raise GenError("%s %s: unknown command flag %r (extend "
                           "COMMAND_FLAGS and core/resp_commands.h)"
                           % (where, e["name"], f))
    for a in e["acl"]:
        if a not in ACL_CATEGORIES:
            raise GenError("%s %s: unknown ACL category %r"
                           % (where, e["name"], a))
    for t in e["tips"]:
        if t not in TIP_FLAGS and not t.startswith(IGNORED_TIP_PREFIXES):
            raise GenError("%s %s: unknown command tip %r"
                           % (where, e["name"], t))


def assign_handlers(specs, name):
    for i, s in enumerate(specs):
        special = SPECIAL_SPECS.get((name, i))
        needs = (s["bs_type"] == "unknown" or s["fk_type"] == "unknown"
                 or "incomplete" in s["flags"])
        if special is not None:
            if not special[1](s):
                raise GenError("%s key spec %d is not the one SPECIAL_SPECS "
                               "expects" % (name, i))
            s["handler"] = special[0]
        elif needs:
            raise GenError("%s key spec %d cannot be evaluated generically "
                           "and has no handler in SPECIAL_SPECS" % (name, i))
        else:
            s["handler"] = "GENERIC"


class Merged:
    """Every command and subcommand of every dump, with the servers that have it."""

    def __init__(self, dumps):
        self.dumps = sorted(dumps, key=lambda d: (d.sentinel, d.product != "redis",
                                                  vtuple(d.version)))
        self.notes = []            # findings for the header and the report
        self.prop_diffs = []
        self.spec_diffs = []
        names = sorted(set().union(*[set(d.entries) for d in self.dumps]))
        self.ent = {}
        for n in names:
            have = [d for d in self.dumps if n in d.entries]
            for d in have:
                check_symbols(d.entries[n], d.name)
            prim = min(have, key=Dump.order_key)
            self.ent[n] = {"name": n, "have": have, "primary": prim,
                           "servers": 0}
            for d in have:
                self.ent[n]["servers"] |= d.bit
        self.derive()
        for n, e in self.ent.items():
            self.variants(e)
            self.compare(e)
        self.tops = sorted((n for n in names if "|" not in n),
                           key=lambda n: n.upper().encode())
        self.subs = {t: sorted((n for n in names if n.startswith(t + "|")),
                               key=lambda n: n.split("|", 1)[1].upper().encode())
                     for t in self.tops}

    def derive(self):
        """Redis 7.2 and 7.4 from the newest Redis dump's COMMAND DOCS since."""
        self.derived_from = {}
        for sentinel in (False, True):
            src = [d for d in self.dumps if d.product == "redis"
                   and d.sentinel == sentinel]
            if not src:
                continue
            newest = max(src, key=lambda d: vtuple(d.version))
            oldest = min(src, key=lambda d: vtuple(d.version))
            self.derived_from[sentinel] = newest
            for product, rel in DERIVED:
                b = release_bit(product, rel, sentinel)
                for n, c in newest.entries.items():
                    since = c.get("since")
                    if since is not None and vtuple(since)[:2] <= vtuple(rel):
                        self.ent[n]["servers"] |= b
            # consistency of "since" with the oldest dump
            orel = vtuple(oldest.release)
            for n, c in newest.entries.items():
                since = c.get("since")
                if since is None:
                    self.notes.append("%s: %s has no COMMAND DOCS since; counted "
                                      "only in the dumped releases" % (newest.name, n))
                    continue
                if (vtuple(since)[:2] <= orel) != (n in oldest.entries):
                    self.notes.append("%s: %s since %s, but %s %s it"
                                      % (newest.name, n, since, oldest.name,
                                         "has" if n in oldest.entries else "lacks"))
            for n in oldest.entries:
                if n not in newest.entries:
                    self.notes.append("%s has %s, %s does not: unknown for 7.2/7.4"
                                      % (oldest.name, n, newest.name))

    def variants(self, e):
        """Key specs per release bit (newest dump of each release); identical ones share
        one variant.  The primary variant (the preferred dump's) comes first."""
        n = e["name"]
        by_bit = {}
        for d in e["have"]:
            if d.bit not in by_bit or vtuple(d.version) > vtuple(by_bit[d.bit].version):
                by_bit[d.bit] = d
        groups = {}
        for b, d in by_bit.items():
            key = json.dumps(norm_specs(d.entries[n]["specs"]), sort_keys=True)
            g = groups.setdefault(key, {"mask": 0, "dump": d})
            g["mask"] |= b
        prim_key = json.dumps(norm_specs(e["primary"].entries[n]["specs"]),
                              sort_keys=True)
        order = [prim_key] + sorted(k for k in groups if k != prim_key)
        e["variants"] = []
        for k in order:
            g = groups[k]
            specs = [parse_spec(s, n) for s in g["dump"].entries[n]["specs"]]
            assign_handlers(specs, n)
            e["variants"].append({"mask": g["mask"], "specs": specs,
                                  "dump": g["dump"]})
        if len(e["variants"]) > 1:
            p0 = json.dumps(positional(e["primary"].entries[n]["specs"]),
                            sort_keys=True)
            for v in e["variants"][1:]:
                if json.dumps(positional(v["dump"].entries[n]["specs"]),
                              sort_keys=True) != p0:
                    raise GenError("%s: key specs of %s and %s differ in more than "
                                   "their flags; resp_commands.c evaluates one "
                                   "set of positions" % (n, e["primary"].name,
                                                         v["dump"].name))

    def compare(self, e):
        n = e["name"]
        groups = {}
        for d in e["have"]:
            key = json.dumps(norm_specs(d.entries[n]["specs"]), sort_keys=True)
            groups.setdefault(key, []).append(d.name)
        if len(groups) > 1:
            self.spec_diffs.append((n, groups))
        for field in ("arity", "flags", "acl", "tips", "first", "last", "step"):
            vals = {}
            for d in e["have"]:
                v = d.entries[n][field]
                if field == "tips":
                    v = [t for t in v if t in TIP_FLAGS]
                if isinstance(v, list):
                    v = sorted(v)
                vals.setdefault(json.dumps(v), []).append(d.name)
            if len(vals) > 1:
                self.prop_diffs.append((n, field, vals))

    def resolve(self, argv):
        if not argv:
            return None
        top = argv[0].lower()
        if top not in self.ent or "|" in top:
            return None
        if len(argv) >= 2 and self.subs.get(top):
            s = top + "|" + argv[1].lower()
            if s in self.ent:
                return s
        return top

    def release_counts(self):
        """{bit: (commands, subcommands)} over every bit any command has."""
        out = {}
        for n, e in self.ent.items():
            m = e["servers"]
            while m:
                b = m & -m
                m ^= b
                c = out.setdefault(b, [0, 0])
                c[1 if "|" in n else 0] += 1
        return out

    def sources_text(self):
        parts = []
        for sentinel in (False, True):
            prods = []
            for product in ("redis", "valkey"):
                vs = [d.version for d in self.dumps
                      if d.product == product and d.sentinel == sentinel]
                if vs:
                    prods.append("%s %s" % (PRODUCT_NAME[product], ", ".join(vs)))
            if prods:
                parts.append(("Sentinel of " if sentinel else "") + "; ".join(prods))
        t = "; ".join(parts)
        if False in self.derived_from:
            t += "; Redis 7.2 and 7.4 from the COMMAND DOCS since of Redis %s" \
                 % self.derived_from[False].version
        return t

# ---------------------------------------------------------------------------
# C output helpers
# ---------------------------------------------------------------------------

def c_string(b):
    if isinstance(b, str):
        b = b.encode()
    out = ['"']
    for ch in b:
        c = chr(ch)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif 0x20 <= ch < 0x7f and c != "?":
            out.append(c)
        else:
            out.append("\\%03o" % ch)
    out.append('"')
    return "".join(out)


def c_text(t):
    """A C string for a servers text: the en dash as RESP_DASH (resp_commands.c)."""
    return " RESP_DASH ".join(c_string(p) for p in t.split(EN_DASH))


def c_flags(names, mapping, extra=(), empty="0u"):
    syms = [mapping[n] for n in names if n in mapping] + list(extra)
    seen = []
    for s in syms:
        if s not in seen:
            seen.append(s)
    return "|".join(seen) if seen else empty


def cmd_flag_expr(c):
    return c_flags(c["flags"], COMMAND_FLAGS,
                   extra=[TIP_FLAGS[t] for t in c["tips"] if t in TIP_FLAGS])


def banner(what, m):
    lines = ["/*", " * %s" % what, " *", " * GENERATED FILE - DO NOT EDIT.",
             " * Generated by %s (merge) from the dumps in tools/command-data/:"
             % SCRIPT_NAME]
    for d in m.dumps:
        lines.append(" *     %-26s %s" % (os.path.basename(d.path),
                                         d.package or "(no package recorded)"))
    lines += [" * To regenerate (no server needed):",
              " *     /usr/bin/python3 %s" % SCRIPT_NAME,
              " * To dump the servers again: sudo tools/dump-command-data.sh",
              " *", " * SPDX-License-Identifier: GPL-2.0-or-later", " */", ""]
    return "\n".join(lines)


def wrap_comment(text, indent=" * ", width=92):
    words, lines, cur = text.split(" "), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(indent + cur)
            cur = w
        else:
            cur = cur + " " + w if cur else w
    if cur:
        lines.append(indent + cur)
    return lines


def short(name):
    return name.replace("redis-", "r").replace("valkey-", "v").replace(
        "-sentinel", "-s")


def render_table(m):
    specs_out, subs_out, cmds_out = [], [], []
    handlers_used = []
    stat = {"max_specs": 0, "max_name": 0, "max_sub": 0, "variant_cmds": []}

    def emit_specs(e):
        first = len(specs_out)
        for vi, v in enumerate(e["variants"]):
            for i, s in enumerate(v["specs"]):
                if s["handler"] != "GENERIC" and vi == 0:
                    handlers_used.append((e["name"].upper(), i, s["handler"]))
                fields = [
                    ".flags = %s" % c_flags(s["flags"], KEY_FLAGS),
                    ".bs_type = RESP_KS_BS_%s" % s["bs_type"].upper(),
                    ".fk_type = RESP_KS_FK_%s" % s["fk_type"].upper(),
                    ".handler = RESP_KS_HANDLER_%s" % s["handler"],
                ]
                if s["bs_type"] == "index":
                    fields.append(".bs_index = %d" % s["bs_index"])
                elif s["bs_type"] == "keyword":
                    fields.append(".bs_startfrom = %d" % s["startfrom"])
                    fields.append(".keyword = %s" % c_string(s["keyword"]))
                    fields.append(".keyword_len = %d" % len(s["keyword"]))
                if s["fk_type"] == "range":
                    fields.append(".fk_lastkey = %d" % s["lastkey"])
                    fields.append(".fk_limit = %d" % s["limit"])
                elif s["fk_type"] == "keynum":
                    fields.append(".fk_keynumidx = %d" % s["keynumidx"])
                    fields.append(".fk_firstkey = %d" % s["firstkey"])
                fields.append(".fk_keystep = %d" % s["keystep"])
                fields.append(".servers = 0x%04xu" % v["mask"])
                specs_out.append("    /* %3d %s[%d]%s */ { %s },"
                                 % (len(specs_out), e["name"].upper(), i,
                                    " variant %d" % vi if vi else "",
                                    ", ".join(fields)))
            stat["max_specs"] = max(stat["max_specs"], len(v["specs"]))
        if len(e["variants"]) > 1:
            stat["variant_cmds"].append(e)
        total = len(specs_out) - first
        return first, len(e["variants"][0]["specs"]), total

    def entry(e, sub_first, sub_count, parent_idx):
        c = e["primary"].entries[e["name"]]
        own = e["name"].split("|", 1)[-1].upper()
        spec_first, spec_count, spec_total = emit_specs(e)
        return (
            "    { .name = %s, .full_name = %s, .name_len = %d,\n"
            "      .arity = %d, .first_key = %d, .last_key = %d, .key_step = %d,\n"
            "      .flags = %s,\n"
            "      .acl = %s,\n"
            "      .spec_first = %d, .spec_count = %d, .spec_total = %d, "
            ".sub_first = %d, .sub_count = %d, .parent = %s,\n"
            "      .servers = 0x%04xu, .servers_text = %s },"
            % (c_string(own), c_string(e["name"].upper()), len(own),
               c["arity"], c["first"], c["last"], c["step"],
               cmd_flag_expr(c), c_flags(c["acl"], ACL_CATEGORIES),
               spec_first if spec_total else 0, spec_count, spec_total,
               sub_first, sub_count,
               "RESP_NO_PARENT" if parent_idx is None else
               "%d /* %s */" % (parent_idx, m.tops[parent_idx].upper()),
               e["servers"], c_text(servers_text(e["servers"]))))

    for idx, t in enumerate(m.tops):
        stat["max_name"] = max(stat["max_name"], len(t))
        sub_first = len(subs_out)
        for s in m.subs[t]:
            stat["max_sub"] = max(stat["max_sub"], len(s.split("|", 1)[1]))
            subs_out.append(entry(m.ent[s], 0, 0, idx))
        cmds_out.append(entry(m.ent[t], sub_first if m.subs[t] else 0,
                              len(m.subs[t]), None))

    nsubs = len(subs_out)
    with_keys = sum(1 for e in m.ent.values()
                    if any("not_key" not in s["flags"]
                           for s in e["variants"][0]["specs"]))
    L = [banner("resp_command_table.h - command table of Redis, Valkey and their "
                "Sentinels (names, arity, flags, ACL categories, key "
                "specifications, servers)", m)]
    L.append("/*")
    L.append(" * Data only.  This file is included exactly once, by")
    L.append(" * core/resp_commands.c, after the structure types and the")
    L.append(" * RESP_* constants it uses have been defined there.")
    L.append(" *")
    L.append(" * %d top-level commands, %d subcommands, %d key specifications;"
             % (len(m.tops), nsubs, len(specs_out)))
    L.append(" * %d commands/subcommands have at least one key." % with_keys)
    L.append(" * resp_commands[] is sorted by name (byte order of the upper-case")
    L.append(" * name); each command's subcommands are a contiguous, likewise")
    L.append(" * sorted, run of resp_subcommands[].")
    L.append(" *")
    L.append(" * Servers: .servers has a RESP_SERVER_* bit for every release that has the")
    L.append(" * command (or subcommand); .servers_text says the same in words.  A bit")
    L.append(" * comes from a dump of that release, except Redis 7.2 and 7.4 (server and")
    L.append(" * Sentinel), which Debian does not package: there a command counts as")
    L.append(" * present when the newest Redis dump of the same mode (%s) has"
             % " and ".join(d.name for d in m.derived_from.values()))
    L.append(" * it with a COMMAND DOCS since of 7.2.x (7.4.x) or older; a command with")
    L.append(" * no since (a module's) only counts where it was dumped.  Ranges in the")
    L.append(" * text span the releases above: \"Valkey 8.0" + EN_DASH + "9.1\" means 8.0, 8.1 and")
    L.append(" * 9.1 were dumped and have it (no 9.0 server was).")
    L.append(" *")
    L.append(" * Properties (arity, flags, ACL, legacy key range) are those of the")
    L.append(" * preferred server that has the command: a server before a Sentinel,")
    L.append(" * Redis before Valkey, the newest first.  %d properties of %d commands"
             % (len(m.prop_diffs), len(set(p[0] for p in m.prop_diffs))))
    L.append(" * differ between servers (command tips other than the two kept as flags")
    L.append(" * are not compared):")
    for n, field, vals in m.prop_diffs:
        L.extend(wrap_comment("%s %s: %s" % (n.upper(), field, "; ".join(
            "%s %s" % (",".join(short(x) for x in names), v)
            for v, names in vals.items())), indent=" *     "))
    L.append(" *")
    L.append(" * Key specifications: the first .spec_count of a command's run are the")
    L.append(" * preferred server's; where a release's own (newest dump) differs, its")
    L.append(" * variant follows, each spec with the RESP_SERVER_* bits it holds for.")
    L.append(" * Variants only ever differ in key flags (the generator refuses others),")
    L.append(" * so key positions are the same on every server; the GETKEYS vectors of")
    L.append(" * each server check that.  Key specifications that differ between dumps:")
    for n, groups in m.spec_diffs:
        L.extend(wrap_comment("%s: %s" % (n.upper(), "; ".join(
            "%s %s" % (",".join(short(x) for x in names), describe_specs(k))
            for k, names in groups.items())), indent=" *     "))
    L.append(" *")
    L.append(" * Key specifications that the servers cannot evaluate generically")
    L.append(" * (begin_search/find_keys \"unknown\" or flag \"incomplete\"); for")
    L.append(" * these COMMAND GETKEYS runs a command-specific routine, mirrored by")
    L.append(" * the named handler in core/resp_commands.c:")
    for full, i, h in handlers_used:
        L.append(" *     %s key spec %d -> RESP_KS_HANDLER_%s" % (full, i, h))
    L.append(" */\n")
    L.append("#ifndef RESP_COMMAND_TABLE_H\n#define RESP_COMMAND_TABLE_H\n")
    L.append("#define RESP_TABLE_SOURCES %s" % c_string(m.sources_text()))
    L.append("#define RESP_TABLE_NUM_COMMANDS %d" % len(m.tops))
    L.append("#define RESP_TABLE_NUM_SUBCOMMANDS %d" % nsubs)
    L.append("#define RESP_TABLE_NUM_KEY_SPECS %d" % len(specs_out))
    L.append("#define RESP_TABLE_MAX_KEY_SPECS %d  /* per command and variant */"
             % stat["max_specs"])
    L.append("#define RESP_TABLE_MAX_NAME_LEN %d  /* top-level names */"
             % stat["max_name"])
    L.append("#define RESP_TABLE_MAX_SUBNAME_LEN %d  /* subcommand names */"
             % stat["max_sub"])
    L.append("")
    L.append("/* The bits this table was generated with (core/resp_commands.h). */")
    for sentinel in (False, True):
        for product, rel in RELEASES:
            b = release_bit(product, rel, sentinel)
            L.append("_Static_assert(%s == 0x%04xu, \"%s\");"
                     % (bit_symbol(b), b, bit_symbol(b)))
    L.append("")
    L.append("static const resp_key_spec_t resp_key_specs"
             "[RESP_TABLE_NUM_KEY_SPECS] = {")
    L.extend(specs_out)
    L.append("};\n")
    L.append("static const resp_command_info_t resp_subcommands"
             "[RESP_TABLE_NUM_SUBCOMMANDS] = {")
    L.extend(subs_out)
    L.append("};\n")
    L.append("static const resp_command_info_t resp_commands"
             "[RESP_TABLE_NUM_COMMANDS] = {")
    L.extend(cmds_out)
    L.append("};\n")
    L.append("#endif /* RESP_COMMAND_TABLE_H */\n")
    return "\n".join(L), {"subs": nsubs, "specs": len(specs_out),
                          "variants": stat["variant_cmds"]}


def describe_specs(key):
    out = []
    for s in json.loads(key):
        bs, fk = s["bs"], s["fk"]
        b = ("index %d" % bs["index"] if bs["type"] == "index" else
             "keyword %s" % bs.get("keyword") if bs["type"] == "keyword" else
             bs["type"])
        out.append("[%s @%s]" % (" ".join(s["flags"]), b))
    return " ".join(out)

# ---------------------------------------------------------------------------
# GETKEYS vectors of every dump
# ---------------------------------------------------------------------------

GETKEYS_NOKEY_ERRORS = ("The command has no key arguments",
                        "Invalid command specified")
STATUSES = ("GKV_MATCH", "GKV_DIVERGENT", "GKV_REDIS_ERROR", "GKV_ABSENT")


def key_flag_mask(flags):
    for f in flags:
        if f not in KEY_FLAGS:
            raise GenError("unknown key flag %r from GETKEYSANDFLAGS" % f)
    v = 0
    for f in flags:
        v |= KEY_FLAG_VALUES[f]
    return v


def expectations():
    """argv tuple -> (expect, note) for every hand-written line."""
    out = {}
    for argv, expect, note in hand_vectors() + sentinel_vectors():
        out.setdefault(tuple(argv), (expect, note))
    for line, (expect, note) in AUTO_EXPECT.items():
        out.setdefault(tuple(line.split(" ")), (expect, note))
    return out


def classify(m, d, vec, exp_table, used):
    argv = vec["argv"]
    label = "%s: %s" % (d.name, " ".join(a if a else '""' for a in argv))
    expect, note = exp_table.get(tuple(argv), (None, None))
    hint = None
    if isinstance(expect, tuple):
        hint, expect = expect[1], None
    override = SOURCE_EXPECT.get((d.name, " ".join(argv)))
    if override is not None:
        expect, hint, note = override
        used.setdefault("source", set()).add((d.name, " ".join(argv)))
    ent = m.resolve(argv)
    if ent is not None and ent not in d.entries:
        if "keys" in vec:
            raise GenError("%s: the server has no %s but answered GETKEYS" % (label, ent))
        return {"status": "GKV_ABSENT", "redis": [], "expect": [],
                "note": "%s has no %s: %s" % (d.name, ent.upper(), vec["error"])}
    if "error" in vec:
        msg = vec["error"]
        if expect is None and msg not in GETKEYS_NOKEY_ERRORS:
            raise GenError("%s: the server says %r; give an expectation"
                           % (label, msg))
        used.setdefault(tuple(argv), set()).add("differs")
        return {"status": "GKV_REDIS_ERROR", "redis": [],
                "expect": sorted(expect or []),
                "note": "Server: %s%s" % (msg, ". " + note if expect is not None
                                          and note else "")}
    names = [k[0] for k in vec["keys"]]
    if hint is not None:
        if [argv[p] for p in hint] != names:
            raise GenError("%s: position hint %r does not match %r"
                           % (label, hint, names))
        pos = list(hint)
    else:
        pos = []
        for n in names:
            cand = [i for i, a in enumerate(argv) if a == n]
            if len(cand) != 1:
                raise GenError("%s: key %r is ambiguous; add a position hint"
                               % (label, n))
            pos.append(cand[0])
    rkeys = [(p, key_flag_mask(k[1])) for p, k in zip(pos, vec["keys"])]
    if expect is None or sorted(set(pos)) == sorted(expect):
        if expect is not None:
            used.setdefault(tuple(argv), set()).add("same")
        return {"status": "GKV_MATCH", "redis": rkeys,
                "expect": sorted(set(pos)), "note": None}
    used.setdefault(tuple(argv), set()).add("differs")
    return {"status": "GKV_DIVERGENT", "redis": rkeys, "expect": sorted(expect),
            "note": "The server reports %r. %s" % (pos, note)}


def build_vectors(m):
    exp_table = expectations()
    used = {}
    problems = []
    merged = {}      # key -> vector with "sources" mask
    order = []
    per_source = []
    for si, d in enumerate(m.dumps):
        counts = dict((s, 0) for s in STATUSES)
        for vec in d.vectors:
            try:
                r = classify(m, d, vec, exp_table, used)
            except GenError as e:
                problems.append(str(e))
                continue
            counts[r["status"]] += 1
            key = json.dumps([vec["argv"], r["status"], r["redis"], r["expect"],
                              r["note"]])
            if key not in merged:
                r["argv"] = vec["argv"]
                r["sources"] = 0
                r["resolved"] = m.resolve(vec["argv"])
                merged[key] = r
                order.append(key)
            merged[key]["sources"] |= 1 << si
        per_source.append(counts)
    for k in SOURCE_EXPECT:
        if k not in used.get("source", ()):
            problems.append("SOURCE_EXPECT %s: that server was not asked this line"
                            % (k,))
    for argv, how in used.items():
        if argv == "source":
            continue
        if how == {"same"}:
            problems.append("%s: the expectation equals every server's answer; "
                            "drop it" % " ".join(argv))
    if problems:
        raise GenError("\n  ".join(["GETKEYS vector problems:"] + problems))
    vectors = [merged[k] for k in order]
    # every command or subcommand with keys has a vector that finds some
    missing = []
    for n, e in m.ent.items():
        if not any("not_key" not in s["flags"] for s in e["variants"][0]["specs"]):
            continue
        if not any(v["resolved"] == n and v["status"] == "GKV_MATCH" and v["expect"]
                   for v in vectors):
            missing.append(n)
    if missing:
        raise GenError("commands with keys but no GETKEYS vector that finds one "
                       "(add lines to hand_vectors()): %s" % ", ".join(missing))
    return vectors, per_source


def render_vectors(m, vectors, per_source):
    L = [banner("resp_commands_getkeys_vectors.h - key extraction test vectors "
                "recorded from COMMAND GETKEYS / GETKEYSANDFLAGS of every server", m)]
    counts = {}
    for v in vectors:
        counts[v["status"]] = counts.get(v["status"], 0) + 1
    L.append("/*")
    L.append(" * Every vector is a command line that was sent to the servers named by")
    L.append(" * .sources (bits over gkv_sources[]) as COMMAND GETKEYSANDFLAGS <argv...>")
    L.append(" * (and COMMAND GETKEYS); servers that answered alike share one vector.")
    L.append(" *   GKV_MATCH        the server answered; expect[] is its key positions")
    L.append(" *                    in ascending order.")
    L.append(" *   GKV_DIVERGENT    the server answered, but resp_command_keys()")
    L.append(" *                    deliberately reports expect[] instead (see note).")
    L.append(" *   GKV_REDIS_ERROR  the server refused the line; expect[] is what")
    L.append(" *                    resp_command_keys() reports (see note).")
    L.append(" *   GKV_ABSENT       the server does not have the command the line")
    L.append(" *                    resolves to: its RESP_SERVER_* bit must be clear.")
    L.append(" * redis_keys[] is the server's own answer in its order, with the key")
    L.append(" * flags (RESP_KEY_FLAG_* bits) it reported.")
    L.append(" *")
    L.append(" * %d vectors: %s." % (len(vectors), ", ".join(
        "%d %s" % (counts.get(s, 0), s) for s in STATUSES)))
    L.append(" * Lines per server (before sharing):")
    for d, c in zip(m.dumps, per_source):
        L.append(" *     %-24s %4d: %s" % (d.name, sum(c.values()), ", ".join(
            "%d %s" % (c[s], s[4:].lower()) for s in STATUSES)))
    L.append(" */\n")
    L.append("#ifndef RESP_COMMANDS_GETKEYS_VECTORS_H\n"
             "#define RESP_COMMANDS_GETKEYS_VECTORS_H\n\n"
             "#include <stddef.h>\n#include <stdint.h>\n"
             '#include "resp_commands.h"\n')
    L.append("#define GKV_SOURCES %s" % c_string(m.sources_text()))
    L.append("#define GKV_NUM_COMMANDS %d" % len(m.tops))
    L.append("#define GKV_NUM_SUBCOMMANDS %d" % sum(len(s) for s in m.subs.values()))
    L.append("#define GKV_NUM_SOURCES %d" % len(m.dumps))
    L.append("#define GKV_NUM_VECTORS %d" % len(vectors))
    L.append("#define GKV_MAX_ARGC %d\n" % max(len(v["argv"]) for v in vectors))
    L.append("enum { %s };\n" % ", ".join(STATUSES))
    L.append("typedef struct { size_t pos; uint32_t flags; } gkv_key_t;\n")
    L.append("/* A dumped server: its release bit and its own command counts. */")
    L.append("typedef struct {\n"
             "    const char *name;\n"
             "    uint32_t server;\n"
             "    size_t num_commands, num_subcommands;\n"
             "} gkv_source_t;\n")
    L.append("static const gkv_source_t gkv_sources[GKV_NUM_SOURCES] = {")
    for d in m.dumps:
        L.append("    { %s, %s, %d, %d }," % (
            c_string(d.name), bit_symbol(d.bit),
            sum(1 for n in d.entries if "|" not in n),
            sum(1 for n in d.entries if "|" in n)))
    L.append("};\n")
    L.append("/* Commands and subcommands per RESP_SERVER_* bit, as the table must have. */")
    L.append("typedef struct { uint32_t server; size_t num_commands, num_subcommands; } "
             "gkv_release_t;")
    rc = m.release_counts()
    L.append("#define GKV_NUM_RELEASES %d" % len(rc))
    L.append("static const gkv_release_t gkv_releases[GKV_NUM_RELEASES] = {")
    for b in sorted(rc):
        L.append("    { %s, %d, %d }," % (bit_symbol(b), rc[b][0], rc[b][1]))
    L.append("};\n")
    L.append("typedef struct {\n"
             "    uint32_t sources;         /* bits over gkv_sources[] */\n"
             "    int status;\n"
             "    size_t argc;\n"
             "    const char *const *argv;\n"
             "    const size_t *argv_len;\n"
             "    size_t n_redis_keys;\n"
             "    const gkv_key_t *redis_keys;\n"
             "    size_t n_expect;\n"
             "    const size_t *expect;\n"
             "    const char *note;\n"
             "} gkv_vector_t;\n")
    L.append("static const gkv_vector_t gkv_vectors[GKV_NUM_VECTORS] = {")
    for v in vectors:
        argv = v["argv"]
        L.append("    { 0x%04xu, %s, %d, (const char *const[]){ %s },\n"
                 "      (const size_t[]){ %s }, %d, %s, %d, %s,\n"
                 "      %s },"
                 % (v["sources"], v["status"], len(argv),
                    ", ".join(c_string(a) for a in argv),
                    ", ".join(str(len(a.encode())) for a in argv),
                    len(v["redis"]),
                    "(const gkv_key_t[]){ %s }" % ", ".join(
                        "{ %d, 0x%x }" % k for k in v["redis"])
                    if v["redis"] else "NULL",
                    len(v["expect"]),
                    "(const size_t[]){ %s }" % ", ".join(str(p) for p in v["expect"])
                    if v["expect"] else "NULL",
                    c_string(v["note"]) if v["note"] else "NULL"))
    L.append("};\n")
    L.append("#endif /* RESP_COMMANDS_GETKEYS_VECTORS_H */\n")
    return "\n".join(L), counts


# ---------------------------------------------------------------------------

def write_or_check(path, content, check):
    old = None
    if os.path.exists(path):
        with open(path, "r", encoding="utf-8") as f:
            old = f.read()
    if check:
        if old != content:
            sys.stderr.write("%s is out of date\n" % path)
            return False
        return True
    if old != content:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, path)
    return True


def report(m, vectors, per_source, tinfo, verbose):
    out = []
    for d, c in zip(m.dumps, per_source):
        out.append("  %-24s %3d commands, %3d subcommands, %3d lines (%s)"
                   % (d.name, sum(1 for n in d.entries if "|" not in n),
                      sum(1 for n in d.entries if "|" in n), sum(c.values()),
                      ", ".join("%s=%d" % (s[4:].lower(), c[s]) for s in STATUSES)))
    out.append("  merged: %d commands, %d subcommands, %d key specs, %d vectors"
               % (len(m.tops), tinfo["subs"], tinfo["specs"], len(vectors)))
    out.append("  key-spec variants: %s" % (", ".join(
        "%s (%d)" % (e["name"].upper(), len(e["variants"]))
        for e in tinfo["variants"]) or "none"))
    out.append("  key specs differing between dumps: %d; other properties: %d"
               % (len(m.spec_diffs), len(m.prop_diffs)))
    if verbose:
        for n, groups in m.spec_diffs:
            out.append("    %s: %s" % (n.upper(), "; ".join(
                "%s %s" % (",".join(short(x) for x in names), describe_specs(k))
                for k, names in groups.items())))
        for n, field, vals in m.prop_diffs:
            out.append("    %s %s: %s" % (n.upper(), field, "; ".join(
                "%s %s" % (",".join(short(x) for x in names), v)
                for v, names in vals.items())))
    for n in m.notes:
        out.append("  note: " + n)
    return "\n".join(out) + "\n"


def do_merge(args):
    paths = sorted(glob.glob(os.path.join(args.data, "*.json")))
    if not paths:
        raise GenError("no dumps in %s; run tools/dump-command-data.sh" % args.data)
    m = Merged([Dump(p) for p in paths])
    table, tinfo = render_table(m)
    vectors, per_source = build_vectors(m)
    vec, _ = render_vectors(m, vectors, per_source)
    ok = write_or_check(args.table, table, args.check)
    ok = write_or_check(args.vectors_file, vec, args.check) and ok
    sys.stdout.write(report(m, vectors, per_source, tinfo, args.verbose))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sp = ap.add_subparsers(dest="mode")
    d = sp.add_parser("dump", help="dump one running-on-demand server")
    d.add_argument("--server", required=True,
                   help="redis-server or valkey-server (path inside --root)")
    d.add_argument("--sentinel", action="store_true",
                   help="start it as a Sentinel")
    d.add_argument("--root", help="chroot the server into this directory")
    d.add_argument("--port", type=int, default=17379)
    d.add_argument("--package", help="what the server is, for the record")
    d.add_argument("--out", default=DEFAULT_DATA)
    mg = sp.add_parser("merge", help="write the C tables from the dumps (default)")
    for p in (ap, mg):
        p.add_argument("--data", default=DEFAULT_DATA)
        p.add_argument("--table", default=DEFAULT_TABLE)
        p.add_argument("--vectors-file", default=DEFAULT_VECTORS)
        p.add_argument("--check", action="store_true",
                       help="compare instead of writing; exit 1 on difference")
        p.add_argument("-v", "--verbose", action="store_true",
                       help="list every difference between the dumps")
    args = ap.parse_args()
    if args.mode == "dump":
        return do_dump(args)
    return do_merge(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GenError as e:
        sys.stderr.write("gen-command-table: error: %s\n" % e)
        sys.exit(2)
