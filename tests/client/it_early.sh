#!/bin/bash
# A port-forward's first bytes go into the flow right behind its open
# header, without waiting for the connector's OK (one tunnel round trip
# less before the first byte; docs/performance.md), and in the same
# datagram as the header when they were sent with the connect (1b below).  Shown without timing:
# every packet from the connector to the client is dropped (nftables in
# the client's namespace), so the client never hears the OK; the
# application's bytes must still reach the resource.  Before the fix the
# client read nothing until the OK: the resource got 0 bytes.  Then the
# drop is lifted and the flow completes (echo back, sha256 equal), and a
# flow whose bytes went early is retried with the same bytes when its
# tunnel dies before the verdict (connector killed while the OK is
# dropped, a new connector on the same address takes the retry after the
# client's 5 s idle timeout).
#
#   ncl<tag> 10.219.1.1 (client, forward 127.0.0.1:9777) --veth-- 10.219.1.2 ncn<tag>
#                                                           connector :4433, recorder :7777
set -uo pipefail
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" client-early
FIX=$B/tests/lib/pnfixture
NC=ncl$PN_TAG
NS=ncn$PN_TAG

pn_ns $NC $NS || { bad "namespaces"; pn_finish; }
pn_veth $NC pe0$PN_TAG 10.219.1.1/24 $NS pe1$PN_TAG 10.219.1.2/24 || { bad "veth"; pn_finish; }
{ $FIX "$W/pki" ca && $FIX "$W/pki" connector conn1 lab --allow 127.0.0.1/32 tcp 7777 &&
	$FIX "$W/pki" client alice --net lab conn1 --grant lab 127.0.0.1 tcp 7777; } >"$W/pki.log" 2>&1 ||
	{ bad "pnfixture"; pn_finish; }

# The resource: echoes, and records every connection's bytes as they come
# (one file per connection: $W/rec.N).
cat >"$W/recorder.py" <<'PY'
import socket, sys, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 7777))
ls.listen(64)
n = 0
def serve(c, path):
    with open(path, "ab", buffering=0) as f:
        while True:
            d = c.recv(65536)
            if not d:
                break
            f.write(d)
            c.sendall(d)
    c.close()
print("listening", flush=True)
while True:
    c, _ = ls.accept()
    n += 1
    threading.Thread(target=serve, args=(c, "%s.%d" % (sys.argv[1], n)), daemon=True).start()
PY
# The application: connect, send the file, then read the echo (SECONDS at
# most) into OUT.  With a 4th argument GO: print "ready", then wait for
# the file GO to exist first (the interpreter's start-up, seconds on a
# loaded machine, is not spent while the connector's answers are dropped).
cat >"$W/app.py" <<'PY'
import os, socket, sys, time
data = open(sys.argv[1], "rb").read()
if len(sys.argv) > 4:
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
    print("app: %s after %d bytes" % (e, len(got)))
open(sys.argv[2], "wb").write(got)
PY
head -c 3000 /dev/urandom >"$W/early.bin"
head -c 2000 /dev/urandom >"$W/retry.bin"

pn_bg recorder ip netns exec $NS python3 "$W/recorder.py" "$W/rec"
pn_wait_log "$W/recorder.log" listening 30 || bad "recorder up"
connector() {
	pn_bg connector ip netns exec $NS "$PN_BIN" connector run --state "$W/pki/conn1" \
		--listen-udp 10.219.1.2:4433
}
connector
pn_bg client ip netns exec $NC "$PN_BIN" client run --state "$W/pki/alice" --offline \
	--idle-timeout 5000 --direct "$(cat "$W/pki/conn1/id")=10.219.1.2:4433" \
	--forward 127.0.0.1:9777=127.0.0.1:7777
pn_wait_tcp $NC 127.0.0.1 9777 30 || { bad "client forward up"; pn_finish; }

# 1. a first flow: the tunnel is up
echo warm >"$W/warm.bin"
ip netns exec $NC python3 "$W/app.py" "$W/warm.bin" "$W/warm.got" 30
cmp -s "$W/warm.bin" "$W/warm.got" && ok "first flow echoed (tunnel up)" || bad "first flow"

# 1b. what the application sent with its connect leaves in the same
# datagram as the flow's header (docs/performance.md, "A new flow's first
# bytes left one packet after its header").  Without timing: the client is
# stopped while the application connects and sends 1000 bytes (they wait
# in the accepted socket), the connector too (nothing comes back); when
# the client resumes, nftables counts its datagrams to the connector by
# size until the first one of >= 1000 bytes (the data; later ones, e.g.
# loss probes, are not counted): none of 70-999 bytes may go before it
# (the header alone is ~90 bytes of UDP payload, ACKs and PINGs ~50).
# Before the fix the header left alone, the bytes one loop turn later.
for i in $(seq 300); do
	grep -q "pmtu .*searching=0" "$W/client.log" && break # no PMTU probe in between
	sleep 0.1
done
head -c 1000 /dev/urandom >"$W/first.bin"
cont() { kill -CONT "$PID_client" "$PID_connector" 2>/dev/null; }
pn_at_exit cont
ip netns exec $NC python3 "$W/app.py" "$W/first.bin" "$W/first.got" 120 "$W/go.first" >"$W/app.first.log" 2>&1 &
APP=$!
pn_wait_log "$W/app.first.log" ready 60 || bad "application ready (first packet)"
kill -STOP "$PID_client"
touch "$W/go.first"
pn_wait_log "$W/app.first.log" sent 60 || bad "application sent its bytes to the stopped client"
kill -STOP "$PID_connector"
ip netns exec $NC nft -f - <<NFT || bad "nftables counters"
table ip pnfirst {
	set seen { type ipv4_addr; flags dynamic; }
	counter big { }
	counter mid { }
	chain out {
		type filter hook output priority 0;
		ip daddr @seen accept
		ip daddr 10.219.1.2 udp dport 4433 udp length >= 1008 counter name big add @seen { ip daddr }
		ip daddr 10.219.1.2 udp dport 4433 udp length 78-1007 counter name mid
	}
}
NFT
unfirst() { ip netns exec $NC nft delete table ip pnfirst 2>/dev/null; }
pn_at_exit unfirst
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
	ok "the application's first bytes left with the flow's header: a datagram >= 1000 bytes, none of 70-999 before it" ||
	bad "datagrams to the connector after the client resumed: $big of >= 1000 bytes, $mid of 70-999 before it (the header went alone before the bytes); client log: $(tail -3 "$W/client.log")"
kill -CONT "$PID_connector"
unfirst
wait $APP
cmp -s "$W/first.bin" "$W/first.got" && ok "client and connector resumed: that flow completed, echo equal" ||
	bad "echo after resuming: $(wc -c <"$W/first.got" 2>/dev/null) of 1000 bytes ($(cat "$W/app.first.log"))"

# 2. nothing from the connector reaches the client: the bytes still go
drop() {
	ip netns exec $NC nft -f - <<-NFT
	table ip pnearly {
		chain in { type filter hook input priority 0; ip saddr 10.219.1.2 udp sport 4433 drop; }
	}
	NFT
}
undrop() { ip netns exec $NC nft delete table ip pnearly 2>/dev/null; }
pn_at_exit undrop
# an application started and ready, then the drop, then it connects and sends
app_dropped() { # NAME SECONDS: $W/NAME.bin sent, the echo into $W/NAME.got
	rm -f "$W"/rec.* "$W/go.$1"
	ip netns exec $NC python3 "$W/app.py" "$W/$1.bin" "$W/$1.got" "$2" "$W/go.$1" >"$W/app.$1.log" 2>&1 &
	APP=$!
	pn_wait_log "$W/app.$1.log" ready 60 || bad "application $1 ready"
	drop || bad "nftables drop ($1)"
	touch "$W/go.$1"
}
app_dropped early 60
got=0
for i in $(seq 300); do
	got=$(cat "$W"/rec.* 2>/dev/null | wc -c)
	[ "$got" -ge 3000 ] && break
	sleep 0.1
done
[ "$got" -ge 3000 ] && ok "the application's 3000 bytes reached the resource while the connector's OK could not reach the client" ||
	bad "the resource got $got of 3000 bytes while the connector's answers were dropped (the client waits for the OK before reading)"
undrop
wait $APP
cmp -s "$W/early.bin" "$W/early.got" && ok "drop lifted: the flow completed, echo equal ($(wc -c <"$W/early.got") bytes)" ||
	bad "echo after the drop was lifted: $(wc -c <"$W/early.got" 2>/dev/null) of 3000 bytes ($(cat "$W/app.early.log"))"

# 3. a flow whose bytes went early, its tunnel lost before the verdict:
# retried on a new tunnel (the restarted connector) with the same bytes
app_dropped retry 90
for i in $(seq 300); do
	[ "$(cat "$W"/rec.* 2>/dev/null | wc -c)" -ge 2000 ] && break
	sleep 0.1
done
pn_stop "$PID_connector"
rm -f "$W"/rec.*
undrop
connector
wait $APP
cmp -s "$W/retry.bin" "$W/retry.got" && ok "tunnel lost before the verdict: the flow was retried with its early bytes, echo equal" ||
	bad "retry after the tunnel was lost: $(wc -c <"$W/retry.got" 2>/dev/null) of 2000 bytes ($(cat "$W/app.retry.log"))"
n=$(cat "$W"/rec.* 2>/dev/null | wc -c)
[ "$n" = 2000 ] && ok "the new connector's resource got the 2000 bytes once" || bad "the new connector's resource got $n bytes (wanted 2000)"
pn_finish
