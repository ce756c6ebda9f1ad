#!/usr/bin/python3
"""Copy a classic pcap file, flipping (XOR) one byte of one packet.

usage: flip-byte.py IN.pcap OUT.pcap PACKET FRAME_OFFSET [XOR_MASK]

PACKET is the 1-based packet number (as Wireshark numbers frames),
FRAME_OFFSET the 0-based offset of the byte inside that packet's captured
frame (link-layer header included), XOR_MASK defaults to 0x01.  Nothing else
is changed: no checksum is fixed (loopback captures carry unverified TCP
checksums anyway).  Stdlib only.
"""
import struct
import sys


def main(argv):
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    src, dst, packet, offset = argv[1], argv[2], int(argv[3], 0), int(argv[4], 0)
    mask = int(argv[5], 0) if len(argv) == 6 else 0x01
    if not 1 <= mask <= 0xFF:
        raise SystemExit("XOR_MASK must be 1..255")
    with open(src, "rb") as f:
        data = bytearray(f.read())
    magic = bytes(data[:4])
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        en = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        en = ">"
    else:
        raise SystemExit("%s: not a classic pcap file" % src)
    off, number = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack(en + "I", data[off + 8:off + 12])[0]
        number += 1
        if number == packet:
            if not 0 <= offset < incl:
                raise SystemExit("packet %d has only %d captured bytes" % (packet, incl))
            pos = off + 16 + offset
            old = data[pos]
            data[pos] ^= mask
            with open(dst, "wb") as f:
                f.write(data)
            print("packet %d, frame offset %d: 0x%02x -> 0x%02x" % (packet, offset, old, data[pos]))
            return 0
        off += 16 + incl
    raise SystemExit("%s has only %d packets" % (src, number))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
