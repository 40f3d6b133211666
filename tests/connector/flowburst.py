#!/usr/bin/env python3
"""Open N short TCP flows through a SOCKS5 proxy (CONNECT to IP:PORT), C at a
time; each reads the server's greeting until EOF.  Prints "ok=K failed=F".

    flowburst.py PROXY_HOST PROXY_PORT DEST_IP DEST_PORT N C
"""
import asyncio
import socket
import sys


async def one(ph, pp, ip, port):
    r, w = await asyncio.open_connection(ph, pp)
    try:
        w.write(b"\x05\x01\x00")
        if await r.readexactly(2) != b"\x05\x00":
            return False
        w.write(b"\x05\x01\x00\x01" + socket.inet_aton(ip) + port.to_bytes(2, "big"))
        rep = await r.readexactly(10)
        if rep[1] != 0:
            return False
        data = await r.read()  # until the resource closes
        return len(data) > 0
    finally:
        w.close()


async def main():
    ph, pp, ip, port, n, c = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), \
        int(sys.argv[5]), int(sys.argv[6])
    sem = asyncio.Semaphore(c)
    res = {"ok": 0, "failed": 0}

    async def run():
        async with sem:
            try:
                good = await asyncio.wait_for(one(ph, pp, ip, port), 20)
            except Exception:
                good = False
            res["ok" if good else "failed"] += 1

    await asyncio.gather(*(run() for _ in range(n)))
    print("ok=%d failed=%d" % (res["ok"], res["failed"]))


asyncio.run(main())
