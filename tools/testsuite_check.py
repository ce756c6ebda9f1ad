#!/usr/bin/python3
"""Oracle for the Redis test-suite captures made by tools/redis-testsuite.sh.

    testsuite_check.py [--tshark tools/tshark-plugin] [--summary OUT.json] [--json] UNITDIR...

Each UNITDIR holds what redis-testsuite.sh wrote for one unit: capture.pcap (tcp port P on the
loopback of a private network namespace), monitor.log (redis-cli MONITOR over a unix socket),
info-before.txt / info-after.txt (INFO commandstats errorstats over the unix socket),
command.json (COMMAND of that server) and run.json (port, runtest exit status).

What the plugin decodes (tshark with the freshly built plugin, one pass and two passes) is
compared with what the server executed:

1. one pass and two passes (-2) must give the same request sequence;
2. commands: the decoded multiset (commandstats names: lowercase "cmd" or "cmd|sub") against
   the INFO commandstats delta (calls + rejected_calls), with the legitimate differences
   computed and printed with their reason;
3. per connection, the decoded sequence against the MONITOR stream of that client
   (127.0.0.1:<client port>), and for every request found in both, the reply the plugin paired
   with it must come after the moment the server executed it (MONITOR timestamp), the request
   before it;
4. pairing: replies without a request (resp.unmatched_response), requests without a reply
   where the server did send something (legitimate: Redis ignores empty and *0 / *-N
   multibulks, CLIENT REPLY OFF/SKIP, pub/sub confirmations, nothing sent afterwards on that
   connection), replies paired with requests Redis never answers;
5. expert infos: resp.malformed, resp.skipped_bytes (on a capture without TCP loss this is a
   false "capture started mid-stream or data was lost"), _ws.malformed.

Exit status: 0 if every unit agrees, 1 if any differs, 2 on a usage or tshark error.
"""

import argparse
import bisect
import collections
import difflib
import json
import os
import pathlib
import re
import signal
import subprocess
import sys

TOP = pathlib.Path(__file__).resolve().parent.parent
SEP = "\x1f"
TSHARK_TIMEOUT = 1800
EPS = 0.000005  # s: pcap and MONITOR timestamps: the same clock, microseconds

FIELDS = ["frame.number", "frame.time_epoch", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.len",
          "resp.request", "resp.response", "resp.command", "resp.subcommand", "resp.response_to",
          "resp.response_in", "resp.pubsub_message", "resp.monitor", "resp.error", "resp.bulk_error"]
EXPERTS = ["resp.unmatched_response", "resp.malformed", "resp.skipped_bytes", "_ws.malformed",
           "resp.truncated", "resp.incomplete", "resp.unknown_command",
           "tcp.analysis.lost_segment || tcp.analysis.retransmission || tcp.analysis.out_of_order"]
# commands whose MONITOR line Redis writes itself although they are flagged skip_monitor
MONITORED_ANYWAY = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "exec"}
PUBSUB_CONFIRMED = {"subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
                    "sunsubscribe"}
# control traffic of redis-testsuite.sh between the two INFO snapshots (unix socket)
CONTROL = collections.Counter({"info": 1, "echo": 1})

REASONS = {
    "lua": "run by a script (EVAL/FCALL): counted in commandstats, never on the wire",
    "unknown": "unknown command or subcommand: Redis counts it only in errorstats, not in commandstats",
    "queued_not_run": "queued in MULTI but the transaction was discarded/aborted: never executed, not counted",
    "admin": "admin or skip_monitor command: executed and counted, but MONITOR never shows it",
    "rejected": "rejected before execution (arity, NOAUTH, OOM, ...): counted as rejected_calls, not in MONITOR",
    "no_command": "empty line, *0 or *-N multibulk: Redis ignores it, no reply",
    "client_reply": "sent under CLIENT REPLY OFF/SKIP: the server sends no reply",
    "pubsub": "SUBSCRIBE-family: confirmations are pushes, not paired one-to-one",
    "nothing_after": "the server sent nothing more for it on that connection (closed, blocked, MONITOR)",
    "pubsub_or_nothing_after": "nothing sent for it afterwards on that connection (closed, still blocked)",
    "control": "the oracle's own INFO and ECHO over the unix socket",
    "rejected_in_script": "redis.call() refused inside a script (CLIENT PAUSE, no-writes, OOM): counted in "
                          "rejected_calls, neither on the wire nor in MONITOR",
    "after_quit": "sent after QUIT on the same connection: Redis closes it, never reads or runs them",
    "resetstat": "requests before the unit's last CONFIG RESETSTAT: commandstats restarted there, not compared",
    "monitor_lost": "the unit killed the oracle's MONITOR connection: MONITOR checks skipped",
    "client_protocol_error": "invalid RESP sent on purpose by the test; the server answered "
                             "'-ERR Protocol error' and closed: malformed is right",
}


def tshark(tshark_bin, pcap, args):
    # tcpdump on a busy loopback now and then writes a segment after the one that follows it
    # (seen in unit/geo): TCP hands such data on only when told to reorder (README, Limits)
    cmd = [tshark_bin, "-n", "-o", "tcp.reassemble_out_of_order:TRUE", "-r", str(pcap), *args]
    env = dict(os.environ, WIRESHARK_ABORT_ON_DISSECTOR_BUG="1")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", start_new_session=True, env=env) as p:
        try:
            out, err = p.communicate(timeout=TSHARK_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            p.communicate()
            raise
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:]}")
    return out


def known_filters(tshark_bin):
    out = subprocess.run([tshark_bin, "-G", "fields"], capture_output=True, text=True, timeout=300).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) > 2 and parts[0] in ("F", "E"):
            names.add(parts[2])
    return names


def split(v):
    return [x for x in v.split(SEP)] if v else []


def read_frames(tshark_bin, pcap, two_pass):
    args = (["-2"] if two_pass else []) + ["-T", "fields", "-E", f"aggregator={SEP}", "-E", "occurrence=a",
                                           "-E", "separator=\t"]
    for f in FIELDS:
        args += ["-e", f]
    frames = []
    for line in tshark(tshark_bin, pcap, args).splitlines():
        v = line.split("\t")
        v += [""] * (len(FIELDS) - len(v))
        d = dict(zip(FIELDS, v))
        frames.append({
            "no": int(d["frame.number"]), "t": float(d["frame.time_epoch"]),
            "stream": int(d["tcp.stream"]) if d["tcp.stream"] else -1,
            "sport": int(d["tcp.srcport"] or 0), "dport": int(d["tcp.dstport"] or 0),
            "len": int(d["tcp.len"] or 0),
            "nreq": len(split(d["resp.request"])), "nresp": len(split(d["resp.response"])),
            "cmds": split(d["resp.command"]), "subs": split(d["resp.subcommand"]),
            "to": [int(x) for x in split(d["resp.response_to"]) if x],
            "rin": [int(x) for x in split(d["resp.response_in"]) if x],
            "pubsub": len(split(d["resp.pubsub_message"])), "monitor": len(split(d["resp.monitor"])),
            "error": bool(d["resp.error"] or d["resp.bulk_error"]),
            "errtext": split(d["resp.error"]) + split(d["resp.bulk_error"]),
        })
    return frames


def expert_frames(tshark_bin, pcap, flt):
    out = tshark(tshark_bin, pcap, ["-2", "-Y", flt, "-T", "fields", "-e", "frame.number"])
    return [int(x) for x in out.split()]


class CommandTable:
    def __init__(self, path):
        self.containers, self.flags, self.names = set(), {}, set()
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError):
            table = []

        def add(e):
            name = str(e[0]).lower()
            self.names.add(name)
            self.flags[name] = {str(f).lower() for f in (e[2] or [])}
            subs = e[9] if len(e) > 9 else []
            if subs:
                self.containers.add(name)
                for s in subs:
                    add(s)
        for e in table:
            add(e)

    def known(self, name):
        return not self.names or name in self.names

    def unmonitored(self, name):
        f = self.flags.get(name, set())
        return name not in MONITORED_ANYWAY and bool(f & {"admin", "skip_monitor"})


def requests_of(frames, port, table):
    """Client-to-server requests in order: one dict per request."""
    reqs, ambiguous = [], []
    for fr in frames:
        if fr["dport"] != port or not fr["nreq"]:
            continue
        cmds, subs = list(fr["cmds"]), list(fr["subs"])
        ncont = sum(1 for c in cmds if c.lower() in table.containers)
        if ncont != len(subs) and len(cmds) > 1:
            ambiguous.append(fr["no"])
        names = []
        for c in cmds:
            # a name typed as "config|get" is an unknown command for Redis, not CONFIG GET
            n = c.lower().replace("|", "%7c")
            if n in table.containers and subs:
                n += "|" + subs.pop(0).lower()
            elif n not in table.containers and len(cmds) == 1 and subs:
                n += "|" + subs.pop(0).lower()
            names.append(n)
        # requests without a command (empty line, *0, *-N, garbage)
        names += [""] * max(0, fr["nreq"] - len(names))
        for i, n in enumerate(names):
            reqs.append({"frame": fr["no"], "t": fr["t"], "stream": fr["stream"], "sport": fr["sport"],
                         "name": n, "idx": i, "nreq": fr["nreq"]})
    return reqs, ambiguous


def parse_info(path):
    stats, errs = {}, {}
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"cmdstat_(\S+?):(.*)", line.strip())
        if m:
            kv = dict(x.split("=", 1) for x in m.group(2).split(","))
            stats[m.group(1)] = {k: int(float(kv.get(k, 0))) for k in ("calls", "rejected_calls", "failed_calls")}
        m = re.match(r"errorstat_(\S+?):count=(\d+)", line.strip())
        if m:
            errs[m.group(1)] = int(m.group(2))
    return stats, errs


MON_RE = re.compile(r'^(\d+\.\d+) \[(\d+) ([^\]]+)\] (.*)$')
ARG_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_monitor(path, table):
    """{client address: [(ts, name, second argument)]}"""
    by = collections.defaultdict(list)
    with open(path, errors="replace") as f:
        for line in f:
            m = MON_RE.match(line.rstrip("\n"))
            if not m:
                continue
            args = ARG_RE.findall(m.group(4)[:4096])
            if not args:
                continue
            name = args[0].lower()
            if name in table.containers and len(args) > 1:
                name += "|" + args[1].lower()
            by[m.group(3)].append((float(m.group(1)), name, args[2].lower() if len(args) > 2 else ""))
    return by


def check_unit(d, tshark_bin, filters):
    d = pathlib.Path(d)
    run = json.loads((d / "run.json").read_text())
    port = run["port"]
    table = CommandTable(d / "command.json")
    pcap = d / "capture.pcap"
    r = {"unit": run["unit"], "runtest_exit": run["runtest_exit"], "tests_ok": run.get("tests_ok"),
         "tests_failed": run.get("tests_failed"), "seconds": run.get("seconds"), "problems": [],
         "explained": collections.Counter()}

    f1 = read_frames(tshark_bin, pcap, False)
    f2 = read_frames(tshark_bin, pcap, True)
    r["frames"] = len(f2)
    req1, _ = requests_of(f1, port, table)
    req2, ambiguous = requests_of(f2, port, table)
    r["requests"] = len(req2)
    r["requests_1pass"] = len(req1)
    if ambiguous:
        r["ambiguous_frames"] = ambiguous[:20]

    # 1. one pass against two passes
    s1 = [(q["frame"], q["name"]) for q in req1]
    s2 = [(q["frame"], q["name"]) for q in req2]
    diff12 = []
    if s1 != s2:
        sm = difflib.SequenceMatcher(a=s1, b=s2, autojunk=False)
        for op, a0, a1, b0, b1 in sm.get_opcodes():
            if op != "equal":
                diff12.append({"1pass": s1[a0:a1][:5], "2pass": s2[b0:b1][:5],
                               "n1": a1 - a0, "n2": b1 - b0})
    r["pass_diff"] = diff12
    if diff12:
        fr = sorted({x[0] for dd in diff12 for x in dd["1pass"] + dd["2pass"]})
        r["problems"].append(f"1-pass and 2-pass request sequences differ ({len(diff12)} places, "
                             f"{len(s1)} vs {len(s2)} requests; frames {fr[:10]})")

    # experts (two passes)
    ex = {}
    usable = [flt for flt in EXPERTS if all(n in filters for n in re.findall(r"[a-z_][a-z0-9_.]*", flt))]
    # one pass for all; a pass per filter only if any of them is present
    if usable and expert_frames(tshark_bin, pcap, " || ".join(f"({x})" for x in usable)):
        for flt in usable:
            ex[flt] = expert_frames(tshark_bin, pcap, flt)
    r["experts"] = {k: {"count": len(v), "frames": v[:10]} for k, v in ex.items()}
    tcp_trouble = ex.get(EXPERTS[-1], [])
    # invalid RESP the client sent on purpose (unit/protocol): the server answers
    # "-ERR Protocol error" and closes, so the plugin is right to call it malformed
    by_no = {fr["no"]: fr for fr in f2}
    proto_err_streams = {fr["stream"] for fr in f2 if fr["sport"] == port
                         and any("Protocol error" in t for t in fr["errtext"])}
    if ex.get("resp.malformed"):
        ok = [x for x in ex["resp.malformed"] if by_no[x]["dport"] == port and by_no[x]["stream"] in proto_err_streams]
        if ok:
            r["explained"]["client_protocol_error"] += len(ok)
            ex["resp.malformed"] = [x for x in ex["resp.malformed"] if x not in ok]
    for k in ("resp.unmatched_response", "resp.malformed", "_ws.malformed"):
        if ex.get(k):
            r["problems"].append(f"{k}: {len(ex[k])} frames {ex[k][:8]}")
    if ex.get("resp.skipped_bytes"):
        what = ("false 'capture started mid-stream or data was lost' (the capture has no TCP loss)"
                if not tcp_trouble else "after TCP loss/retransmission")
        r["problems"].append(f"resp.skipped_bytes {what}: {len(ex['resp.skipped_bytes'])} frames "
                             f"{ex['resp.skipped_bytes'][:8]}")
    if tcp_trouble:
        r["capture_note"] = f"TCP loss/retransmission/out-of-order in frames {tcp_trouble[:8]}"

    # 2. monitor, per connection
    mon = parse_monitor(d / "monitor.log", table)
    lua = collections.Counter(n for a, lst in mon.items() if a == "lua" for _, n, _ in lst)
    by_stream = collections.defaultdict(list)
    for q in req2:
        by_stream[q["stream"]].append(q)
    frames_by_no = {fr["no"]: fr for fr in f2}
    # A client port the kernel reused belongs to several connections: each MONITOR entry goes
    # to the one that was open when the server ran it (the last one opened before it).
    opened = collections.defaultdict(list)   # client port -> [(first frame time, stream)]
    first_t = {}
    for fr in f2:
        if fr["dport"] == port and fr["stream"] not in first_t:
            first_t[fr["stream"]] = fr["t"]
            opened[fr["sport"]].append((fr["t"], fr["stream"]))

    def monitor_of(stream, sport):
        lst = mon.get(f"127.0.0.1:{sport}", [])
        starts = sorted(opened.get(sport, []))
        if len(starts) < 2:
            return lst
        times = [t for t, _ in starts]
        return [m for m in lst if starts[max(0, bisect.bisect_right(times, m[0]) - 1)][1] == stream]
    # replies: response frame -> request frames, and server data per stream
    replies_to = collections.Counter()
    reply_frame_of = {}
    server_data = collections.defaultdict(list)
    for fr in f2:
        if fr["sport"] == port:
            if fr["len"]:
                server_data[fr["stream"]].append(fr["no"])
            for t in fr["to"]:
                replies_to[t] += 1
                reply_frame_of.setdefault(t, []).append(fr["no"])
    error_frames = {fr["no"] for fr in f2 if fr["sport"] == port and fr["error"]}

    # CLIENT REPLY ON/OFF/SKIP arguments as sent (needed even when MONITOR was lost)
    reply_args = {}
    if any(q["name"] == "client|reply" for q in req2):
        out = tshark(tshark_bin, pcap, ["-Y", 'resp.subcommand == "REPLY"', "-T", "fields", "-E",
                                        f"aggregator={SEP}", "-E", "occurrence=a", "-e", "frame.number",
                                        "-e", "resp.argument"])
        for line in out.splitlines():
            no, _, args = line.partition("\t")
            a = [x.lower() for x in split(args)]
            # the argument after each REPLY of the frame, in order
            reply_args[int(no)] = [a[k + 1] for k in range(len(a) - 1) if a[k] == "reply"]
    cls = []                              # wire-only requests: (frame, name, why)
    last_server_data = {k: max(v) for k, v in server_data.items()}
    max_answered = {}
    for t in replies_to:
        fr = frames_by_no.get(t)
        if fr:
            max_answered[fr["stream"]] = max(max_answered.get(fr["stream"], 0), t)
    unmatched_by_stream = collections.defaultdict(list)
    for u in ex.get("resp.unmatched_response", []):
        unmatched_by_stream[frames_by_no[u]["stream"]].append(u)
    expect = {}                           # request frame -> [min replies, max replies, no-reply reasons]
    not_in_monitor = collections.Counter()
    monitor_only = []
    timing = []
    unanswered_bad, unanswered_ok, answered_never = [], collections.Counter(), []
    for stream, qs in by_stream.items():
        sport = qs[0]["sport"]
        mlist = monitor_of(stream, sport)
        used = [False] * len(mlist)
        by_name = collections.defaultdict(list)
        for k, (_, n, _) in enumerate(mlist):
            by_name[n].append(k)
        ts_of = {n: [mlist[k][0] for k in ks] for n, ks in by_name.items()}
        first_free = collections.Counter()
        # the reply time of each request, and of the EXEC/DISCARD closing a transaction
        def own_reply(q):
            # the reply of the idx-th request of its frame (replies to one frame come in order)
            rf = reply_frame_of.get(q["frame"], [])
            return rf[min(q["idx"], len(rf) - 1)] if rf else None
        t_reply = [frames_by_no[own_reply(q)]["t"] if own_reply(q) else None for q in qs]
        limit = list(t_reply)
        close_t = None
        for i in range(len(qs) - 1, -1, -1):
            n = qs[i]["name"]
            if n in ("exec", "discard"):
                close_t = t_reply[i]
            elif n == "multi":
                close_t = None
            elif close_t is not None or (i and any(x["name"] == "multi" for x in qs[max(0, i - 1):i])):
                limit[i] = close_t
        matched = {}

        def find(i, q, lo, hi):
            # MONITOR is in time order: start at the first unused entry not earlier than lo
            n = q["name"]
            ks = by_name.get(n)
            if not ks:
                return None
            j = first_free[n]
            while j < len(ks) and used[ks[j]]:
                j += 1
            first_free[n] = j
            j = max(j, bisect.bisect_left(ts_of[n], lo - EPS))
            while j < len(ks):
                k = ks[j]
                if not used[k]:
                    if hi is not None and mlist[k][0] > hi + EPS:
                        return None
                    return k
                j += 1
            return None
        reply_off = skip_next = False
        multi_open = None
        after_quit = False
        for i, q in enumerate(qs):
            n = q["name"]
            after_quit = after_quit or (i > 0 and qs[i - 1]["name"] == "quit")
            replies = reply_frame_of.get(q["frame"], [])
            answered = replies_to[q["frame"]] > 0
            reply_err = any(x in error_frames for x in replies)
            if n == "multi":
                multi_open = i
            in_tx = multi_open is not None and n not in ("multi", "exec", "discard")
            hi = None if in_tx else (limit[i] if limit[i] is not None else None)
            if in_tx:
                hi = limit[i]
            k = find(i, q, q["t"], hi) if n else None
            if k is not None:
                used[k] = True
                matched[i] = k
            # CLIENT REPLY as the server saw it (argument from MONITOR)
            suppressed, skip_next = reply_off or skip_next, False
            if n == "client|reply":
                ra = reply_args.get(q["frame"])
                arg = ra.pop(0) if ra else (mlist[matched[i]][2] if i in matched else "")
                if arg == "off":
                    reply_off = suppressed = True
                elif arg == "skip":
                    suppressed = skip_next = True
                elif arg == "on":
                    reply_off = suppressed = False
            # legitimately no reply?
            legit = None
            if after_quit:
                legit = "after_quit"
            elif n == "":
                legit = "no_command"
            elif n in PUBSUB_CONFIRMED:
                legit = "pubsub"      # RESP3 confirmations are pushes: sent even under CLIENT REPLY OFF
            elif suppressed:
                legit = "client_reply"
            elif last_server_data.get(stream, 0) <= q["frame"] or (
                    q["frame"] > max_answered.get(stream, 0)
                    and not any(u > q["frame"] for u in unmatched_by_stream.get(stream, ()))):
                # the server's later data all answered earlier requests (e.g. a blocking command
                # queued behind another one that was still blocked at the end)
                legit = "nothing_after"
            # replies are compared per request frame (response_to names a frame): at least the
            # requests Redis must answer, at most those it may answer
            e = expect.setdefault(q["frame"], [0, 0, collections.Counter()])
            if legit is None:
                e[0] += 1
                e[1] += 1
            elif legit == "pubsub":
                e[1] += 1 << 20       # one confirmation per channel (or none, RESP2 in subscribed mode)
                e[2][legit] += 1
            elif legit == "nothing_after":
                e[1] += 1
                e[2][legit] += 1
            else:
                e[2][legit] += 1
            if i not in matched and n:
                if after_quit:
                    cls.append((q["frame"], n, "after_quit"))
                elif not table.known(n):
                    cls.append((q["frame"], n, "unknown"))
                elif table.unmonitored(n):
                    cls.append((q["frame"], n, "admin"))
                elif reply_err:
                    cls.append((q["frame"], n, "rejected"))
                elif in_tx:
                    cls.append((q["frame"], n, "queued_not_run"))
                else:
                    # executed later than the reply the plugin paired with it?
                    k = find(i, q, q["t"], None)
                    if k is not None and answered and not in_tx:
                        used[k] = True
                        matched[i] = k
                        timing.append((q["frame"], n, own_reply(q)))
                    else:
                        not_in_monitor[n] += 1
                        cls.append((q["frame"], n, "unexplained"))
            if n in ("exec", "discard"):
                multi_open = None
        for k, u in enumerate(used):
            if not u:
                monitor_only.append((stream, sport, mlist[k][1], mlist[k][0]))
    for fno, (lo, hi, why) in sorted(expect.items()):
        got = replies_to[fno]
        if got < lo:
            unanswered_bad.extend([fno] * (lo - got))
        elif got > hi:
            answered_never.append(fno)
        if got <= hi:
            # the requests left without a reply, by reason
            left = (hi - got) if got >= lo else 0
            for k, v in why.items():
                if k in ("no_command", "client_reply", "after_quit"):
                    unanswered_ok[k] += v
            unanswered_ok["pubsub_or_nothing_after"] += min(left, sum(v for k, v in why.items()
                                                                       if k == "nothing_after"))
    unanswered_ok = +unanswered_ok
    # monitor entries of TCP clients the capture has no connection for
    seen_ports = {qs[0]["sport"] for qs in by_stream.values()}
    for addr, lst in mon.items():
        if addr.startswith("127.0.0.1:") and int(addr.rsplit(":", 1)[1]) not in seen_ports:
            for ts, n, _ in lst:
                monitor_only.append((-1, int(addr.rsplit(":", 1)[1]), n, ts))
    r["monitor_only"] = len(monitor_only)
    if monitor_only:
        ex_mo = collections.Counter(n for _, _, n, _ in monitor_only)
        r["problems"].append(f"executed by the server (MONITOR) but not decoded: {len(monitor_only)} "
                             f"({dict(ex_mo.most_common(6))}; streams {sorted({s for s, *_ in monitor_only})[:8]})")
    if not_in_monitor:
        fr = [f for f, _, why in cls if why == "unexplained"]
        r["problems"].append(f"decoded but not executed per MONITOR, unexplained: {dict(not_in_monitor.most_common(8))} "
                             f"frames {fr[:8]}")
    r["timing_violations"] = len(timing)
    if timing:
        r["problems"].append(f"reply paired with a request it cannot answer (reply before the server ran it): "
                             f"{len(timing)}, first (request frame, command, reply frame) {timing[:5]}")
    r["unanswered_bad"] = len(unanswered_bad)
    r["unanswered_ok"] = dict(unanswered_ok)
    if unanswered_bad:
        r["problems"].append(f"requests without a reply although the server answered later: {len(unanswered_bad)} "
                             f"frames {unanswered_bad[:8]}")
    if answered_never:
        r["problems"].append(f"replies paired with a request Redis never answers (empty/*0/*-N, CLIENT REPLY OFF/SKIP): "
                             f"request frames {answered_never[:8]}")

    # 3. commandstats (calls + rejected_calls; CONFIG RESETSTAT in the unit restarts the count)
    before, ebefore = parse_info(d / "info-before.txt")
    after, eafter = parse_info(d / "info-after.txt")
    resets = [q for q in req2 if q["name"] == "config|resetstat"]
    cut_frame, cut_t, control = 0, 0.0, CONTROL
    if resets:
        cut_frame, cut_t = resets[-1]["frame"], resets[-1]["t"]
        before, ebefore = {}, {}
        control = collections.Counter({"echo": 1})
        r["explained"]["resetstat"] = sum(1 for q in req2 if q["frame"] < cut_frame and q["name"])
    counted = collections.Counter()
    for name, v in after.items():
        b = before.get(name, {"calls": 0, "rejected_calls": 0})
        n = v["calls"] - b["calls"] + v["rejected_calls"] - b["rejected_calls"]
        if n:
            counted[name] = n
    lua_after = collections.Counter(n for a, lst in mon.items() if a == "lua" for ts, n, _ in lst if ts >= cut_t)
    counted.subtract(control)
    counted.subtract(lua_after)
    counted = +counted
    wire = collections.Counter(q["name"] for q in req2 if q["name"] and q["frame"] >= cut_frame)
    r["commands_counted"] = sum(counted.values())
    r["lua_commands"] = sum(lua.values())
    r["errorstats_delta"] = {k: v - ebefore.get(k, 0) for k, v in eafter.items() if v - ebefore.get(k, 0)}
    not_counted = collections.Counter()
    for fno, n, why in cls:
        if why in ("unknown", "queued_not_run", "admin", "rejected"):
            r["explained"][why] += 1
        if why == "after_quit":
            r["explained"][why] += 1
        if why in ("unknown", "queued_not_run", "after_quit") and fno >= cut_frame:
            not_counted[n] += 1
    r["explained"]["lua"] = sum(lua.values())
    r["explained"].update({f"no_reply:{k}": v for k, v in unanswered_ok.items()})
    r["explained"] = {k: v for k, v in r["explained"].items() if v}
    rejected_delta = collections.Counter()
    for name, v in after.items():
        rejected_delta[name] = v["rejected_calls"] - before.get(name, {"rejected_calls": 0})["rejected_calls"]
    scripts_on_wire = any(q["name"] in MONITORED_ANYWAY - {"exec"} for q in req2)
    cmd_diff = {}
    for n in sorted(set(wire) | set(counted)):
        delta = wire[n] - not_counted[n] - counted[n]
        wire_rejected = sum(1 for fno, m, why in cls if m == n and why == "rejected" and fno >= cut_frame)
        if delta < 0 and scripts_on_wire and -delta <= rejected_delta[n] - wire_rejected:
            # redis.call() refused inside a script (pause, no-writes, OOM, ...): rejected_calls
            # grows, but the command is neither on the wire nor in MONITOR
            r["explained"]["rejected_in_script"] = r["explained"].get("rejected_in_script", 0) - delta
            continue
        if delta:
            cmd_diff[n] = {"decoded": wire[n], "counted": counted[n], "explained_not_counted": not_counted[n]}
    r["command_diff"] = cmd_diff
    if cmd_diff:
        items = sorted(cmd_diff.items(), key=lambda kv: -abs(kv[1]["decoded"] - kv[1]["counted"]))
        r["problems"].append("decoded vs commandstats: " + ", ".join(
            f"{n} {v['decoded']}/{v['counted']}" + (f" (-{v['explained_not_counted']} explained)" if v["explained_not_counted"] else "")
            for n, v in items[:10]))
    if not run.get("monitor_complete", True):
        dropped = ("executed by the server", "decoded but not executed", "reply paired with a request it cannot",
                   "decoded vs commandstats")
        r["problems"] = [p for p in r["problems"] if not p.startswith(dropped)]
        r["explained"]["monitor_lost"] = 1
    r["agree"] = not r["problems"]
    return r


def report(r):
    tests = f"{r.get('tests_ok', '?')}/{r.get('tests_failed', '?')}F" if "tests_ok" in r else "-"
    print(f"{r['unit']:<28} {r['frames']:>7} {r['requests']:>8} {r['commands_counted']:>8} {tests:>9}  "
          f"{'agree' if r['agree'] else 'DIFFER'}")
    if r.get("runtest_exit"):
        print(f"    note: runtest exit {r['runtest_exit']} ({r.get('tests_failed')} failed tests: the server's "
              f"business, not the dissector's)")
    for k, v in sorted(r.get("explained", {}).items()):
        key = k.split(":", 1)[1] if k.startswith("no_reply:") else k
        print(f"    explained {k}: {v}  -- {REASONS.get(key, '')}")
    if r.get("capture_note"):
        print(f"    capture: {r['capture_note']}")
    for p in r["problems"]:
        print(f"    PROBLEM {p}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--tshark", default=str(TOP / "tools" / "tshark-plugin"))
    ap.add_argument("--summary")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    a = ap.parse_args()
    filters = known_filters(a.tshark)
    print(f"{'unit':<28} {'frames':>7} {'requests':>8} {'counted':>8} {'tests':>9}  result", flush=True)
    results = []
    for d in a.dirs:
        try:
            r = check_unit(d, a.tshark, filters)
        except (OSError, RuntimeError, ValueError, KeyError) as e:
            r = {"unit": str(d), "agree": False, "problems": [f"check failed: {e}"],
                 "frames": 0, "requests": 0, "commands_counted": 0, "explained": {}}
        results.append(r)
        report(r)
    if a.json:
        print(json.dumps(results, indent=1, default=str))
    if a.summary:
        pathlib.Path(a.summary).write_text(json.dumps(results, indent=1, default=str))
    n = len(results)
    m = sum(1 for r in results if r["agree"])
    print(f"testsuite: {n} units, {m} agree, {n - m} differ")
    return 0 if m == n else 1


if __name__ == "__main__":
    sys.exit(main())
