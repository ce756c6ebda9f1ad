#!/usr/bin/python3
# -*- coding: utf-8 -*-
"""Generate core/resp_command_table.h from a real redis-server.

The script starts a private, throw-away redis-server on a loopback port,
reads the server's own command metadata with COMMAND (cross-checked with
COMMAND COUNT and COMMAND INFO), stops the server again by PID and writes
a C data file that core/resp_commands.c compiles in.

With --vectors it additionally asks the same server COMMAND GETKEYS and
COMMAND GETKEYSANDFLAGS for a broad list of example command lines and writes
tests/unit/resp_commands_getkeys_vectors.h, the key-extraction test vectors
used by tests/unit/test_resp_commands.c.

Usage (from anywhere; paths default to the repository this script lives in):

    /usr/bin/python3 tools/gen-command-table.py [--vectors] [--check]
        [--redis-server PATH] [--port N] [--table FILE] [--vectors-file FILE]

--check does not write anything; it exits with status 1 if a generated
file differs from what is on disk.

Only the Python standard library is used; the RESP client is a minimal
built-in one so that the raw server replies are seen exactly as sent.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_TABLE = os.path.join(REPO_ROOT, "core", "resp_command_table.h")
DEFAULT_VECTORS = os.path.join(REPO_ROOT, "tests", "unit",
                               "resp_commands_getkeys_vectors.h")
SCRIPT_NAME = "tools/gen-command-table.py"

# ---------------------------------------------------------------------------
# Symbol maps.  Every flag / category / key-spec flag the server reports must
# be listed here; an unknown one is a hard error so that running this script
# against a newer Redis never silently drops information.  The C values live
# in core/resp_commands.h.
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
    def __init__(self, binary, port):
        self.binary = binary
        self.port = port
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
        self.tmpdir = tempfile.mkdtemp(prefix="gen-command-table-")
        self.log = open(os.path.join(self.tmpdir, "redis.log"), "w+b")
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", self.tmpdir, "--databases", "1"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15.0
        while True:
            if self.proc.poll() is not None:
                raise GenError("redis-server exited early (status %s):\n%s"
                               % (self.proc.returncode, self._logtext()))
            try:
                c = Resp("127.0.0.1", self.port, timeout=2)
                pong = c.call("PING")
                if pong == "PONG":
                    return c
                c.close()
            except (OSError, GenError):
                pass
            if time.monotonic() > deadline:
                raise GenError("redis-server did not answer within 15s:\n%s"
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
                    sys.stderr.write("warning: redis-server pid %d did not "
                                     "exit\n" % self.proc.pid)
        if self.log is not None:
            self.log.close()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


# ---------------------------------------------------------------------------
# COMMAND reply parsing
# ---------------------------------------------------------------------------

def pairs(lst):
    if len(lst) % 2:
        raise GenError("odd-length map in reply: %r" % (lst,))
    return dict(zip(lst[0::2], lst[1::2]))


def parse_spec(raw, cmdname):
    m = pairs(text(raw))
    spec = {"flags": m["flags"], "notes": m.get("notes", "")}
    bs = pairs(m["begin_search"])
    fk = pairs(m["find_keys"])
    spec["bs_type"] = bs["type"]
    bss = pairs(bs["spec"]) if bs["spec"] else {}
    spec["bs_index"] = 0
    spec["startfrom"] = 0
    spec["keyword"] = None
    if bs["type"] == "index":
        spec["bs_index"] = bss["index"]
        if spec["bs_index"] < 1:
            raise GenError("%s: begin_search index < 1" % cmdname)
    elif bs["type"] == "keyword":
        spec["keyword"] = bss["keyword"].upper()
        spec["startfrom"] = bss["startfrom"]
        if spec["startfrom"] == 0 or not spec["keyword"]:
            raise GenError("%s: odd keyword begin_search" % cmdname)
    elif bs["type"] != "unknown":
        raise GenError("%s: unknown begin_search type %r" % (cmdname,
                                                             bs["type"]))
    spec["fk_type"] = fk["type"]
    fks = pairs(fk["spec"]) if fk["spec"] else {}
    spec["lastkey"] = spec["limit"] = 0
    spec["keynumidx"] = spec["firstkey"] = 0
    spec["keystep"] = 1
    if fk["type"] == "range":
        spec["lastkey"] = fks["lastkey"]
        spec["keystep"] = fks["keystep"]
        spec["limit"] = fks["limit"]
        if spec["limit"] < 0 or (spec["limit"] > 0 and spec["lastkey"] >= 0):
            raise GenError("%s: odd range find_keys" % cmdname)
    elif fk["type"] == "keynum":
        spec["keynumidx"] = fks["keynumidx"]
        spec["firstkey"] = fks["firstkey"]
        spec["keystep"] = fks["keystep"]
        if spec["keynumidx"] < 0 or spec["firstkey"] < 0:
            raise GenError("%s: odd keynum find_keys" % cmdname)
    elif fk["type"] != "unknown":
        raise GenError("%s: unknown find_keys type %r" % (cmdname,
                                                          fk["type"]))
    if spec["keystep"] < 1:
        raise GenError("%s: keystep < 1" % cmdname)
    for f in spec["flags"]:
        if f not in KEY_FLAGS:
            raise GenError("%s: unknown key-spec flag %r (extend KEY_FLAGS "
                           "and core/resp_commands.h)" % (cmdname, f))
    return spec


def parse_command(raw, parent=None):
    name, arity, flags, first, last, step, acl, tips, specs, subs = raw[:10]
    name = text(name).lower()
    full = name
    own = name.split("|", 1)[1] if parent is not None else name
    if parent is not None and not name.startswith(parent["name"] + "|"):
        raise GenError("subcommand %r does not belong to %r"
                       % (name, parent["name"]))
    cmd = {
        "name": own.upper(),
        "full": full.upper(),
        "key": full,
        "arity": arity,
        "flags": [text(f).lower() for f in flags],
        "first": first, "last": last, "step": step,
        "acl": [text(a).lower() for a in acl],
        "tips": [text(t).lower() for t in tips],
        "specs": [parse_spec(s, full) for s in specs],
        "subs": [],
    }
    for f in cmd["flags"]:
        if f not in COMMAND_FLAGS:
            raise GenError("%s: unknown command flag %r (extend "
                           "COMMAND_FLAGS and core/resp_commands.h)"
                           % (full, f))
    for a in cmd["acl"]:
        if a not in ACL_CATEGORIES:
            raise GenError("%s: unknown ACL category %r" % (full, a))
    for t in cmd["tips"]:
        if t not in TIP_FLAGS and not t.startswith(IGNORED_TIP_PREFIXES):
            raise GenError("%s: unknown command tip %r" % (full, t))
    if parent is None:
        cmd["name_lower"] = name
        cmd["subs"] = sorted((parse_command(s, {"name": name})
                              for s in (subs or [])),
                             key=lambda c: c["name"].encode())
    elif subs:
        raise GenError("%s: nested subcommands are not supported" % full)
    for i, s in enumerate(cmd["specs"]):
        special = SPECIAL_SPECS.get((full, i))
        needs = (s["bs_type"] == "unknown" or s["fk_type"] == "unknown"
                 or "incomplete" in s["flags"])
        if special is not None:
            if not special[1](s):
                raise GenError("%s key spec %d is not the one SPECIAL_SPECS "
                               "expects" % (full, i))
            s["handler"] = special[0]
        elif needs:
            raise GenError("%s key spec %d cannot be evaluated generically "
                           "and has no handler in SPECIAL_SPECS" % (full, i))
        else:
            s["handler"] = "GENERIC"
    return cmd


def fetch_commands(conn):
    raw = conn.call("COMMAND")
    if isinstance(raw, RedisError):
        raise GenError("COMMAND failed: %s" % raw)
    count = conn.call("COMMAND", "COUNT")
    if count != len(raw):
        raise GenError("COMMAND COUNT %r != %d entries" % (count, len(raw)))
    cmds = sorted((parse_command(r) for r in raw),
                  key=lambda c: c["name"].encode())
    names = [c["name"] for c in cmds]
    if len(set(names)) != len(names):
        raise GenError("duplicate command names")
    # Cross-check every entry against COMMAND INFO <name>.
    info = conn.call("COMMAND", "INFO", *[c["name_lower"] for c in cmds])
    for c, r in zip(cmds, info):
        if r is None:
            raise GenError("COMMAND INFO has no entry for %s" % c["name"])
        again = parse_command(r)
        for k in ("name", "arity", "flags", "first", "last", "step", "acl",
                  "tips"):
            if again[k] != c[k]:
                raise GenError("COMMAND and COMMAND INFO disagree on %s.%s"
                               % (c["name"], k))
        if len(again["specs"]) != len(c["specs"]) or \
                len(again["subs"]) != len(c["subs"]):
            raise GenError("COMMAND and COMMAND INFO disagree on %s"
                           % c["name"])
    return cmds


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


def header_banner(version, what):
    return (
        "/*\n"
        " * %s\n"
        " *\n"
        " * GENERATED FILE - DO NOT EDIT.\n"
        " * Generated by %s from the COMMAND metadata of\n"
        " * redis-server %s.  To regenerate:\n"
        " *     /usr/bin/python3 %s%s\n"
        " *\n"
        " * SPDX-License-Identifier: GPL-2.0-or-later\n"
        " */\n" % (what, SCRIPT_NAME, version, SCRIPT_NAME,
                   " --vectors" if "vectors" in what.lower() else "")
    )


def render_table(cmds, version):
    specs_out = []
    subs_out = []
    cmds_out = []
    max_specs = 0
    max_name = 0
    max_sub_name = 0
    handlers_used = []

    def emit_specs(c):
        nonlocal max_specs
        first = len(specs_out)
        for i, s in enumerate(c["specs"]):
            if s["handler"] != "GENERIC":
                handlers_used.append((c["full"], i, s["handler"]))
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
            specs_out.append("    /* %3d %s[%d] */ { %s },"
                             % (len(specs_out), c["full"], i,
                                ", ".join(fields)))
        max_specs = max(max_specs, len(c["specs"]))
        return first, len(c["specs"])

    def entry(c, sub_first, sub_count, parent_idx):
        spec_first, spec_count = emit_specs(c)
        return (
            "    { .name = %s, .full_name = %s, .name_len = %d,\n"
            "      .arity = %d, .first_key = %d, .last_key = %d, "
            ".key_step = %d,\n"
            "      .flags = %s,\n"
            "      .acl = %s,\n"
            "      .spec_first = %d, .spec_count = %d, .sub_first = %d, "
            ".sub_count = %d, .parent = %s },"
            % (c_string(c["name"]), c_string(c["full"]), len(c["name"]),
               c["arity"], c["first"], c["last"], c["step"],
               cmd_flag_expr(c), c_flags(c["acl"], ACL_CATEGORIES),
               spec_first if spec_count else 0, spec_count,
               sub_first, sub_count,
               "RESP_NO_PARENT" if parent_idx is None else
               "%d /* %s */" % (parent_idx, cmds[parent_idx]["name"])))

    for idx, c in enumerate(cmds):
        max_name = max(max_name, len(c["name"]))
        sub_first = len(subs_out)
        for s in c["subs"]:
            max_sub_name = max(max_sub_name, len(s["name"]))
            subs_out.append(entry(s, 0, 0, idx))
        cmds_out.append(entry(c, sub_first if c["subs"] else 0,
                              len(c["subs"]), None))

    nsubs = len(subs_out)
    with_keys = sum(1 for c in cmds for x in [c] + c["subs"]
                    if any("not_key" not in s["flags"] for s in x["specs"]))
    lines = [header_banner(version, "resp_command_table.h - Redis command "
                           "table (names, arity, flags, ACL categories, key "
                           "specifications)")]
    lines.append(
        "/*\n"
        " * Data only.  This file is included exactly once, by\n"
        " * core/resp_commands.c, after the structure types and the\n"
        " * RESP_* constants it uses have been defined there.\n"
        " *\n"
        " * %d top-level commands, %d subcommands, %d key specifications;\n"
        " * %d commands/subcommands have at least one key.\n"
        " * resp_commands[] is sorted by name (byte order of the upper-case\n"
        " * name); each command's subcommands are a contiguous, likewise\n"
        " * sorted, run of resp_subcommands[].\n"
        " *\n"
        " * Key specifications that Redis itself cannot evaluate generically\n"
        " * (begin_search/find_keys \"unknown\" or flag \"incomplete\"); for\n"
        " * these COMMAND GETKEYS runs a command-specific routine, mirrored by\n"
        " * the named handler in core/resp_commands.c:"
        % (len(cmds), nsubs, len(specs_out), with_keys))
    for full, i, h in handlers_used:
        lines.append(" *     %s key spec %d -> RESP_KS_HANDLER_%s"
                     % (full, i, h))
    lines.append(" */\n")
    lines.append("#ifndef RESP_COMMAND_TABLE_H\n#define RESP_COMMAND_TABLE_H\n")
    lines.append('#define RESP_TABLE_REDIS_VERSION "%s"' % version)
    lines.append("#define RESP_TABLE_NUM_COMMANDS %d" % len(cmds))
    lines.append("#define RESP_TABLE_NUM_SUBCOMMANDS %d" % nsubs)
    lines.append("#define RESP_TABLE_NUM_KEY_SPECS %d" % len(specs_out))
    lines.append("#define RESP_TABLE_MAX_KEY_SPECS %d  /* per command */"
                 % max_specs)
    lines.append("#define RESP_TABLE_MAX_NAME_LEN %d  /* top-level names */"
                 % max_name)
    lines.append("#define RESP_TABLE_MAX_SUBNAME_LEN %d  /* subcommand names */"
                 % max_sub_name)
    lines.append("")
    lines.append("static const resp_key_spec_t resp_key_specs"
                 "[RESP_TABLE_NUM_KEY_SPECS] = {")
    lines.extend(specs_out)
    lines.append("};\n")
    lines.append("static const resp_command_info_t resp_subcommands"
                 "[RESP_TABLE_NUM_SUBCOMMANDS] = {")
    lines.extend(subs_out)
    lines.append("};\n")
    lines.append("static const resp_command_info_t resp_commands"
                 "[RESP_TABLE_NUM_COMMANDS] = {")
    lines.extend(cmds_out)
    lines.append("};\n")
    lines.append("#endif /* RESP_COMMAND_TABLE_H */\n")
    return "\n".join(lines), nsubs


# ---------------------------------------------------------------------------
# GETKEYS test vectors
# ---------------------------------------------------------------------------

# Hand-written example command lines.  Each entry is
#     (argv, expect, note)
# argv:   list of str arguments (argv[0] is the command name).
# expect: None, or the ascending list of key positions core/resp_commands.c
#         must report.  Required (with a note) whenever Redis answers with an
#         error other than "no key arguments"/"Invalid command", or when our
#         answer intentionally differs from what Redis reports.
# note:   why expect is given.
# Positions reported by the server are mapped back from key names; when a
# key name occurs more than once in argv a positions hint can be given as
# ("@", [positions]) in the expect slot: the generator then verifies that
# the names at those positions are exactly what Redis returned.
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
    return V


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


def auto_vectors(cmds):
    """One command line per command/subcommand derived from its arity (plus a
    longer one for variadic key ranges).  Commands whose key specs need a
    numkeys argument are covered by hand_vectors() instead."""
    V = []
    for c in cmds:
        for x in ([c] if not c["subs"] else c["subs"]):
            if any(s["fk_type"] == "keynum" for s in x["specs"]):
                continue
            prefix = x["full"].split("|")
            n = abs(x["arity"])
            lens = [max(n, len(prefix))]
            if x["arity"] < 0 and any(s["fk_type"] == "range"
                                      and s["lastkey"] < 0
                                      for s in x["specs"]):
                step = max(s["keystep"] for s in x["specs"])
                lens.append(max(n, len(prefix)) + 2 * step)
            for total in lens:
                if total < 2:
                    # COMMAND GETKEYS needs at least one argument after the
                    # command name, so a bare "PING" cannot be asked.
                    continue
                argv = prefix + ["a%d" % i for i in range(len(prefix), total)]
                exp, note = AUTO_EXPECT.get(" ".join(argv), (None, None))
                V.append((argv, exp, note))
    return V


GETKEYS_NOKEY_ERRORS = ("The command has no key arguments",
                        "Invalid command specified")


def key_flag_mask(flags):
    for f in flags:
        if f not in KEY_FLAGS:
            raise GenError("unknown key flag %r from GETKEYSANDFLAGS" % f)
    return c_flags(flags, KEY_FLAGS)


def run_vectors(conn, vectors):
    out = []
    problems = []
    for argv, expect, note in vectors:
        try:
            out.append(run_vector(conn, argv, expect, note))
        except GenError as e:
            problems.append(str(e))
    if problems:
        raise GenError("\n  ".join(["GETKEYS vector problems:"] + problems))
    return out


def run_vector(conn, argv, expect, note):
    if True:
        hint = None
        if isinstance(expect, tuple):
            hint = expect[1]
            expect = None
        r = conn.call("COMMAND", "GETKEYS", *argv)
        rf = conn.call("COMMAND", "GETKEYSANDFLAGS", *argv)
        label = " ".join(a if a else '""' for a in argv)
        if isinstance(r, RedisError):
            if not isinstance(rf, RedisError) or str(rf).replace(
                    "command|getkeysandflags", "command|getkeys") != str(r):
                raise GenError("%s: GETKEYS/GETKEYSANDFLAGS disagree" % label)
            msg = str(r)
            if msg.startswith("ERR "):
                msg = msg[4:]
            if expect is None and msg not in GETKEYS_NOKEY_ERRORS:
                raise GenError("%s: Redis says %r; give an expectation"
                               % (label, msg))
            status = "GKV_REDIS_ERROR"
            rkeys = []
            if expect is None:
                expect = []
                note = "Redis: " + msg
            else:
                note = "Redis: %s. %s" % (msg, note)
        else:
            names = [bytes(k) for k in r]
            fl = [(bytes(k[0]), text(k[1])) for k in rf]
            if [n for n, _ in fl] != names:
                raise GenError("%s: GETKEYS/GETKEYSANDFLAGS disagree" % label)
            bargv = [a.encode() for a in argv]
            if hint is not None:
                if [bargv[p] for p in hint] != names:
                    raise GenError("%s: position hint %r does not match %r"
                                   % (label, hint, names))
                pos = list(hint)
            else:
                pos = []
                for n in names:
                    cand = [i for i, a in enumerate(bargv) if a == n]
                    if len(cand) != 1:
                        raise GenError("%s: key %r is ambiguous; add a "
                                       "position hint" % (label, n))
                    pos.append(cand[0])
            rkeys = [(p, key_flag_mask(f)) for p, (_, f) in zip(pos, fl)]
            if expect is None:
                status = "GKV_MATCH"
                expect = sorted(set(pos))
            else:
                if sorted(set(pos)) == sorted(expect):
                    raise GenError("%s: expectation equals Redis' answer; "
                                   "drop it" % label)
                status = "GKV_DIVERGENT"
                note = "Redis reports %r. %s" % (pos, note)
        return {"argv": argv, "status": status, "redis": rkeys,
                "expect": sorted(expect), "note": note}


def render_vectors(results, version, ncmds, nsubs):
    L = [header_banner(version, "resp_commands_getkeys_vectors.h - key "
                       "extraction test vectors recorded from COMMAND "
                       "GETKEYS / GETKEYSANDFLAGS")]
    counts = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    L.append(
        "/*\n"
        " * Every vector is a command line that was sent to the server as\n"
        " * COMMAND GETKEYSANDFLAGS <argv...> (and COMMAND GETKEYS).\n"
        " *   GKV_MATCH        Redis answered; expect[] is its key positions\n"
        " *                    in ascending order.\n"
        " *   GKV_DIVERGENT    Redis answered, but resp_command_keys()\n"
        " *                    deliberately reports expect[] instead (see\n"
        " *                    note).\n"
        " *   GKV_REDIS_ERROR  Redis refused the line; expect[] is what\n"
        " *                    resp_command_keys() reports (see note).\n"
        " * redis_keys[] is Redis' own answer in Redis' order, with the key\n"
        " * flags it reported.\n"
        " *\n"
        " * %d vectors: %d GKV_MATCH, %d GKV_DIVERGENT, %d GKV_REDIS_ERROR.\n"
        " */\n"
        % (len(results), counts.get("GKV_MATCH", 0),
           counts.get("GKV_DIVERGENT", 0), counts.get("GKV_REDIS_ERROR", 0)))
    L.append("#ifndef RESP_COMMANDS_GETKEYS_VECTORS_H\n"
             "#define RESP_COMMANDS_GETKEYS_VECTORS_H\n\n"
             "#include <stddef.h>\n#include <stdint.h>\n"
             '#include "resp_commands.h"\n')
    L.append('#define GKV_REDIS_VERSION "%s"' % version)
    L.append("#define GKV_REDIS_NUM_COMMANDS %d" % ncmds)
    L.append("#define GKV_REDIS_NUM_SUBCOMMANDS %d" % nsubs)
    L.append("#define GKV_NUM_VECTORS %d" % len(results))
    L.append("#define GKV_MAX_ARGC %d\n" % max(len(r["argv"])
                                               for r in results))
    L.append("enum { GKV_MATCH, GKV_DIVERGENT, GKV_REDIS_ERROR };\n")
    L.append("typedef struct { size_t pos; uint32_t flags; } gkv_key_t;\n")
    L.append("typedef struct {\n"
             "    size_t argc;\n"
             "    const char *const *argv;\n"
             "    const size_t *argv_len;\n"
             "    int status;\n"
             "    size_t n_redis_keys;\n"
             "    const gkv_key_t *redis_keys;\n"
             "    size_t n_expect;\n"
             "    const size_t *expect;\n"
             "    const char *note;\n"
             "} gkv_vector_t;\n")
    L.append("static const gkv_vector_t gkv_vectors[GKV_NUM_VECTORS] = {")
    for r in results:
        argv = r["argv"]
        L.append("    { .argc = %d,\n"
                 "      .argv = (const char *const[]){ %s },\n"
                 "      .argv_len = (const size_t[]){ %s },\n"
                 "      .status = %s,\n"
                 "      .n_redis_keys = %d, .redis_keys = %s,\n"
                 "      .n_expect = %d, .expect = %s,\n"
                 "      .note = %s },"
                 % (len(argv), ", ".join(c_string(a) for a in argv),
                    ", ".join(str(len(a.encode())) for a in argv),
                    r["status"], len(r["redis"]),
                    "(const gkv_key_t[]){ %s }" % ", ".join(
                        "{ %d, %s }" % k for k in r["redis"])
                    if r["redis"] else "NULL",
                    len(r["expect"]),
                    "(const size_t[]){ %s }" % ", ".join(
                        str(p) for p in r["expect"])
                    if r["expect"] else "NULL",
                    c_string(r["note"]) if r["note"] else "NULL"))
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis-server", default=shutil.which("redis-server")
                    or "/usr/bin/redis-server")
    ap.add_argument("--port", type=int, default=17379)
    ap.add_argument("--table", default=DEFAULT_TABLE)
    ap.add_argument("--vectors", action="store_true",
                    help="also write the GETKEYS test vectors")
    ap.add_argument("--vectors-file", default=DEFAULT_VECTORS)
    ap.add_argument("--check", action="store_true",
                    help="compare instead of writing; exit 1 on difference")
    args = ap.parse_args()

    server = Server(args.redis_server, args.port)
    try:
        conn = server.start()
        info = text(conn.call("INFO", "server"))
        version = "unknown"
        for line in info.splitlines():
            if line.startswith("redis_version:"):
                version = line.split(":", 1)[1].strip()
        cmds = fetch_commands(conn)
        table, nsubs = render_table(cmds, version)
        vec = None
        if args.vectors:
            results = run_vectors(conn, auto_vectors(cmds) + hand_vectors())
            vec, counts = render_vectors(results, version, len(cmds), nsubs)
        conn.close()
    finally:
        server.stop()

    ok = write_or_check(args.table, table, args.check)
    sys.stdout.write("%s: redis %s, %d commands, %d subcommands\n"
                     % (args.table, version, len(cmds), nsubs))
    if vec is not None:
        ok = write_or_check(args.vectors_file, vec, args.check) and ok
        sys.stdout.write("%s: %d vectors (%s)\n"
                         % (args.vectors_file, len(results), ", ".join(
                             "%s=%d" % kv for kv in sorted(counts.items()))))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except GenError as e:
        sys.stderr.write("gen-command-table: error: %s\n" % e)
        sys.exit(2)
