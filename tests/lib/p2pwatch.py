#!/usr/bin/env python3
"""Watch a client's status socket until its tunnel is on a direct path.

  p2pwatch.py SOCK SECONDS

Prints "ready", then asks SOCK (the client's status socket: one JSON
document per connection) about every millisecond.  The first answer that
shows the tunnel on the direct path must also carry time_to_direct_ms:
prints "direct ttd_ms=N samples=N" and exits 0, or "inconsistent ..." and
exits 2 (the client noted the switch later, on its 50 ms tick: readers
got 0).  Exit 1 if no direct path within SECONDS.
"""
import json
import socket
import sys
import time


def main(sock, secs):
    print("ready", flush=True)
    end = time.monotonic() + secs
    n = 0
    while time.monotonic() < end:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(sock)
            doc = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                doc += d
            s.close()
            tuns = json.loads(doc).get("tunnels", [])
        except (OSError, ValueError):
            time.sleep(0.001)
            continue
        n += 1
        for t in tuns:
            if t.get("path") != "direct":
                continue
            p = t.get("p2p", {})
            ttd = p.get("time_to_direct_ms", 0)
            if ttd > 0 and p.get("state") == "direct":
                print("direct ttd_ms=%d samples=%d" % (ttd, n), flush=True)
                return 0
            print("inconsistent: path direct, p2p state=%s time_to_direct_ms=%d (sample %d)"
                  % (p.get("state"), ttd, n), flush=True)
            return 2
        time.sleep(0.001)
    print("timeout: no direct path within %s s (%d samples)" % (secs, n), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
