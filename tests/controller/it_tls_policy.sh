#!/bin/bash
# TLS downgrade on every TLS listener (docs/security.md, case 8): a peer
# limited to TLS 1.2, 1.1 or 1.0, one offering only weak TLS 1.2 suites
# (NULL, anonymous, RC4, DES, 3DES, export) and one offering only the TLS
# 1.3 suite outside our priority (TLS_AES_128_CCM_8_SHA256) never complete
# a handshake.  Positive control on each listener: a TLS 1.3 handshake
# succeeds.
#
#   openssl s_client / python ssl --- loopback ---> controller HTTPS API (and console)
#                                              \--> relay --tls listener (raw TLS)
#                                               \-> the same port, WebSocket upgrade, then TLS inside
#
# The connector's listener is QUIC (TLS 1.3 by RFC 9001; its priority,
# src/tunnel/conn_tls.c, is TLS 1.3 only) and no stock client here speaks
# QUIC.  A relay's outgoing wss:// to a proxy allows TLS 1.2 by design
# (the proxy's choice): it is a client, not a listener.
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" tls-policy

"$PN_BIN" controller init --data "$W/ctl" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 \
	>"$W/init.out" 2>&1 || { cat "$W/init.out"; exit 1; }
pn_ctl_local ctl "$W/ctl" || pn_finish
CTL_PORT=${URL_ctl##*:}

"$B/tests/lib/pnfixture" "$W" relay-net >/dev/null || { echo "pnfixture failed"; exit 1; }
pn_bg relay "$PN_BIN" relay run --ca "$W/ca.crt" --cert "$W/relay.crt" --key "$W/relay.key" \
	--tls 127.0.0.1:0 --ws-path /postern --stats-interval 0
pn_wait_log "$W/relay.log" " ready " 30 || { bad "relay started ($(tail -3 "$W/relay.log"))"; pn_finish; }
RELAY_PORT=$(sed -n 's/.* ready .*tls_port=\([0-9]*\).*/\1/p' "$W/relay.log" | head -1)
echo "controller 127.0.0.1:$CTL_PORT, relay 127.0.0.1:$RELAY_PORT"

# probe PORT ARGS...: one s_client handshake; prints "PROTOCOL CIPHER" when
# it completed, "refused" otherwise (the output is kept in $W/probe.out).
probe() {
	local port=$1
	shift
	timeout 20 openssl s_client -connect "127.0.0.1:$port" -servername localhost "$@" \
		</dev/null >"$W/probe.out" 2>&1
	local got
	got=$(sed -n 's/^New, \([A-Za-z0-9.]*\), Cipher is \(.*\)$/\1 \2/p' "$W/probe.out" | head -1)
	case $got in "" | *"(NONE)"*) echo refused ;; *) echo "$got" ;; esac
}
# refused WHAT PORT ARGS...: the handshake must fail, and the hello must
# have been sent (not a client-side refusal such as "no cipher match").
refused() {
	local what=$1 port=$2 got
	shift 2
	got=$(probe "$port" "$@")
	if [ "$got" != refused ]; then
		bad "$what: handshake completed ($got)"
	elif ! grep -q '^CONNECTED(' "$W/probe.out" || grep -qi 'no cipher match\|no protocols available' "$W/probe.out"; then
		bad "$what: the probe never offered it (client-side refusal): $(tail -3 "$W/probe.out")"
	else
		ok "$what: refused ($(grep -o 'alert [a-z ]*[a-z]\|unexpected eof\|wrong version number\|unsupported protocol' "$W/probe.out" | head -1))"
	fi
}
completed() { # WHAT PORT ARGS...: positive control
	local what=$1 port=$2 got
	shift 2
	got=$(probe "$port" "$@")
	case $got in
	TLSv1.3\ *) ok "$what: TLS 1.3 handshake completes ($got)" ;;
	*) bad "$what: TLS 1.3 handshake ($got): $(tail -5 "$W/probe.out")" ;;
	esac
}
# Weak TLS 1.2 suites, all offered at once (security level 0, so the client
# sends them); the list must not be empty on this OpenSSL.
WEAK='NULL:eNULL:aNULL:RC4:DES:3DES:EXPORT:EXP:LOW:MD5:@SECLEVEL=0'
check "the weak-suite list is not empty ($(openssl ciphers -s -tls1_2 "$WEAK" 2>/dev/null | tr ':' '\n' | wc -l) suites)" \
	test -n "$(openssl ciphers -s -tls1_2 "$WEAK" 2>/dev/null)"

listener() { # NAME PORT [extra s_client args for the positive control]
	local n=$1 p=$2
	shift 2
	completed "$n" "$p" -tls1_3 "$@"
	refused "$n: TLS 1.2 only" "$p" -tls1_2 "$@"
	refused "$n: TLS 1.1 only" "$p" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' "$@"
	refused "$n: TLS 1.0 only" "$p" -tls1 -cipher 'DEFAULT:@SECLEVEL=0' "$@"
	refused "$n: weak TLS 1.2 suites only" "$p" -no_tls1_3 -cipher "$WEAK" "$@"
	refused "$n: TLS 1.3 with TLS_AES_128_CCM_8_SHA256 only" "$p" -tls1_3 \
		-ciphersuites TLS_AES_128_CCM_8_SHA256 "$@"
}
listener "controller HTTPS API" "$CTL_PORT"
# the console is served by the same listener (GET /console/: the page)
ST=$(curl -sS --cacert "$W/ctl/ca.crt" --tlsv1.3 -o /dev/null -w '%{http_code}' "$URL_ctl/console/" 2>&1)
check "the console is on the API listener (GET /console/ over TLS 1.3 -> $ST)" test "$ST" = 200
ST=$(curl -sS --cacert "$W/ctl/ca.crt" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$URL_ctl/console/" 2>/dev/null)
check "curl limited to TLS 1.2 gets no answer from the controller ($ST)" test "$ST" = 000

listener "relay TLS listener" "$RELAY_PORT" -alpn postern-relay/1 -cert "$W/client.crt" -key "$W/client.key"

# The relay's WebSocket listener: the upgrade is plain HTTP on the TLS port,
# and the relay's TLS runs inside the WebSocket messages.  Python drives
# TLS over memory BIOs through masked binary frames.
cat >"$W/wstls.py" <<'PY'
import base64, os, socket, ssl, struct, sys
port, mode, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=15)
k = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /postern HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % k).encode())
head = b""
while b"\r\n\r\n" not in head:
    c = s.recv(1)
    if not c: print("upgrade: closed"); sys.exit(3)
    head += c
if not head.startswith(b"HTTP/1.1 101"): print("upgrade refused: %r" % head[:40]); sys.exit(3)
def send(b):
    hdr = bytes([0x82])
    n = len(b)
    hdr += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536 \
        else bytes([0x80 | 127]) + struct.pack("!Q", n)
    m = os.urandom(4)
    s.sendall(hdr + m + bytes(x ^ m[i % 4] for i, x in enumerate(b)))
buf = b""
def recv():  # one server frame's payload, b"" when closed
    global buf
    def need(n):
        global buf
        while len(buf) < n:
            c = s.recv(65536)
            if not c: raise EOFError
            buf += c
    need(2); op, n = buf[0] & 0x0f, buf[1] & 0x7f; off = 2
    if n == 126: need(4); n = struct.unpack("!H", buf[2:4])[0]; off = 4
    elif n == 127: need(10); n = struct.unpack("!Q", buf[2:10])[0]; off = 10
    need(off + n); p = buf[off:off + n]; buf = buf[off + n:]
    if op == 8: raise EOFError
    return p
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["postern-relay/1"])
if mode == "tls12":
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
else:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(crt, key)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
t = ctx.wrap_bio(inc, out, server_hostname="localhost")
try:
    while True:
        try:
            t.do_handshake()
            break
        except ssl.SSLWantReadError:
            o = out.read()
            if o: send(o)
            inc.write(recv())
    o = out.read()
    if o: send(o)
    print("completed", t.version(), t.cipher()[0])
except (ssl.SSLError, EOFError, OSError) as e:
    print("refused", type(e).__name__, str(e)[:120])
PY
got=$(timeout 30 python3 -W ignore "$W/wstls.py" "$RELAY_PORT" tls13 "$W/client.crt" "$W/client.key" 2>&1)
case $got in completed\ TLSv1.3*) ok "relay WebSocket listener: TLS 1.3 inside completes ($got)" ;;
*) bad "relay WebSocket listener: TLS 1.3 inside ($got)" ;; esac
got=$(timeout 30 python3 -W ignore "$W/wstls.py" "$RELAY_PORT" tls12 "$W/client.crt" "$W/client.key" 2>&1)
case $got in refused*) ok "relay WebSocket listener: TLS 1.2 (to 1.0) inside refused ($got)" ;;
*) bad "relay WebSocket listener: TLS 1.2 inside ($got)" ;; esac

pn_stop_check relay 10
pn_stop_check ctl 10
pn_finish
