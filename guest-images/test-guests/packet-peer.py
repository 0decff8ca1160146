#!/usr/bin/env python3
"""The far end of virtio-probe's network test: one Ethernet frame in, one frame out, on a TAP device.

    packet-peer.py IFACE ETHERTYPE REPLY_PAYLOAD REPLY_SRC_MAC TIMEOUT_SECONDS

Binds an AF_PACKET socket (packet(7)) to IFACE for ETHERTYPE only, prints `ready`, waits for the
first frame of that type coming *in* from the interface (the guest's transmission, which the VMM
writes to the TAP device), prints it, then answers with an Ethernet II frame addressed to the
frame's source MAC, from REPLY_SRC_MAC, of the same ethertype, carrying REPLY_PAYLOAD zero-padded to
the 60-byte minimum (IEEE 802.3 §3.2.7 minus the FCS, which neither TAP nor AF_PACKET carries), and
prints that too. The test that runs this script does the checking; the script only reports bytes.

Output, one line each, to stdout:
    ready
    rx len=<dec> frame=<hex>
    tx len=<dec> frame=<hex>
or `timeout after <dec> s` (exit 1) when nothing arrived in time. Usage errors exit 2.
"""
import select
import socket
import sys
import time

PACKET_OUTGOING = 4  # packet(7): sll_pkttype of a frame this host sent; we want the guest's only
MIN_FRAME = 60       # Ethernet minimum without the FCS


def parse_mac(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {text}")
    return bytes(int(p, 16) for p in parts)


def main(argv):
    if len(argv) != 6:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    iface, ethertype, payload, src, timeout = argv[1], int(argv[2], 0), argv[3].encode("ascii"), \
        parse_mac(argv[4]), float(argv[5])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
    sock.bind((iface, ethertype))
    print("ready", flush=True)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            print(f"timeout after {timeout:g} s", flush=True)
            return 1
        frame, addr = sock.recvfrom(65536)
        if addr[2] != PACKET_OUTGOING:
            break
    print(f"rx len={len(frame)} frame={frame.hex()}", flush=True)
    reply = frame[6:12] + src + ethertype.to_bytes(2, "big") + payload
    reply = reply.ljust(MIN_FRAME, b"\0")
    sock.send(reply)
    print(f"tx len={len(reply)} frame={reply.hex()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
