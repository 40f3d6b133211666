#!/usr/bin/env python3
"""Stand-in for systemd's notification socket: bind the AF_UNIX datagram
address given ("@name": abstract) and print each message received on one
line, newlines shown as '|', flushed at once."""
import socket
import sys

name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
print("listening", flush=True)
while True:
    msg = s.recv(4096).decode("utf-8", "replace")
    print(msg.replace("\n", "|"), flush=True)
