"""The statistics over the RESP tap: the trees `-z resp,tree` (RESP/Commands), `-z resp_keys,tree`
(RESP/Keys), `-z resp_clients,tree` (RESP/Clients) and the Service Response Time table
`-z resp,srt`, checked number by number against what the servers counted (INFO commandstats and
errorstats deltas, COMMAND GETKEYS, the bytes each request and reply had on the wire) and against
the capture itself (TCP payload lengths, frame times, the dissector's own fields).

tshark prints a tree as fixed-width text: the name column as wide as the longest name (with one
space of indentation per level), then one 14-character column per value (Count, Average, Min Val,
Max Val, Rate, Percent, Burst rate, Burst start); parse_stats() reads it back by those widths, so
names with spaces (keys, "Simple string") come back whole.
"""
import collections
import functools
import glob
import json
import re

import pytest

from conftest import CAPTURES, ROOT, frames, tshark, truth
from pcapgen import TcpConversation

ALL_STATS = ("-z", "resp,tree", "-z", "resp_keys,tree", "-z", "resp_clients,tree", "-z", "resp,srt")

# Root nodes of each tree (they are also how a tree is recognised in the output).
REQUESTS, REPLIES, ERRORS = "Requests", "Replies by type", "Errors by code"
SUBSCRIBER_MSGS, PUBLISHED, PUSHES = "Messages to subscribers by channel", "Published messages by channel", "Pushes by channel"
REPLICATED = "Replicated commands"
BYTES_SRV, BYTES_CLI, RTIME = "Bytes to server by command", "Bytes to client by command", "Response time (us) by command"
ALL_COMMANDS = "(all commands)"
KEY_REQS, PREFIX_REQS, KEY_BYTES, PREFIX_BYTES = ("Requests by key", "Requests by key prefix", "Bytes by key",
                                                  "Bytes by key prefix")
NO_PREFIX = "(no prefix)"
CLI_REQS, CLI_ERRORS, CLI_BYTES_SRV, CLI_BYTES_CLI = ("Requests by client", "Errors by client", "Bytes from client",
                                                      "Bytes to client")
UNKNOWN_ROW = "(unknown)"

# The response-time ranges of the tree, in microseconds (the last one open).
RANGES = [(0, 49), (50, 99), (100, 199), (200, 499), (500, 999), (1000, 1999), (2000, 4999), (5000, 9999),
          (10000, 19999), (20000, 49999), (50000, 99999), (100000, 199999), (200000, 499999), (500000, 999999),
          (1000000, None)]


def range_name(lo, hi):
    return f"{lo}-{hi}" if hi is not None else f"{lo}-"


def bucket(us):
    for lo, hi in RANGES:
        if us >= lo and (hi is None or us <= hi):
            return range_name(lo, hi)
    raise AssertionError(us)


# --------------------------------------------------------------------------- reading the output

class Stats:
    def __init__(self, commands, keys, clients, srt):
        self.commands, self.keys, self.clients, self.srt = commands, keys, clients, srt


def _parse_tree(lines, i):
    """Parses the nodes after a tree's header line lines[i] (and its dashes); returns (roots, next)."""
    head = lines[i]
    cpos = head.index("Count")
    ncols = len(re.split(r"\s{2,}", head[cpos:].strip()))
    i += 2
    roots = {}
    stack = [(-1, {"children": roots})]
    width = None
    while i < len(lines) and lines[i].strip() and not set(lines[i]) <= {"-", "="}:
        ln = lines[i]
        if width is None:
            width = len(ln) - ncols * 14
        assert len(ln) == width + ncols * 14, f"not a fixed-width node line: {ln!r}"
        name = ln[:width]
        depth = len(name) - len(name.lstrip(" "))
        vals = [ln[width + 1 + 14 * k:width + 14 * (k + 1)].strip() for k in range(ncols)]
        node = {"count": int(vals[0]), "avg": vals[1], "min": vals[2], "max": vals[3], "children": {}}
        while stack[-1][0] >= depth:
            stack.pop()
        siblings = stack[-1][1]["children"]
        assert name.strip() not in siblings, f"node {name.strip()!r} twice under one parent"
        siblings[name.strip()] = node
        stack.append((depth, node))
        i += 1
    return roots, i


SRT_ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\d+)\s+(\d+\.\d{6})\s+(\d+\.\d{6})\s+(\d+\.\d{6})\s+(\d+\.\d{6})\s*$")


def parse_stats(out):
    lines = out.splitlines()
    # -V prints the packets first; the statistics start at the first line of '='
    start = next((n for n, ln in enumerate(lines) if len(ln) > 20 and set(ln) == {"="}), len(lines))
    trees, srt = {}, None
    i = start
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("Index") and "Calls" in ln and "SRT" in ln:
            srt = {}
            i += 1
            while i < len(lines) and not lines[i].startswith("="):
                m = SRT_ROW.match(lines[i])
                if m:
                    assert m.group(2) not in srt
                    srt[m.group(2)] = {"index": int(m.group(1)), "calls": int(m.group(3)), "min": m.group(4),
                                       "max": m.group(5), "avg": m.group(6), "sum": m.group(7)}
                i += 1
            continue
        if "Count" in ln and i + 1 < len(lines) and lines[i + 1] and set(lines[i + 1]) == {"-"}:
            roots, i = _parse_tree(lines, i)
            for marker in (REQUESTS, KEY_REQS, CLI_REQS):
                if marker in roots:
                    assert marker not in trees
                    trees[marker] = roots
            continue
        i += 1
    return Stats(trees.get(REQUESTS), trees.get(KEY_REQS), trees.get(CLI_REQS), srt)


@functools.lru_cache(maxsize=None)
def stats(path, extra=(), quiet=True):
    """All four statistics of one tshark run over a capture (path: str)."""
    args = ["-r", path] + (["-q"] if quiet else []) + list(extra) + list(ALL_STATS)
    s = parse_stats(tshark(*args).stdout)
    assert s.commands is not None and s.keys is not None and s.clients is not None and s.srt is not None, \
        "a statistic missing from tshark's output"
    return s


def cap(name):
    return str(CAPTURES / f"{name}.pcap")


def counts(node):
    """{child name: count} of a node (or of a dict of nodes)."""
    children = node["children"] if "children" in node else node
    return {k: v["count"] for k, v in children.items()}


def flat_requests(tree):
    """Requests per command as INFO commandstats names them: "GET", "CONFIG|GET"; a container
    command sent without a subcommand it knows counts under its own name."""
    out = {}
    for cmd, node in tree[REQUESTS]["children"].items():
        subs = counts(node)
        for sub, n in subs.items():
            out[f"{cmd}|{sub}"] = n
        rest = node["count"] - sum(subs.values())
        assert rest >= 0, cmd
        if rest:
            out[cmd] = rest
    return out


def assert_sums(node, what):
    """A parent's count is the sum of its children's (every root node of the trees is such a sum)."""
    assert node["count"] == sum(c["count"] for c in node["children"].values()), what


# --------------------------------------------------------------------------- truths

CMD_CAPTURES = ["resp-basic", "resp-pipeline", "resp-errors", "resp-pubsub", "resp-multi", "resp-resp3",
                "resp-tracking", "resp-inline"]
NEWCMD = sorted(p.split("/")[-1][:-len(".truth.json")] for p in glob.glob(str(CAPTURES / "newcmd-*.truth.json")))
CLUSTER = ["cluster-redirect", "cluster-redirect-redis8", "cluster-redirect-valkey9"]
ANSWERS = "resp-answers"  # made for these statistics: its own tests at the end
HAVE_ANSWERS = (CAPTURES / f"{ANSWERS}.truth.json").exists()
ANSWERS_IF_MADE = [ANSWERS] if HAVE_ANSWERS else []


def expected_requests(name):
    """Requests per commandstats name the server saw on the wire: calls + rejected_calls (a
    request refused before it runs, for its arity, is rejected, not called), and the names the
    truth explains as on the wire but never counted."""
    t = truth(name)
    exp = collections.Counter()
    uncounted = set()
    if name in CLUSTER:
        # wire_vs_commandstats is empty: the requests on the wire to every node are what its
        # INFO commandstats delta counts (the capture script's own commands subtracted)
        assert t["wire_vs_commandstats"] == {}
        for node, per in t["wire_requests_per_node"].items():
            for stat, n in per.items():
                exp[stat.upper()] += n
            cs = t["commandstats_delta"][node]
            assert {k: v[0] + v[1] for k, v in cs.items() if v[0] + v[1]} == per, node
    elif name.startswith("newcmd-"):
        for stat, v in t["commandstats_delta"].items():
            if v["calls"] + v["rejected_calls"]:
                exp[stat.upper()] += v["calls"] + v["rejected_calls"]
        assert sum(exp.values()) == t["requests_total"]
    else:
        for stat, n in t["commandstats_delta"].items():
            exp[stat] += n
        for stat, n in t["commandstats_rejected_delta"].items():
            exp[stat] += n
        # Commands the server never counted as called or rejected although they were sent:
        # unknown commands and subcommands (refused before lookup), and commands queued in a
        # MULTI that never ran (DISCARD, a WATCH that fired, EXECABORT). The truth names them.
        for cmd, why in t["not_in_monitor_reasons"].items():
            if "never executed" in why and not any(k.split("|")[0] == cmd for k in exp):
                uncounted.add(cmd)
    return exp, uncounted


def errors_expected(name):
    """Top-level error replies per code, when the server's errorstats delta counts exactly those."""
    t = truth(name)
    if name in CLUSTER:
        assert all(not e["nested"] for e in t["errors"])
        total = collections.Counter()
        for per in t["errorstats_delta"].values():
            total.update(per)
        assert total == collections.Counter(t["wire_error_codes"])
        return dict(total)
    if name == "resp-multi":
        # errorstats counts the WRONGTYPE that LPUSH got inside EXEC's reply (step 5 of the
        # truth's notes): an element of an array, not a top-level error reply
        assert "runtime WRONGTYPE inside EXEC" in t["notes"]
        exp = collections.Counter(t["errorstats_delta"])
        exp["WRONGTYPE"] -= 1
        return {k: v for k, v in exp.items() if v}
    if name.startswith("newcmd-"):
        assert sum(t["errorstats_delta"].values()) == t["error_replies"] == sum(r["error_reply"] for r in t["requests"])
    return dict(t["errorstats_delta"])


# --------------------------------------------------------------------------- key specifications
# An independent reading of the server's key specifications (tools/command-data, as COMMAND
# reports them), to find the keys of the truth's MONITOR lines (those captures are of Redis 7.0.15).

@functools.lru_cache(maxsize=None)
def key_specs():
    specs = {}
    for f in sorted(glob.glob(str(ROOT / "tools" / "command-data" / "redis-7.0.15.json"))):
        with open(f) as fh:
            for c in json.load(fh)["commands"]:
                specs[c["name"].upper()] = c["specs"]
    return specs


def spec_keys(args):
    """The keys of a command line by its key specifications, in argument order (as GETKEYS)."""
    if not args:
        return []
    name = args[0].upper()
    specs = key_specs()
    if len(args) > 1 and f"{name}|{args[1].upper()}" in specs:
        name = f"{name}|{args[1].upper()}"
    found = set()
    for s in specs.get(name, []):
        bs, fk = s.get("bs", {}), s.get("fk", {})
        if bs.get("type") == "index":
            first = bs["index"]
        elif bs.get("type") == "keyword":
            start, step = bs["startfrom"], 1
            if start < 0:
                start, step = len(args) + start, -1
            first = None
            i = start
            while 0 < i < len(args):
                if args[i].upper() == bs["keyword"]:
                    first = i + 1
                    break
                i += step
            if first is None:
                continue
        else:
            continue
        if fk.get("type") == "range":
            last = fk["lastkey"]
            if last >= 0:
                last = first + last
            else:
                limit = fk.get("limit", 0)
                last = len(args) + last if limit <= 1 else first + (len(args) - first) // limit - 1
            for i in range(first, min(last, len(args) - 1) + 1, fk["keystep"]):
                found.add(i)
        elif fk.get("type") == "keynum":
            n = int(args[first + fk["keynumidx"]])
            start = first + fk["firstkey"]
            for k in range(n):
                i = start + k * fk["keystep"]
                if i < len(args):
                    found.add(i)
    return [args[i] for i in sorted(found)]


def prefix_of(key):
    return key[:key.index(":") + 1] + "*" if ":" in key else NO_PREFIX


def key_request_counts(key_lists):
    """(per key, per prefix) requests: each request counts once per distinct key and prefix."""
    per_key, per_prefix = collections.Counter(), collections.Counter()
    for keys in key_lists:
        per_key.update(set(keys))
        per_prefix.update({prefix_of(k) for k in keys})
    return per_key, per_prefix


# --------------------------------------------------------------------------- the capture itself

def tcp_payload(path, server_ports):
    """(bytes to the servers, bytes from them) of the capture's TCP payloads, per client address."""
    to_srv, to_cli = collections.Counter(), collections.Counter()
    for r in frames(path, ["ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.len"], "tcp.len > 0"):
        n = int(r["tcp.len"][0])
        if int(r["tcp.dstport"][0]) in server_ports:
            to_srv[r["ip.src"][0]] += n
        elif int(r["tcp.srcport"][0]) in server_ports:
            to_cli[r["ip.dst"][0]] += n
    return to_srv, to_cli


@functools.lru_cache(maxsize=None)
def paired_replies(path, with_acks=False):
    """Every paired reply as (command of its request, response time in microseconds), from the
    dissector's fields: resp.response_to / resp.time of the replies, resp.command of the requests.
    A frame holding several requests maps its k-th reply to its k-th request (each of them has
    one reply where that happens: a pipeline).

    A replica's REPLCONF ACK that answers its master's REPLCONF GETACK carries resp.response_to
    too, but it is a request on the wire (the replica's), and the tap marks only replies as
    paired, so neither the SRT table nor the response times count it: left out unless with_acks."""
    rows = frames(path, ["frame.number", "resp.command", "resp.response_to", "resp.time", "resp.response_in"],
                  "resp", ["-2"])
    commands = {int(r["frame.number"][0]): r["resp.command"] for r in rows if r["resp.command"]}
    seen = collections.Counter()
    out = []
    for r in rows:
        assert len(r["resp.response_to"]) == len(r["resp.time"])
        if r["resp.response_to"] and r["resp.command"]:
            # requests and an answer in one frame: the replica's ACK (one per frame)
            assert r["resp.command"] == ["REPLCONF"] and len(r["resp.response_to"]) == 1, r
            if not with_acks:
                continue
        for to, t in zip(r["resp.response_to"], r["resp.time"]):
            to = int(to)
            cmds = commands[to]
            if len(cmds) == 1:
                cmd = cmds[0]
            else:
                cmd = cmds[seen[to]]
            seen[to] += 1
            sec, _, frac = t.partition(".")
            out.append((cmd, int(sec) * 1000000 + int((frac + "000000000")[:9]) // 1000))
    for f, n in seen.items():
        if len(commands[f]) > 1:
            assert n == len(commands[f]), f"frame {f}: replies of a pipeline frame not one per request"
    return out


@functools.lru_cache(maxsize=None)
def known_commands():
    """Top-level command names of every server the command table was made from."""
    names = set()
    for f in glob.glob(str(ROOT / "tools" / "command-data" / "*.json")):
        with open(f) as fh:
            names |= {c["name"].upper() for c in json.load(fh)["commands"] if "|" not in c["name"]}
    return names


def srt_row(cmd):
    return cmd if cmd in known_commands() else UNKNOWN_ROW


# =========================================================================== tests

@pytest.mark.parametrize("name", CMD_CAPTURES + NEWCMD + CLUSTER)
def test_requests_per_command_match_commandstats(name):
    tree = stats(cap(name)).commands
    got = flat_requests(tree)
    exp, uncounted = expected_requests(name)
    assert_sums(tree[REQUESTS], "requests")
    extra = {k: v for k, v in got.items() if k not in exp}
    # what the server never counted: named by the truth, and empty requests (an empty inline
    # line, which the server skips)
    assert {k.split("|")[0] for k in extra} <= uncounted | {"(no command)"}, extra
    assert {k: got.get(k, 0) for k in exp} == dict(exp)
    if name == "resp-inline":
        assert extra == {"(no command)": 1}  # the empty line of connection 2
    for cmd in uncounted:
        assert any(k.split("|")[0] == cmd for k in extra), cmd


@pytest.mark.parametrize("name", ["resp-errors", "resp-multi", "resp-resp3"] + NEWCMD + CLUSTER)
def test_errors_per_code_match_errorstats(name):
    tree = stats(cap(name)).commands
    assert counts(tree[ERRORS]) == errors_expected(name)
    assert_sums(tree[ERRORS], "errors")


REPL = ["repl-psync", "repl-disk", "repl-diskless"]


@pytest.mark.parametrize("name", CMD_CAPTURES + NEWCMD + CLUSTER + REPL + ANSWERS_IF_MADE)
def test_srt_calls_are_the_paired_replies(name):
    s = stats(cap(name))
    replies = paired_replies(cap(name))
    exp = collections.Counter(srt_row(c) for c, _ in replies)
    assert {k: v["calls"] for k, v in s.srt.items()} == dict(exp)
    # the same replies, once each, in the tree's response times
    rt = s.commands[RTIME]
    assert rt["count"] == rt["children"][ALL_COMMANDS]["count"] == len(replies)
    assert {k: v for k, v in counts(rt).items() if k != ALL_COMMANDS} == dict(collections.Counter(c for c, _ in replies))
    if name in REPL:  # the replica's ACKs that answer GETACK are not among them (paired_replies)
        assert len(paired_replies(cap(name), with_acks=True)) > len(replies)


@pytest.mark.parametrize("name", CMD_CAPTURES + NEWCMD + CLUSTER + REPL + ANSWERS_IF_MADE)
def test_response_time_histograms(name):
    """Each command's ranges hold its replies' response times (resp.time, in microseconds),
    add up to its count, and its average / min / max are theirs, as are SRT's."""
    s = stats(cap(name))
    replies = paired_replies(cap(name))
    by_cmd = collections.defaultdict(list)
    for c, us in replies:
        by_cmd[c].append(us)
        by_cmd[ALL_COMMANDS].append(us)
    rt = s.commands[RTIME]["children"]
    assert set(rt) == set(by_cmd)
    for c, values in by_cmd.items():
        node = rt[c]
        assert [k for k in node["children"]] == [range_name(lo, hi) for lo, hi in RANGES], c
        exp = collections.Counter(bucket(us) for us in values)
        assert {k: v for k, v in counts(node).items() if v} == dict(exp), c
        assert node["count"] == len(values) == sum(counts(node).values())
        assert (int(node["min"]), int(node["max"])) == (min(values), max(values)), c
        mean = sum(values) / len(values)  # the tree divides in single precision, prints 2 decimals
        assert abs(float(node["avg"]) - mean) <= 0.006 + mean * 1.2e-7, c
    for row, r in s.srt.items():
        values = [us for c, us in replies if srt_row(c) == row]
        assert round(float(r["min"]) * 1e6) == min(values) and round(float(r["max"]) * 1e6) == max(values), row
        assert round(float(r["sum"]) * 1e6) == sum(values), row


@pytest.mark.parametrize("name", NEWCMD)
def test_newcmd_response_times_from_frame_times(name):
    """Independently of the dissector's pairing: each request's response time is the time from
    its frame to its reply's last frame, as the truth records them."""
    t = truth(name)
    times = {int(r["frame.number"][0]): r["frame.time_epoch"][0]
             for r in frames(cap(name), ["frame.number", "frame.time_epoch"])}

    def us(f):
        sec, _, frac = times[f].partition(".")
        return int(sec) * 1000000 + int((frac + "000000")[:6])

    per = collections.defaultdict(list)
    for r in t["requests"]:
        per[r["command"]].append(us(r["reply_frame"]) - us(r["frame"]))
    rt = stats(cap(name)).commands[RTIME]["children"]
    for c, values in per.items():
        assert {k: v for k, v in counts(rt[c]).items() if v} == dict(collections.Counter(map(bucket, values))), c
    srt = stats(cap(name)).srt
    assert {k: v["calls"] for k, v in srt.items()} == dict(collections.Counter(srt_row(c) for c in
                                                                               (r["command"] for r in t["requests"])))


@pytest.mark.parametrize("name", NEWCMD)
def test_newcmd_bytes_replies_keys_clients(name):
    """Every request's and reply's bytes as the truth has them (raw_hex, reply_hex), the replies'
    types, the keys GETKEYS names, and the one client."""
    t = truth(name)
    s = stats(cap(name))
    reqs = t["requests"]
    to_srv, to_cli = collections.Counter(), collections.Counter()
    types = collections.Counter()
    type_names = {"+": "Simple string", "-": "Error", ":": "Integer", "$": "Bulk string", "*": "Array", "_": "Null",
                  "#": "Boolean", ",": "Double", "(": "Big number", "!": "Bulk error", "=": "Verbatim string",
                  "%": "Map", "~": "Set", "|": "Attribute", ">": "Push"}
    for r in reqs:
        to_srv[r["command"]] += len(r["raw_hex"]) // 2
        to_cli[r["command"]] += len(r["reply_hex"]) // 2
        types[type_names[chr(int(r["reply_hex"][:2], 16))]] += 1
    assert counts(s.commands[BYTES_SRV]) == dict(to_srv)
    assert counts(s.commands[BYTES_CLI]) == dict(to_cli)
    assert counts(s.commands[REPLIES]) == dict(types)
    assert s.commands[REQUESTS]["count"] == s.commands[REPLIES]["count"] == t["requests_total"] == len(reqs)

    # Keys: GETKEYS' answer for each line; for the lines the server refused to answer for
    # (wrong number of arguments), the keys the dissector found (resp.key of that frame).
    refused = {r["frame"] for r in reqs if r["keys"] is None}
    dissected = {int(r["frame.number"][0]): r["resp.key"]
                 for r in frames(cap(name), ["frame.number", "resp.key"], "resp.request")}
    key_lists = [r["keys"] if r["keys"] is not None else dissected[r["frame"]] for r in reqs]
    assert refused and all(r["getkeys_error"] for r in reqs if r["keys"] is None)
    per_key, per_prefix = key_request_counts(key_lists)
    assert counts(s.keys[KEY_REQS]) == dict(per_key)
    assert counts(s.keys[PREFIX_REQS]) == dict(per_prefix)
    key_bytes, prefix_bytes = collections.Counter(), collections.Counter()
    for r, keys in zip(reqs, key_lists):
        if keys:
            n = (len(r["raw_hex"]) + len(r["reply_hex"])) // 2
            key_bytes[keys[0]] += n
            prefix_bytes[prefix_of(keys[0])] += n
    assert counts(s.keys[KEY_BYTES]) == dict(key_bytes)
    assert counts(s.keys[PREFIX_BYTES]) == dict(prefix_bytes)

    # Clients: one address (the loopback), its requests per command, errors, bytes
    (client,) = counts(s.clients[CLI_REQS])
    assert counts(s.clients[CLI_REQS]["children"][client]) == dict(collections.Counter(r["command"] for r in reqs))
    assert s.clients[CLI_ERRORS]["children"][client]["count"] == t["error_replies"]
    assert counts(s.clients[CLI_ERRORS]["children"][client]) == dict(t["errorstats_delta"])
    assert counts(s.clients[CLI_BYTES_SRV]) == {client: sum(to_srv.values())}
    assert counts(s.clients[CLI_BYTES_CLI]) == {client: sum(to_cli.values())}


MONITOR_KEYS = ["resp-basic", "resp-pipeline", "resp-pubsub", "resp-resp3", "resp-tracking", "resp-inline"]


@pytest.mark.parametrize("name", MONITOR_KEYS)
def test_keys_from_monitor_args(name):
    """Requests per key and per key prefix = the keys of the truth's MONITOR lines by the key
    specifications. Only captures whose every request is in MONITOR or is a command without keys
    (CONFIG GET, DEBUG, the truth's not_in_monitor_reasons) are used: a request MONITOR does not
    show (a rejected or never executed one) has keys that cannot be known from the truth."""
    t = truth(name)
    for cmd, why in t["not_in_monitor_reasons"].items():
        assert "never shown by MONITOR" in why and all(not s for n, s in key_specs().items() if n.split("|")[0] == cmd)
    key_lists = [spec_keys(args) for conn in t["monitor_args"].values() for args in conn]
    per_key, per_prefix = key_request_counts(key_lists)
    s = stats(cap(name))
    assert counts(s.keys[KEY_REQS]) == dict(per_key)
    assert counts(s.keys[PREFIX_REQS]) == dict(per_prefix)
    assert s.keys[KEY_REQS]["count"] == sum(per_key.values())


@pytest.mark.parametrize("name", CMD_CAPTURES + NEWCMD)
def test_bytes_are_the_tcp_payload(name):
    """Every payload byte of these captures is a RESP message: bytes by command in each direction,
    and by client, add up to the TCP payload lengths."""
    t = truth(name)
    to_srv, to_cli = tcp_payload(cap(name), {t["server_port"]})
    s = stats(cap(name))
    assert s.commands[BYTES_SRV]["count"] == sum(to_srv.values())
    assert s.commands[BYTES_CLI]["count"] == sum(to_cli.values())
    for root in (BYTES_SRV, BYTES_CLI):
        assert_sums(s.commands[root], root)
    assert counts(s.clients[CLI_BYTES_SRV]) == dict(to_srv)
    assert counts(s.clients[CLI_BYTES_CLI]) == dict(to_cli)
    # bytes by key: at most the bytes of all requests and replies
    assert s.keys[KEY_BYTES]["count"] == s.keys[PREFIX_BYTES]["count"] <= sum(to_srv.values()) + sum(to_cli.values())


def test_pubsub_channels():
    """resp-pubsub: PUBLISH per channel (the truth's MONITOR lines) and the messages delivered to
    the subscriber per channel (news and weather subscribed, sport.* by pattern)."""
    t = truth("resp-pubsub")
    published = collections.Counter(a[1] for conn in t["monitor_args"].values() for a in conn if a[0] == "PUBLISH")
    tree = stats(cap("resp-pubsub")).commands
    assert counts(tree[PUBLISHED]) == dict(published)
    got = counts(tree[SUBSCRIBER_MSGS])
    assert got == values_per_channel(cap("resp-pubsub"))
    assert sum(got.values()) >= 3 and set(got) <= set(published)


def values_per_channel(path):
    """Delivered pub/sub messages per channel from the dissector's fields: the second element of
    each message ("message", channel, payload / "pmessage", pattern, channel, payload)."""
    out = collections.Counter()
    rows = frames(path, ["resp.pubsub_message", "resp.bulk_string.value"], "resp.pubsub_message")
    for r in rows:
        vals = [bytes.fromhex(v.replace(":", "")).decode() for v in r["resp.bulk_string.value"]]
        i = 0
        while i < len(vals):
            if vals[i] == "message":
                out[vals[i + 1]] += 1
                i += 3
            elif vals[i] == "pmessage":
                out[vals[i + 2]] += 1
                i += 4
            else:
                i += 1
    return dict(out)


IDENTITY = ["resp-pipeline", "resp-basic", "resp-pubsub", "resp-multi", "newcmd-redis-8.0.2"] + ANSWERS_IF_MADE


def _numbers(s):
    def strip(tree):
        return {k: (v["count"], v["avg"], v["min"], v["max"], strip(v["children"])) for k, v in tree.items()}
    return strip(s.commands), strip(s.keys), strip(s.clients), s.srt


@pytest.mark.parametrize("name", IDENTITY)
def test_same_numbers_one_pass_two_passes_and_with_a_tree(name):
    one = _numbers(stats(cap(name)))
    assert one == _numbers(stats(cap(name), ("-2",)))
    assert one == _numbers(stats(cap(name), ("-V",), quiet=False))
    assert one == _numbers(stats(cap(name), ("-2", "-V"), quiet=False))


def test_a_display_filter_on_the_tap():
    """-z resp,tree,FILTER counts only the frames the filter matches (the tap's own filter)."""
    out = tshark("-q", "-r", cap("resp-basic"), "-z", 'resp,tree,resp.command == "SET"').stdout
    tree = parse_stats(out).commands
    assert counts(tree[REQUESTS]) == {"SET": 3}


# --------------------------------------------------------------------------- a burst in one frame

N_BURST, N_BURST_ERR = 14000, 300
MSET_TWICE = b"*5\r\n$4\r\nMSET\r\n$6\r\nuser:2\r\n$1\r\na\r\n$6\r\nuser:2\r\n$1\r\nb\r\n"  # one key twice


def _burst_capture(path):
    """Client 10.0.0.1 pipelines N_BURST requests (INCR on 13 counters, every 40th an unknown
    command) whose replies all come in ONE segment (one frame, one tap record of N_BURST
    messages); client 10.0.0.3 meanwhile does SET/GET/AUTH one at a time."""
    a = TcpConversation(client_port=40000)
    b = TcpConversation(client_port=40001)
    b.c = (bytes([10, 0, 0, 3]), 40001)
    reqs, replies = [], []
    err = 0
    for i in range(N_BURST):
        if i % 40 == 0 and err < N_BURST_ERR:
            reqs.append(b"*1\r\n$5\r\nBOGUS\r\n")
            replies.append(b"-ERR unknown command 'BOGUS'\r\n")
            err += 1
        else:
            key = b"ctr:%d" % (i % 13)
            reqs.append(b"*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n" % (len(key), key))
            replies.append(b":1\r\n")
    assert err == N_BURST_ERR
    a.send("c", b"".join(reqs), segment=8000)
    reply = b"".join(replies)
    assert len(reply) < 65000
    a.send("s", reply, segment=65000)
    for req, rep in [(b"*3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$5\r\nhello\r\n", b"+OK\r\n"),
                     (b"*2\r\n$3\r\nGET\r\n$6\r\nuser:1\r\n", b"$5\r\nhello\r\n"),
                     (b"*2\r\n$4\r\nAUTH\r\n$5\r\nwrong\r\n", b"-WRONGPASS invalid username-password pair\r\n"),
                     (MSET_TWICE, b"+OK\r\n")]:
        b.send("c", req)
        b.send("s", rep)
    frames_ = sorted(a.frames + [(t + 0.0005, f, s) for t, f, s in b.frames], key=lambda x: x[0])
    a.frames = frames_
    a.write(path)
    return reqs, replies


def test_burst_of_replies_in_one_frame(shared_tmp):
    path = str(shared_tmp / "burst.pcap")
    _burst_capture(path)
    s = stats(path)
    c = s.commands
    n_incr = N_BURST - N_BURST_ERR
    assert flat_requests(c) == {"INCR": n_incr, "BOGUS": N_BURST_ERR, "SET": 1, "GET": 1, "AUTH": 1, "MSET": 1}
    assert counts(c[REPLIES]) == {"Integer": n_incr, "Error": N_BURST_ERR + 1, "Simple string": 2,
                                  "Bulk string": 1}
    assert counts(c[ERRORS]) == {"ERR": N_BURST_ERR, "WRONGPASS": 1}
    assert {k: v["calls"] for k, v in s.srt.items()} == {"INCR": n_incr, UNKNOWN_ROW: N_BURST_ERR, "SET": 1,
                                                         "GET": 1, "AUTH": 1, "MSET": 1}
    assert c[RTIME]["children"][ALL_COMMANDS]["count"] == N_BURST + 4
    assert counts(s.clients[CLI_REQS]) == {"10.0.0.1": N_BURST, "10.0.0.3": 4}
    assert counts(s.clients[CLI_ERRORS]) == {"10.0.0.1": N_BURST_ERR, "10.0.0.3": 1}
    assert counts(s.clients[CLI_ERRORS]["children"]["10.0.0.3"]) == {"WRONGPASS": 1}
    per_ctr = collections.Counter(b"ctr:%d" % (i % 13) for i in range(N_BURST)
                                  if not (i % 40 == 0 and i // 40 < N_BURST_ERR))
    assert counts(s.keys[KEY_REQS]) == {**{k.decode(): v for k, v in per_ctr.items()}, "user:1": 2, "user:2": 1}
    assert counts(s.keys[PREFIX_REQS]) == {"ctr:*": n_incr, "user:*": 3}
    assert counts(s.keys[KEY_BYTES])["user:2"] == len(MSET_TWICE) + 5
    assert counts(s.keys[KEY_BYTES])["user:1"] == (len(b"*3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$5\r\nhello\r\n") + 5
                                                   + len(b"*2\r\n$3\r\nGET\r\n$6\r\nuser:1\r\n") + 11)
    # the one frame holding every reply of client 10.0.0.1
    big = [r for r in frames(path, ["frame.number", "tcp.len"], "tcp.srcport == 6379 && tcp.len > 60000")]
    assert len(big) == 1
    assert counts(s.clients[CLI_BYTES_CLI])["10.0.0.1"] == int(big[0]["tcp.len"][0])
    assert _numbers(s) == _numbers(stats(path, ("-2",)))


@pytest.mark.parametrize("name", ["repl-psync", "repl-disk", "repl-diskless"])
def test_replicated_commands_match_the_replica(name):
    """The commands a master streams to its replica, per name, are what the replica's INFO
    commandstats counted of the stream (the truth's streamed_commandstats)."""
    t = truth(name)
    tree = stats(cap(name)).commands
    exp = {k.upper(): v for k, v in t["streamed_commandstats"].items()}
    assert counts(tree[REPLICATED]) == exp
    assert tree[REPLICATED]["count"] == t["streamed_command_count"]


# --------------------------------------------------------------------------- resp-answers
# A capture made for these statistics (test-captures/make-answers-captures.sh): two servers (the
# MIGRATE target on 6380), clients on 127.0.0.1-4, AUTH attempts, DEBUG SLEEPs, big values and a
# burst of 30000 PINGs whose replies leave in segments of more than 5000 replies each.

answers_present = pytest.mark.skipif(not HAVE_ANSWERS, reason="test-captures/resp-answers.truth.json not made yet")
TYPE_NAMES = {"+": "Simple string", "-": "Error", ":": "Integer", "$": "Bulk string", "*": "Array", "_": "Null",
              "#": "Boolean", ",": "Double", "(": "Big number", "!": "Bulk error", "=": "Verbatim string",
              "%": "Map", "~": "Set", "|": "Attribute", ">": "Push"}


def summed(per_port):
    """A truth table kept per server port ({"6379": {...}, "6380": {...}}), summed over the ports."""
    total = collections.Counter()
    for v in per_port.values():
        total.update(v)
    return dict(total)


@functools.lru_cache(maxsize=None)
def answers_replies():
    """Every reply of resp-answers as (command, client address, response time in microseconds, the
    reply row or None for a burst PING): the truth's request rows (each reply's time from the times
    of the frames the truth names) and the burst's runs."""
    t = truth(ANSWERS)
    times = {int(r["frame.number"][0]): r["frame.time_epoch"][0]
             for r in frames(cap(ANSWERS), ["frame.number", "frame.time_epoch"])}

    def us(f):
        sec, _, frac = times[f].partition(".")
        return int(sec) * 1000000 + int((frac + "000000")[:6])

    out = []
    for row in t["requests"]:
        assert row["replies"], row
        for k, rep in enumerate(row["replies"]):
            rt = us(rep["frames"][1]) - us(row["frames"][1])
            if k == 0:
                assert rt == row["rt_us"], row
            out.append((row["command"], row["client_ip"], rt, rep))
    b = t["burst"]
    for count, _, _, _, _, rt in b["rt_runs"]:
        out += [("PING", b["client_ip"], rt, None)] * count
    assert sum(run[0] for run in b["rt_runs"]) == b["count"] == b["replies_received"]
    return out


@answers_present
def test_answers_requests_and_commandstats():
    t = truth(ANSWERS)
    tree = stats(cap(ANSWERS)).commands
    assert tree[REQUESTS]["count"] == sum(t["requests_total"].values())
    assert counts(tree[REQUESTS]) == summed(t["requests_per_command"])
    subs = {f"{cmd} {sub}": n for cmd, node in tree[REQUESTS]["children"].items() for sub, n in counts(node).items()}
    assert subs == summed(t["requests_per_subcommand"])
    # what the servers counted (calls + rejected_calls) for every name they counted
    flat = flat_requests(tree)
    cs = collections.Counter()
    for per in t["commandstats_delta"].values():
        for stat, v in per.items():
            cs[stat.upper()] += v["calls"] + v["rejected_calls"]
    assert {k: flat.get(k, 0) for k in cs if cs[k]} == {k: v for k, v in cs.items() if v}


@answers_present
def test_answers_no_reply_lost_in_the_burst():
    """Every reply, also the more than 5000 of one frame, counted once: replies per type, and the
    frame with the most replies alone (the tap's own filter) holds exactly the replies ending in it."""
    t = truth(ANSWERS)
    s = stats(cap(ANSWERS))
    replies = answers_replies()
    types = collections.Counter(TYPE_NAMES[rep["type"]] if rep else "Simple string" for _, _, _, rep in replies)
    assert dict(types) == {TYPE_NAMES[k]: v for k, v in summed(t["replies_per_type"]).items()}
    assert counts(s.commands[REPLIES]) == dict(types)
    assert s.commands[REPLIES]["count"] == sum(c["replies"] for c in t["connections"]) == len(replies)
    b = t["burst"]
    big = b["max_replies_in_one_frame"]
    assert big["replies"] > 5000 and b["frames_over_5000_replies"]
    ending = dict((f, n) for f, n in b["replies_ending_per_frame"])
    for f, n in sorted({(f, n) for f, n, _ in b["frames_over_5000_replies"]} | {(big["frame"], big["replies"])}):
        out = tshark("-q", "-r", cap(ANSWERS), "-z", f"resp,tree,frame.number == {f}",
                     "-z", f"resp,srt,frame.number == {f}").stdout
        one = parse_stats(out)
        assert counts(one.commands[REPLIES]) == {"Simple string": ending[f]}, f
        assert ending[f] >= n
        assert {k: v["calls"] for k, v in one.srt.items()} == {"PING": ending[f]}
        assert one.commands[BYTES_CLI]["children"]["PING"]["count"] == ending[f] * b["reply_bytes_each"]


@answers_present
def test_answers_errors_per_code_and_client():
    t = truth(ANSWERS)
    s = stats(cap(ANSWERS))
    per_code = summed(t["error_replies_per_code"])
    assert per_code == summed(t["errorstats_delta"])
    assert counts(s.commands[ERRORS]) == per_code
    per_client = collections.defaultdict(collections.Counter)
    for _, ip, _, rep in answers_replies():
        if rep and rep["error_code"]:
            per_client[ip][rep["error_code"]] += 1
    assert {ip: counts(node) for ip, node in s.clients[CLI_ERRORS]["children"].items()} == \
        {ip: dict(c) for ip, c in per_client.items()}
    assert counts(s.clients[CLI_ERRORS]) == {ip: cl["all"]["error_replies"] for ip, cl in t["clients"].items()
                                             if cl["all"]["error_replies"]}


@answers_present
def test_answers_clients():
    """Per client address: requests (per command), bytes both ways, as the truth's connections add up."""
    t = truth(ANSWERS)
    s = stats(cap(ANSWERS))
    cl = {ip: v["all"] for ip, v in t["clients"].items()}
    assert len(cl) >= 4
    assert counts(s.clients[CLI_REQS]) == {ip: v["requests"] for ip, v in cl.items() if v["requests"]}
    assert counts(s.clients[CLI_BYTES_SRV]) == {ip: v["bytes_c2s"] for ip, v in cl.items() if v["bytes_c2s"]}
    assert counts(s.clients[CLI_BYTES_CLI]) == {ip: v["bytes_s2c"] for ip, v in cl.items() if v["bytes_s2c"]}
    per = collections.defaultdict(collections.Counter)
    for row in t["requests"]:
        per[row["client_ip"]][row["command"]] += 1
    per[t["burst"]["client_ip"]]["PING"] += t["burst"]["count"]
    assert {ip: counts(node) for ip, node in s.clients[CLI_REQS]["children"].items()} == \
        {ip: dict(c) for ip, c in per.items()}


@answers_present
def test_answers_auth_attempts_per_client():
    """Every AUTH on the wire is a request of its client, and every refused one an error of it."""
    t = truth(ANSWERS)
    s = stats(cap(ANSWERS))
    auths = [a for a in t["auth_attempts"] if a["kind"] == "AUTH"]
    assert auths and any(not a["accepted"] for a in auths)
    per_ip = collections.Counter(a["client_ip"] for a in auths)
    for ip, n in per_ip.items():
        assert counts(s.clients[CLI_REQS]["children"][ip])["AUTH"] == n, ip
    refused = collections.Counter((a["client_ip"], a["error_code"]) for a in t["auth_attempts"] if not a["accepted"])
    other = collections.Counter()
    for _, ip, _, rep in answers_replies():
        if rep and rep["error_code"]:
            other[(ip, rep["error_code"])] += 1
    for (ip, code), n in refused.items():
        assert counts(s.clients[CLI_ERRORS]["children"][ip])[code] == other[(ip, code)] >= n


@answers_present
def test_answers_bytes_per_command():
    t = truth(ANSWERS)
    s = stats(cap(ANSWERS))
    req, rep = collections.Counter(), collections.Counter()
    for per in t["bytes_per_command"].values():
        for cmd, b in per.items():
            req[cmd] += b["request_bytes"]
            rep[cmd] += b["reply_bytes"]
    assert counts(s.commands[BYTES_SRV]) == dict(req)
    pushes = collections.Counter()
    for p in t["pushes"]:
        pushes["(pub/sub message)"] += p["bytes"]
    assert counts(s.commands[BYTES_CLI]) == {**rep, **pushes}


@answers_present
def test_answers_response_times():
    """SRT calls, minimum, maximum and sum per command, and the tree's ranges, from every reply's
    time (the frames the truth names); the DEBUG SLEEPs are the only replies slower than 30 ms."""
    t = truth(ANSWERS)
    s = stats(cap(ANSWERS))
    per = collections.defaultdict(list)
    for cmd, _, rt, _ in answers_replies():
        per[cmd].append(rt)
    srt = collections.defaultdict(list)
    for cmd, values in per.items():
        srt[srt_row(cmd)] += values
    assert {k: v["calls"] for k, v in s.srt.items()} == {k: len(v) for k, v in srt.items()}
    for row, values in srt.items():
        r = s.srt[row]
        assert (round(float(r["min"]) * 1e6), round(float(r["max"]) * 1e6), round(float(r["sum"]) * 1e6)) == \
            (min(values), max(values), sum(values)), row
    rt = s.commands[RTIME]["children"]
    for cmd, values in per.items():
        assert {k: v for k, v in counts(rt[cmd]).items() if v} == dict(collections.Counter(map(bucket, values))), cmd
    # slow commands: the ranges from 50 ms up hold exactly the replies of at least 30 ms (nothing
    # else took 25 ms), those from 100 ms up the ones of at least 100 ms
    slow = t["slow"]
    assert slow["max_rt_us_of_other_requests"] < 25000
    allc = counts(rt[ALL_COMMANDS])
    assert sum(n for k, n in allc.items() if int(k.split("-")[0]) >= 50000) == len(slow["at_least_30ms"])
    assert sum(n for k, n in allc.items() if int(k.split("-")[0]) >= 100000) == len(slow["at_least_100ms"])
    debug = counts(rt["DEBUG"])
    assert debug["50000-99999"] == slow["debug_sleep_requests"]["0.05"]
    assert debug["200000-499999"] == slow["debug_sleep_requests"]["0.2"]


@answers_present
def test_answers_keys_and_prefixes():
    """Requests and bytes per key and per prefix: COMMAND GETKEYS of every line (for a line the
    server would not answer for, the dissector's resp.key of its frame); the big values on top."""
    t = truth(ANSWERS)
    s = stats(cap(ANSWERS))
    rows = t["requests"]
    need = {r["frames"][1] for r in rows if r["keys"] is None}
    dissected = {}
    if need:
        for r in frames(cap(ANSWERS), ["frame.number", "resp.key", "resp.command"], "resp.request"):
            f = int(r["frame.number"][0])
            if f in need:
                assert len(r["resp.command"]) == 1, f"frame {f}: several requests"
                dissected[f] = r["resp.key"]
    key_lists = [r["keys"] if r["keys"] is not None else dissected[r["frames"][1]] for r in rows]
    per_key, per_prefix = key_request_counts(key_lists)
    assert counts(s.keys[KEY_REQS]) == dict(per_key)
    assert counts(s.keys[PREFIX_REQS]) == dict(per_prefix)
    # the truth's own tables agree (lines it got keys for)
    tk = collections.Counter({k: v["requests"] for k, v in summed_nested(t["keys"]).items()})
    assert all(per_key[k] >= n for k, n in tk.items())
    tp = {f"{p}:*": v["requests"] for p, v in summed_nested(t["key_prefixes"]).items()}
    assert all(per_prefix[p] >= n for p, n in tp.items())
    kb, pb = collections.Counter(), collections.Counter()
    for r, keys in zip(rows, key_lists):
        if keys:
            n = r["request_bytes"] + sum(x["bytes"] for x in r["replies"])
            kb[keys[0]] += n
            pb[prefix_of(keys[0])] += n
    assert counts(s.keys[KEY_BYTES]) == dict(kb)
    assert counts(s.keys[PREFIX_BYTES]) == dict(pb)
    # the biggest keys first, as tshark prints them
    bigs = sorted(t["big_values"], key=lambda b: -b["length"])
    assert list(s.keys[KEY_BYTES]["children"])[:len(bigs)] == [b["key"] for b in bigs]


def summed_nested(per_port):
    out = {}
    for per in per_port.values():
        for k, v in per.items():
            e = out.setdefault(k, collections.Counter())
            e.update(v)
    return out


@answers_present
def test_answers_pubsub():
    t = truth(ANSWERS)
    tree = stats(cap(ANSWERS)).commands
    assert counts(tree[PUBLISHED]) == {ch: v["publish_requests"] for ch, v in t["pubsub"].items()}
    assert counts(tree[SUBSCRIBER_MSGS]) == dict(collections.Counter(p["channel"] for p in t["pushes"]))
