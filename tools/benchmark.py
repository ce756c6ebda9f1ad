#!/usr/bin/python3
"""benchmark.py - the measuring half of tools/benchmark.sh (which makes the captures).

  benchmark.py frames PCAP        frame count (for the 10 % cut)
  benchmark.py holes PCAP...      exit 3 if a TCP direction has a hole (data captured out of
                                  order: Wireshark's default then loses it); retransmitted
                                  copies are fine, they are real traffic
  benchmark.py run --work DIR ... checks, interleaved timed runs, the table

Every tshark runs as user nobody with a private empty HOME, the plugin given (or not) by
WIRESHARK_PLUGIN_DIR, output to /dev/null; its CPU (user + sys) and peak RSS come from
wait4() on it. Standard library only.
"""
import argparse
import json
import os
import platform
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

MB = 1e6          # sizes, RSS and rates in MB = 10^6 bytes
REC = 1060        # one spiped record on the wire
HANDSHAKE = 640   # spiped bytes per connection before the records (2 x (32 + 288))
RUN_TIMEOUT = 600  # s, one tshark run
SET = 'resp.command == "SET"'


def fail(msg):
    sys.exit("benchmark.py: ERROR: " + msg)


# ---------------------------------------------------------------- captures

def pcap_stat(path):
    """frames, file size, TCP stream bytes (retransmitted copies once), connections (SYNs),
    and per TCP direction the
    segments that start past the data seen so far (a hole: captured out of order or lost) or
    repeat part of it (retransmissions)"""
    frames = payload = conns = holes = retrans = 0
    nxt = {}   # (src, dst, ports) -> next expected sequence number
    with open(path, "rb") as f:
        head = f.read(24)
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            end = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            end = ">"
        else:
            fail(f"{path}: not a pcap file")
        link = struct.unpack(end + "I", head[20:24])[0] & 0xFFFF
        l2 = {1: 14, 113: 16, 276: 20, 0: 4}.get(link)
        if l2 is None:
            fail(f"{path}: link type {link} not handled")
        rec = struct.Struct(end + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            pkt = f.read(rec.unpack(h)[2])
            frames += 1
            ip = pkt[l2:]
            if len(ip) >= 20 and ip[0] >> 4 == 4 and ip[9] == 6:
                ihl = (ip[0] & 15) * 4
                tlen = struct.unpack_from(">H", ip, 2)[0] - ihl
                addrs, tcp = ip[12:20], ip[ihl:]
            elif len(ip) >= 40 and ip[0] >> 4 == 6 and ip[6] == 6:
                tlen = struct.unpack_from(">H", ip, 4)[0]
                addrs, tcp = ip[8:40], ip[40:]
            else:
                continue
            if len(tcp) < 14:
                continue
            seq = struct.unpack_from(">I", tcp, 4)[0]
            plen = tlen - (tcp[12] >> 4) * 4
            flow = addrs + tcp[:4]
            if tcp[13] & 0x02:            # SYN
                conns += not tcp[13] & 0x10
                nxt[flow] = (seq + 1) & 0xFFFFFFFF
            elif plen > 0 and flow in nxt:
                d = (seq - nxt[flow]) & 0xFFFFFFFF
                e = (seq + plen - nxt[flow]) & 0xFFFFFFFF
                if d and d < 1 << 31:
                    holes += 1
                elif d:
                    retrans += 1
                if e and e < 1 << 31:     # new bytes: stream bytes count once
                    payload += e
                    nxt[flow] = (seq + plen) & 0xFFFFFFFF
            else:
                payload += plen
    return {"frames": frames, "bytes": os.path.getsize(path), "tcp_payload": payload,
            "connections": conns, "holes": holes, "retransmissions": retrans}


# ---------------------------------------------------------------- tshark runs

class Tshark:
    def __init__(self, a):
        self.a = a
        self.key = os.path.join(a.work, "captures", "tunnel.key")

    def argv(self, plugin, capture, args, key=False):
        d = self.a.plugins if plugin else self.a.noplugins
        keyopt = ["-o", "spiped.key_file:" + self.key] if key else []
        cap = ["-n", "-r", os.path.join(self.a.work, "captures", capture)] if capture else []
        return [self.a.setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/env", "-i", "HOME=" + self.a.home, "PATH=/usr/bin:/bin",
                "WIRESHARK_PLUGIN_DIR=" + d, self.a.tshark] + cap + keyopt + args

    def output(self, argv):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        if p.returncode != 0:
            fail(f"{shown(argv)} exited {p.returncode}: {p.stderr.strip()}")
        return p.stdout, p.stderr


def shown(argv):
    """the tshark part of a command line, for messages"""
    return " ".join(argv[9:])


def timed(argv):
    """(CPU s, peak RSS MB, stderr) of one run, output to /dev/null"""
    with open(os.devnull, "r+b") as null, tempfile.TemporaryFile() as err:
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, null.fileno(), 0), (os.POSIX_SPAWN_DUP2, null.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])

        def too_long(*_):
            raise TimeoutError
        old = signal.signal(signal.SIGALRM, too_long)
        signal.alarm(RUN_TIMEOUT)
        try:
            _, status, ru = os.wait4(pid, 0)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            fail(f"timed out after {RUN_TIMEOUT} s: {shown(argv)}")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        err.seek(0)
        msg = err.read().decode(errors="replace").strip()
    if os.waitstatus_to_exitcode(status) != 0:
        fail(f"{shown(argv)} exited {os.waitstatus_to_exitcode(status)}: {msg}")
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024 / MB, msg


# The configurations, in table order: (id, label, capture, plugin?, key?, tshark arguments)
def configurations():
    bulk = ["-q", "-Y", "resp.bulk_string"]
    setf = ["-q", "-Y", SET]
    return [
        ("floor", "floor: no plugin, resp disabled, tcp.len > 0", "clear.pcap", False, False,
         ["-q", "--disable-protocol", "resp", "-Y", "tcp.len > 0"]),
        ("builtin_bulk", "builtin bulk: -Y resp.bulk_string", "clear.pcap", False, False, bulk),
        ("plugin_bulk", "plugin bulk: -Y resp.bulk_string", "clear.pcap", True, False, bulk),
        ("plugin_set", "plugin SET: -Y resp.command == \"SET\"", "clear.pcap", True, False, setf),
        ("plugin_set_10pct", "growth: plugin SET on the first 10 %", "clear-10pct.pcap", True,
         False, setf),
        ("plugin_tree", "plugin tree: -z resp,tree", "clear.pcap", True, False,
         ["-q", "-z", "resp,tree"]),
        ("builtin_V", "builtin -V, first 10 000 frames", "clear.pcap", False, False,
         ["-c", "10000", "-V"]),
        ("plugin_V", "plugin -V, first 10 000 frames", "clear.pcap", True, False,
         ["-c", "10000", "-V"]),
        ("tunnel_nokey", "tunnel: plugin SET, no key", "tunnel.pcap", True, False, setf),
        ("tunnel_key", "tunnel: plugin SET, key", "tunnel.pcap", True, True, setf),
        ("tunnel_clear", "tunnel clear leg: plugin SET", "tunnel-clear.pcap", True, False, setf),
        ("big_nokey", "bigvalue: plugin SET, no key", "bigvalue-tunnel.pcap", True, False, setf),
        ("big_key", "bigvalue: plugin SET, key", "bigvalue-tunnel.pcap", True, True, setf),
        ("big_clear", "bigvalue clear leg: plugin SET", "bigvalue-clear.pcap", True, False, setf),
        ("repl_floor", "repl floor: no plugin, resp disabled", "repl.pcap", False, False,
         ["-q", "--disable-protocol", "resp", "-Y", "tcp.len > 0"]),
        ("repl_builtin", "repl builtin: -Y resp.bulk_string", "repl.pcap", False, False, bulk),
        ("repl_plugin", "repl plugin: -Y resp.rdb", "repl.pcap", True, False,
         ["-q", "-Y", "resp.rdb"]),
    ]


# ---------------------------------------------------------------- checks

def check_loading(ts):
    """the plugin loads from the copy, and not without it; nothing on stderr"""
    for plugin in (True, False):
        out, err = ts.output(ts.argv(plugin, None, ["-G", "plugins"]))
        if err.strip():
            fail(f"tshark -G plugins (plugin={plugin}) printed: {err.strip()}")
        if ("redis_spiped" in out) != plugin:
            fail("the plugin is " + ("not loaded from the copy of BUILD_DIR/plugins" if plugin
                 else "loaded without WIRESHARK_PLUGIN_DIR (installed globally?)"))


def count_commands(ts, capture, key=False):
    out, _ = ts.output(ts.argv(True, capture, ["-Y", "resp.command", "-T", "fields", "-e",
                                                  "resp.command", "-E", "occurrence=a"], key))
    names = [c for line in out.split() for c in line.split(",")]
    return {"SET": names.count("SET"), "GET": names.count("GET")}


def checks(ts, truth):
    """the plugin's decoding agrees with what the server counted (one untimed run each)"""
    res = []

    def add(what, seen, want):
        res.append({"check": what, "seen": seen, "server": want, "ok": seen == want})

    for cap, key, t in (("clear.pcap", False, truth["clear"]),
                        ("tunnel.pcap", True, truth["tunnel"]),
                        ("tunnel-clear.pcap", False, truth["tunnel"])):
        add(f"{cap}{' with key' if key else ''}: SET/GET requests", count_commands(ts, cap, key),
            {"SET": t["set_calls"], "GET": t["get_calls"]})
    for cap, key in (("bigvalue-tunnel.pcap", True), ("bigvalue-clear.pcap", False)):
        out, _ = ts.output(ts.argv(True, cap, ["-Y", SET, "-T", "fields", "-e",
                                                  "resp.bulk_string.length", "-E",
                                                  "occurrence=a"], key))
        lens = [int(x) for x in out.replace("\n", ",").split(",") if x]
        add(f"{cap}{' with key' if key else ''}: largest SET value (bytes)", max(lens, default=0),
            truth["bigvalue"]["value_bytes"])
    out, _ = ts.output(ts.argv(True, "repl.pcap", ["-Y", "resp.rdb.length", "-T", "fields",
                                                      "-e", "resp.rdb.length"]))
    lens = {int(x) for x in out.split() if x}
    add("repl.pcap: RDB length (bytes)", max(lens, default=0), truth["repl"]["rdb_bytes"])
    return res


# ---------------------------------------------------------------- measuring

def cpu_stat():
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz


def measure(ts, a, cfgs):
    """round-robin: run 1 of every configuration, then run 2, ...; the crypto ceiling too.
    Also what the rest of the machine used meanwhile (another job skews the figures)."""
    raw = {c[0]: {"cpu": [], "rss": [], "stderr": ""} for c in cfgs}
    raw["crypto"] = []
    busy0, steal0, wall0 = *cpu_stat(), time.monotonic()
    for r in range(a.runs):
        print(f"[benchmark] run {r + 1}/{a.runs}", file=sys.stderr, flush=True)
        for cid, _, cap, plugin, key, args in cfgs:
            cpu, rss, err = timed(ts.argv(plugin, cap, args, key))
            raw[cid]["cpu"].append(cpu)
            raw[cid]["rss"].append(rss)
            raw[cid]["stderr"] = raw[cid]["stderr"] or err
        p = subprocess.run([a.crypto, str(a.crypto_records)], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT, check=True)
        raw["crypto"].append(json.loads(p.stdout))
    busy, steal = cpu_stat()
    ours = sum(sum(raw[c[0]]["cpu"]) for c in cfgs) + sum(x["cpu_s"] for x in raw["crypto"])
    raw["machine_load"] = {"wall_s": round(time.monotonic() - wall0, 1),
                           "other_cpu_s": round(busy - busy0 - ours, 1),
                           "steal_s": round(steal - steal0, 1)}
    return raw


# ---------------------------------------------------------------- report

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        ram = int(f.readline().split()[1]) * 1024
    return {"cpu": model, "cores": os.cpu_count(), "ram_gb": round(ram / 1e9, 1),
            "kernel": platform.release()}


def report(a, truth, stats, raw, chk, cfgs):
    ids = [c[0] for c in cfgs]
    med = {c: statistics.median(raw[c]["cpu"]) for c in ids}
    rss = {c: statistics.median(raw[c]["rss"]) for c in ids}
    load = raw["machine_load"]
    ceiling = statistics.median(x["wire_mb_s"] for x in raw["crypto"])
    big = stats["bigvalue-tunnel.pcap"]
    big_ct = big["tcp_payload"] - HANDSHAKE * big["connections"]
    dcpu = med["big_key"] - med["big_nokey"]
    plugin_rate = big_ct / dcpu / MB if dcpu > 0 else float("inf")
    plain_tunnel = stats["tunnel-clear.pcap"]["tcp_payload"] / MB
    plain_big = stats["bigvalue-clear.pcap"]["tcp_payload"] / MB
    rdb = truth["repl"]["rdb_bytes"] / MB

    def ratio(x, y):
        return x / y if y else float("inf")

    t = {}   # the targets, by the row they concern: [(target, measured, met)]

    def target(row, text, value, ok):
        t.setdefault(row, []).append((text, value, ok))

    r = ratio(med["plugin_bulk"], med["builtin_bulk"])
    target("plugin_bulk", "CPU ≤ 1.0× builtin bulk", f"{r:.2f}×", r <= 1.0)
    r = ratio(rss["plugin_bulk"], rss["builtin_bulk"])
    target("plugin_bulk", "peak RSS ≤ 1.1× builtin bulk", f"{r:.2f}×", r <= 1.1)
    r = ratio(med["plugin_set"], med["floor"])
    target("plugin_set", "CPU ≤ 1.15× floor", f"{r:.2f}×", r <= 1.15)
    r = ratio(med["plugin_set"], med["plugin_set_10pct"])
    target("plugin_set_10pct", "CPU full / 10 % ≤ 10.5", f"{r:.2f}", r <= 10.5)
    r = ratio(med["tunnel_key"], med["tunnel_clear"])
    target("tunnel_key", "CPU ≤ 1.3× clear leg", f"{r:.2f}×", r <= 1.3)
    lim = rss["tunnel_clear"] + 1.2 * plain_tunnel
    target("tunnel_key", f"peak RSS ≤ clear leg + 1.2 × {plain_tunnel:.0f} MB plaintext",
           f"{rss['tunnel_key']:.0f} ≤ {lim:.0f} MB", rss["tunnel_key"] <= lim)
    lim = rss["big_clear"] + 1.2 * plain_big
    target("big_key", f"peak RSS ≤ clear leg + 1.2 × {plain_big:.0f} MB plaintext",
           f"{rss['big_key']:.0f} ≤ {lim:.0f} MB", rss["big_key"] <= lim)
    r = plugin_rate / ceiling
    target("big_key", f"decryption ≥ 50 % of the ceiling ({ceiling:.0f} MB/s)",
           f"{plugin_rate:.0f} MB/s = {100 * r:.0f} %", r >= 0.5)
    d = rss["repl_plugin"] - rss["repl_floor"]
    target("repl_plugin", f"peak RSS − floor ≤ 10 % of the {rdb:.0f} MB RDB",
           f"{d:+.0f} MB = {100 * d / rdb:.0f} %", d <= 0.1 * rdb)

    m = machine()
    lines = [
        "# Benchmark: redis_spiped plugin",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Linux {m['kernel']}",
        f"- {a.tshark_version.rstrip('.')}; plugin {a.commit} ({a.plugin_so})",
        f"- {a.server_version}; {a.spiped_version}",
        f"- {a.runs} run(s) per configuration, interleaved; CPU = user + sys of the whole "
        "tshark process (median), peak RSS = median of its maxrss; MB = 10^6 bytes",
        f"- machine load: during the {load['wall_s']:.0f} s of timed runs other processes used "
        f"{load['other_cpu_s']:.0f} CPU s ({100 * load['other_cpu_s'] / load['wall_s']:.0f} % of "
        f"one core), hypervisor steal {load['steal_s']:.0f} s",
        f"- crypto ceiling (tools/bench-crypto.c, libgcrypt {raw['crypto'][0]['libgcrypt']}, "
        f"contexts reused, MAC check + AES-256-CTR): {ceiling:.0f} MB/s of 1060-byte records; "
        f"plugin: {big_ct / MB:.0f} MB ({big_ct / REC:,.0f} records) / ({med['big_key']:.2f} − "
        f"{med['big_nokey']:.2f}) s = {plugin_rate:.0f} MB/s",
        "- ground truth (server): " + json.dumps(truth, separators=(", ", ": ")),
        "- captures:",
    ] + [f"  - {n}: {s['bytes'] / MB:.1f} MB, {s['frames']:,} frames, {s['retransmissions']} "
         "retransmitted segments" for n, s in stats.items()] + [
        "- checks, plugin against server:",
    ] + [f"  - {c['check']}: {c['seen']} "
         f"{'ok' if c['ok'] else '**MISMATCH**, server: %s' % c['server']}" for c in chk] + [
        "",
        "| configuration | capture | CPU s | min–max | peak RSS MB | target | measured | met |",
        "|---|---|--:|--:|--:|---|---|---|",
    ]
    for cid, label, cap, *_ in cfgs:
        c = raw[cid]["cpu"]
        rows = t.get(cid, [("", "", None)])
        for i, (text, value, ok) in enumerate(rows):
            met = "" if ok is None else ("met" if ok else "**NOT met**")
            if i == 0:
                lines.append(f"| {label} | {cap} | {med[cid]:.2f} | {min(c):.2f}–{max(c):.2f} | "
                             f"{rss[cid]:.0f} | {text} | {value} | {met} |")
            else:
                lines.append(f"| | | | | | {text} | {value} | {met} |")
    warn = [f"- stderr of {cid}: {raw[cid]['stderr'][:300]}" for cid in ids
            if raw[cid]["stderr"]]
    if warn:
        lines += ["", "tshark wrote to stderr:"] + warn
    text = "\n".join(lines) + "\n"
    print(text)
    targets = [{"row": row, "target": x[0], "measured": x[1], "met": x[2]}
               for row, xs in t.items() for x in xs]
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        jpath = (a.out[:-3] if a.out.endswith(".md") else a.out) + ".json"
        with open(jpath, "w") as f:
            json.dump({"machine": m, "tshark": a.tshark_version, "plugin_commit": a.commit,
                       "runs": a.runs, "truth": truth, "captures": stats, "checks": chk,
                       "configurations": {c[0]: {"label": c[1], "capture": c[2],
                                                 "plugin": c[3], "key": c[4],
                                                 "args": c[5]} for c in cfgs},
                       "raw": raw, "median_cpu_s": med, "median_peak_rss_mb": rss,
                       "crypto_ceiling_mb_s": ceiling, "plugin_decrypt_mb_s": plugin_rate,
                       "targets": targets}, f, indent=1)
        print(f"[benchmark] wrote {a.out} and {jpath}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("frames")
    f.add_argument("pcap")
    h = sub.add_parser("holes")
    h.add_argument("pcaps", nargs="+")
    r = sub.add_parser("run")
    for opt in ("work", "plugins", "noplugins", "home", "tshark", "setpriv", "crypto", "commit",
                "plugin-so", "tshark-version", "server-version", "spiped-version"):
        r.add_argument("--" + opt, required=True)
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--crypto-records", type=int, default=300000)
    r.add_argument("--out")
    a = p.parse_args()
    if a.cmd == "frames":
        print(pcap_stat(a.pcap)["frames"])
        return
    if a.cmd == "holes":
        bad = 0
        for path in a.pcaps:
            st = pcap_stat(path)
            if st["holes"]:
                print(f"{path}: {st['holes']} TCP segment(s) after a hole", file=sys.stderr)
                bad = 1
        sys.exit(3 if bad else 0)
    with open(os.path.join(a.work, "captures", "truth.json")) as fh:
        truth = json.load(fh)
    names = ["clear.pcap", "clear-10pct.pcap", "tunnel.pcap", "tunnel-clear.pcap",
             "bigvalue-tunnel.pcap", "bigvalue-clear.pcap", "repl.pcap"]
    stats = {n: pcap_stat(os.path.join(a.work, "captures", n)) for n in names}
    ts = Tshark(a)
    check_loading(ts)
    print("[benchmark] checking the plugin's decoding against the server's counts",
          file=sys.stderr, flush=True)
    chk = checks(ts, truth)
    cfgs = configurations()
    raw = measure(ts, a, cfgs)
    report(a, truth, stats, raw, chk, cfgs)
    if not all(c["ok"] for c in chk):
        fail("the plugin's decoding disagrees with the server (checks above)")


if __name__ == "__main__":
    main()
