#!/usr/bin/env python3
"""Flow load for the client integration tests (stdlib only, asyncio).

  flowload.py echo PORT [BIND]       TCP echo server for many connections at
                                     once (one event loop, no thread each)
  flowload.py cycles VIA DEST N CONC N times: connect, echo 64 bytes, close;
                                     CONC at a time
  flowload.py concurrent VIA DEST N  open N flows at once, echo on each, keep
                                     them all open until every one answered,
                                     echo on each again, then close them all
  flowload.py hold VIA DEST N SECS   open N flows at once, print "held: N" once
                                     all answered, keep them SECS seconds
                                     (echoing every second), then close

VIA is socks:HOST:PORT (SOCKS5 CONNECT to DEST) or forward:HOST:PORT (a
port-forward whose target is DEST's service; DEST is then ignored).  DEST is
HOST:PORT.  Output lines are `key: value`, e.g.
  cycles: ok=10000 failed=0 secs=41.2 rate=242/s errors={}
Exit status 0 when every flow worked.  Raises its own RLIMIT_NOFILE to the
hard limit (it holds a socket per flow).
"""
import asyncio
import collections
import os
import resource
import socket
import struct
import sys
import time

MSG = b"postern-flowload-" + b"x" * 47  # 64 bytes
TIMEOUT = 30.0


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def echo_server(port, bind):
    async def serve(r, w):
        try:
            while True:
                d = await r.read(65536)
                if not d:
                    break
                w.write(d)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    srv = await asyncio.start_server(serve, bind, port, backlog=4096, reuse_address=True)
    print("echo: listening %s:%d" % (bind, port), flush=True)
    async with srv:
        await srv.serve_forever()


def parse_via(via):
    kind, rest = via.split(":", 1)
    host, port = rest.rsplit(":", 1)
    if kind not in ("socks", "forward"):
        raise SystemExit("VIA must be socks:HOST:PORT or forward:HOST:PORT")
    return kind, host, int(port)


def socks_request(dest):
    host, port = dest.rsplit(":", 1)
    try:
        a = socket.inet_aton(host)
        addr = b"\x01" + a
    except OSError:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    return b"\x05\x01\x00" + addr + struct.pack(">H", int(port))


async def open_flow(via, req):
    kind, host, port = via
    r, w = await asyncio.open_connection(host, port)
    if kind == "socks":
        # greeting and request pipelined: the proxy reads them in order
        w.write(b"\x05\x01\x00" + req)
        g = await r.readexactly(2)
        if g != b"\x05\x00":
            raise ConnectionError("socks method %r" % g)
        h = await r.readexactly(4)
        if h[1] != 0:
            w.close()
            raise ConnectionError("socks reply 0x%02x" % h[1])
        n = {1: 4, 4: 16}.get(h[3])
        if n is None:
            n = (await r.readexactly(1))[0]
        await r.readexactly(n + 2)
    return r, w


async def echo_once(r, w):
    w.write(MSG)
    got = await r.readexactly(len(MSG))
    if got != MSG:
        raise ConnectionError("echo mismatch")


def err_name(e):
    if isinstance(e, asyncio.TimeoutError):
        return "timeout"
    if isinstance(e, asyncio.IncompleteReadError):
        return "eof"
    if isinstance(e, OSError) and e.errno:
        return "errno%d" % e.errno
    return str(e)[:40] or type(e).__name__


async def cycles(via, req, n, conc):
    errors = collections.Counter()
    ok = 0
    todo = iter(range(n))

    async def worker():
        nonlocal ok
        for _ in todo:
            w = None
            try:
                r, w = await asyncio.wait_for(open_flow(via, req), TIMEOUT)
                await asyncio.wait_for(echo_once(r, w), TIMEOUT)
                ok += 1
            except Exception as e:  # every failure is counted by kind
                errors[err_name(e)] += 1
            finally:
                if w is not None:
                    w.close()
                    try:
                        await w.wait_closed()
                    except Exception:
                        pass

    t0 = time.time()
    await asyncio.gather(*(worker() for _ in range(conc)))
    dt = time.time() - t0
    print("cycles: ok=%d failed=%d secs=%.1f rate=%d/s errors=%s"
          % (ok, n - ok, dt, ok / dt if dt else 0, dict(errors)), flush=True)
    return ok == n


async def concurrent(via, req, n, hold_secs=None):
    errors = collections.Counter()
    flows = []
    sem = asyncio.Semaphore(512)  # connects in flight (not flows open)

    async def one():
        async with sem:
            try:
                r, w = await asyncio.wait_for(open_flow(via, req), TIMEOUT * 2)
            except Exception as e:
                errors["open:" + err_name(e)] += 1
                return
        try:
            await asyncio.wait_for(echo_once(r, w), TIMEOUT * 2)
            flows.append((r, w))
        except Exception as e:
            errors["echo:" + err_name(e)] += 1
            w.close()

    t0 = time.time()
    await asyncio.gather(*(one() for _ in range(n)))
    t_open = time.time() - t0
    opened = len(flows)
    if hold_secs is not None:
        print("held: %d" % opened, flush=True)
        end = time.time() + hold_secs
        while time.time() < end:
            await asyncio.sleep(min(1.0, max(0.0, end - time.time())))
    # every flow still open at once: echo on all of them again
    again = 0

    async def second(r, w):
        nonlocal again
        try:
            await asyncio.wait_for(echo_once(r, w), TIMEOUT * 2)
            again += 1
        except Exception as e:
            errors["again:" + err_name(e)] += 1

    await asyncio.gather(*(second(r, w) for r, w in flows))
    for _, w in flows:
        w.close()
    for _, w in flows:
        try:
            await w.wait_closed()
        except Exception:
            pass
    dt = time.time() - t0
    print("concurrent: wanted=%d open=%d echoed_while_all_open=%d open_secs=%.1f secs=%.1f "
          "errors=%s" % (n, opened, again, t_open, dt, dict(errors)), flush=True)
    return opened == n and again == n


def main(a):
    if not a:
        print(__doc__)
        return 2
    raise_nofile()
    mode = a[0]
    if mode == "echo":
        asyncio.run(echo_server(int(a[1]), a[2] if len(a) > 2 else "0.0.0.0"))
        return 0
    if mode in ("cycles", "concurrent", "hold") and len(a) >= 4:
        via = parse_via(a[1])
        req = socks_request(a[2])
        n = int(a[3])
        if mode == "cycles":
            ok = asyncio.run(cycles(via, req, n, int(a[4]) if len(a) > 4 else 32))
        elif mode == "concurrent":
            ok = asyncio.run(concurrent(via, req, n))
        else:
            ok = asyncio.run(concurrent(via, req, n, float(a[4])))
        return 0 if ok else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
