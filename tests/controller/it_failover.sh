#!/bin/bash
# Two controllers over one PostgreSQL behind a real haproxy (TCP, health
# checks), with a relay, a connector and a client that only know the
# haproxy address.  Shows: a grant removed through controller Y reaches
# the connector subscribed on controller X within 1 s (LISTEN/NOTIFY) and
# new flows are denied; kill -9 of the controller the connector is
# subscribed to -> the connector is subscribed to the other one within 5 s,
# renews its credential through it, receives changes, and flows work;
# PostgreSQL killed mid-traffic -> an open flow continues, new flows work,
# the API answers 503, and all recovers (no restart) when it returns.
# Needs root (network namespaces) and haproxy + postgresql (Debian).
#
#   hub: haproxy 10.207.0.1:8443 -> controller A 10.207.0.2:8443
#                                -> controller B 10.207.0.3:8443
#        (both on one private PostgreSQL cluster, Unix socket)
#   cli 10.207.1.2 --+-- 10.207.2.2 relay
#                    +-- 10.207.4.2 conn ---- 10.207.9.2 res (HTTP :8000)
#
# (tests/lib/netns.sh's star topology, pn_star; namespaces named per run.)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh" "${1:?build dir}" failover
. "$HERE/pg_cluster.sh"
pn_at_exit pg_stop
LIFE=30 # credential lifetime (s): renewals every 15-20 s, streams recycled every 7.5 s
flow() { $C curl -s -m 10 --socks5 127.0.0.1:1080 http://10.207.9.2:8000/; }

pg_start || { echo "could not start PostgreSQL"; exit 1; }
pn_star 10.207 || { bad "topology"; pn_finish; }
for a in 2 3; do ip -n $NS_HUB addr add 10.207.0.$a/32 dev lo; done
mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
head -c 1500000 /dev/urandom >"$W/www/big.bin"
pn_bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.207.9.2 --directory "$W/www"

# ---- two controllers, one database, one identity ----
$H "$PN_BIN" controller init --data "$W/ctl" --api-listen 10.207.0.2:8443 \
	--hostname 10.207.0.1,10.207.0.2,10.207.0.3 --store "$PG_URL" >"$W/init.out" 2>&1 ||
	{ bad "controller init ($(cat "$W/init.out"))"; pn_finish; }
printf 'failover test passphrase\n' >"$W/pass"
"$PN_BIN" controller export-identity --data "$W/ctl" --out "$W/bundle.json" --passphrase-file "$W/pass" \
	>/dev/null && "$PN_BIN" controller join --data "$W/b" --bundle "$W/bundle.json" \
	--passphrase-file "$W/pass" --api-listen 10.207.0.3:8443 >/dev/null || { bad "export/join"; pn_finish; }
pn_bg ctlA $H "$PN_BIN" controller run --data "$W/ctl" --cred-lifetime ${LIFE}s
pn_bg ctlB $H "$PN_BIN" controller run --data "$W/b" --cred-lifetime ${LIFE}s
cat >"$W/haproxy.cfg" <<EOF
global
	maxconn 2000
defaults
	mode tcp
	timeout connect 1s
	timeout client 120s
	timeout server 120s
	retries 3
	option redispatch
frontend api
	bind 10.207.0.1:8443
	default_backend controllers
backend controllers
	balance roundrobin
	default-server check inter 300 fall 2 rise 2 on-marked-down shutdown-sessions
	server a 10.207.0.2:8443
	server b 10.207.0.3:8443
EOF
pn_bg haproxy $H haproxy -f "$W/haproxy.cfg" -db
pn_wait_tcp $NS_CLI 10.207.0.1 8443 15 && pn_wait_tcp $NS_HUB 10.207.0.2 8443 15 &&
	pn_wait_tcp $NS_HUB 10.207.0.3 8443 15 || { bad "controllers and haproxy up"; pn_finish; }
ok "two controllers behind haproxy"

LB=https://10.207.0.1:8443
export POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl --url $LB"
# haproxy listens before its health checks have marked a controller up
# (rise 2, every 300 ms); until then it closes connections: wait for one
# request through it to succeed.
for i in $(seq 60); do $CTL --json connector list >/dev/null 2>&1 && break; sleep 0.25; done
pn_provision app 10.207.9.2 tcp/8000 || bad "provisioning via haproxy"
RTOKEN=$($CTL relay add relay1 --udp 10.207.2.2:3478 --tls 10.207.2.2:4433 | grep '^pnt1\.')
CONN_ID=$($CTL --json connector list | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin)["connectors"] if c["name"]=="conn1"][0])')

pn_relay_enroll_up "$RTOKEN" || bad "relay enroll via haproxy"
pn_connector_enroll "$TOKEN" || pn_finish
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.207.4.2:4433
pn_client_login cli "$SA_KEY" || pn_finish
pn_bg client $C "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--direct "$CONN_ID=10.207.4.2:4433"
pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"
pn_wait_count "$W/connector.log" "policy_push" 1 15 || bad "connector got its first state"
out=$(flow)
[[ "$out" == *"hello from the private resource"* ]] && ok "flow through the connector" ||
	bad "first flow (got '${out:0:200}')"

# which controller holds the connector's stream right now?  (streams are
# recycled every LIFE/4 s and haproxy balances round robin)
SUB="push_subscribed holder=$CONN_ID"
attached() { # -> A or B: the controller with the connector's latest subscription
	local ta tb
	ta=$(grep "$SUB" "$W/ctlA.log" 2>/dev/null | tail -1 | cut -d' ' -f1)
	tb=$(grep "$SUB" "$W/ctlB.log" 2>/dev/null | tail -1 | cut -d' ' -f1)
	if [[ "$ta" > "$tb" ]]; then echo A; else echo B; fi
}
fresh_sub() { # wait for a new subscription of the connector (either controller)
	local n=$(($(pn_count "$W/ctlA.log" "$SUB") + $(pn_count "$W/ctlB.log" "$SUB")))
	for _ in $(seq 1500); do
		[ $(($(pn_count "$W/ctlA.log" "$SUB") + $(pn_count "$W/ctlB.log" "$SUB"))) -gt "$n" ] && return 0
		sleep 0.01
	done
	return 1
}
ip_of() { [ "$1" = A ] && echo 10.207.0.2 || echo 10.207.0.3; }
other() { [ "$1" = A ] && echo B || echo A; }

# ---- a grant removed through Y reaches the connector on X within 1 s ----
fresh_sub || bad "connector resubscribes (stream recycling)"
X=$(attached); Y=$(other "$X")
N=$(pn_count "$W/connector.log" "policy_push")
$H "$PN_BIN" ctl --url "https://$(ip_of "$Y"):8443" grant delete eng app >/dev/null || bad "grant delete via $Y"
t0=$(date +%s%N)
V=$(pg_sql "SELECT value FROM meta WHERE key='policy_version'")
for _ in $(seq 300); do grep -q "policy_push version=$V " "$W/connector.log" && break; sleep 0.01; done
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "policy_push version=$V " "$W/connector.log" && [ $ms -le 1000 ] &&
	ok "grant removed through controller $Y reached the connector on controller $X in $ms ms" ||
	bad "grant removal through $Y -> connector on $X: version $V after $ms ms"
out=$(flow)
[[ "$out" != *"hello from the private resource"* ]] && ok "new flow denied after the grant removal" ||
	bad "flow still allowed after the grant removal"
$CTL grant add eng app >/dev/null || bad "grant re-added"

# ---- kill -9 of the controller the connector is attached to ----
fresh_sub || bad "connector resubscribes (stream recycling)"
X=$(attached); Y=$(other "$X")
NY=$(pn_count "$W/ctl$Y.log" "$SUB")
RENEW0=$(pn_count "$W/connector.log" "cred_renewed")
eval "kill -9 \$PID_ctl$X"
t0=$(date +%s%N)
for _ in $(seq 1000); do [ "$(pn_count "$W/ctl$Y.log" "$SUB")" -gt "$NY" ] && break; sleep 0.01; done
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$(pn_count "$W/ctl$Y.log" "$SUB")" -gt "$NY" ] && [ $ms -le 5000 ] &&
	ok "kill -9 of controller $X: connector subscribed on controller $Y after $ms ms" ||
	bad "connector resubscribed on $Y ($ms ms)"
N=$(pn_count "$W/connector.log" "policy_push")
$CTL group add after-failover >/dev/null && ok "admin API through haproxy after the failover" ||
	bad "admin API through haproxy after the failover"
# The connector's stream was refused (503) while the database was down and
# reconnects with backoff capped at 10 s (ctlapi/sub.c): allow 15 s.
pn_wait_count "$W/connector.log" "policy_push" $((N + 1)) 15 && ok "connector receives changes through controller $Y" ||
	bad "connector receives changes after the failover"
pn_wait_count "$W/connector.log" "cred_renewed" $((RENEW0 + 1)) $LIFE &&
	ok "connector renewed its credential after the failover" || bad "connector renewal after the failover"
out=$(flow)
[[ "$out" == *"hello from the private resource"* ]] && ok "flows work after the failover" ||
	bad "flow after the failover (got '${out:0:200}')"

# ---- PostgreSQL killed mid-traffic ----
$C curl -s -m 60 --limit-rate 150k --socks5 127.0.0.1:1080 \
	-o "$W/big.out" http://10.207.9.2:8000/big.bin &
DL=$!
sleep 1
pg_kill
st=$($H curl -s -o "$W/st.out" -w '%{http_code}' --cacert "$W/ctl/ca.crt" \
	-H "Authorization: Bearer $POSTERN_API_KEY" $LB/v1/networks)
[ "$st" = 503 ] && grep -q store_unavailable "$W/st.out" &&
	ok "database down: API through haproxy answers 503 store_unavailable" || bad "API with the database down: $st"
out=$(flow)
[[ "$out" == *"hello from the private resource"* ]] && ok "new flows work with the database down" ||
	bad "new flow with the database down (got '${out:0:200}')"
sleep 2
pg_start_again || bad "database restarted"
t0=$(date +%s%N)
for _ in $(seq 500); do
	st=$($H curl -s -o /dev/null -w '%{http_code}' --cacert "$W/ctl/ca.crt" \
		-H "Authorization: Bearer $POSTERN_API_KEY" $LB/v1/networks)
	[ "$st" = 200 ] && break
	sleep 0.02
done
[ "$st" = 200 ] && ok "API recovered without restart $((($(date +%s%N) - t0) / 1000000)) ms after the database" ||
	bad "API after the database returned: $st"
N=$(pn_count "$W/connector.log" "policy_push")
$CTL group add after-db-restart >/dev/null || bad "change after the database returned"
# The connector's stream was refused (503) while the database was down and
# reconnects with backoff capped at 10 s (ctlapi/sub.c): allow 15 s.
pn_wait_count "$W/connector.log" "policy_push" $((N + 1)) 15 &&
	ok "connector receives changes after the database returned" || bad "push after the database returned"
wait "$DL"
cmp -s "$W/big.out" "$W/www/big.bin" && ok "flow open across the database outage completed intact" ||
	bad "download across the outage ($(stat -c %s "$W/big.out" 2>/dev/null) bytes)"
pn_finish
