"""Answers beyond the packet list, on hand-built edge cases: credentials (fields and the
credentials tap), slow responses, and frames holding more messages than Wireshark queues tap
records for. The real captures' checks are in test_stats.py, test_export.py, test_follow.py
and (resp-answers.pcap) below. Each test fails without its feature."""
import re

from conftest import TRUE, frames, tshark, values
from pcapgen import TcpConversation


def cmd(*words):
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def credentials(path, extra=()):
    """Rows of `-z credentials`: (packet, protocol, username, info)."""
    out = tshark("-r", path, "-q", "-z", "credentials", *extra).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(\d+)\s+(\S+)\s+(\S+)\s+(.*?)\s*$", line)
        if m:
            rows.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
    return rows


def test_credential_fields_of_every_form(shared_tmp):
    conv = TcpConversation()
    reqs = [
        (cmd(b"AUTH", b"pw0"), b"+OK\r\n", None, "pw0"),
        (cmd(b"AUTH", b"alice", b"pw1"), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
         "alice", "pw1"),
        (cmd(b"HELLO", b"3", b"SETNAME", b"auth", b"AUTH", b"bob", b"pw2"), b"%1\r\n+server\r\n+redis\r\n", "bob", "pw2"),
        (cmd(b"MIGRATE", b"10.0.0.3", b"6380", b"", b"0", b"5000", b"COPY", b"AUTH2", b"carol", b"pw3",
             b"KEYS", b"k1"), b"+NOKEY\r\n", "carol", "pw3"),
        (cmd(b"MIGRATE", b"10.0.0.3", b"6380", b"k", b"0", b"5000", b"AUTH", b"pw4"),
         b"-ERR Target instance replied with error: WRONGPASS invalid username-password pair\r\n", None, "pw4"),
        (cmd(b"CONFIG", b"SET", b"masterauth", b"pw5", b"masteruser", b"repl"), b"+OK\r\n", "repl", "pw5"),
        (cmd(b"config", b"set", b"requirepass", b"pw6"), b"+OK\r\n", None, "pw6"),
        (cmd(b"SET", b"AUTH", b"notapassword"), b"+OK\r\n", None, None),
    ]
    for q, a, _, _ in reqs:
        conv.send("c", q)
        conv.send("s", a)
    path = conv.write(shared_tmp / "credentials.pcap")
    rows = frames(path, ["frame.number", "resp.auth.username", "resp.auth.password"], "resp.request")
    assert [(r["resp.auth.username"], r["resp.auth.password"]) for r in rows] == \
        [([u] if u else [], [p] if p else []) for _, _, u, p in reqs]
    # the tap: one row per credential, at its request's frame, with the reply's verdict
    listed = credentials(path)
    req_frames = [int(r["frame.number"][0]) for r in rows]
    assert [(f, p, u) for f, p, u, _ in listed] == \
        [(req_frames[i], "RESP", u or "n.a.") for i, (_, _, u, p) in enumerate(reqs) if p]
    infos = [i for _, _, _, i in listed]
    assert infos[0].startswith("AUTH accepted")
    assert infos[1].startswith("AUTH refused: WRONGPASS")
    assert infos[2].startswith("HELLO AUTH accepted")
    assert infos[3].startswith("MIGRATE AUTH2 not tried")
    assert infos[4].startswith("MIGRATE AUTH refused: ERR Target instance replied with error: WRONGPASS")
    assert infos[5].startswith("CONFIG SET masterauth accepted")
    assert infos[6].startswith("CONFIG SET requirepass accepted")
    # same list with two passes
    assert credentials(path, ["-2"]) == listed


def test_credentials_of_a_huge_pipeline_are_bounded(shared_tmp):
    """1500 pipelined AUTH replies in one segment: Wireshark queues at most 5000 tap records
    per frame for all taps; the credentials tap takes 1000 of them and the frame says so."""
    conv = TcpConversation()
    conv.send("c", cmd(b"AUTH", b"pw") * 1500)
    conv.send("s", b"+OK\r\n" * 1500, segment=65000)
    path = conv.write(shared_tmp / "auth-pipeline.pcap")
    listed = credentials(path)
    assert len(listed) == 1000 and all(i.startswith("AUTH accepted") for *_, i in listed)
    assert len(values(path, "frame.number", "resp.credentials_not_listed")) == 1


def test_slow_responses(shared_tmp):
    """resp.slow_threshold (ms): every reply at least that slow gets resp.slow_response."""
    conv = TcpConversation()
    delays = [0.002, 0.050, 0.0299, 0.030, 0.250]
    for i, d in enumerate(delays):
        conv.send("c", cmd(b"GET", b"k%d" % i))
        conv.t += d - 0.001  # the reply comes d after the request
        conv.send("s", b"$-1\r\n")
    path = conv.write(shared_tmp / "slow.pcap")
    assert values(path, "frame.number", "resp.slow_response") == []  # off by default
    slow = frames(path, ["frame.number", "resp.time", "_ws.expert.message"], "resp.slow_response",
                  ["-o", "resp.slow_threshold:30"])
    assert len(slow) == 3
    assert [round(float(r["resp.time"][0]), 4) for r in slow] == [0.05, 0.03, 0.25]
    assert any(m.startswith("Slow response: 250.000 ms to GET") for m in slow[2]["_ws.expert.message"])
    # the Expert dialog's list (one line per distinct message, each seen once)
    out = tshark("-r", path, "-q", "-o", "resp.slow_threshold:30", "-z", "expert,note").stdout
    listed = re.findall(r"^\s*(\d+)\s+Sequence\s+RESP\s+Slow response: ([\d.]+) ms", out, re.M)
    assert listed == [("1", "50.000"), ("1", "30.000"), ("1", "250.000")], out


def test_every_message_of_a_huge_frame_reaches_the_taps(shared_tmp):
    """13 000 pipelined replies in one 65 000-byte segment (Wireshark queues at most 5000 tap
    records per frame): one record per frame carries them all."""
    conv = TcpConversation()
    conv.send("c", cmd(b"SET", b"k", b"v") * 13000)
    conv.send("s", b"+OK\r\n" * 13000, segment=65000)
    path = conv.write(shared_tmp / "burst.pcap")
    out = tshark("-r", path, "-q", "-z", "resp,srt").stdout
    m = re.search(r"^\s*\d+\s+SET\s+(\d+)\s", out, re.M)
    assert m and int(m.group(1)) == 13000, out


# ---- resp-answers.pcap: real redis-server 7.0.15 traffic, truth from the servers and clients

ANSWERS = "resp-answers"


def answers_truth():
    from conftest import truth
    return truth(ANSWERS)


def answers_pcap():
    from conftest import CAPTURES
    return CAPTURES / f"{ANSWERS}.pcap"


def test_credentials_list_equals_the_auth_attempts():
    """Every AUTH, HELLO AUTH, MIGRATE AUTH/AUTH2 and CONFIG SET requirepass/masterauth the
    clients (and the MIGRATE link) sent, at its request's frame, with the user and whether the
    reply the client received accepted it."""
    t = answers_truth()
    want = sorted((a["frame"], a["user"] or "n.a.", a["kind"], a["accepted"], a["reply_frame"])
                  for a in t["auth_attempts"])
    got = []
    for frame, proto, user, info in credentials(answers_pcap()):
        assert proto == "RESP"
        m = re.match(r"^(.*?) (accepted|refused: .*) \(reply in frame (\d+)\)$", info)
        assert m, info
        got.append((frame, user, m.group(1), m.group(2) == "accepted", int(m.group(3))))
    assert sorted(got) == want
    assert len(want) == 24 and sum(a[3] for a in want) == 17
    # the refusal names the error the client received
    refused = {a["frame"]: a["reply"] for a in t["auth_attempts"] if not a["accepted"]}
    for frame, _, _, info in credentials(answers_pcap()):
        if frame in refused:
            assert info.split("refused: ", 1)[1].startswith(refused[frame][1:60]), info


def test_credential_fields_equal_what_was_sent():
    t = answers_truth()
    rows = {int(r["frame.number"][0]): r for r in
            frames(answers_pcap(), ["frame.number", "resp.auth.username", "resp.auth.password"],
                   "resp.auth.password")}
    assert sorted(rows) == sorted(a["frame"] for a in t["auth_attempts"])
    for a in t["auth_attempts"]:
        r = rows[a["frame"]]
        assert r["resp.auth.password"] == [a["password"]]
        assert r["resp.auth.username"] == ([a["user"]] if a["user"] else [])


def test_slow_responses_of_the_real_capture():
    """DEBUG SLEEP 0.05 and 0.2 among fast commands: a threshold of 30 ms selects exactly the
    five sleeps, 100 ms the two long ones, in one pass and with -2."""
    t = answers_truth()
    for ms, key in ((30, "at_least_30ms"), (100, "at_least_100ms")):
        want = sorted((s["reply_frame"], s["frame"]) for s in t["slow"][key])
        for extra in ([], ["-2"]):
            got = frames(answers_pcap(), ["frame.number", "resp.response_to", "resp.command"],
                         "resp.slow_response", ["-o", f"resp.slow_threshold:{ms}", *extra])
            assert sorted((int(r["frame.number"][0]), int(r["resp.response_to"][0])) for r in got) == want
    assert t["slow"]["max_rt_us_of_other_requests"] < 30000


def test_custom_columns_of_the_example_profile():
    """docs/columns-profile/preferences: the command and key on both rows of a pair, the
    response time on the reply's, as the fields say. Read with -T tabs (column fields named by
    title, _ws.col.<title>, exist on 4.0 only)."""
    from conftest import CAPTURES, ROOT
    text = (ROOT / "docs" / "columns-profile" / "preferences").read_text()
    fmt = re.search(r"^gui\.column\.format:\s*((?:\s*\".*?\",\s*\".*?\",?)+)", text, re.M).group(1)
    cols = dict(re.findall(r'"(.*?)",\s*"(.*?)"', fmt))
    assert list(cols)[-4:] == ["Command", "Key", "Resp. time", "Info"], cols
    ours = ["Command", "Key", "Resp. time"]
    option = "gui.column.format:" + ",".join(f'"{t}","{cols[t]}"' for t in ["No."] + ours)
    cap = CAPTURES / "resp-basic.pcap"
    shown = {}
    for line in tshark("-r", cap, "-T", "tabs", "-Y", "resp", "-o", option).stdout.splitlines():
        no, *rest = line.split("\t")
        rest += [""] * (len(ours) - len(rest))
        shown[int(no)] = dict(zip(ours, rest))
    rows = frames(cap, ["frame.number", "resp.command", "resp.key", "resp.response_to", "resp.time"], "resp")
    by_frame = {int(r["frame.number"][0]): r for r in rows}
    assert sorted(shown) == sorted(by_frame)
    replies = 0
    for f, r in by_frame.items():
        if r["resp.response_to"]:
            req = by_frame[int(r["resp.response_to"][0])]
            replies += 1
            assert shown[f]["Command"].split(" ")[0] == req["resp.command"][0]
            assert shown[f]["Key"] == (req["resp.key"][0] if req["resp.key"] else "")
            assert float(shown[f]["Resp. time"]) == float(r["resp.time"][0])
        elif r["resp.command"]:
            assert shown[f]["Command"] == ",".join(r["resp.command"])
            assert shown[f]["Resp. time"] == ""
    assert replies >= 30
