#!/usr/bin/env python3
"""Unauthenticated floods at a fixed rate, and a throughput probe
(tests/tunnel/it_flood.sh).

flood udp-relay HOST:PORT[,HOST:PORT...] PPS SECONDS
    UDP at relays: random bytes, BIND and DATA with random session ids,
    bare STUN requests, in turn, PPS datagrams a second (paced every 10 ms).
flood udp-quic HOST:PORT PPS SECONDS
    UDP at a tunnel endpoint's direct socket: QUIC Initial-looking long
    headers (1200 bytes, random connection ids), short headers with random
    connection ids, random bytes.
flood tls HOST:PORT[,...] CPS SECONDS
    TCP connections at CPS a second, each sending the start of a TLS
    ClientHello and junk, then left to the server's deadline (at most 256
    held open at once: the oldest is closed).
    Each flood prints "sent <datagrams|connections> <bytes> answered <bytes>"
    (what came back on the flood's sockets) and "late <n>" (batches that
    could not keep the rate).
measure PROXY HOST PORT SECONDS
    Through a SOCKS5 proxy, asks a flowend.py sink for an endless download
    ("id=NAME get=N") and reads for SECONDS after the first byte: prints
    "rate <bytes/s>".
"""
import os
import socket
import struct
import sys
import time


def addrs(spec):
    out = []
    for a in spec.split(","):
        h, p = a.rsplit(":", 1)
        out.append((h, int(p)))
    return out


def udp_relay_pkt(i):
    k = i % 4
    if k == 0:
        return os.urandom(1 + (i * 37) % 1400)
    if k == 1:
        return b"\xd1" + os.urandom(33)  # BIND: random session id and MAC
    if k == 2:
        return b"\xd0" + os.urandom(8 + 1 + (i * 53) % 1200)  # DATA, random session
    return b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)  # STUN request


def udp_quic_pkt(i):
    k = i % 3
    if k == 0:
        dcid, scid = os.urandom(18), os.urandom(8)
        h = bytes([0xc3]) + struct.pack("!I", 1) + bytes([18]) + dcid + bytes([8]) + scid + b"\x00\x44\xd0"
        return h + os.urandom(1200 - len(h))
    if k == 1:
        return bytes([0x40 | (i & 63)]) + os.urandom(17 + (i * 31) % 1200)
    return os.urandom(1 + (i * 41) % 1400)


def pace(rate, secs, step):
    """Calls step(n) with the number of items due every 10 ms; returns late batches."""
    start = time.time()
    done = late = 0
    while True:
        now = time.time()
        if now - start >= secs:
            return late
        due = int((now - start) * rate) - done
        if due > 0:
            step(due)
            done += due
        nxt = start + (done + 1) / rate
        wait = min(0.01, nxt - time.time())
        if wait > 0:
            time.sleep(wait)
        elif due > rate / 50:
            late += 1


def flood_udp(kind, spec, rate, secs):
    dst = addrs(spec)
    make = udp_relay_pkt if kind == "udp-relay" else udp_quic_pkt
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    for s in socks:
        s.setblocking(False)
    st = {"i": 0, "sent": 0, "bytes": 0, "ans": 0}

    def drain():
        for s in socks:
            while True:
                try:
                    st["ans"] += len(s.recv(65536))
                except (BlockingIOError, ConnectionRefusedError):
                    break

    def step(n):
        for _ in range(n):
            i = st["i"]
            st["i"] += 1
            m = make(i)
            try:
                socks[i % len(socks)].sendto(m, dst[i % len(dst)])
                st["sent"] += 1
                st["bytes"] += len(m)
            except (BlockingIOError, ConnectionRefusedError):
                pass
        drain()

    late = pace(rate, secs, step)
    time.sleep(0.3)
    drain()
    print("sent %d %d answered %d" % (st["sent"], st["bytes"], st["ans"]))
    print("late %d" % late)


def flood_tls(spec, rate, secs):
    dst = addrs(spec)
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    held = []
    st = {"i": 0, "sent": 0, "bytes": 0, "ans": 0}

    def step(n):
        for _ in range(n):
            i = st["i"]
            st["i"] += 1
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(dst[i % len(dst)])
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            held.append((s, hello + os.urandom(200 + i % 300)))
            st["sent"] += 1
        while len(held) > 256:
            s, _ = held.pop(0)
            s.close()
        for s, m in held:
            if m:
                try:
                    k = s.send(m)
                    st["bytes"] += k
                except OSError:
                    pass
        for j, (s, m) in enumerate(held):
            held[j] = (s, b"")
            try:
                st["ans"] += len(s.recv(65536))
            except OSError:
                pass

    late = pace(rate, secs, step)
    for s, _ in held:
        s.close()
    print("sent %d %d answered %d" % (st["sent"], st["bytes"], st["ans"]))
    print("late %d" % late)


def measure(proxy, host, port, secs):
    ph, pp = proxy.rsplit(":", 1)
    s = socket.create_connection((ph, int(pp)), timeout=30)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    rep = s.recv(10)
    if len(rep) < 2 or rep[1] != 0:
        print("rate 0 refused")
        return
    s.sendall(b"id=measure get=%d\n" % (1 << 40))
    s.settimeout(30)
    buf = bytearray(1 << 20)
    s.recv_into(buf)
    t0 = time.time()
    n = 0
    while time.time() - t0 < secs:
        k = s.recv_into(buf)
        if not k:
            break
        n += k
    print("rate %d" % (n / (time.time() - t0)))
    s.close()


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "flood" and a[1] in ("udp-relay", "udp-quic"):
        flood_udp(a[1], a[2], int(a[3]), float(a[4]))
    elif len(a) == 5 and a[0] == "flood" and a[1] == "tls":
        flood_tls(a[2], int(a[3]), float(a[4]))
    elif len(a) == 5 and a[0] == "measure":
        measure(a[1], a[2], int(a[3]), float(a[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
