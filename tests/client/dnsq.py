#!/usr/bin/env python3
"""Minimal DNS query tool for the transparent-mode test (no dig on the box).

  dnsq.py SERVER NAME TYPE [--tcp] [--edns N] [--id N] [--raw]

Prints "rcode=N an=N" and one line per A/AAAA/TXT/MX/SRV answer ("A 1.2.3.4"), or with
--raw the reply in hex (to compare two servers' replies byte for byte).
"""
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33, "ANY": 255}


def query(name, qtype, qid, edns):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    if edns:
        q += b"\0" + struct.pack(">HHIH", 41, edns, 0, 0)
    return q


def skip_name(m, o):
    while True:
        ln = m[o]
        if ln & 0xC0 == 0xC0:
            return o + 2
        if ln == 0:
            return o + 1
        o += 1 + ln


def read_name(m, o):
    labels, hops = [], 0
    while True:
        ln = m[o]
        if ln & 0xC0 == 0xC0:
            o = ((ln & 0x3F) << 8) | m[o + 1]
            hops += 1
            if hops > 16:
                return "?"
            continue
        if ln == 0:
            return ".".join(labels)
        labels.append(m[o + 1:o + 1 + ln].decode(errors="replace"))
        o += 1 + ln


def main():
    a = sys.argv[1:]
    server, name, t = a[0], a[1], a[2]
    tcp = "--tcp" in a
    raw = "--raw" in a
    edns = int(a[a.index("--edns") + 1]) if "--edns" in a else 0
    qid = int(a[a.index("--id") + 1]) if "--id" in a else 0x4242
    host, port = (server.rsplit(":", 1) + ["53"])[:2]
    q = query(name, TYPES.get(t, None) or int(t), qid, edns)
    if tcp:
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(struct.pack(">H", len(q)) + q)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        r = buf[2:]
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(q, (host, int(port)))
        r, _ = s.recvfrom(65536)
    if raw:
        print(r.hex())
        return
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", r[:12])
    print("rcode=%d an=%d tc=%d" % (flags & 15, an, (flags >> 9) & 1))
    o = 12
    for _ in range(qd):
        o = skip_name(r, o) + 4
    for _ in range(an):
        o = skip_name(r, o)
        rt, _, ttl, rl = struct.unpack(">HHIH", r[o:o + 10])
        o += 10
        if rt == 1:
            print("A %s ttl=%d" % (socket.inet_ntop(socket.AF_INET, r[o:o + rl]), ttl))
        elif rt == 28:
            print("AAAA %s ttl=%d" % (socket.inet_ntop(socket.AF_INET6, r[o:o + rl]), ttl))
        elif rt == 16:
            print("TXT %s" % r[o + 1:o + 1 + r[o]].decode(errors="replace"))
        elif rt == 15:
            print("MX %d %s" % (struct.unpack(">H", r[o:o + 2])[0], read_name(r, o + 2)))
        elif rt == 33:
            pr, w, port = struct.unpack(">HHH", r[o:o + 6])
            print("SRV %d %d %d %s" % (pr, w, port, read_name(r, o + 6)))
        else:
            print("TYPE%d len=%d" % (rt, rl))
        o += rl


if __name__ == "__main__":
    main()
