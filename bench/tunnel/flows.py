#!/usr/bin/env python3
"""Many concurrent TCP flows through one tunnel (bench/tunnel/flows.sh).

  flows.py echo PORT                    TCP echo server (one epoll loop)
  flows.py run HOST PORT N CONC BYTES [NEWFLOWS]   the load, in phases:
    open     N connections, at most CONC connecting at once; each flow is
             open when its first 64-byte echo came back: prints the
             setup rate and the p50/p99/max of connect -> echo
    held     prints "held: N" and waits for a line on stdin (the caller
             reads the tunnel processes' memory meanwhile)
    newflow  100 more flows one after the other while N are held
             (connect + one round trip + close): p50/p99
    echo     every flow sends BYTES and reads them back, all at once:
             aggregate Gbit/s (bytes both ways / time); every byte is
             checked (a pattern of its own per flow): `corrupt` counts
             flows whose echo differed
    close    all flows closed; prints "closed" and waits for a line again
Output lines are `key: value`.  Raises RLIMIT_NOFILE to the hard limit.
FLOWS_NOWAIT=1: no waiting for stdin lines (tests).  NEWFLOWS: how many
flows the newflow phase opens (default 100).
Exits 1 if any flow failed or its echo differed (the counts are printed).
"""
import errno
import os
import resource
import selectors
import socket
import sys
import time

MSG = b"f" * 64
CHUNK = 65536
# flow i's echo bytes: PAT[(i + offset) % 251 ...] (a slice of this)
PAT = bytes(range(251)) * (CHUNK // 251 + 2)


def pat(i, off, n):
    k = (i + off) % 251
    return PAT[k:k + n]


def wait_line():
    if os.environ.get("FLOWS_NOWAIT") != "1":
        sys.stdin.readline()


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else 0


def echo(port):
    raise_nofile()
    sel = selectors.DefaultSelector()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    pend = {}  # socket -> bytes not yet written back
    while True:
        for key, ev in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    while True:
                        c, _ = ls.accept()
                        c.setblocking(False)
                        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        pend[c] = b""
                        sel.register(c, selectors.EVENT_READ, None)
                except BlockingIOError:
                    pass
                continue
            if ev & selectors.EVENT_READ and not pend[s]:
                try:
                    d = s.recv(CHUNK)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    d = b""
                if not d:
                    sel.unregister(s)
                    del pend[s]
                    s.close()
                    continue
                pend[s] = d
            if pend[s]:
                try:
                    n = s.send(pend[s])
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    sel.unregister(s)
                    del pend[s]
                    s.close()
                    continue
                pend[s] = pend[s][n:]
                sel.modify(s, selectors.EVENT_WRITE if pend[s] else selectors.EVENT_READ, None)


class Flow:
    __slots__ = ("s", "t0", "want", "sent", "got", "out", "i", "bad")

    def __init__(self):
        self.i = 0
        self.bad = False
        self.s = None
        self.t0 = 0.0
        self.want = 0
        self.sent = 0
        self.got = 0
        self.out = b""


def run(host, port, n, conc, nbytes, nnew=100):
    raise_nofile()
    sel = selectors.DefaultSelector()
    flows, lat, failed = [], [], 0
    started = done = 0
    inflight = 0

    def start_one():
        nonlocal started, inflight, failed
        f = Flow()
        f.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        f.s.setblocking(False)
        f.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f.t0 = time.perf_counter()
        e = f.s.connect_ex((host, port))
        started += 1
        if e not in (0, errno.EINPROGRESS):
            failed += 1
            f.s.close()
            return
        inflight += 1
        f.out = MSG
        sel.register(f.s, selectors.EVENT_WRITE, f)

    # -- open: connect, 64 bytes out, 64 back, CONC at a time
    t_open = time.perf_counter()
    deadline = t_open + 600
    while done + failed < n and time.perf_counter() < deadline:
        while started < n and inflight < conc:
            start_one()
        for key, ev in sel.select(timeout=1.0):
            f = key.data
            try:
                if f.out:
                    k = f.s.send(f.out)
                    f.out = f.out[k:]
                    if not f.out:
                        sel.modify(f.s, selectors.EVENT_READ, f)
                    continue
                d = f.s.recv(64)
                if not d:
                    raise ConnectionError("closed")
                f.got += len(d)
                if f.got >= 64:
                    lat.append((time.perf_counter() - f.t0) * 1e6)
                    sel.unregister(f.s)
                    flows.append(f)
                    inflight -= 1
                    done += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                sel.unregister(f.s)
                f.s.close()
                inflight -= 1
                failed += 1
    secs = time.perf_counter() - t_open
    print("open: %d" % done)
    print("open_failed: %d" % (failed + (n - done - failed)))
    print("open_secs: %.2f" % secs)
    print("setup_rate_per_s: %.0f" % (done / secs if secs > 0 else 0))
    print("setup_p50_us: %.0f" % pct(lat, 0.5))
    print("setup_p99_us: %.0f" % pct(lat, 0.99))
    print("setup_max_us: %.0f" % (max(lat) if lat else 0))
    print("held: %d" % len(flows))
    sys.stdout.flush()
    wait_line()

    # -- newflow while N are held
    nl = []
    for _ in range(nnew):
        t = time.perf_counter()
        try:
            s = socket.create_connection((host, port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(MSG)
            got = 0
            while got < 64:
                d = s.recv(64)
                if not d:
                    raise ConnectionError("closed")
                got += len(d)
            s.close()
            nl.append((time.perf_counter() - t) * 1e6)
        except OSError:
            failed += 1
    print("newflow_at_n_p50_us: %.0f" % pct(nl, 0.5))
    print("newflow_at_n_p99_us: %.0f" % pct(nl, 0.99))

    # -- echo BYTES on every flow at once
    for i, f in enumerate(flows):
        f.want, f.sent, f.got, f.i = nbytes, 0, 0, i
        sel.register(f.s, selectors.EVENT_READ | selectors.EVENT_WRITE, f)
    live = len(flows)
    t_echo = time.perf_counter()
    deadline = t_echo + 600
    while live and time.perf_counter() < deadline:
        for key, ev in sel.select(timeout=1.0):
            f = key.data
            try:
                if ev & selectors.EVENT_WRITE and f.sent < f.want:
                    k = f.s.send(pat(f.i, f.sent, min(CHUNK, f.want - f.sent)))
                    f.sent += k
                    if f.sent >= f.want:
                        sel.modify(f.s, selectors.EVENT_READ, f)
                if ev & selectors.EVENT_READ:
                    d = f.s.recv(CHUNK)
                    if not d:
                        raise ConnectionError("closed")
                    if d != pat(f.i, f.got, len(d)):
                        f.bad = True
                    f.got += len(d)
                    if f.got >= f.want:
                        sel.unregister(f.s)
                        live -= 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                sel.unregister(f.s)
                live -= 1
                failed += 1
    secs = time.perf_counter() - t_echo
    total = sum(f.got for f in flows)
    print("echo_bytes_each_way: %d" % total)
    print("echo_secs: %.2f" % secs)
    print("echo_gbps_both_ways: %.2f" % (2 * total * 8 / secs / 1e9 if secs > 0 else 0))
    corrupt = sum(1 for f in flows if f.bad)
    short = sum(1 for f in flows if f.got < f.want)
    for f in flows:
        f.s.close()
    print("echo_short: %d" % short)
    print("corrupt: %d" % corrupt)
    print("failed: %d" % failed)
    print("closed")
    sys.stdout.flush()
    wait_line()
    return 1 if failed or corrupt or short else 0


def main(a):
    if a and a[0] == "echo":
        echo(int(a[1]))
        return 0
    if a and a[0] == "run":
        return run(a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]),
                   int(a[6]) if len(a) > 6 else 100)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
