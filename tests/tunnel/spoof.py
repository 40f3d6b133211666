#!/usr/bin/env python3
"""Negative tests of the direct path (it_nat_paths.sh negative).

capture IFACE|any HOST PORT N OUT  (in the hub) record N UDP payloads each way
    between HOST:PORT (the connector's direct socket) and its peer, as hex
    lines "dir srcip srcport dstip dstport payload" (dir: to / from HOST).
attack HOST PORT CAPTURE        (on a third host) send, each class from a
    socket of its own: replays of captured packets to HOST, bit-flipped
    copies, garbage with the tunnel's connection id, probe-looking packets,
    QUIC Initial-looking packets; then count what comes back.  Prints one
    line per class: "class sent_pkts sent_bytes min_sent replies
    reply_bytes max_reply".
forge CAPTURE SECONDS           (in the hub) send the captured packets
    HOST -> peer again with HOST's address forged as their source (raw
    socket), every 20 ms for SECONDS.
"""
import os, random, select, socket, struct, sys, time


def capture(ifc, host, port, n, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0800))
    if ifc != "any":
        s.bind((ifc, 0))
    got = {"to": 0, "from": 0}
    lines = []
    end = time.time() + 30
    while (got["to"] < n or got["from"] < n) and time.time() < end:
        r, _, _ = select.select([s], [], [], 1)
        if not r:
            continue
        ip = s.recv(65535)[14:]
        if len(ip) < 28 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        sp, dp, ln = struct.unpack("!HHH", ip[ihl:ihl + 6])
        pl = ip[ihl + 8:ihl + ln]
        d = "to" if (dst, dp) == (host, port) else "from" if (src, sp) == (host, port) else None
        if not d or got[d] >= n or len(pl) < 20 or len(pl) > 1452 or pl[0] & 0x80:
            continue  # single short-header QUIC packets (not probes, STUN, GSO batches)
        got[d] += 1
        lines.append("%s %s %d %s %d %s" % (d, src, sp, dst, dp, pl.hex()))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("captured to=%d from=%d" % (got["to"], got["from"]))
    return 0 if got["to"] and got["from"] else 1


def load(path, d):
    out = []
    for l in open(path):
        p = l.split()
        if len(p) == 6 and p[0] == d:
            out.append((p[1], int(p[2]), p[3], int(p[4]), bytes.fromhex(p[5])))
    return out


def attack(host, port, cap):
    pk = [c[4] for c in load(cap, "to")]
    rnd = random.Random(7)
    flip = []
    for p in pk:
        b = bytearray(p)
        b[len(b) // 2] ^= 0x40
        flip.append(bytes(b))
    cid = pk[0][1:19] if pk else os.urandom(18)
    garbage = [bytes([0x40 | rnd.randrange(64)]) + cid + os.urandom(60) for _ in range(300)]
    probes = [b"\x00PNp\x01\x00\x00\x00" + os.urandom(32) for _ in range(500)]
    inits = []
    for _ in range(40):
        dcid, scid = os.urandom(18), os.urandom(8)
        h = bytes([0xc3]) + struct.pack("!I", 1) + bytes([18]) + dcid + bytes([8]) + scid + b"\x00" + b"\x44\xd0"
        inits.append(h + os.urandom(1200 - len(h)))
    classes = [("replay", pk * 3), ("bitflip", flip * 3), ("garbage_cid", garbage),
               ("probe_like", probes), ("initial_like", inits)]
    socks = []
    for name, pkts in classes:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(("0.0.0.0", 0))
        s.setblocking(False)
        socks.append((name, pkts, s, [0, 0, 0]))  # replies, bytes, max
    for i in range(max(len(c[1]) for c in socks)):
        for name, pkts, s, st in socks:
            if i < len(pkts):
                try:
                    s.sendto(pkts[i], (host, port))
                except BlockingIOError:
                    pass
        if i % 50 == 49:
            time.sleep(0.01)
    end = time.time() + 3
    while time.time() < end:
        r, _, _ = select.select([c[2] for c in socks], [], [], 0.2)
        for name, pkts, s, st in socks:
            if s in r:
                while True:
                    try:
                        d = s.recv(65535)
                    except BlockingIOError:
                        break
                    st[0] += 1
                    st[1] += len(d)
                    st[2] = max(st[2], len(d))
    for name, pkts, s, st in socks:
        print("%s %d %d %d %d %d %d" % (name, len(pkts), sum(map(len, pkts)),
                                        min(map(len, pkts)) if pkts else 0, st[0], st[1], st[2]))
    return 0 if pk else 1


def forge(cap, secs):
    pk = load(cap, "from")
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    end, n = time.time() + secs, 0
    while time.time() < end:
        for src, sp, dst, dp, pl in pk:
            udp = struct.pack("!HHHH", sp, dp, 8 + len(pl), 0) + pl
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             socket.inet_aton(src), socket.inet_aton(dst))
            s.sendto(ip + udp, (dst, 0))
            n += 1
        time.sleep(0.02)
    print("forged %d packets" % n)
    return 0


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "capture":
        sys.exit(capture(a[2], a[3], int(a[4]), int(a[5]), a[6]))
    if a[1] == "attack":
        sys.exit(attack(a[2], int(a[3]), a[4]))
    if a[1] == "forge":
        sys.exit(forge(a[2], float(a[3])))
    sys.exit(2)
