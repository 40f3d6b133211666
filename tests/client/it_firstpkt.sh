#!/bin/bash
# What an application sends right after connecting leaves in the same
# packet as its flow's header (docs/performance.md, "A new flow's first
# bytes left one packet after its header").  Shown without timing: the
# client is stopped (SIGSTOP) while the application connects and sends
# 1000 bytes, so they wait in the accepted socket; the connector is
# stopped too, so nothing comes back.  When the client resumes, nftables
# counters in its namespace sort its datagrams to the connector by size
# until the first one of >= 1000 bytes (the data; later ones, e.g. loss
# probes while the connector is stopped, are not counted): none between
# 70 and 999 bytes may go before it (the header alone is ~90 bytes of
# UDP payload; ACKs and PINGs ~50).
# Before the fix the header left alone, then the bytes in the next loop
# iteration.  Then both resume and the flow completes (echo equal).
#
#   ncl<tag> 10.232.1.1 (client, forward 127.0.0.1:9777) --veth-- 10.232.1.2 ncn<tag>
#                                                           connector :4433, echo :7777
set -uo pipefail
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" client-firstpkt
FIX=$B/tests/lib/pnfixture
NC=ncl$PN_TAG
NS=ncn$PN_TAG

pn_ns $NC $NS || { bad "namespaces"; pn_finish; }
pn_veth $NC pf0$PN_TAG 10.232.1.1/24 $NS pf1$PN_TAG 10.232.1.2/24 || { bad "veth"; pn_finish; }
{ $FIX "$W/pki" ca && $FIX "$W/pki" connector conn1 lab --allow 127.0.0.1/32 tcp 7777 &&
	$FIX "$W/pki" client alice --net lab conn1 --grant lab 127.0.0.1 tcp 7777; } >"$W/pki.log" 2>&1 ||
	{ bad "pnfixture"; pn_finish; }

cat >"$W/echo.py" <<'PY'
import socket, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 7777))
ls.listen(64)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
print("listening", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
# The application: print "ready", wait for the file GO, connect, send the
# file, print "sent", then read the echo (SECONDS at most) into OUT.
cat >"$W/app.py" <<'PY'
import os, socket, sys, time
data = open(sys.argv[1], "rb").read()
print("ready", flush=True)
while not os.path.exists(sys.argv[4]):
    time.sleep(0.01)
s = socket.create_connection(("127.0.0.1", 9777), timeout=5)
s.sendall(data)
print("sent", flush=True)
s.settimeout(float(sys.argv[3]))
got = b""
try:
    while len(got) < len(data):
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError as e:
    print("app: %s after %d bytes" % (e, len(got)), flush=True)
open(sys.argv[2], "wb").write(got)
PY
head -c 1000 /dev/urandom >"$W/data.bin"
echo warm >"$W/warm.bin"

pn_bg echo ip netns exec $NS python3 "$W/echo.py"
pn_wait_log "$W/echo.log" listening 60 || bad "echo server up"
pn_bg connector ip netns exec $NS "$PN_BIN" connector run --state "$W/pki/conn1" \
	--listen-udp 10.232.1.2:4433
pn_bg client ip netns exec $NC "$PN_BIN" client run --state "$W/pki/alice" --offline \
	--direct "$(cat "$W/pki/conn1/id")=10.232.1.2:4433" --forward 127.0.0.1:9777=127.0.0.1:7777
pn_wait_tcp $NC 127.0.0.1 9777 60 || { bad "client forward up"; pn_finish; }
cont() { kill -CONT "$PID_client" "$PID_connector" 2>/dev/null; }
pn_at_exit cont

# 1. a first flow: the tunnel is up (and its PMTU search done)
touch "$W/go.warm"
ip netns exec $NC python3 "$W/app.py" "$W/warm.bin" "$W/warm.got" 60 "$W/go.warm" >"$W/app.warm.log" 2>&1
cmp -s "$W/warm.bin" "$W/warm.got" && ok "first flow echoed (tunnel up)" ||
	{ bad "first flow: $(cat "$W/app.warm.log")"; pn_finish; }
for i in $(seq 300); do
	grep -q "pmtu .*searching=0" "$W/client.log" && break
	sleep 0.1
done

# 2. the application's bytes wait in the socket while the client is stopped
ip netns exec $NC python3 "$W/app.py" "$W/data.bin" "$W/data.got" 120 "$W/go.data" >"$W/app.data.log" 2>&1 &
APP=$!
pn_wait_log "$W/app.data.log" ready 60 || bad "application ready"
kill -STOP "$PID_client"
touch "$W/go.data"
pn_wait_log "$W/app.data.log" sent 60 || bad "application sent its bytes to the stopped client"
kill -STOP "$PID_connector"
ip netns exec $NC nft -f - <<NFT || bad "nftables counters"
table ip pnfirst {
	set seen { type ipv4_addr; flags dynamic; }
	counter big { }
	counter mid { }
	chain out {
		type filter hook output priority 0;
		ip daddr @seen accept
		ip daddr 10.232.1.2 udp dport 4433 udp length >= 1008 counter name big add @seen { ip daddr }
		ip daddr 10.232.1.2 udp dport 4433 udp length 78-1007 counter name mid
	}
}
NFT
pn_at_exit ip netns exec $NC nft delete table ip pnfirst
counter() { ip netns exec $NC nft list counter ip pnfirst "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
kill -CONT "$PID_client"
big=0
for i in $(seq 600); do
	big=$(counter big)
	[ "${big:-0}" -ge 1 ] && break
	sleep 0.05
done
mid=$(counter mid)
[ "${big:-0}" -ge 1 ] && [ "${mid:-0}" = 0 ] &&
	ok "the bytes left with the flow's header: one datagram >= 1000 bytes, none of 70-999 before it" ||
	bad "datagrams to the connector after resuming: $big of >= 1000 bytes, $mid of 70-999 before it (the header went alone before the bytes); client log: $(tail -5 "$W/client.log")"
kill -CONT "$PID_connector"
wait $APP
cmp -s "$W/data.bin" "$W/data.got" && ok "both resumed: the flow completed, echo equal" ||
	bad "echo after resuming: $(wc -c <"$W/data.got" 2>/dev/null) of 1000 bytes ($(cat "$W/app.data.log"))"
pn_finish
