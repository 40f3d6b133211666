#!/usr/bin/env python3
"""SOCKS5 probes for the client integration tests (raw sockets, no library).

  sockscheck.py reply PROXY CMD ATYP HOST PORT    print the reply code of one request
                                                  (CMD: connect|bind|udp|raw:<n>;
                                                  ATYP: v4|v6|name|raw:<n>)
  sockscheck.py greet PROXY METHODS               print the method the server picks
                                                  (METHODS: comma list of numbers)
  sockscheck.py tcp-echo PROXY HOST PORT          CONNECT and echo 64 KiB, check equal
  sockscheck.py udp-echo PROXY HOST PORT          UDP ASSOCIATE, echo 3 datagrams
  sockscheck.py hold PROXY HOST PORT SECONDS      CONNECT to an echo service and keep
                                                  echoing every 50 ms; prints how the
                                                  flow ended: "ended: reset|eof|error
                                                  after=<s>" or "ended: timeout"
PROXY is host:port.  Exit status 0 unless the probe itself failed.
"""
import os
import socket
import struct
import sys
import time


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("eof after %d bytes" % len(b))
        b += c
    return b


def proxy_conn(proxy):
    h, p = proxy.rsplit(":", 1)
    s = socket.create_connection((h, int(p)), timeout=10)
    return s


def addr_bytes(atyp, host, port):
    if atyp == "v4":
        return b"\x01" + socket.inet_aton(host) + struct.pack(">H", port)
    if atyp == "v6":
        return b"\x04" + socket.inet_pton(socket.AF_INET6, host) + struct.pack(">H", port)
    if atyp == "name":
        h = host.encode()
        return b"\x03" + bytes([len(h)]) + h + struct.pack(">H", port)
    if atyp.startswith("raw:"):
        return bytes([int(atyp[4:])]) + socket.inet_aton(host) + struct.pack(">H", port)
    raise ValueError(atyp)


CMDS = {"connect": 1, "bind": 2, "udp": 3}


def handshake(s):
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise RuntimeError("no-auth refused")


def read_reply(s):
    head = recv_exact(s, 4)
    atyp = head[3]
    n = 4 if atyp == 1 else 16 if atyp == 4 else recv_exact(s, 1)[0]
    rest = recv_exact(s, n + 2)
    return head[1], atyp, rest


def request(s, cmd, atyp, host, port):
    c = CMDS[cmd] if cmd in CMDS else int(cmd[4:])
    s.sendall(b"\x05" + bytes([c]) + b"\x00" + addr_bytes(atyp, host, port))
    return read_reply(s)


def kind(host):
    try:
        socket.inet_aton(host)
        return "v4"
    except OSError:
        return "name"


def main(a):
    mode = a[0]
    if mode == "greet":
        s = proxy_conn(a[1])
        m = [int(x) for x in a[2].split(",")] if a[2] else []
        s.sendall(b"\x05" + bytes([len(m)]) + bytes(m))
        r = recv_exact(s, 2)
        print("method: 0x%02x" % r[1])
        return 0
    if mode == "reply":
        s = proxy_conn(a[1])
        handshake(s)
        try:
            rep, _, _ = request(s, a[2], a[3], a[4], int(a[5]))
            print("reply: 0x%02x" % rep)
        except EOFError:
            print("reply: closed")
        return 0
    if mode == "tcp-echo":
        s = proxy_conn(a[1])
        handshake(s)
        rep, _, _ = request(s, "connect", kind(a[2]), a[2], int(a[3]))
        if rep != 0:
            print("reply: 0x%02x" % rep)
            return 1
        data = os.urandom(65536)
        s.sendall(data)
        got = recv_exact(s, len(data))
        print("echo: %s" % ("ok" if got == data else "MISMATCH"))
        return 0 if got == data else 1
    if mode == "udp-echo":
        s = proxy_conn(a[1])
        handshake(s)
        rep, atyp, rest = request(s, "udp", "v4", "0.0.0.0", 0)
        if rep != 0:
            print("reply: 0x%02x" % rep)
            return 1
        bhost = socket.inet_ntoa(rest[:4]) if atyp == 1 else None
        bport = struct.unpack(">H", rest[-2:])[0]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        ok = 0
        for i in range(3):
            payload = b"udp-probe-%d-" % i + os.urandom(8)
            hdr = b"\x00\x00\x00" + addr_bytes(kind(a[2]), a[2], int(a[3]))
            for attempt in range(5):
                u.sendto(hdr + payload, (bhost, bport))
                try:
                    d, _ = u.recvfrom(4096)
                except socket.timeout:
                    continue
                if d[len(hdr):] == payload and d[:3] == b"\x00\x00\x00":
                    ok += 1
                    break
        print("udp: %d/3" % ok)
        return 0 if ok == 3 else 1
    if mode == "hold":
        s = proxy_conn(a[1])
        handshake(s)
        rep, _, _ = request(s, "connect", kind(a[2]), a[2], int(a[3]))
        if rep != 0:
            print("reply: 0x%02x" % rep)
            return 1
        print("held: open", flush=True)
        s.settimeout(1)
        t0 = time.time()
        deadline = t0 + float(a[4])
        mark = None
        while time.time() < deadline:
            try:
                s.sendall(b"ping")
                recv_exact(s, 4)
            except ConnectionResetError:
                print("ended: reset after=%.1f" % (time.time() - (mark or t0)))
                return 0
            except EOFError:
                print("ended: eof after=%.1f" % (time.time() - (mark or t0)))
                return 0
            except socket.timeout:
                mark = mark or time.time()
                continue
            except OSError as e:
                print("ended: error(%s) after=%.1f" % (e.errno, time.time() - (mark or t0)))
                return 0
            time.sleep(0.05)
        print("ended: timeout")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
