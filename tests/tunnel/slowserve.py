#!/usr/bin/env python3
"""HTTP server for the NAT lab: GET /<file> from DIR, sent at no more than RATE bytes/s
in 16 KiB writes (no catching up), so that a transfer lasts long enough to cross path
switches.  Usage: slowserve.py ADDR PORT DIR RATE"""
import http.server
import os
import sys
import time

ADDR, PORT, DIR, RATE = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(DIR, os.path.basename(self.path))
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        off, chunk = 0, 16384
        while off < len(data):
            # never faster than RATE, and no catching up after a slow
            # stretch: the transfer keeps going across path switches
            self.wfile.write(data[off:off + chunk])
            off += chunk
            time.sleep(chunk / RATE)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer((ADDR, PORT), H).serve_forever()
