#!/usr/bin/env python3
"""Unauthenticated floods at a fixed rate, switched on and off on a shared
schedule, and a throughput probe read per window (tests/tunnel/it_flood.sh).

flood KIND TARGETS RATE STARTFILE SECONDS PERIOD
    Prints "armed", waits for STARTFILE (it holds a wall-clock time START),
    then for SECONDS from START: on during odd periods of PERIOD seconds
    (START + k*PERIOD, k odd), off during even ones.  Prints "ready <time>"
    when it begins (windows before that are not counted),
    "done <time>" at the end, then "sent <n> <bytes> answered <bytes>" (what
    came back on its own sockets), "rate <n a second while on>" and "late <n>"
    (10 ms batches behind the rate).  KIND:
    udp-relay  datagrams at relays (TARGETS host:port,...): random bytes,
               BIND and DATA with random session ids, bare STUN requests
    udp-quic   datagrams at a tunnel endpoint's direct socket: QUIC
               Initial-looking long headers (1200 bytes, random connection
               ids), short headers with random connection ids, random bytes
    tls        TCP connections (RATE a second) sending the start of a TLS
               ClientHello and junk, then left to the server's deadline (at
               most 256 held at once: the oldest is closed)
    Datagrams come from a pool of 512 made at start: the flooder's own CPU
    stays small next to what it costs the target.
serve BIND PORT
    The resource: per TCP connection, a first line "full\n" (bytes as fast
    as the connection takes them, for `measure`) or "pace RATE CHUNK\n":
    CHUNK-byte chunks at RATE bytes/s, each starting with the time.time()
    at which it was handed to the socket (a big-endian double).  A sender
    held up (by the connection's flow control or the machine) makes up at
    most 0.25 s of its schedule, as an application with a fixed rate does.
measure PROXY HOST PORT SECONDS LOG
    Through a SOCKS5 proxy, an endless download from `serve` ("full"),
    read for SECONDS or until LOG.stop exists: appends "<time> <bytes so
    far>" to LOG every 50 ms.
pmeasure PROXY HOST PORT RATE CHUNK SECONDS LOG
    The same with "pace RATE CHUNK": appends "<arrival> <stamp>" to LOG per
    chunk received (flushed every 50 ms).
windows LOG START PERIOD FLOODLOG...
    Throughput in each period (a fifth trimmed at both ends) between every
    flood's "ready" and the first "done"; each window with the flood divided
    by the mean of the two without around it: prints "ratio <median> n
    <pairs>", the ratios and each window's figure.
pwindows LOG START PERIOD CHUNK FLOODLOG...
    For a `pmeasure` log, per period (a fifth trimmed at both ends): the
    goodput (chunks that arrived in it) and the median latency (arrival -
    stamp) of those chunks.  Prints "goodput <median on> <median off>
    ratio <on / the larger of off and before> n <windows on>", "before
    <median of the windows in the BASE_S s before START>", "latency_ms
    <median on> <median off>" (medians over windows of each window's
    median), and each window.
"""
import os
import socket
import struct
import sys
import threading
import time

POOL = 512


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


def run_schedule(rate, startfile, secs, period, step, idle):
    """step(n) with the items due every 10 ms while on; idle() while off.
    Returns the number of late batches."""
    print("armed", flush=True)
    while not os.path.exists(startfile):
        time.sleep(0.01)
    with open(startfile) as f:
        start = float(f.read().split()[0])
    while time.time() < start:
        time.sleep(min(0.01, max(0, start - time.time())))
    print("ready %.6f" % time.time(), flush=True)
    late = 0
    on_since = None
    done = 0
    while True:
        now = time.time()
        if now - start >= secs:
            print("done %.6f" % now, flush=True)
            return late
        on = int((now - start) / period) % 2 == 1
        if not on:
            on_since = None
            idle()
            time.sleep(0.01)
            continue
        if on_since is None:
            on_since, done = now, 0
        due = int((now - on_since) * rate) - done
        if due > rate / 50:
            late += 1
        if due > 0:
            step(due)
            done += due
        time.sleep(0.01)


def flood_udp(kind, spec, rate, startfile, secs, period):
    dst = addrs(spec)
    make = udp_relay_pkt if kind == "udp-relay" else udp_quic_pkt
    pool = [make(i) for i in range(POOL)]
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
            m = pool[i % POOL]
            try:
                socks[i % len(socks)].sendto(m, dst[i % len(dst)])
                st["sent"] += 1
                st["bytes"] += len(m)
            except (BlockingIOError, ConnectionRefusedError):
                pass
        drain()

    late = run_schedule(rate, startfile, secs, period, step, drain)
    time.sleep(0.3)
    drain()
    print("sent %d %d answered %d" % (st["sent"], st["bytes"], st["ans"]))
    print("rate %d" % (st["sent"] / (secs / 2)))
    print("late %d" % late)


def flood_tls(spec, rate, startfile, secs, period):
    dst = addrs(spec)
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    junk = [hello + os.urandom(200 + i % 300) for i in range(64)]
    held = []
    st = {"i": 0, "sent": 0, "bytes": 0, "ans": 0}

    def poll():
        for j, (s, m) in enumerate(held):
            if m:
                try:
                    st["bytes"] += s.send(m)
                    held[j] = (s, b"")
                except OSError:
                    pass
            try:
                st["ans"] += len(s.recv(65536))
            except OSError:
                pass

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
            held.append((s, junk[i % len(junk)]))
            st["sent"] += 1
        while len(held) > 256:
            held.pop(0)[0].close()
        poll()

    late = run_schedule(rate, startfile, secs, period, step, poll)
    for s, _ in held:
        s.close()
    print("sent %d %d answered %d" % (st["sent"], st["bytes"], st["ans"]))
    print("rate %d" % (st["sent"] / (secs / 2)))
    print("late %d" % late)


MAXLAG = 0.25  # seconds of its schedule a paced sender makes up at most
BASE_S = 3     # seconds of the flow before the flood schedule starts


def serve(bind, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((bind, port))
    ls.listen(64)

    def one(c):
        try:
            req = b""
            while not req.endswith(b"\n") and len(req) < 100:
                b = c.recv(1)
                if not b:
                    return
                req += b
            w = req.split()
            if w[0] == b"full":
                buf = os.urandom(1 << 18)
                while True:
                    c.sendall(buf)
            rate, chunk = float(w[1]), int(w[2])
            buf = bytearray(os.urandom(chunk))
            every = chunk / rate
            due = time.time()
            while True:
                now = time.time()
                if now < due:
                    time.sleep(due - now)
                    continue
                due = max(due, now - MAXLAG) + every
                buf[0:8] = struct.pack("!d", time.time())
                c.sendall(buf)
        except (OSError, IndexError, ValueError):
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def socks(proxy, host, port, req):
    ph, pp = proxy.rsplit(":", 1)
    s = socket.create_connection((ph, int(pp)), timeout=30)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    rep = s.recv(10)
    if len(rep) < 2 or rep[1] != 0:
        sys.exit("refused")
    s.sendall(req)
    s.settimeout(30)
    return s


def pmeasure(proxy, host, port, rate, chunk, secs, log):
    s = socks(proxy, host, port, b"pace %d %d\n" % (rate, chunk))
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    pos, hdr = 0, b""
    t0 = time.time()
    nxt = t0
    out = []
    with open(log, "a") as f:
        while True:
            k = s.recv_into(buf)
            now = time.time()
            if not k:
                break
            i = 0
            while i < k:
                if pos < 8:
                    take = min(8 - pos, k - i)
                    hdr += bytes(mv[i:i + take])
                take = min(chunk - pos, k - i)
                pos += take
                i += take
                if pos == chunk:
                    out.append("%.6f %.6f\n" % (now, struct.unpack("!d", hdr)[0]))
                    pos, hdr = 0, b""
            if now >= nxt:
                f.write("".join(out))
                f.flush()
                out = []
                nxt = now + 0.05
                if now - t0 >= secs or os.path.exists(log + ".stop"):
                    break
        f.write("".join(out))
    s.close()


def measure(proxy, host, port, secs, log):
    s = socks(proxy, host, port, b"full\n")
    buf = bytearray(1 << 20)
    n = 0
    t0 = time.time()
    nxt = t0
    with open(log, "a") as f:
        while True:
            now = time.time()
            if now >= nxt:
                f.write("%.6f %d\n" % (now, n))
                f.flush()
                nxt = now + 0.05
                if now - t0 >= secs or os.path.exists(log + ".stop"):
                    break
            k = s.recv_into(buf)
            if not k:
                break
            n += k
    s.close()


def windows(log, start, period, floodlogs):
    ready, done = flood_span(floodlogs, start)
    pts = [tuple(map(float, ln.split())) for ln in open(log) if ln.strip()]

    def at(t):  # bytes so far at time t (linear between samples)
        for (t1, b1), (t2, b2) in zip(pts, pts[1:]):
            if t1 <= t <= t2:
                return b1 + (b2 - b1) * (t - t1) / max(t2 - t1, 1e-9)
        return None

    rate = {}
    k = 0
    trim = period / 5
    while start + (k + 1) * period <= min(done, pts[-1][0]):
        a, b = start + k * period + trim, start + (k + 1) * period - trim
        if start + k * period >= ready:
            ba, bb = at(a), at(b)
            if ba is not None and bb is not None:
                rate[k] = (bb - ba) / (b - a)
        k += 1
    # each window with the flood against the two without around it: slow
    # swings of the machine's load cancel out
    ratios = []
    for k in rate:
        if k % 2 == 1 and k - 1 in rate and k + 1 in rate and rate[k - 1] + rate[k + 1] > 0:
            ratios.append(rate[k] / ((rate[k - 1] + rate[k + 1]) / 2))
    ratios.sort()
    med = ratios[len(ratios) // 2] if ratios else 0
    print("ratio %.3f n %d" % (med, len(ratios)))
    print("ratios: " + " ".join("%.2f" % r for r in ratios))
    print("MiB/s per window (odd: flood on): " + " ".join("%d:%.0f" % (k, rate[k] / 1048576) for k in sorted(rate)))


def flood_span(floodlogs, start):
    """(ready, done): from when every flooder was ready to the first done"""
    ready, done = start, float("inf")
    for fl in floodlogs:
        for line in open(fl):
            if line.startswith("ready "):
                ready = max(ready, float(line.split()[1]))
            if line.startswith("done "):
                done = min(done, float(line.split()[1]))
    return ready, done


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if v else 0


def pwindows(log, start, period, chunk, floodlogs):
    ready, done = flood_span(floodlogs, start)
    pts = [tuple(map(float, ln.split())) for ln in open(log) if len(ln.split()) == 2]
    end = min(done, pts[-1][0] if pts else start)
    trim = period / 5
    win = {}
    k = 0
    while start + (k + 1) * period <= end:
        a, b = start + k * period + trim, start + (k + 1) * period - trim
        if start + k * period >= ready:
            lat = [t - st for t, st in pts if a <= t < b]
            # a window with nothing delivered: its latency is at least the window's
            win[k] = (len(lat) * chunk / (b - a), median(lat) if lat else b - a)
        k += 1
    on = [win[k] for k in win if k % 2 == 1]
    off = [win[k] for k in win if k % 2 == 0]
    g_on, g_off = median([g for g, _ in on]), median([g for g, _ in off])
    # before the schedule (no flood yet): a flood whose cost spills into
    # the windows without it (the target still behind) shows against this
    base = []
    k = 1
    while start - k * period >= pts[0][0] + 1 and k <= 2 * BASE_S / period:
        a, b = start - k * period + trim, start - (k - 1) * period - trim
        base.append(sum(1 for t, _ in pts if a <= t < b) * chunk / (b - a))
        k += 1
    g_base = median(base)
    ref = max(g_off, g_base)
    print("goodput %.0f %.0f ratio %.3f n %d" % (g_on, g_off, g_on / ref if ref else 0, len(on)))
    print("before %.0f n %d" % (g_base, len(base)))
    print("latency_ms %.1f %.1f" % (1000 * median([l for _, l in on]), 1000 * median([l for _, l in off])))
    print("per window (odd: flood on) MiB/s/ms: " +
          " ".join("%d:%.1f/%.0f" % (k, win[k][0] / 1048576, 1000 * win[k][1]) for k in sorted(win)))


def main():
    a = sys.argv[1:]
    if len(a) == 7 and a[0] == "flood" and a[1] in ("udp-relay", "udp-quic"):
        flood_udp(a[1], a[2], int(a[3]), a[4], float(a[5]), float(a[6]))
    elif len(a) == 7 and a[0] == "flood" and a[1] == "tls":
        flood_tls(a[2], int(a[3]), a[4], float(a[5]), float(a[6]))
    elif len(a) == 6 and a[0] == "measure":
        measure(a[1], a[2], int(a[3]), float(a[4]), a[5])
    elif len(a) == 8 and a[0] == "pmeasure":
        pmeasure(a[1], a[2], int(a[3]), float(a[4]), int(a[5]), float(a[6]), a[7])
    elif len(a) == 3 and a[0] == "serve":
        serve(a[1], int(a[2]))
    elif len(a) >= 4 and a[0] == "windows":
        windows(a[1], float(a[2]), float(a[3]), a[4:])
    elif len(a) >= 5 and a[0] == "pwindows":
        pwindows(a[1], float(a[2]), float(a[3]), int(a[4]), a[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
