"""The connection's state machine on edge cases Redis's own test suite showed (hand-built bytes,
each exactly what redis-server 7.0 sends or ignores; the real captures are in
test_replication.py and test_redis_testsuite.py). Each test fails without its fix."""
import pytest

from conftest import frames, values
from pcapgen import TcpConversation

PING, PONG = b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"


def cmd(*words):
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def pairs(path, two_pass=False):
    """(frame, Info, response_to, response_in, no_reply) of every RESP frame."""
    extra = ["-2"] if two_pass else []
    rows = frames(path, ["frame.number", "_ws.col.Info", "resp.response_to", "resp.response_in",
                         "resp.no_reply"], "resp", extra)
    return [(int(r["frame.number"][0]), r["_ws.col.Info"][0] if r["_ws.col.Info"] else "",
             r["resp.response_to"], r["resp.response_in"], r["resp.no_reply"]) for r in rows]


def experts(path, name):
    return [int(f) for f in values(path, "frame.number", name)]


def test_negative_count_request_is_skipped_like_redis_does(shared_tmp):
    """`*-10` (any count below 0, and `*0`): Redis skips it and sends nothing. It used to be a
    protocol error awaiting a reply, so the next reply paired with it."""
    conv = TcpConversation()
    conv.send("c", b"*-10\r\n")   # frame 4
    conv.send("c", b"*0\r\n")     # 5
    conv.send("c", PING)          # 6
    conv.send("s", PONG)          # 7
    path = conv.write(shared_tmp / "negative-count.pcap")
    rows = {r[0]: r for r in pairs(path, two_pass=True)}
    assert rows[7][2] == ["6"], rows
    assert rows[4][4] and rows[5][4] and not rows[4][3]
    assert experts(path, "resp.malformed || _ws.malformed || resp.unmatched_response") == []


def test_reply_with_invalid_content_still_counts(shared_tmp):
    """Redis 7 sends a Lua script's big number with its CR LF turned to spaces: `(123  123`,
    which is not a valid big number. It is still the script's reply: the replies after it
    must pair with their own requests (they paired with the request before)."""
    conv = TcpConversation()
    conv.send("c", cmd(b"HELLO", b"3")).send("s", b"%1\r\n+server\r\n+redis\r\n")  # 4, 5
    conv.send("c", cmd(b"EVAL", b"return {big_number='123\\r\\n123'}", b"0"))   # 6
    conv.send("s", b"(123  123\r\n")                                              # 7
    conv.send("c", cmd(b"GET", b"k")).send("s", b"$1\r\nv\r\n")                   # 8, 9
    path = conv.write(shared_tmp / "invalid-bignum.pcap")
    rows = {r[0]: r for r in pairs(path)}
    assert rows[7][2] == ["6"] and rows[9][2] == ["8"], rows
    assert experts(path, "resp.invalid_value") == [7]
    assert experts(path, "resp.malformed || resp.unmatched_response") == []


def test_client_reply_off_on_skip(shared_tmp):
    """What Redis 7.0 sends for CLIENT REPLY (networking.c): OFF and SKIP get no reply, ON does;
    SKIP silences one request; SKIP while OFF is ignored; an empty request ends a SKIP."""
    conv = TcpConversation()
    sent = [  # (request, reply or None)
        (cmd(b"CLIENT", b"REPLY", b"OFF"), None),
        (cmd(b"SET", b"a", b"1"), None),
        (cmd(b"NOSUCH"), None),                     # errors are silenced too
        (cmd(b"CLIENT", b"REPLY", b"SKIP"), None),  # ignored while OFF
        (cmd(b"CLIENT", b"REPLY", b"ON"), b"+OK\r\n"),
        (cmd(b"CLIENT", b"REPLY", b"SKIP"), None),
        (cmd(b"INCR", b"n"), None),
        (cmd(b"GET", b"n"), b"$1\r\n1\r\n"),
        (cmd(b"CLIENT", b"REPLY", b"SKIP"), None),
        (b"*0\r\n", None),
        (PING, PONG),
    ]
    for req, rep in sent:
        conv.send("c", req)
        if rep:
            conv.send("s", rep)
    path = conv.write(shared_tmp / "client-reply.pcap")
    rows = pairs(path, two_pass=True)
    requests = [r for r in rows if r[2] == []]
    replies = [r for r in rows if r[2]]
    assert len(requests) == len(sent) and len(replies) == 3
    for (req, rep), row in zip(sent, requests):
        assert bool(row[3]) == bool(rep), row
        assert bool(row[4]) == (rep is None), row
    assert [r[2][0] for r in replies] == [str(requests[4][0]), str(requests[7][0]), str(requests[10][0])]
    assert experts(path, "resp.unmatched_response") == []
    # the unanswered-requests filter lists only requests that really went unanswered
    assert values(path, "frame.number", "resp.request && !resp.response_in && !resp.no_reply",
                  ["-2"]) == []


def test_unknown_subcommand_is_flagged(shared_tmp):
    conv = TcpConversation()
    conv.send("c", cmd(b"CONFIG", b"NOSUCH")).send("s", b"-ERR unknown subcommand 'NOSUCH'\r\n")
    conv.send("c", cmd(b"CONFIG", b"GET", b"x")).send("s", b"*0\r\n")
    path = conv.write(shared_tmp / "unknown-sub.pcap")
    assert experts(path, "resp.unknown_subcommand") == [4]
    assert values(path, "resp.subcommand") == ["NOSUCH", "GET"]


def test_after_a_protocol_error_nothing_is_said_to_be_lost(shared_tmp):
    """Redis answers a protocol error and closes: what the client sent after it was not
    read, and nothing was lost from the capture."""
    conv = TcpConversation()
    conv.send("c", PING).send("s", PONG)                           # 4, 5
    conv.send("c", b"*1\r\n$x\r\nPING\r\n")                         # 6: invalid bulk length
    conv.send("c", b"\x00\x01junk that follows" + PING)             # 7
    conv.send("s", b"-ERR Protocol error: invalid bulk length\r\n")  # 8
    path = conv.write(shared_tmp / "after-protocol-error.pcap")
    for extra in ([], ["-2"]):
        rows = frames(path, ["frame.number", "_ws.expert.message"], "resp", extra)
        msgs = {int(r["frame.number"][0]): " ".join(r["_ws.expert.message"]) for r in rows}
        assert "mid-stream" not in " ".join(msgs.values()), msgs
        assert "protocol error" in msgs[7], msgs
    rows = {r[0]: r for r in pairs(path, two_pass=True)}
    assert rows[8][2] == ["6"] and not rows[7][2]
    assert experts(path, "resp.unmatched_response") == []


@pytest.mark.parametrize("framing", ["sized", "eof"])
def test_replication_snapshot_split_anywhere(shared_tmp, framing):
    """A full sync whose snapshot comes in odd segments (hand-built around a real 7.0
    handshake): the RDB is one item per segment with its true length, and the master's stream
    after it is decoded as commands, in one pass and two."""
    mark = b"0123456789abcdefghij0123456789ABCDEFGHIJ"
    rdb = b"REDIS0010" + bytes(range(256)) * 40 + b"\xff" + bytes(8)
    conv = TcpConversation()
    conv.send("c", PING).send("s", PONG)
    conv.send("c", cmd(b"REPLCONF", b"capa", b"eof", b"capa", b"psync2")).send("s", b"+OK\r\n")
    conv.send("c", cmd(b"PSYNC", b"?", b"-1"))
    conv.send("s", b"\n").send("s", b"\n")
    conv.send("s", b"+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 100\r\n")
    head = b"$EOF:" + mark + b"\r\n" if framing == "eof" else b"$%d\r\n" % len(rdb)
    tail = mark if framing == "eof" else b""
    stream = cmd(b"SELECT", b"0") + cmd(b"SET", b"k", b"v") + cmd(b"REPLCONF", b"GETACK", b"*")
    conv.send("s", head + rdb + tail + stream, segment=997)
    conv.send("c", cmd(b"REPLCONF", b"ACK", b"%d" % (100 + len(stream))))
    path = conv.write(shared_tmp / f"snapshot-{framing}.pcap")
    for extra in ([], ["-2"]):
        assert values(path, "resp.rdb.length", extra=extra)[-1] == str(len(rdb))
        assert set(values(path, "resp.rdb.framing", extra=extra)) == {framing}
        assert values(path, "resp.rdb.version", extra=extra) == ["10"]
        assert values(path, "resp.replication.keepalive", extra=extra) == ["1", "1"]
        assert values(path, "resp.command", "resp.replication", extra) == ["SELECT", "SET", "REPLCONF"]
        assert values(path, "resp.replication.lag", extra=extra) == ["0"]
        assert values(path, "resp.replication.id", extra=extra) == ["8de1787ba490483314a4d30f1c628bc5025eb761"]
        assert experts(path, "resp.malformed || resp.skipped || resp.unmatched_response || _ws.malformed") == []
    getack = values(path, "frame.number", 'resp.command == "REPLCONF" && resp.replication', ["-2"])
    assert values(path, "resp.response_to", 'resp.argument == "ACK"', ["-2"]) == getack


def test_replication_snapshot_with_a_lost_segment(shared_tmp):
    """A segment of a sized snapshot is missing: its bytes are counted by their sequence
    numbers, so the snapshot still ends where it does and the stream after it is decoded."""
    rdb = b"REDIS0011" + bytes(range(256)) * 40
    conv = TcpConversation()
    conv.send("c", cmd(b"PSYNC", b"?", b"-1"))
    conv.send("s", b"+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\r\n")
    stream = cmd(b"SELECT", b"0") + cmd(b"SET", b"k", b"v")
    conv.send("s", b"$%d\r\n" % len(rdb) + rdb + stream, segment=1000)
    lost = len(conv.frames) - 5
    del conv.frames[lost]
    path = conv.write(shared_tmp / "snapshot-lost.pcap")
    for extra in ([], ["-2"]):
        assert values(path, "resp.command", "resp.replication", extra) == ["SELECT", "SET"]
        assert values(path, "resp.rdb.length", extra=extra)[-1] == str(len(rdb))
        assert len(values(path, "frame.number", "resp.rdb.lost", extra)) == 1
        assert values(path, "frame.number", "resp.skipped || resp.malformed", extra) == []


def test_large_request_in_uneven_segments_survives_a_second_pass(shared_tmp):
    """Redis's unit/protocol sends an MSET of 20002 arguments (140 KB) that loopback cut into
    segments of 4096, 32768, 4096, 47616 and 51460 bytes. Asking TCP for a lower bound of the
    missing bytes made the reassembly end inside a segment, and Wireshark 4.0 could not replay
    it: with -2 the request was only "TCP segment of a reassembled PDU"."""
    msg = cmd(b"mset", *([b"k", b"v"] * 10001))
    conv = TcpConversation()
    at = 0
    for n in (4096, 32768, 4096, 47616, len(msg)):
        conv.send("c", msg[at:at + n])
        at += n
        if at >= len(msg):
            break
    conv.send("s", b"+OK\r\n")
    conv.send("c", cmd(b"GET", b"{k}2")).send("s", b"$2\r\nv2\r\n")
    path = conv.write(shared_tmp / "mset-uneven.pcap")
    one = values(path, "frame.number", 'resp.command == "MSET"')
    assert one and values(path, "frame.number", 'resp.command == "MSET"', ["-2"]) == one
    assert values(path, "resp.response_to", "resp.response", ["-2"])[0] == one[0]


def test_redis8_rdb_channel_gives_the_main_connection_its_offset(shared_tmp):
    """Redis 8's default diskless sync (wire sequence as seen from redis-server 8.0.2): the main
    connection's PSYNC is answered +RDBCHANNELSYNC <id>; a second connection naming that id
    (REPLCONF ... main-ch-client-id <id>) gets +FULLRESYNC <replid> <offset> and the snapshot;
    the master's stream then comes on the main connection, so the replica's ACKs there are
    measured from that offset."""
    main, rdb = TcpConversation(client_port=41536), TcpConversation(client_port=41542)

    def on(conv, who, data):
        conv.t = max(main.t, rdb.t)
        conv.send(who, data)

    on(main, "c", cmd(b"PSYNC", b"?", b"-1"))
    on(main, "s", b"+RDBCHANNELSYNC 6\r\n")
    on(rdb, "c", cmd(b"REPLCONF", b"capa", b"eof", b"rdb-only", b"1", b"rdb-channel", b"1",
                     b"main-ch-client-id", b"6", b"listening-port", b"6380"))
    on(rdb, "s", b"+OK\r\n")
    on(rdb, "c", cmd(b"PSYNC", b"?", b"-1"))
    on(rdb, "s", b"\n")
    on(rdb, "s", b"+FULLRESYNC e5a333d4e5a333d4e5a333d4e5a333d4e5a333d4 42\r\n")
    mark = b"95d5920095d5920095d5920095d5920095d59200"
    on(rdb, "s", b"$EOF:" + mark + b"\r\nREDIS0012" + bytes(500) + mark)
    stream = cmd(b"SELECT", b"0") + cmd(b"SET", b"k", b"v")
    on(main, "c", cmd(b"REPLCONF", b"ACK", b"42"))
    on(main, "s", stream)
    on(main, "c", cmd(b"REPLCONF", b"ACK", b"%d" % (42 + len(stream))))
    main.frames = sorted(main.frames + rdb.frames, key=lambda f: f[0])
    path = main.write(shared_tmp / "rdb-channel.pcap")
    for extra in ([], ["-2"]):
        assert values(path, "resp.replication.lag", extra=extra) == ["0", "0"]
        assert values(path, "resp.rdb.length", extra=extra)[-1] == "509"
        assert values(path, "resp.command", "resp.replication", extra) == ["SELECT", "SET"]
        assert experts(path, "resp.malformed || resp.skipped || resp.unmatched_response || _ws.malformed") == []


def test_valkey_dual_channel_replication(shared_tmp):
    """Valkey 8.1 with dual-channel-replication-enabled (wire sequence as seen from
    valkey-server 8.1.1): +DUALCHANNELSYNC, the handshake goes on on the main connection
    (+CONTINUE, then the stream); the snapshot's connection sends inline SYNC, gets newlines,
    "$ENDOFF:..." and an EOF-framed snapshot."""
    main, rdb = TcpConversation(client_port=41536), TcpConversation(client_port=41542)

    def on(conv, who, data):
        conv.t = max(main.t, rdb.t)
        conv.send(who, data)

    replid = b"e55d72f0e55d72f0e55d72f0e55d72f0e55d72f0"
    mark = b"95d5920095d5920095d5920095d5920095d59200"
    on(main, "c", cmd(b"PSYNC", b"?", b"-1"))
    on(main, "s", b"+DUALCHANNELSYNC\r\n")
    on(rdb, "c", cmd(b"REPLCONF", b"capa", b"eof", b"rdb-only", b"1", b"rdb-channel", b"1"))
    on(rdb, "s", b"+OK\r\n")
    on(rdb, "c", b"SYNC\r\n")
    on(rdb, "s", b"\n")
    on(rdb, "s", b"$ENDOFF:42 " + replid + b" 0 5\r\n")
    on(rdb, "s", b"$EOF:" + mark + b"\r\nREDIS0011" + bytes(300) + mark)
    on(main, "c", cmd(b"REPLCONF", b"set-rdb-client-id", b"5"))
    on(main, "s", b"+OK\r\n")
    on(main, "c", cmd(b"PSYNC", replid, b"43"))
    on(main, "s", b"+CONTINUE " + replid + b"\r\n")
    on(main, "c", cmd(b"REPLCONF", b"ACK", b"42"))
    on(main, "s", cmd(b"SELECT", b"0"))
    main.frames = sorted(main.frames + rdb.frames, key=lambda f: f[0])
    path = main.write(shared_tmp / "dual-channel.pcap")
    for extra in ([], ["-2"]):
        assert values(path, "resp.rdb.length", extra=extra)[-1] == "309"
        assert values(path, "resp.command", "resp.replication", extra) == ["SELECT"]
        assert values(path, "resp.replication.lag", extra=extra) == ["0"]
        assert experts(path, "resp.malformed || resp.skipped || resp.unmatched_response || _ws.malformed") == []
    # every request with a reply is paired; SYNC by the "$ENDOFF" line
    rows = pairs(path, two_pass=True)
    assert sum(1 for r in rows if r[2]) == 5, rows
