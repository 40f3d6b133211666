#!/usr/bin/env python3
"""Bulk transfers for the Path MTU test (it_pmtu.sh) and bench/tunnel/pmtu.sh.

  pmtuxfer.py serve PORT                     the resource: per connection, an
        8-byte header (b"D" or b"U" + 7-byte size): D sends `size` bytes of
        the pattern; U reads `size` bytes and answers their sha256 (32 bytes)
  pmtuxfer.py run HOST PORT SIZE [--at BYTES CMD]
        a download and an upload of SIZE bytes at once, progress sampled
        every 100 ms; once either has passed BYTES while both still have
        bytes to move, runs CMD (shell) once (fired_at: the byte counts).
        Socket timeouts: PN_XFER_TIMEOUT seconds (60 by default).
        Prints `key: value` lines: down_sha, up_sha (ok/bad), down_bytes,
        up_bytes, down_gap_ms, up_gap_ms (longest time without progress,
        sampled every 100 ms from the start), fired, secs, mbps.

The pattern: 64 KiB chunks, chunk i = i as 8 bytes big-endian + 65528
bytes of a fixed random block, so misplaced bytes change the digest.
"""
import hashlib
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

CHUNK = 65536
BASE = random.Random(20261205).randbytes(CHUNK)
TIMEOUT = float(os.environ.get("PN_XFER_TIMEOUT", "60"))


def chunk(i):
    return struct.pack(">Q", i) + BASE[8:]


def pattern_sha(size):
    h = hashlib.sha256()
    for i in range(size // CHUNK):
        h.update(chunk(i))
    rest = size % CHUNK
    if rest:
        h.update(chunk(size // CHUNK)[:rest])
    return h.hexdigest()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise ConnectionError("closed after %d of %d" % (len(buf), n))
        buf += b
    return buf


def serve_one(c):
    try:
        hdr = recv_exact(c, 8)
        size = int.from_bytes(hdr[1:], "big")
        if hdr[:1] == b"D":
            sent = 0
            i = 0
            while sent < size:
                b = chunk(i)[: size - sent]
                c.sendall(b)
                sent += len(b)
                i += 1
            c.shutdown(socket.SHUT_WR)
            c.recv(1)
        else:
            h = hashlib.sha256()
            got = 0
            while got < size:
                b = c.recv(1 << 20)
                if not b:
                    break
                h.update(b)
                got += len(b)
            c.sendall(h.digest())
    except OSError:
        pass
    finally:
        c.close()


def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_one, args=(c,), daemon=True).start()


class Prog:
    def __init__(self):
        self.n = 0
        self.done = False
        self.err = ""


def down(host, port, size, p, res):
    try:
        s = socket.create_connection((host, port), timeout=TIMEOUT)
        s.sendall(b"D" + size.to_bytes(7, "big"))
        h = hashlib.sha256()
        while p.n < size:
            b = s.recv(1 << 20)
            if not b:
                break
            h.update(b)
            p.n += len(b)
        res["down_sha"] = h.hexdigest()
        s.close()
    except OSError as e:
        p.err = str(e)
    p.done = True


def up(host, port, size, p, res):
    try:
        s = socket.create_connection((host, port), timeout=TIMEOUT)
        s.sendall(b"U" + size.to_bytes(7, "big"))
        i = 0
        while p.n < size:
            b = chunk(i)[: size - p.n]
            s.sendall(b)
            p.n += len(b)
            i += 1
        res["up_sha"] = recv_exact(s, 32).hex()
        s.close()
    except OSError as e:
        p.err = str(e)
    p.done = True


def run(host, port, size, at=0, cmd=None):
    want = pattern_sha(size)
    res = {}
    pd, pu = Prog(), Prog()
    fired = threading.Event()
    t0 = time.monotonic()
    td = threading.Thread(target=down, args=(host, port, size, pd, res))
    tu = threading.Thread(target=up, args=(host, port, size, pu, res))
    td.start()
    tu.start()
    gaps = {"down": 0.0, "up": 0.0}
    last = {"down": (pd.n, t0), "up": (pu.n, t0)}
    fired_at = None
    while not (pd.done and pu.done):
        time.sleep(0.01 if cmd and not fired.is_set() else 0.1)
        now = time.monotonic()
        # Either direction past BYTES while both still have bytes to move:
        # the hole then meets full-size packets both ways (fired on the
        # download's progress alone, the upload, 3-4x faster through a
        # relay, could be written out by then, and the client had no
        # full-size packet left to lose).
        if (cmd and not fired.is_set() and max(pd.n, pu.n) >= at and
                pd.n < size and pu.n < size):
            fired.set()
            fired_at = (pd.n, pu.n)
            subprocess.Popen(cmd, shell=True)
        for k, p in (("down", pd), ("up", pu)):
            n, t = last[k]
            if p.n != n or p.done:
                last[k] = (p.n, now)
            else:
                gaps[k] = max(gaps[k], now - t)
    secs = time.monotonic() - t0
    td.join()
    tu.join()
    print("down_sha: %s" % ("ok" if res.get("down_sha") == want else "bad"))
    print("up_sha: %s" % ("ok" if res.get("up_sha") == want else "bad"))
    print("down_bytes: %d" % pd.n)
    print("up_bytes: %d" % pu.n)
    print("down_gap_ms: %d" % (gaps["down"] * 1000))
    print("up_gap_ms: %d" % (gaps["up"] * 1000))
    print("fired: %s" % ("yes" if fired.is_set() else "no"))
    if fired_at:
        print("fired_at: down=%d up=%d" % fired_at)
    print("secs: %.2f" % secs)
    print("mbps: %.1f" % (2 * size * 8 / secs / 1e6))
    if pd.err or pu.err:
        print("error: down=%s up=%s" % (pd.err, pu.err))
    return 0


def main(a):
    if a[0] == "serve":
        serve(int(a[1]))
        return 0
    if a[0] == "run":
        at, cmd = 0, None
        if len(a) > 4 and a[4] == "--at":
            at, cmd = int(a[5]), a[6]
        return run(a[1], int(a[2]), int(a[3]), at, cmd)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
