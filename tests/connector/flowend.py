#!/usr/bin/env python3
"""How did each TCP connection end?  Both ends of an upload, for the
connector integration tests (it_flowend.sh, it_dial.sh).

  flowend.py sink BIND PORT LOG
      The resource.  Per connection: reads a first line "id=NAME\\n", then
      bytes until the connection ends, and appends one JSON line to LOG:
        {"id": NAME, "end": "fin"|"rst"|"error:<errno name>",
         "bytes": N, "sha256": hex of the bytes after the id line,
         "t": time.time() at the end}
      ("open" lines are written when the id arrives.)  After a FIN it
      answers "sha256=<hex> bytes=<n>\\n" and closes normally.  A first
      line "id=NAME get=N" asks for N bytes first: the sink sends them,
      half-closes (FIN) and logs {"id", "sent": N, "sha256": ...}.  With
      "id=NAME early" it half-closes at once and waits 1 s before reading
      (a resource that ends its side first and reads slowly).
  flowend.py upload PROXY HOST PORT ID BYTES RATE [TIMEOUT]
      The application: SOCKS5 CONNECT through PROXY (host:port; HOST may be
      a name, resolved remotely), sends the id line and BYTES
      deterministic bytes at RATE bytes/s (0: as fast as possible),
      printing "sent: <n>" every 256 KiB; then half-closes and reads the
      reply.  An ID starting with "early" asks the sink to end its side
      first; the upload goes on after that FIN ("end: fin ... reply=early").  Watches the socket all along and prints how it ended:
        "end: fin sha256=<hex> reply=<reply line>"   (complete transfer)
        "end: eof-early after=<n>"   (an orderly close before the end)
        "end: rst after=<n>"         (reset / broken pipe)
        "end: refused rep=<code>"    (SOCKS refusal)
        "end: timeout after=<n>"
  flowend.py download PROXY HOST PORT ID BYTES GOFILE [TIMEOUT]
      Asks the sink for BYTES, reads nothing until GOFILE exists, then
      reads to the end: "end: fin bytes=<n> sha256=<hex>" (orderly close;
      compare n and the hash with what the sink sent), "end: rst
      bytes=<n>", "end: timeout bytes=<n>"; "got: <n>" every 32 MiB.
  flowend.py retry PROXY HOST PORT BYTES STARTFILE TIMEOUT
      Started ahead (no interpreter start-up in the measured time): once
      STARTFILE exists (it holds the cause's time.time()), downloads of
      BYTES one after the other until one ends with FIN, every byte and
      the sink's sha256: "back: after=<s since the cause> attempts=<n>"
      (or "back: none" after TIMEOUT s); a line per failed attempt.
"""
import contextlib
import errno
import hashlib
import io
import json
import os
import select
import socket
import struct
import sys
import threading
import time


def sink(bind, port, log):
    lock = threading.Lock()

    def record(obj):
        with lock:
            with open(log, "a") as f:
                f.write(json.dumps(obj) + "\n")

    def serve(c):
        h = hashlib.sha256()
        n = 0
        ident = None
        head = b""
        end = None
        early = False
        try:
            while True:
                try:
                    b = c.recv(65536)
                except OSError as e:
                    end = "rst" if e.errno == errno.ECONNRESET else "error:" + errno.errorcode.get(e.errno, str(e.errno))
                    break
                if not b:
                    end = "fin"
                    break
                if ident is None:
                    head += b
                    if b"\n" not in head:
                        if len(head) > 200:
                            ident, b = "?", head
                        else:
                            continue
                    else:
                        line, b = head.split(b"\n", 1)
                        words = line.decode(errors="replace").split()
                        ident = words[0].removeprefix("id=") if words else "?"
                        for w in words[1:]:
                            if w == "early":
                                early = True
                                c.shutdown(socket.SHUT_WR)
                                time.sleep(1.0)
                            if w.startswith("get="):
                                threading.Thread(target=give, args=(c, ident, int(w[4:])),
                                                 daemon=True).start()
                    record({"id": ident, "open": True, "t": time.time()})
                h.update(b)
                n += len(b)
            record({"id": ident, "end": end, "bytes": n, "sha256": h.hexdigest(), "t": time.time()})
            if end == "fin" and not early:
                try:
                    c.sendall(("sha256=%s bytes=%d\n" % (h.hexdigest(), n)).encode())
                    c.shutdown(socket.SHUT_WR)
                    c.settimeout(10)
                    while c.recv(4096):
                        pass
                except OSError:
                    pass
        finally:
            c.close()

    def give(c, ident, n):
        block = hashlib.sha256(ident.encode()).digest() * 2048
        h = hashlib.sha256()
        left = n
        try:
            while left:
                b = block[: min(left, len(block))]
                c.sendall(b)
                h.update(b)
                left -= len(b)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            record({"id": ident, "send_error": str(e), "t": time.time()})
            return
        record({"id": ident, "sent": n, "sha256": h.hexdigest(), "t": time.time()})

    fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, int(port)))
    s.listen(128)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def socks_connect(proxy, host, port):
    ph, pp = proxy.rsplit(":", 1)
    s = socket.create_connection((ph, int(pp)), timeout=30)
    s.sendall(b"\x05\x01\x00")
    if recv_exact(s, 2) != b"\x05\x00":
        raise RuntimeError("no-auth refused")
    try:
        a = b"\x01" + socket.inet_aton(host)
    except OSError:
        a = b"\x03" + bytes([len(host)]) + host.encode()
    s.sendall(b"\x05\x01\x00" + a + struct.pack(">H", port))
    head = recv_exact(s, 4)
    n = 4 if head[3] == 1 else 16 if head[3] == 4 else recv_exact(s, 1)[0]
    recv_exact(s, n + 2)
    return s, head[1]


def upload(proxy, host, port, ident, total, rate, timeout):
    try:
        s, rep = socks_connect(proxy, host, int(port))
    except (OSError, EOFError) as e:
        print("end: refused rep=none (%s)" % e, flush=True)
        return
    if rep != 0:
        print("end: refused rep=0x%02x" % rep, flush=True)
        return
    s.setblocking(False)
    block = hashlib.sha256(ident.encode()).digest() * 2048  # 64 KiB
    h = hashlib.sha256()
    early = ident.startswith("early")
    pending = ("id=%s%s\n" % (ident, " early" if early else "")).encode()
    peer_eof = False
    hdr_left = len(pending)  # the id line is not payload
    made = sent = 0
    start = time.time()
    deadline = start + timeout
    next_report = 256 << 10
    shut = False
    reply = b""

    def ended(how):
        print("end: %s after=%d" % (how, sent), flush=True)

    while time.time() < deadline:
        if not pending and made < total:
            allowed = total if rate == 0 else min(total, int((time.time() - start) * rate))
            if allowed > made:
                pending = block[: min(len(block), allowed - made)]
                h.update(pending)
                made += len(pending)
        r, w, _ = select.select([] if peer_eof else [s], [s] if pending else [], [], 0.02)
        if r:
            try:
                b = s.recv(65536)
            except OSError as e:
                ended("rst" if e.errno in (errno.ECONNRESET, errno.EPIPE) else "error:%d" % e.errno)
                return
            if not b and early and not shut:
                peer_eof = True  # the resource ended its side first: go on
                continue
            if not b:
                if shut:
                    # An early FIN may also arrive after the whole upload
                    # has been handed to the proxy (large buffers, fast
                    # path): the same orderly end, in the other order.
                    rep = "early" if early else reply.decode(errors="replace").strip()
                    print("end: fin sha256=%s reply=%s" % (h.hexdigest(), rep), flush=True)
                else:
                    ended("eof-early")
                return
            reply += b
        if w and pending:
            try:
                k = s.send(pending)
            except BlockingIOError:
                k = 0
            except OSError as e:
                ended("rst" if e.errno in (errno.ECONNRESET, errno.EPIPE) else "error:%d" % e.errno)
                return
            pending = pending[k:]
            hk = min(k, hdr_left)
            hdr_left -= hk
            sent += k - hk
            if sent >= next_report:
                print("sent: %d" % sent, flush=True)
                next_report += 256 << 10
        if not pending and made >= total and not shut:
            s.shutdown(socket.SHUT_WR)
            shut = True
            if peer_eof:
                print("end: fin sha256=%s reply=early" % h.hexdigest(), flush=True)
                return
    ended("timeout")


def download(proxy, host, port, ident, total, gofile, timeout):
    try:
        s, rep = socks_connect(proxy, host, int(port))
    except (OSError, EOFError) as e:
        print("end: refused rep=none (%s)" % e, flush=True)
        return
    if rep != 0:
        print("end: refused rep=0x%02x" % rep, flush=True)
        return
    s.sendall(("id=%s get=%d\n" % (ident, total)).encode())
    deadline = time.time() + timeout
    while not os.path.exists(gofile) and time.time() < deadline:
        time.sleep(0.02)
    h = hashlib.sha256()
    n = 0
    report = 32 << 20
    s.settimeout(max(1, deadline - time.time()))
    try:
        while True:
            b = s.recv(65536)
            if not b:
                print("end: fin bytes=%d sha256=%s" % (n, h.hexdigest()), flush=True)
                return
            h.update(b)
            n += len(b)
            if n >= report:
                print("got: %d" % n, flush=True)
                report += 32 << 20
    except socket.timeout:
        print("end: timeout bytes=%d" % n, flush=True)
    except OSError as e:
        how = "rst" if e.errno in (errno.ECONNRESET, errno.EPIPE) else "error:%d" % e.errno
        print("end: %s bytes=%d" % (how, n), flush=True)


def retry(proxy, host, port, total, startfile, timeout):
    """After STARTFILE appears (it holds the cause's time.time()), downloads
    of TOTAL bytes, one after the other, until one is complete and exact."""
    while not os.path.exists(startfile):
        time.sleep(0.01)
    with open(startfile) as f:
        t0 = float(f.read().split()[0])
    n = 0
    while time.time() - t0 < timeout:
        n += 1
        ident = "retry%d" % n
        block = hashlib.sha256(ident.encode()).digest() * 2048
        want = hashlib.sha256((block * (total // len(block) + 1))[:total]).hexdigest()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            download(proxy, host, port, ident, total, startfile, 5)
        end = [ln for ln in out.getvalue().splitlines() if ln.startswith("end:")]
        if end and end[0] == "end: fin bytes=%d sha256=%s" % (total, want):
            print("back: after=%.2f attempts=%d" % (time.time() - t0, n), flush=True)
            return
        print("attempt %d at %.2f: %s" % (n, time.time() - t0, end[0] if end else "?"), flush=True)
        time.sleep(0.2)
    print("back: none attempts=%d" % n, flush=True)


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "sink":
        sink(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 8 and sys.argv[1] == "upload":
        timeout = float(sys.argv[8]) if len(sys.argv) > 8 else 120
        upload(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]),
               int(sys.argv[7]), timeout)
    elif len(sys.argv) >= 8 and sys.argv[1] == "download":
        timeout = float(sys.argv[8]) if len(sys.argv) > 8 else 60
        download(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]),
                 sys.argv[7], timeout)
    elif len(sys.argv) >= 8 and sys.argv[1] == "retry":
        retry(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6],
              float(sys.argv[7]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
