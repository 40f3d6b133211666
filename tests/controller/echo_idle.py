#!/usr/bin/env python3
"""An idle flow through the client's SOCKS5 proxy, for it_ctl_kill.sh.

  echo_idle.py server BIND PORT
      The resource: echoes every line back on each connection.
  echo_idle.py idle PROXY HOST PORT DIR
      The application: one connection through PROXY (host:port), kept open
      and silent.  Whenever a file DIR/ping.N appears it sends "pingN\\n"
      and prints "echo N ok" when the same line comes back (or "echo N
      bad <what came>"); prints "end: <how>" when the connection ends
      (eof, rst, error:<errno>) and exits.  "open" once connected.
"""
import asyncio
import errno
import os
import select
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "connector"))
from flowend import socks_connect  # noqa: E402  (the tests' SOCKS5 client)


async def serve(r, w):
    try:
        while True:
            line = await r.readline()
            if not line:
                break
            w.write(line)
            await w.drain()
    except ConnectionError:
        pass
    w.close()


async def server(bind, port):
    srv = await asyncio.start_server(serve, bind, int(port))
    async with srv:
        await srv.serve_forever()


def idle(proxy, host, port, d):
    try:
        s, rep = socks_connect(proxy, host, int(port))
    except (OSError, EOFError, RuntimeError) as e:
        print("end: refused (%s)" % e, flush=True)
        return
    if rep != 0:
        print("end: refused rep=0x%02x" % rep, flush=True)
        return
    print("open", flush=True)
    s.setblocking(False)
    n = 1
    buf = b""
    want = None
    while True:
        if want is None and os.path.exists(os.path.join(d, "ping.%d" % n)):
            want = b"ping%d\n" % n
            s.sendall(want)
        r, _, _ = select.select([s], [], [], 0.05)
        if not r:
            continue
        try:
            b = s.recv(4096)
        except OSError as e:
            print("end: %s" % ("rst" if e.errno == errno.ECONNRESET else "error:%d" % e.errno),
                  flush=True)
            return
        if not b:
            print("end: eof", flush=True)
            return
        buf += b
        if want is not None and b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            print("echo %d %s" % (n, "ok" if line + b"\n" == want else "bad %r" % line), flush=True)
            want = None
            n += 1


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(server(sys.argv[2], sys.argv[3]))
    else:
        idle(*sys.argv[2:6])
