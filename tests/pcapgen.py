"""Writes small pcap files of TCP conversations, for hand-built edge cases.

Real captures (test-captures/) are the main test material; these add byte strings a real
server does not send (absurd lengths, deep nesting) or protocols the heuristic must leave alone.
"""
import struct


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _ip_tcp(src, dst, sport, dport, seq, ack, flags, payload):
    tcp_len = 20 + len(payload)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, tcp_len)
    csum = _checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + tcp_len
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + tcp + payload


class TcpConversation:
    """A client/server TCP conversation on IPv4 written as a raw-IP pcap."""

    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01

    def __init__(self, client_port=40000, server_port=6379, handshake=True):
        self.c = (bytes([10, 0, 0, 1]), client_port)
        self.s = (bytes([10, 0, 0, 2]), server_port)
        self.seq = {"c": 1000, "s": 5000}
        self.frames = []
        self.t = 1_700_000_000.0
        if handshake:
            self._pkt("c", self.SYN, b"")
            self.seq["c"] += 1
            self._pkt("s", self.SYN | self.ACK, b"")
            self.seq["s"] += 1
            self._pkt("c", self.ACK, b"")

    def _pkt(self, who, flags, payload, snap=None):
        (src, sport), (dst, dport) = (self.c, self.s) if who == "c" else (self.s, self.c)
        other = "s" if who == "c" else "c"
        frame = _ip_tcp(src, dst, sport, dport, self.seq[who], self.seq[other], flags, payload)
        self.t += 0.001
        self.frames.append((self.t, frame, snap))

    def send(self, who, payload: bytes, segment=None, snap=None):
        """Sends payload from 'c' or 's', split into segments of at most `segment` bytes."""
        segment = segment or 60000
        for i in range(0, max(len(payload), 1), segment):
            chunk = payload[i:i + segment]
            self._pkt(who, self.PSH | self.ACK, chunk, snap)
            self.seq[who] += len(chunk)
        return self

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))  # LINKTYPE_RAW
            for t, frame, snap in self.frames:
                data = frame if snap is None else frame[:snap]
                f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(data), len(frame)))
                f.write(data)
        return path
