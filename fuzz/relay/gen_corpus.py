#!/usr/bin/env python3
"""Write small seed corpora for the relay fuzzers (run from fuzz/relay)."""
import os, struct

def put(d, name, b):
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(b)

sid = bytes(range(1, 9))
# udp: first byte = selector (bit0 source, bit1 use the live sid)
put("corpus/udp", "data", b"\x02" + b"\xd0" + sid + b"Q" * 100)
put("corpus/udp", "data_other_side", b"\x03" + b"\xd0" + sid + b"Q" * 1200)
put("corpus/udp", "bind", b"\x02" + b"\xd1" + sid + b"\x00" + struct.pack(">Q", 2) + b"M" * 16)
put("corpus/udp", "bind_ok", b"\x00" + b"\xd2" + sid + struct.pack(">Q", 1))
put("corpus/udp", "confirm", b"\x02" + b"\xd4" + sid + b"\x00" + struct.pack(">Q", 3) + b"C" * 8 + b"M" * 16)
put("corpus/udp", "challenge", b"\x00" + b"\xd3" + sid + struct.pack(">Q", 3) + b"C" * 8)
stun = struct.pack(">HHI", 1, 44, 0x2112A442) + b"T" * 12 + struct.pack(">HH", 0x26, 36) + b"\0" * 36 + struct.pack(">HHI", 0x8028, 4, 0)
put("corpus/udp", "stun", b"\x00" + stun)
put("corpus/udp", "stun_short", b"\x00" + stun[:20])
# stun
put("corpus/stun", "request_padded", stun)
put("corpus/stun", "request_bare", struct.pack(">HHI", 1, 0, 0x2112A442) + b"T" * 12)
resp = struct.pack(">HHI", 0x0101, 12, 0x2112A442) + b"T" * 12 + struct.pack(">HHBBH", 0x20, 8, 0, 1, 0x1234) + b"\x2b\x13\xa4\x40"
put("corpus/stun", "response_v4", resp)
# frame: first byte = peer selector bits, then frames
def fr(t, body): return struct.pack(">BH", t, len(body)) + body
reg = fr(1, b"")
opn = fr(3, struct.pack(">I", 7) + bytes([1]) + b"\0" * 15 + struct.pack(">H", 3) + b"acl")
ping = fr(8, struct.pack(">Q", 42))
data = fr(10, sid + b"payload")
close = fr(6, sid + struct.pack(">i", -1010))
put("corpus/frame", "register_open", b"\x02" + reg + opn + ping)
put("corpus/frame", "data_close", b"\x55" + reg + opn + data + close)
put("corpus/frame", "garbage", b"\x00" + b"\xff\x00\x04abcd")
cert = b"\x30\x82\x01\x00" + b"C" * 256
renew_ok = fr(11, struct.pack(">H", len(cert)) + cert[:1].replace(b"\x30", b"\x31") + cert[1:])
renew_bad = fr(11, struct.pack(">H", len(cert)) + cert)
renewed = fr(12, struct.pack(">Q", 1900000000))
put("corpus/frame", "renew", b"\x02" + reg + renew_ok + opn + renew_bad + ping)
put("corpus/frame", "renewed", b"\x00" + renewed)
# wshttp
put("corpus/wshttp", "request", b"GET /postern HTTP/1.1\r\nHost: r\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
put("corpus/wshttp", "response", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
