#!/usr/bin/env python3
"""Latency probes for scripts/bench.sh: one tool, the same for every tunnel.

  probe.py echo PORT [BIND]          TCP echo server (threads; runs until killed)
  probe.py rr HOST PORT N            N request/response round trips of 64 bytes
                                     on one connection: prints p50 and p99 in us
  probe.py newflow HOST PORT N       N times: connect, one 64-byte round trip,
                                     close: prints p50 and p99 in us
  probe.py firstbyte HOST PORT T0 TIMEOUT
                                     retry connect + one round trip until it
                                     succeeds; prints ms since T0 (a
                                     CLOCK_REALTIME timestamp in seconds; "-":
                                     print `ready: 1`, then read it from stdin,
                                     so the caller can start the clock once
                                     the interpreter is running)
  probe.py firstbytes HOST PORT TIMEOUT
                                     `ready: 1`, then firstbyte once per line
                                     read from stdin (each line a T0), one
                                     `ms: X` line each
  probe.py stats                     numbers from stdin (one a line; any
                                     other word is a failed run): n, p50,
                                     p99, max, max/p50, failures
  probe.py udp-echo PORT [BIND]      UDP echo server
  probe.py dns-nx PORT [BIND]        DNS server answering every query NXDOMAIN
                                     (a host's resolver, which does not know
                                     the protected names)
  probe.py socks-connect PROXY_HOST PROXY_PORT HOST PORT N
                                     like newflow, through a SOCKS5 proxy
Output lines are `key: value` so the caller can grep them.
"""
import socket
import struct
import sys
import threading
import time

MSG = b"x" * 64


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def echo_server(port, bind="0.0.0.0"):
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind, port))
    ls.listen(128)

    def serve(c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def udp_echo(port, bind="0.0.0.0"):
    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((bind, port))
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(d, a)


def dns_nx(port, bind="0.0.0.0"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((bind, port))
    while True:
        q, a = s.recvfrom(512)
        i = 12
        while i < len(q) and q[i] != 0:  # the question's name
            i += 1 + q[i]
        if len(q) < 12 or i + 5 > len(q):
            continue
        # the question back, QR + RD copied + RA, RCODE 3 (NXDOMAIN)
        flags = 0x8000 | (struct.unpack(">H", q[2:4])[0] & 0x0100) | 0x0080 | 3
        s.sendto(q[:2] + struct.pack(">HHHHH", flags, 1, 0, 0, 0) + q[12:i + 5], a)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def connect(host, port, timeout=5.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rr(host, port, n):
    s = connect(host, port)
    for _ in range(20):  # warm up
        s.sendall(MSG)
        recv_exact(s, len(MSG))
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(MSG)
        recv_exact(s, len(MSG))
        lat.append((time.perf_counter() - t) * 1e6)
    s.close()
    print("p50_us: %.0f" % pct(lat, 0.5))
    print("p99_us: %.0f" % pct(lat, 0.99))


def socks_handshake(s, host, port):
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise ConnectionError("socks: method refused")
    h = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(h)]) + h + struct.pack(">H", port))
    rep = recv_exact(s, 4)
    if rep[1] != 0:
        raise ConnectionError("socks: reply %d" % rep[1])
    atyp = rep[3]
    n = 4 if atyp == 1 else 16 if atyp == 4 else recv_exact(s, 1)[0]
    recv_exact(s, n + 2)


def newflow(host, port, n, proxy=None):
    lat = []
    for i in range(n + 3):
        t = time.perf_counter()
        if proxy:
            s = connect(proxy[0], proxy[1])
            socks_handshake(s, host, port)
        else:
            s = connect(host, port)
        s.sendall(MSG)
        recv_exact(s, len(MSG))
        dt = (time.perf_counter() - t) * 1e6
        s.close()
        if i >= 3:  # first few warm caches and sessions
            lat.append(dt)
    print("p50_us: %.0f" % pct(lat, 0.5))
    print("p99_us: %.0f" % pct(lat, 0.99))


def firstbyte(host, port, t0, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            # A short connect timeout: a SYN lost while the tunnel comes up
            # would otherwise cost TCP's 1 s retransmission timer, which
            # measures the kernel, not the tunnel.
            s = connect(host, port, timeout=0.1)
            s.settimeout(2.0)
            s.sendall(MSG)
            recv_exact(s, len(MSG))
            s.close()
            print("ms: %.0f" % ((time.time() - t0) * 1000))
            return 0
        except (OSError, ConnectionError):
            time.sleep(0.001)
    print("ms: timeout")
    return 1


def ready():
    # Interpreter start-up (with a pyenv shim: 0.3-0.6 s on a quiet machine)
    # must not be counted: the caller takes T0 only after this line.
    print("ready: 1")
    sys.stdout.flush()


def firstbytes(host, port, timeout):
    ready()
    for line in sys.stdin:
        firstbyte(host, port, float(line), timeout)
        sys.stdout.flush()
    return 0


def stats():
    v, fails = [], 0
    for w in sys.stdin.read().split():
        try:
            v.append(float(w))
        except ValueError:
            fails += 1
    v.sort()
    print("n: %d" % len(v))
    print("failures: %d" % fails)
    if not v:
        return 1
    p50 = pct(v, 0.5)
    print("p50: %.0f" % p50)
    print("p99: %.0f" % pct(v, 0.99))
    print("max: %.0f" % v[-1])
    print("max_over_p50: %.2f" % (v[-1] / p50 if p50 > 0 else float("inf")))
    return 0


def main(a):
    if a[0] == "echo":
        echo_server(int(a[1]), a[2] if len(a) > 2 else "0.0.0.0")
    elif a[0] == "udp-echo":
        udp_echo(int(a[1]), a[2] if len(a) > 2 else "0.0.0.0")
    elif a[0] == "dns-nx":
        dns_nx(int(a[1]), a[2] if len(a) > 2 else "0.0.0.0")
    elif a[0] == "rr":
        rr(a[1], int(a[2]), int(a[3]))
    elif a[0] == "newflow":
        newflow(a[1], int(a[2]), int(a[3]))
    elif a[0] == "socks-connect":
        newflow(a[3], int(a[4]), int(a[5]), proxy=(a[1], int(a[2])))
    elif a[0] == "firstbyte":
        t0 = a[3]
        if t0 == "-":
            ready()
            t0 = sys.stdin.readline()
        return firstbyte(a[1], int(a[2]), float(t0), float(a[4]))
    elif a[0] == "firstbytes":
        return firstbytes(a[1], int(a[2]), float(a[3]))
    elif a[0] == "stats":
        return stats()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
