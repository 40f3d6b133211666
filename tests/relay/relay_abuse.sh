#!/bin/bash
# Relay abuse and authorization: every refusal has its specific reason, no
# unauthenticated sender gets an answer larger than its request, malformed
# frames close only the offending stream, and slowloris / connection floods
# are cut by the per-source cap and the handshake deadline while a
# legitimate client keeps working and the relay's memory stays bounded;
# 10k half-open TLS connections from 100 addresses meet the global cap.
#
#   pnr-cl: client 10.201.1.2, attacker 10.201.1.3     pnr-rl: relay          pnr-co: connectors conn, conn2
#   10.201.1.2/.3 --------veth-------- 10.201.1.1 | 10.201.2.1 --------veth-------- 10.201.2.2
#
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" relay-abuse
source "$(dirname "$0")/../lib/relaynet.sh"
topo_up
relay_up
connector_up
pn_bg conn2 ip netns exec $NCO "$PEER" connector --pki "$T" --cred conn2 --relay tls=10.201.2.1:4443,udp=10.201.2.1:3478
sleep 0.5
R=tls=10.201.1.1:4443,udp=10.201.1.1:3478
expect_err() { # description, expected error, client args...
	local d=$1 e=$2; shift 2
	check "$d -> $e" ip netns exec $NCL "$PEER" client --pki "$T" --relay $R --expect "$e" --timeout 8 "$@"
}
expect_err "forged access list (one signed byte flipped)" PN_E_SIGNATURE --cred client --acl client.acl.forged --to conn
expect_err "expired access list" PN_E_ACL_EXPIRED --cred client --acl client.acl.expired --to conn
expect_err "access list signed by another CA" PN_E_UNTRUSTED --cred client --acl evil.acl --to conn
expect_err "connector id the list does not name" PN_E_RELAY_NOT_AUTHORIZED --cred client --acl client.acl --to conn2
expect_err "another client's access list" PN_E_WRONG_HOLDER --cred client2 --acl client.acl --to conn
# Bad own credentials: the client library refuses them locally ...
expect_err "library: expired client credential" PN_E_EXPIRED --cred client-expired --acl client.acl --to conn
expect_err "library: credential from another CA" PN_E_UNTRUSTED --cred evil-client --acl client.acl --to conn
expect_err "library: connector credential in client mode" PN_E_WRONG_TYPE --cred conn2 --acl client.acl --to conn
# ... and the relay refuses them itself when a peer skips those checks.
raw_open() { # description, expected, cred
	check "relay: $1 -> $2" ip netns exec $NCL "$PEER" raw --pki "$T" --cred "$3" --tls 10.201.1.1:4443 \
		--send open --acl client.acl --to conn --expect "$2"
}
raw_open "expired client credential" PN_E_EXPIRED client-expired
raw_open "credential from another CA (TLS alert)" PN_E_UNTRUSTED evil-client
raw_open "connector credential asking for a session" PN_E_RELAY_BAD_ROLE conn2
check "relay: forged access list without the library -> PN_E_SIGNATURE" ip netns exec $NCL "$PEER" raw --pki "$T" \
	--cred client --tls 10.201.1.1:4443 --send open --acl client.acl.forged --to conn --expect PN_E_SIGNATURE

# TLS without a client certificate, and TLS 1.2: no peer is ever admitted.
up_before=$(grep -c peer_up "$T/relay.log")
ip netns exec $NCL timeout 5 openssl s_client -connect 10.201.1.1:4443 -tls1_3 -alpn postern-relay/1 \
	</dev/null >"$T/ossl13" 2>&1
ip netns exec $NCL timeout 5 openssl s_client -connect 10.201.1.1:4443 -tls1_2 </dev/null >"$T/ossl12" 2>&1
grep -q "Cipher is (NONE)\|alert protocol version\|no protocols available" "$T/ossl12" &&
	ok "TLS 1.2 refused" || { bad "TLS 1.2 refused"; tail -5 "$T/ossl12"; }
sleep 0.3
[ "$(grep -c peer_up "$T/relay.log")" = "$up_before" ] && ok "no certificate: not admitted" ||
	bad "a peer without certificate was admitted"

for k in garbage oversize truncated badopen; do
	check "stream frame '$k' closes that stream" \
		ip netns exec $NCL "$PEER" raw --pki "$T" --cred client --tls 10.201.1.1:4443 --send $k
done

cat >"$T/udpflood.py" <<'PY'
import os, socket, sys, time
# Unauthenticated UDP: random bytes, fake BIND/DATA with random session ids,
# STUN headers of every short length.  Count every byte the relay answers.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.201.1.3", 0)); s.setblocking(False)
dst = ("10.201.1.1", 3478); sent = 0
for i in range(3000):
    k = i % 5
    if k == 0: m = os.urandom(1 + i % 1600)
    elif k == 1: m = b"\xd1" + os.urandom(33)                       # BIND, random sid and MAC
    elif k == 2: m = b"\xd0" + os.urandom(8 + 1 + i % 1400)          # DATA, random sid
    elif k == 3: m = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)  # bare STUN request
    else: m = b"\xd2" + os.urandom(16)                              # BIND_OK towards the relay
    try: s.sendto(m, dst); sent += len(m)
    except BlockingIOError: pass
time.sleep(0.5)
got = 0
while True:
    try: got += len(s.recv(65536))
    except BlockingIOError: break
print("sent", sent, "answered", got)
sys.exit(0 if got == 0 else 1)
PY
check "unauthenticated UDP flood: 3000 datagrams, 0 bytes answered" ip netns exec $NCL python3 "$T/udpflood.py"

cat >"$T/slowloris.py" <<'PY'
import socket, sys, time
# 1000 connections from one address that never finish a handshake: a byte
# now and then.  The relay must keep at most its per-source cap pending and
# close every one of them by its handshake deadline.
N = 1000; socks = []
for i in range(N):
    s = socket.socket(); s.setblocking(False); s.bind(("10.201.1.3", 0))
    try: s.connect(("10.201.1.1", 4443))
    except BlockingIOError: pass
    socks.append(s)
time.sleep(0.5)
for s in socks:
    try: s.send(b"\x16")
    except OSError: pass
start = time.time(); alive = N
while time.time() - start < 7.5:
    time.sleep(1)
    alive = 0
    for s in socks:
        try:
            d = s.recv(1)
            if d == b"": continue
            alive += 1
        except BlockingIOError:
            try: s.send(b"\x03"); alive += 1
            except OSError: pass
        except OSError: pass
    print("t=%.0fs alive=%d" % (time.time() - start, alive)); sys.stdout.flush()
sys.exit(0 if alive == 0 else 1)
PY
rss0=$(awk '/VmRSS/ {print $2}' /proc/$RELAY_PID/status)
ip netns exec $NCL python3 "$T/slowloris.py" >"$T/slow.log" 2>&1 &
SLOW=$!
sleep 2
check "legitimate client works during the slowloris" client --relay $R --count 500 --expect-transport udp
pend=$(stat_of pending)
[ "${pend:-99}" -le 16 ] && ok "pending connections held: $pend (per-source cap 16)" || bad "pending $pend > 16"
rss1=$(awk '/VmRSS/ {print $2}' /proc/$RELAY_PID/status)
wait $SLOW && ok "slowloris: every connection closed by the deadline" || bad "slowloris connections survived: $(tail -2 $T/slow.log)"
refused=$(stat_of refused_pending)
[ "${refused:-0}" -ge 900 ] && ok "refused beyond the per-source cap: $refused" || bad "refused only ${refused:-0}"
[ $((rss1 - rss0)) -lt 32768 ] && ok "relay RSS grew $((rss1 - rss0)) KiB under attack (< 32 MiB)" ||
	bad "relay RSS grew $((rss1 - rss0)) KiB"
kill -0 $RELAY_PID && ok "relay alive" || bad "relay died"
# 10k half-open TLS connections from 100 addresses: the global pending cap
# (1024) holds, file descriptors stay bounded, the deadline clears them.
for i in $(seq 10 109); do ip -n $NCL addr add 10.201.1.$i/24 dev pnr-cl0; done
cat >"$T/halfopen.py" <<'PY'
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
socks = []
for a in range(10, 110):
    for i in range(100):
        s = socket.socket(); s.setblocking(False); s.bind(("10.201.1.%d" % a, 0))
        try: s.connect(("10.201.1.1", 4443))
        except BlockingIOError: pass
        socks.append(s)
time.sleep(1)
for s in socks:
    try: s.send(b"\x16\x03\x01")  # the start of a ClientHello, never finished
    except OSError: pass
print("opened", len(socks)); sys.stdout.flush()
time.sleep(8)
alive = 0
for s in socks:
    try:
        if s.recv(1) != b"": alive += 1
    except BlockingIOError: alive += 1
    except OSError: pass
print("alive after 8s", alive)
sys.exit(0 if alive == 0 else 1)
PY
ip netns exec $NCL python3 "$T/halfopen.py" >"$T/half.log" 2>&1 &
HALF=$!
sleep 3
pend=$(stat_of pending)
fds=$(ls /proc/$RELAY_PID/fd | wc -l)
[ "${pend:-9999}" -le 1024 ] && ok "10k half-open: pending held at $pend (global cap 1024)" || bad "pending $pend > 1024"
[ "$fds" -le 1100 ] && ok "10k half-open: relay holds $fds file descriptors" || bad "relay holds $fds fds"
check "legitimate client works during 10k half-open connections" client --relay $R --count 300 --expect-transport udp
wait $HALF && ok "10k half-open: all closed by the deadline or refused" || bad "half-open survivors: $(tail -1 $T/half.log)"
rss2=$(awk '/VmRSS/ {print $2}' /proc/$RELAY_PID/status)
# ASan's redzones and quarantine are not the relay's memory: a wider bound there.
lim=65536
grep -q libasan /proc/$RELAY_PID/maps && lim=196608
[ $((rss2 - rss0)) -lt $lim ] && ok "relay RSS after 10k half-open: +$((rss2 - rss0)) KiB (< $((lim / 1024)) MiB)" ||
	bad "relay RSS grew $((rss2 - rss0)) KiB"
check "legitimate client works after the attacks" client --relay $R --count 500 --expect-transport udp
relay_stats
relay_finish
