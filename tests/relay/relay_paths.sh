#!/bin/bash
# Relay data paths in network namespaces: a client and a connector that
# cannot reach each other exchange datagrams through the relay over UDP,
# TCP/TLS, and WebSocket behind a real haproxy (HTTP mode; ws:// and wss://
# with haproxy terminating TLS); RENEW on an open connection; the client
# library falls back UDP -> TLS -> WS when paths are blocked; STUN answers
# with the reflexive address and never more bytes than asked.
#
#   pnr-cl (client)                pnr-rl: relay :3478/udp :4443/tcp        pnr-co (connector,
#                                          relay2 :3479/udp :4444/tcp         registered with both)
#   10.201.1.2 ----veth---- 10.201.1.1     haproxy 10.201.1.1:8080 -> :4443   10.201.2.1 ----veth---- 10.201.2.2
#                           10.201.1.5     haproxy TLS 10.201.1.{1,5}:8443 -> :4443
#
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" relay-paths
source "$(dirname "$0")/../lib/relaynet.sh"
topo_up
relay_up
# A second relay (other ports): the connector registers with both.
pn_bg relay2 ip netns exec $NRL "$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" --key "$T/relay.key" \
	--udp 0.0.0.0:3479 --tls 0.0.0.0:4444 --stats-interval 0 --allow-peer 10.201.0.0/16
RELAY2=$PID_relay2
sleep 0.3
connector_up --relay tls=10.201.2.1:4444,udp=10.201.2.1:3479

pn_ws_proxy_cfg "$T/haproxy.cfg" 127.0.0.1:4443 10.201.1.1:8080 "10.201.1.1:8443 ssl crt $T/proxy.pem" \
	"10.201.1.5:8443 ssl crt $T/proxy.pem"
# wss://: haproxy terminates TLS with its own certificate (its own test CA,
# SAN IP:10.201.1.1 and DNS:localhost), in front of the relay's WebSocket
# listener.  In the client's namespace, TCP forwards on 127.0.0.1 make the
# relay reachable by a name (localhost) for the name checks.
ip -n $NRL addr add 10.201.1.5/24 dev pnr-rl0
pn_test_tls "$T/proxy" IP:10.201.1.1,DNS:localhost || bad "proxy certificate"
pn_bg haproxy ip netns exec $NRL haproxy -f "$T/haproxy.cfg" -db
sleep 0.5

FULL=tls=10.201.1.1:4443,udp=10.201.1.1:3478,ws=ws://10.201.1.1:8080/postern

# The upgrade answer checked by an independent implementation (Python's
# hashlib/base64, RFC 6455 §4.2.2), through haproxy.
cat >"$T/wscheck.py" <<'PY'
import base64, hashlib, os, socket, sys
key = base64.b64encode(os.urandom(16)).decode()
s = socket.create_connection(("10.201.1.1", 8080), timeout=5)
s.sendall(("GET /postern HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
head = b""
while b"\r\n\r\n" not in head:
    d = s.recv(4096)
    if not d: break
    head += d
want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
# haproxy lowercases header names: compare names case-insensitively.
lines = [l.split(b":", 1) for l in head.split(b"\r\n")[1:] if b":" in l]
got = [v.strip().decode() for n, v in lines if n.strip().lower() == b"sec-websocket-accept"]
ok = head.startswith(b"HTTP/1.1 101") and got == [want]
print(head.split(b"\r\n")[0].decode(), "accept ok" if ok else "accept WRONG")
sys.exit(0 if ok else 1)
PY

check "WebSocket upgrade answer verified by an independent implementation" \
	ip netns exec $NCL python3 "$T/wscheck.py"
check "UDP: 2000 datagrams client<->connector through the relay" \
	client --relay tls=10.201.1.1:4443,udp=10.201.1.1:3478 --count 2000 --expect-transport udp
fwd=$(stat_of fwd_pkts)
[ "${fwd:-0}" -ge 4000 ] && ok "relay forwarded $fwd packets" || bad "relay forwarded ${fwd:-0} packets (< 4000)"

# Sends made from a libuv prepare callback (where the tunnel endpoint flushes)
# go out in the same loop iteration, not when the next poll times out (the
# relay client's own 250 ms timer: a median near 125 ms means sends waited).
check "UDP: datagrams sent from a prepare callback leave at once (median round trip < 40 ms)" \
	client --relay tls=10.201.1.1:4443,udp=10.201.1.1:3478 --count 40 --size 100 \
	--expect-transport udp --from-prepare 40 --timeout 30
cat "$W/check.out"
check "TLS: datagrams sent from a prepare callback leave at once (median round trip < 40 ms)" \
	client --relay tls=10.201.1.1:4443,only=tls --count 40 --size 100 \
	--expect-transport tls --from-prepare 40 --timeout 30
cat "$W/check.out"
gso0=$(stat_of gso_sends)
check "TCP/TLS only: 2000 datagrams" \
	client --relay tls=10.201.1.1:4443,only=tls --count 2000 --expect-transport tls
# The connector's side is UDP: a stream's DATA leaves the relay in batches
# (GSO messages of equal datagrams), not one sendmsg per datagram.
gso1=$(stat_of gso_sends)
if [ "$(stat_of gso)" = 1 ]; then
	[ "$((gso1 - gso0))" -gt 0 ] && ok "TLS -> UDP: the relay batched the stream's datagrams ($((gso1 - gso0)) GSO sends)" ||
		bad "TLS -> UDP: no GSO send for 2000 datagrams from the stream (one sendmsg per datagram)"
fi
# Several datagrams per TLS record and per write, WebSocket frames cut
# anywhere by TCP: sizes vary (equal runs, short and long ones between), and
# every datagram must come back whole, in its own size.
check "TCP/TLS only: 3000 datagrams of varying sizes, every boundary kept" \
	client --relay tls=10.201.1.1:4443,only=tls --count 3000 --size 1400 --vary --expect-transport tls
check "WebSocket via haproxy: 3000 datagrams of varying sizes, every boundary kept" \
	client --relay ws=ws://10.201.1.1:8080/postern,only=ws --count 3000 --size 1400 --vary \
	--expect-transport ws
check "WebSocket via haproxy: 2000 datagrams" \
	client --relay ws=ws://10.201.1.1:8080/postern,only=ws --count 2000 --expect-transport ws
# wss://: TLS to haproxy (verified against its CA and the URL's host), then
# the WebSocket upgrade, then the relay's own mutual TLS inside.
check "wss:// via haproxy terminating TLS: 2000 datagrams" \
	client --relay ws=wss://10.201.1.1:8443/postern,only=ws --wss-ca "$T/proxy-ca.crt" --count 2000 \
	--expect-transport ws
cat >"$T/fwd.cfg" <<HAP
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen wss
  bind 127.0.0.1:18443
  server p 10.201.1.1:8443
listen tls
  bind 127.0.0.1:14443
  server r 10.201.1.1:4443
HAP
pn_bg fwd ip netns exec $NCL haproxy -f "$T/fwd.cfg" -db
sleep 0.3
check "wss:// by name (localhost; resolved off the loop, the name checked in the certificate)" \
	client --relay ws=wss://localhost:18443/postern,only=ws --wss-ca "$T/proxy-ca.crt" --count 500 \
	--expect-transport ws
check "tls= by name (localhost)" \
	client --relay tls=localhost:14443,only=tls --count 500 --expect-transport tls
check "wss:// proxy certificate not trusted by the system store: refused" \
	client --relay ws=wss://10.201.1.1:8443/postern,only=ws --count 5 --expect PN_E_UNTRUSTED --timeout 8
check "wss:// proxy certificate for another host (10.201.1.5 not in its SAN): refused" \
	client --relay ws=wss://10.201.1.5:8443/postern,only=ws --wss-ca "$T/proxy-ca.crt" --count 5 \
	--expect PN_E_UNTRUSTED --timeout 8
grep -q "wss_untrusted" "$W/check.out" && ok "the refusal names the proxy certificate (wss_untrusted)" ||
	bad "no wss_untrusted log line: $(tail -3 "$W/check.out")"

# RENEW on an open connection: the same holder's renewed credential is
# accepted; one for another key or another holder is refused and the relay
# closes the connection.
check "RENEW with the renewed credential (same key): RENEWED" \
	ip netns exec $NCL timeout 15 "$PEER" raw --pki "$T" --cred client --tls 10.201.1.1:4443 --send renew \
	--renew-cred client-renewed
check "RENEW with a credential for another key: refused (PN_E_WRONG_HOLDER), connection closed" \
	ip netns exec $NCL timeout 15 "$PEER" raw --pki "$T" --cred client --tls 10.201.1.1:4443 --send renew \
	--renew-cred client-rekeyed --expect PN_E_WRONG_HOLDER
check "RENEW with another client's credential: refused (PN_E_WRONG_ID), connection closed" \
	ip netns exec $NCL timeout 15 "$PEER" raw --pki "$T" --cred client --tls 10.201.1.1:4443 --send renew \
	--renew-cred client2 --expect PN_E_WRONG_ID
grep -q "peer_renew_refused.*err=PN_E_WRONG_HOLDER" "$T/relay.log" && ok "the relay logged the refused RENEW" ||
	bad "the relay logged the refused RENEW"

check "several sessions at once (8 x 300 over UDP)" \
	client --relay tls=10.201.1.1:4443,udp=10.201.1.1:3478 --sessions 8 --count 300 --expect-transport udp

# Block UDP from the client: fallback to TLS.
ip netns exec $NRL nft add table inet pnrf
ip netns exec $NRL nft add chain inet pnrf in '{ type filter hook input priority 0; }'
ip netns exec $NRL nft add rule inet pnrf in iifname pnr-rl0 udp dport 3478 drop
check "UDP blocked: falls back to TLS" client --relay "$FULL" --count 1000 --expect-transport tls
# Block the TLS port too: only the reverse proxy remains.
ip netns exec $NRL nft add rule inet pnrf in iifname pnr-rl0 tcp dport 4443 drop
check "UDP and TLS blocked: falls back to WebSocket via haproxy" \
	client --relay "$FULL" --count 1000 --expect-transport ws --timeout 25
ip netns exec $NRL nft delete table inet pnrf

# Several relays: the client reaches the connector through either.
check "second relay: 500 datagrams over UDP" \
	client --relay tls=10.201.1.1:4444,udp=10.201.1.1:3479 --count 500 --expect-transport udp
# Kill the first relay hard and restart it: the second keeps working, and the
# connector registers again with the restarted one.
kill -9 $RELAY_PID; wait $RELAY_PID 2>/dev/null
check "first relay killed: second relay still carries sessions" \
	client --relay tls=10.201.1.1:4444,udp=10.201.1.1:3479 --count 500 --expect-transport udp
n0=$(grep -c "state=1" "$T/conn.log")
relay_up
for i in $(seq 200); do [ "$(grep -c "state=1" "$T/conn.log")" -gt "$n0" ] && break; sleep 0.1; done
check "restarted relay: the connector re-registered, sessions work again" \
	client --relay tls=10.201.1.1:4443,udp=10.201.1.1:3478 --count 500 --expect-transport udp

# IPv6 end to end (loopback inside the relay's namespace): relay, connector
# and client all on [::1].
pn_bg relay6 ip netns exec $NRL "$BIN" relay run --ca "$T/ca.crt" --cert "$T/relay.crt" --key "$T/relay.key" \
	--udp [::1]:3480 --tls [::1]:4445 --stats-interval 0 --allow-peer ::1
sleep 0.3
pn_bg conn6 ip netns exec $NRL "$PEER" connector --pki "$T" --cred conn --relay "tls=[::1]:4445,udp=[::1]:3480"
pn_wait_log "$T/conn6.log" "state=1" 15
check "IPv6: 500 datagrams over UDP" ip netns exec $NRL "$PEER" client --pki "$T" --cred client --acl client.acl \
	--to conn --relay "tls=[::1]:4445,udp=[::1]:3480" --count 500 --expect-transport udp
check "IPv6: STUN" ip netns exec $NRL "$PEER" stun --udp "[::1]:3480"

check "STUN: reflexive address of the client" ip netns exec $NCL "$PEER" stun --udp 10.201.1.1:3478
grep -q "mapped 10.201.1.2:" "$W/check.out" && ok "STUN mapped address is 10.201.1.2" || bad "STUN mapped address wrong: $(cat $W/check.out)"
check "STUN: an unpadded 20-byte request gets no (larger) answer" \
	ip netns exec $NCL "$PEER" stun --udp 10.201.1.1:3478 --send short

# The relay never learned a name: its log holds only ids.
if grep -q "laptop\|alice\|conn1" "$T/relay.log"; then bad "relay log contains names"; else ok "relay log holds only random ids"; fi
relay_stats
relay_finish
