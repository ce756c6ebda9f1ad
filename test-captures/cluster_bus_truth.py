#!/usr/bin/python3
"""Independent parse of the Redis/Valkey Cluster bus in a capture (Python standard
library only; no Wireshark).  Used by cluster_traffic.py to write the "bus" part of the
cluster-*.truth.json files, and runnable on its own:

    cluster_bus_truth.py FILE.pcap --bus-ports 16379,16380,16381 [--json]

It reads the pcap file itself (Ethernet/IPv4/TCP, as tcpdump writes it on a Linux lo),
reassembles every TCP connection whose server (the side that received the SYN) listens
on one of the bus ports, and splits each direction's byte stream into messages:

  - every message starts with the 4-byte signature "RCmb";
  - the 32-bit big-endian total length at offset 4 is the message's whole length
    (header included), so the next message starts right after it;
  - the messages must tile the stream exactly (the only exception: the capture may end
    inside a last message, reported as "trailing_incomplete");
  - the 16-bit big-endian protocol version at offset 8 (1 on every release seen) and the
    16-bit big-endian type at offset 12.  Valkey 8+ sends some messages (PUBLISH,
    PUBLISHSHARD, MODULE) with a "light" header: same signature, length, version and
    type offsets, the type with bit 0x8000 set ("light"), and the message data at
    offset 16 instead of 2256.  Full headers carry the sender's client port at offset 10
    and bus port at offset 2248; they name the sending node of each direction.

Type codes (cluster_legacy.h / cluster.h of Redis 7/8 and Valkey 8/9): 0 PING, 1 PONG,
2 MEET, 3 FAIL, 4 PUBLISH, 5 FAILOVER_AUTH_REQUEST, 6 FAILOVER_AUTH_ACK, 7 UPDATE,
8 MFSTART, 9 MODULE, 10 PUBLISHSHARD.
"""

import argparse
import collections
import json
import struct
import sys

SIGNATURE = b"RCmb"
LIGHT = 0x8000
FULL_HEADER = 2256          # offset of the message data after a full header
LIGHT_HEADER = 16           # ... after a light header
MIN_LEN = 8                 # signature + length: anything shorter cannot tile
TYPE_NAMES = {
    0: "PING", 1: "PONG", 2: "MEET", 3: "FAIL", 4: "PUBLISH", 5: "FAILOVER_AUTH_REQUEST",
    6: "FAILOVER_AUTH_ACK", 7: "UPDATE", 8: "MFSTART", 9: "MODULE", 10: "PUBLISHSHARD",
}


class BusError(Exception):
    pass


def read_packets(path):
    """[(frame number, timestamp, frame bytes)] of a little-endian pcap (Ethernet)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise BusError("%s: not a pcap file" % path)
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        scale = 1e-6
    elif magic == 0xA1B23C4D:
        scale = 1e-9
    else:
        raise BusError("%s: not a little-endian pcap file" % path)
    if struct.unpack("<I", data[20:24])[0] != 1:
        raise BusError("%s: link type is not Ethernet" % path)
    off, n, out = 24, 0, []
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        if incl != orig:
            raise BusError("%s: frame %d truncated (snaplen)" % (path, n + 1))
        n += 1
        out.append((n, sec + frac * scale, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def tcp_segment(frame):
    """(sport, dport, seq, flags, payload) or None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    if ip[9] != 6:
        return None
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:total]
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    return sport, dport, seq, tcp[13], tcp[doff:]


class Direction:
    def __init__(self):
        self.isn = None
        self.data = bytearray()
        self.segs = []          # (frame, timestamp, start offset, length)

    def add(self, frame, ts, seq, payload):
        if self.isn is None:
            raise BusError("frame %d: data before the SYN" % frame)
        off = (seq - self.isn - 1) % (1 << 32)
        if off != len(self.data):
            raise BusError("frame %d: segment at stream offset %d, expected %d "
                           "(retransmission, overlap or hole)" % (frame, off, len(self.data)))
        self.segs.append((frame, ts, off, len(payload)))
        self.data += payload

    def frame_at(self, off):
        for fr, ts, st, ln in self.segs:
            if st <= off < st + ln:
                return fr, ts
        raise BusError("no segment holds stream offset %d" % off)


def connections(path, ports):
    """Bus connections in the order of their SYNs: [((client port, server port), c2s, s2c)]."""
    ports = set(ports)
    flows, order = {}, []
    for fr, ts, frame in read_packets(path):
        seg = tcp_segment(frame)
        if not seg:
            continue
        sp, dp, seq, flags, payload = seg
        if flags & 0x02 and not flags & 0x10 and dp in ports:      # SYN to a bus port
            c2s, s2c = Direction(), Direction()
            flows[(sp, dp)], flows[(dp, sp)] = c2s, s2c
            order.append(((sp, dp), c2s, s2c))
        d = flows.get((sp, dp))
        if d is None:
            if payload and (sp in ports or dp in ports):
                raise BusError("frame %d: bus data on a connection whose SYN is not in the "
                               "capture" % fr)
            continue
        if flags & 0x02:
            d.isn = seq
            continue
        if payload:
            d.add(fr, ts, seq, payload)
    return order


def split(d):
    """Split one direction's stream into messages; raise BusError unless they tile it."""
    data, pos, msgs = bytes(d.data), 0, []
    while pos < len(data):
        rest = len(data) - pos
        if rest < MIN_LEN:
            if data[pos:pos + rest] != SIGNATURE[:rest]:
                raise BusError("offset %d: %r is no signature" % (pos, data[pos:pos + rest]))
            return msgs, rest
        if data[pos:pos + 4] != SIGNATURE:
            raise BusError("offset %d: signature %r, not RCmb" % (pos, data[pos:pos + 4]))
        totlen = struct.unpack("!I", data[pos + 4:pos + 8])[0]
        if totlen < LIGHT_HEADER:
            raise BusError("offset %d: total length %d" % (pos, totlen))
        if pos + totlen > len(data):
            return msgs, rest              # the capture ends inside this message
        ver, port, mtype = struct.unpack("!HHH", data[pos + 8:pos + 14])
        light = bool(mtype & LIGHT)
        if not light and totlen < FULL_HEADER:
            raise BusError("offset %d: full header but total length %d" % (pos, totlen))
        frame, ts = d.frame_at(pos + totlen - 1)
        m = {"type": mtype, "totlen": totlen, "ver": ver, "light": light, "frame": frame,
             "time": ts, "offset": pos}
        if not light:
            m["sender_port"] = port
            m["sender_cport"] = struct.unpack("!H", data[pos + 2248:pos + 2250])[0]
            m["count"] = struct.unpack("!H", data[pos + 14:pos + 16])[0]
        msgs.append(m)
        pos += totlen
    return msgs, 0


def type_name(t):
    base = TYPE_NAMES.get(t & ~LIGHT, "type-%d" % (t & ~LIGHT))
    return base + (" (light)" if t & LIGHT else "")


def parse(path, ports):
    """The bus part of a truth file (see the module docstring)."""
    conns, counts, per_sender = [], collections.Counter(), collections.defaultdict(collections.Counter)
    per_receiver = collections.defaultdict(collections.Counter)
    for (cp, sp), c2s, s2c in connections(path, ports):
        c = {"client_port": cp, "server_port": sp}
        for name, d in (("c2s", c2s), ("s2c", s2c)):
            try:
                msgs, trailing = split(d)
            except BusError as e:
                raise BusError("connection %d->%d %s: %s" % (cp, sp, name, e))
            senders = {m["sender_cport"] for m in msgs if "sender_cport" in m}
            if len(senders) > 1:
                raise BusError("connection %d->%d %s: several senders %r" % (cp, sp, name, senders))
            sender = senders.pop() if senders else None
            if name == "s2c" and sender is not None and sender != sp:
                raise BusError("connection %d->%d: the server side says it is %d" % (cp, sp, sender))
            c[name] = [[m["type"], m["totlen"]] for m in msgs]
            c[name + "_frames"] = [m["frame"] for m in msgs]
            c[name + "_times"] = [round(m["time"], 6) for m in msgs]
            c[name + "_bytes"] = len(d.data)
            c[name + "_sender_cport"] = sender
            if trailing:
                c[name + "_trailing_incomplete"] = trailing
            bad = [m["ver"] for m in msgs if m["ver"] != 1]
            if bad:
                raise BusError("connection %d->%d %s: protocol versions %r" % (cp, sp, name, bad))
            for m in msgs:
                counts[m["type"]] += 1
                if sender is not None:
                    per_sender[sender][m["type"]] += 1
                receiver = sp if name == "c2s" else c2s_sender(c2s)
                if receiver is not None:
                    per_receiver[receiver][m["type"]] += 1
        conns.append(c)
    return {
        "bus_ports": sorted(ports),
        "connections": conns,
        "messages": sum(counts.values()),
        "counts": {str(k): v for k, v in sorted(counts.items())},
        "counts_named": {type_name(k): v for k, v in sorted(counts.items())},
        "sent_by_bus_port": {str(p): {str(k): v for k, v in sorted(c.items())}
                             for p, c in sorted(per_sender.items())},
        "received_by_bus_port": {str(p): {str(k): v for k, v in sorted(c.items())}
                                 for p, c in sorted(per_receiver.items())},
    }


def c2s_sender(d):
    """The bus port of the node that opened a connection (from its full headers)."""
    try:
        msgs, _ = split(d)
    except BusError:
        return None
    s = {m["sender_cport"] for m in msgs if "sender_cport" in m}
    return s.pop() if len(s) == 1 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pcap")
    ap.add_argument("--bus-ports", required=True, help="comma-separated bus ports")
    ap.add_argument("--json", action="store_true", help="print the whole parse")
    a = ap.parse_args()
    ports = [int(p) for p in a.bus_ports.split(",")]
    try:
        b = parse(a.pcap, ports)
    except BusError as e:
        print("cluster_bus_truth: %s" % e, file=sys.stderr)
        sys.exit(2)
    if a.json:
        json.dump(b, sys.stdout, indent=1)
        print()
        return
    for c in b["connections"]:
        for name in ("c2s", "s2c"):
            print("%d->%d %s: %d messages %s" % (
                c["client_port"], c["server_port"], name, len(c[name]),
                dict(collections.Counter(type_name(t) for t, _ in c[name]))))
    print("total:", b["messages"], b["counts_named"])


if __name__ == "__main__":
    main()
