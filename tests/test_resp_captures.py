"""The RESP dissector on real captures, checked against the server's own record of them.

Every capture in test-captures/resp-*.pcap comes with a truth file written from redis-server's
MONITOR and INFO commandstats (see test-captures/README.md).
"""
import collections

import pytest

from conftest import CAPTURES, frames, truth, tshark, values

# resp-answers has a truth of its own layout (two servers, per-request records): its commands,
# replies, keys and clients are checked by test_stats.py and test_answers.py.
ALL = sorted(p.name[:-len(".truth.json")] for p in CAPTURES.glob("resp-*.truth.json")
             if p.name != "resp-answers.truth.json")
# Captures whose every conversation is whole: from SYN to FIN, full snap length.
PARTIAL = {"resp-midstream", "resp-midstream-cut", "resp-snaplen"}
# Whole, but with requests Redis rejects as protocol errors (checked in test_resp_features).
MALFORMED = {"resp-protoerror"}
COMPLETE = [n for n in ALL if n not in PARTIAL]
CLEAN = [n for n in COMPLETE if n not in MALFORMED]


def cap(name):
    return str(CAPTURES / f"{name}.pcap")


def commands_by_client(name, extra=()):
    """resp.command values of requests, per client port, in frame order."""
    seqs = collections.defaultdict(list)
    for row in frames(cap(name), ["tcp.srcport", "resp.command"], "resp.request", extra):
        seqs[row["tcp.srcport"][0]] += row["resp.command"]
    return seqs


def expected_by_client(t):
    skip = set(t.get("not_in_monitor", []))
    before = t.get("commands_before_capture", {})
    out = {}
    for port, cmds in t["connections"].items():
        out[port] = cmds[before.get(port, 0):]
    return out, skip


def test_every_capture_has_truth():
    assert len(ALL) >= 12, ALL
    for name in ALL:
        assert (CAPTURES / f"{name}.pcap").exists()


@pytest.mark.parametrize("name", ALL)
def test_command_sequence_matches_monitor(name):
    t = truth(name)
    expected, skip = expected_by_client(t)
    seen = commands_by_client(name)
    assert expected, "truth lists no connection"
    for port, cmds in expected.items():
        got = [c for c in seen.get(port, []) if c not in skip]
        if name in PARTIAL:
            # The capture may begin inside a command or cut one: what we decode must be a
            # contiguous run of what the server executed, ending where it ended.
            assert got, f"{name}: nothing decoded for client {port}"
            assert cmds[-len(got):] == got, f"{name} client {port}"
        else:
            assert got == cmds, f"{name} client {port}"


@pytest.mark.parametrize("name", COMPLETE)
def test_command_counts_match_commandstats(name):
    t = truth(name)
    got = collections.Counter()
    for row in frames(cap(name), ["resp.command", "resp.subcommand"], "resp.request"):
        # resp.subcommand occurrences follow the commands that have one, in order
        subs = iter(row["resp.subcommand"])
        for c in row["resp.command"]:
            key = c
            if any(k.startswith(c + "|") for k in t["commandstats_delta"]):
                key = f"{c}|{next(subs, '')}"
            got[key] += 1
    want = {k: v for k, v in t["commandstats_delta"].items() if v}
    for k, v in want.items():
        assert got[k] >= v, f"{name}: {k} seen {got[k]} times, server executed {v}"


@pytest.mark.parametrize("name", COMPLETE)
def test_every_reply_is_paired(name):
    rows = frames(cap(name), ["resp.response", "resp.response_to", "resp.time",
                              "resp.pubsub_message", "resp.monitor", "resp.push"],
                  "resp.response", ["-2"])
    replies = sum(len(r["resp.response"]) for r in rows)
    paired = sum(len(r["resp.response_to"]) for r in rows)
    assert replies > 0
    assert paired == replies, f"{name}: {replies - paired} replies without a request"
    assert sum(len(r["resp.time"]) for r in rows) == replies


@pytest.mark.parametrize("name", CLEAN)
def test_no_fragment_or_malformed_frame(name):
    bad = frames(cap(name), ["frame.number", "_ws.expert.message"],
                 "_ws.malformed || resp.skipped || resp.malformed || resp.truncated || "
                 "resp.incomplete || (tcp.len > 0 && !resp && !tcp.reassembled_in)", ["-2"])
    assert bad == [], f"{name}: {bad[:5]}"


@pytest.mark.parametrize("name", COMPLETE)
def test_requests_link_to_their_responses(name):
    rows = frames(cap(name), ["frame.number", "resp.response_in"], "resp.request", ["-2"])
    linked = [r for r in rows if r["resp.response_in"]]
    assert len(linked) >= len(rows) * 0.9
    for r in linked:
        for f in r["resp.response_in"]:
            assert int(f) > int(r["frame.number"][0])


def test_single_pass_and_two_pass_agree():
    one = values(cap("resp-pipeline"), "resp.command")
    two = values(cap("resp-pipeline"), "resp.command", extra=["-2"])
    assert one == two and len(one) >= 500
