"""The RESP dissector on real Redis 8 and Valkey traffic that uses the commands and container
subcommands Redis 7.0.15 does not have (test-captures/newcmd-<server>-<version>.pcap, made by
test-captures/make-newcommand-captures.sh; see test-captures/README.md, "New-command captures").

The truth comes from the server that answered: each request's command and subcommand, the keys
its own COMMAND GETKEYS names for that line (truth "keys", in argument order; null where the
server refuses the line), and the frames of the request and of its reply. The plugin must show
exactly those, and must not flag any of these commands as unknown (expert resp.unknown_command /
resp.unknown_subcommand): the servers know them, so the command table has to.
"""
import os
import shutil
import subprocess

import pytest

from conftest import CAPTURES, ROOT, frames, load, netns_problem, pcap

SCRIPT = ROOT / "test-captures" / "make-newcommand-captures.sh"
# the captures made for the command-table issue; any other newcmd-*.truth.json is checked too
REQUIRED = ["newcmd-redis-8.0.2", "newcmd-valkey-8.1.1", "newcmd-valkey-9.1.2"]
NAMES = sorted({p.name[:-len(".truth.json")] for p in CAPTURES.glob("newcmd-*.truth.json")}
               | set(REQUIRED))
BAD = ("_ws.malformed || resp.malformed || resp.skipped_bytes || resp.unmatched_response || "
       "resp.truncated || resp.incomplete")
UNKNOWN = "resp.unknown_command || resp.unknown_subcommand"


def label(r):
    return " ".join(a if isinstance(a, str) else "<binary>" for a in r["args"])[:100]


def requests_by_frame(d, name, fields):
    rows = frames(pcap(d, name), ["frame.number", *fields], "resp.request", ["-2"])
    return {int(r["frame.number"][0]): r for r in rows}


# --------------------------------------------------------------------------- checks
# Each check takes the folder and the capture name, so that the live test runs the very same
# checks on a capture it has just made.

def check_truth(d, name):
    """The truth is what its notes say: every new command is in the traffic, and flagged."""
    t = load(d, name)
    assert t["new_commands"], name
    sent = set(t["new_commands_sent"])
    for n in t["new_commands"]:
        assert n in sent or any(s.startswith(n + "|") for s in sent), (name, n)
    assert {r["statname"] for r in t["requests"] if r["unknown_to_redis_7_0_15"]} == sent
    assert len(t["requests"]) == t["requests_total"]
    assert [r["index"] for r in t["requests"]] == list(range(t["requests_total"]))
    assert all(r["frame"] < r["reply_frame"] for r in t["requests"])


def check_commands(d, name):
    """resp.command / resp.subcommand of every request, in order, are the truth's."""
    t = load(d, name)
    rows = requests_by_frame(d, name, ["resp.command", "resp.subcommand"])
    assert sorted(rows) == [r["frame"] for r in t["requests"]], name
    got = [(rows[r["frame"]]["resp.command"], rows[r["frame"]]["resp.subcommand"])
           for r in t["requests"]]
    want = [([r["command"]], [r["subcommand"]] if r["subcommand"] else []) for r in t["requests"]]
    wrong = [f"{label(r)}: got {g}, server {w}" for r, g, w in zip(t["requests"], got, want)
             if g != w]
    assert not wrong, f"{name}: {len(wrong)} of {len(want)} requests:\n" + "\n".join(wrong)


def check_keys(d, name):
    """For every request the server's COMMAND GETKEYS answers, resp.key are its keys, in order."""
    t = load(d, name)
    rows = requests_by_frame(d, name, ["resp.key"])
    checked = [r for r in t["requests"] if r["keys"] is not None]
    assert len(checked) == t["requests_total"] - t["getkeys_refused"]
    wrong = [f"{label(r)}: resp.key {rows[r['frame']]['resp.key']}, server {r['keys']}"
             for r in checked if rows[r["frame"]]["resp.key"] != r["keys"]]
    new = [r for r in checked if r["unknown_to_redis_7_0_15"]]
    new_wrong = [r for r in new if rows[r["frame"]]["resp.key"] != r["keys"]]
    assert not wrong, (f"{name}: {len(wrong)} of {len(checked)} requests ({len(new_wrong)} of the "
                       f"{len(new)} with a new command):\n" + "\n".join(wrong))


def check_known(d, name):
    """No request is flagged as a command or subcommand the plugin does not know."""
    t = load(d, name)
    by_frame = {r["frame"]: r for r in t["requests"]}
    rows = frames(pcap(d, name), ["frame.number", "_ws.expert.message"], UNKNOWN)
    flagged = sorted({label(by_frame[int(r["frame.number"][0])]).split(" ")[0] + " " +
                      "; ".join(m for m in r["_ws.expert.message"] if "not one" in m or
                                "has no subcommand" in m) for r in rows})
    assert not rows, f"{name}: {len(rows)} requests flagged unknown:\n" + "\n".join(flagged)


RELEASES = {"Redis": ["7.0", "7.2", "7.4", "8.0"], "Valkey": ["8.0", "8.1", "9.1"]}


def releases(text):
    """resp.command.servers ("Redis 7.4–8.0, Valkey 9.1; Sentinel (Redis 7.0–8.0)") as a set of
    (product, release, sentinel)."""
    out = set()
    for group in text.split("; "):
        sentinel = group.startswith("Sentinel (")
        if sentinel:
            group = group[len("Sentinel ("):-1]
        for part in group.split(", "):
            product, span = part.split(" ")
            first, _, last = span.partition("\u2013")
            rel = RELEASES[product]
            out |= {(product, r, sentinel) for r in rel[rel.index(first):rel.index(last or first) + 1]}
    return out


def check_servers(d, name):
    """resp.command.servers of every request (of its subcommand, when it has one) names the
    release that answered it, and not Redis 7.0 for a command Redis 7.0.15 does not have."""
    t = load(d, name)
    rows = requests_by_frame(d, name, ["resp.command.servers"])
    product = "Valkey" if t["server_name"] == "valkey" else "Redis"
    release = ".".join(t["server_version"].split(".")[:2])
    wrong = []
    for r in t["requests"]:
        have = releases(rows[r["frame"]]["resp.command.servers"][-1])
        if (product, release, False) not in have or \
                (r["unknown_to_redis_7_0_15"] and ("Redis", "7.0", False) in have):
            wrong.append(f"{label(r)}: {sorted(have)}")
    assert not wrong, f"{name}: {len(wrong)} requests:\n" + "\n".join(wrong)


def check_pairing(d, name):
    """Every request is paired with its reply, both ways, and nothing else is a response."""
    t = load(d, name)
    reqs = requests_by_frame(d, name, ["resp.response_in"])
    reps = {int(r["frame.number"][0]): r for r in
            frames(pcap(d, name), ["frame.number", "resp.response_to"], "resp.response", ["-2"])}
    assert sorted(reps) == sorted(r["reply_frame"] for r in t["requests"]), name
    for r in t["requests"]:
        assert reqs[r["frame"]]["resp.response_in"] == [str(r["reply_frame"])], (name, label(r))
        assert reps[r["reply_frame"]]["resp.response_to"] == [str(r["frame"])], (name, label(r))


def check_clean(d, name):
    rows = frames(pcap(d, name), ["frame.number", "_ws.expert.message"], BAD, ["-2"])
    assert rows == [], f"{name}: {rows[:5]}"


CHECKS = [check_truth, check_commands, check_keys, check_known, check_servers, check_pairing, check_clean]


# --------------------------------------------------------------------------- static

def test_the_captures_are_there():
    missing = [n for n in REQUIRED if not (CAPTURES / f"{n}.pcap").exists()
               or not (CAPTURES / f"{n}.truth.json").exists()]
    assert not missing, missing
    for n in REQUIRED:
        t = load(CAPTURES, n)
        assert f"newcmd-{t['server_name']}-{t['server_version']}" == n


@pytest.mark.parametrize("name", NAMES)
def test_truth(name):
    check_truth(CAPTURES, name)


@pytest.mark.parametrize("name", NAMES)
def test_commands_and_subcommands(name):        # resp.command, resp.subcommand
    check_commands(CAPTURES, name)


@pytest.mark.parametrize("name", NAMES)
def test_keys_are_the_servers(name):             # resp.key == COMMAND GETKEYS
    check_keys(CAPTURES, name)


@pytest.mark.parametrize("name", NAMES)
def test_no_command_flagged_unknown(name):       # resp.unknown_command, resp.unknown_subcommand
    check_known(CAPTURES, name)


@pytest.mark.parametrize("name", NAMES)
def test_command_servers_name_the_release(name):  # resp.command.servers
    check_servers(CAPTURES, name)


@pytest.mark.parametrize("name", NAMES)
def test_every_reply_paired(name):               # resp.response_in, resp.response_to
    check_pairing(CAPTURES, name)


@pytest.mark.parametrize("name", NAMES)
def test_no_malformed_or_unmatched(name):
    check_clean(CAPTURES, name)


# --------------------------------------------------------------------------- live

def _server_major(server):
    out = subprocess.run([server, "--version"], capture_output=True, text=True, timeout=30).stdout
    return int(out.split("v=")[1].split(".")[0]), out.split("v=")[1].split()[0]


@pytest.mark.parametrize("server", ["redis-server", "valkey-server"])
def test_live_new_command_capture(server, shared_tmp):
    """Make a fresh capture with the local server when it has commands Redis 7.0.15 lacks
    (Redis >= 8, any Valkey: the trixie and sid roots) and run the same checks on it."""
    if os.geteuid() != 0:
        pytest.skip("live new-command captures need root (network namespace, tcpdump)")
    for tool in (server, server.replace("-server", "-cli"), "tcpdump", "ip", "ss", "ps"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    major, version = _server_major(server)
    if server == "redis-server" and major < 8:
        pytest.skip(f"the local redis-server is {version}: Redis before 8 has none of the new "
                    "commands these captures are about (a Redis >= 8 or a Valkey is needed)")
    problem = netns_problem()
    if problem:
        pytest.skip(problem)
    p = subprocess.run([str(SCRIPT), "--server", server, "--out", str(shared_tmp)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    for f in shared_tmp.iterdir():
        f.chmod(0o644)
    name = f"newcmd-{server[:-len('-server')]}-{version}"
    assert (shared_tmp / f"{name}.truth.json").exists(), sorted(os.listdir(shared_tmp))
    failures = []
    for check in CHECKS:
        try:
            check(shared_tmp, name)
        except AssertionError as e:
            failures.append(f"{check.__name__}: {str(e)[:1500]}")
    assert not failures, "\n".join(failures)
