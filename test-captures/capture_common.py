"""Helpers that several capture generators share (cluster_traffic.py, newcommand_traffic.py,
replication_traffic.py, sentinel_traffic.py), so that each keeps only its own traffic and
checks.  Run with /usr/bin/python3 like them."""

import time

import resp_traffic as rt

expect = rt.expect


def connect_unix(path, timeout):
    """A control connection on a server's unix socket (never captured), tried again until
    the server listens there, bounded by timeout seconds: the scripts start the servers
    just before."""
    deadline = time.time() + timeout
    while True:
        try:
            return rt.Conn.unix(path)
        except OSError:
            expect(time.time() < deadline, "no server on %s" % path)
            time.sleep(0.05)


def raw_client_flows(streams, r):
    """(key, c2s, s2c) of the raw client r of a sidecar in streams ({(client port, server
    port): (c2s, s2c)}), after checking that the capture carries exactly the bytes it sent
    and received: the truth rests on that."""
    key = (r["client_port"], r["server_port"])
    expect(key in streams, "raw client %s not in the capture" % r["name"])
    c2s, s2c = streams[key]
    sent = b"".join(bytes.fromhex(s["sent_hex"]) for s in r["steps"])
    got = b"".join(bytes.fromhex(h) for s in r["steps"] for h in s["replies_hex"])
    expect(bytes(c2s.data) == sent, "raw client %s: sent bytes differ from the capture" % r["name"])
    expect(bytes(s2c.data) == got, "raw client %s: received bytes differ from the capture" % r["name"])
    return key, c2s, s2c
