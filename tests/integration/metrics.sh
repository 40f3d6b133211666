#!/bin/bash
# Prometheus metrics from every daemon in the demo topology: the controller
# (SQLite; its --metrics-listen and GET /v1/metrics under the API), an
# enrolled relay, an enrolled connector and a logged-in client, each with
# --metrics-listen.  Every scrape must pass `promtool check metrics`
# (Debian's prometheus package); the counters that traffic moves must
# move (flows and bytes at the client and the connector, forwarded
# packets at the relay, push events and store commits at the controller);
# /v1/metrics refuses a missing or wrong key; the small responder answers
# nothing but GET /metrics and refuses an oversized request.  Needs root.
#
#                  pnh (router; controller https://10.207.0.1:8443, metrics :9464)
#   pnc 10.207.1.2 ---+--- 10.207.2.2 pnr (relay, metrics :9464)
#   (client, SOCKS5   +--- 10.207.4.2 pnn (connector, metrics :9464) ---- 10.207.9.2 pns
#    :1080, metrics                                                     (TCP echo :7)
#    127.0.0.1:9464)
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" metrics
CHECK="python3 $PN_SRC/tests/client/sockscheck.py"
# Sanitizer builds are several times slower: wait longer, same checks.
SLOW=1
grep -q '^PN_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null && SLOW=3

command -v promtool >/dev/null || { bad "promtool not installed (scripts/deps.sh: prometheus)"; pn_finish; }

pn_star 10.207 || { bad "topology"; pn_finish; }
pn_bg echo ip netns exec $NS_RES python3 "$PN_SRC/bench/peers/probe.py" echo 7
pn_wait_tcp $NS_CONN $NET.9.2 7 $((10 * SLOW)) || bad "echo service up"

pn_controller_up --metrics-listen $NET.0.1:9464 || pn_finish
pn_provision echo $NET.9.2 tcp/7 || pn_finish
RTOKEN=$($CTL relay add relay1 --udp $NET.2.2:3478 --tls $NET.2.2:4433 | grep '^pnt1\.')
pn_relay_enroll_up "$RTOKEN" --metrics-listen $NET.2.2:9464 || pn_finish
pn_connector_enroll "$TOKEN" || pn_finish
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" \
	--metrics-listen $NET.4.2:9464
pn_client_login alice "$SA_KEY" || pn_finish

# scrape NAME NS URL [curl args...]: the body into $W/NAME.prom; 0 when HTTP 200.
scrape() {
	local name=$1 ns=$2 url=$3 code
	shift 3
	code=$(ip netns exec "$ns" curl -sS --max-time $((10 * SLOW)) -o "$W/$name.prom" \
		-w '%{http_code}' "$@" "$url" 2>"$W/$name.err")
	[ "$code" = 200 ]
}
# valid NAME: promtool accepts $W/NAME.prom (format and lint)
valid() {
	if promtool check metrics <"$W/$1.prom" >"$W/$1.promtool" 2>&1; then
		ok "$1: promtool check metrics passes"
	else
		bad "$1: promtool check metrics: $(head -5 "$W/$1.promtool")"
	fi
}
# val NAME SERIES: the value of one series ('name' or 'name{l="v"}') in NAME.prom, or "".
val() { awk -v s="$2" '$1 == s { print $2 }' "$W/$1.prom"; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; } # A > B, as numbers
# grew SERIES BEFORE AFTER: the series' value is larger in AFTER than in BEFORE
grew() {
	local a b
	a=$(val "$2" "$1")
	b=$(val "$3" "$1")
	if [ -n "$a" ] && [ -n "$b" ] && gt "$b" "$a"; then
		ok "$1 moved ($a -> $b)"
	else
		bad "$1 did not move ($a -> $b; $2 vs $3)"
	fi
}
# scrape_all TAG: every daemon's metrics, each validated.
scrape_all() {
	local t=$1
	scrape ctl-$t $NS_CLI http://$NET.0.1:9464/metrics && ok "controller metrics listener ($t)" ||
		bad "controller metrics listener ($t): $(cat "$W/ctl-$t.err")"
	scrape api-$t $NS_CLI https://$NET.0.1:8443/v1/metrics --cacert "$W/ctl/ca.crt" \
		-H "Authorization: Bearer $POSTERN_API_KEY" && ok "GET /v1/metrics with the admin key ($t)" ||
		bad "GET /v1/metrics with the admin key ($t): $(head -c 300 "$W/api-$t.prom")"
	scrape relay-$t $NS_CLI http://$NET.2.2:9464/metrics && ok "relay metrics ($t)" ||
		bad "relay metrics ($t): $(cat "$W/relay-$t.err")"
	scrape conn-$t $NS_CLI http://$NET.4.2:9464/metrics && ok "connector metrics ($t)" ||
		bad "connector metrics ($t): $(cat "$W/conn-$t.err")"
	scrape cli-$t $NS_CLI http://127.0.0.1:9464/metrics && ok "client metrics ($t)" ||
		bad "client metrics ($t): $(cat "$W/cli-$t.err")"
	for n in ctl api relay conn cli; do valid $n-$t; done
}

# The connector is registered at the relay before the client needs it.
pn_wait_log "$W/relay.log" 'peer_up.*role=connector' $((15 * SLOW)) || bad "connector registered at the relay"
PN_CLIENT_ONLINE=1
pn_bg client $C "$PN_BIN" client run --state "$W/alice" --socks 127.0.0.1:1080 \
	--metrics-listen 127.0.0.1:9464
pn_wait_log "$W/client.log" 'metrics_listening' $((15 * SLOW)) || bad "client metrics listener up"
pn_wait_tcp $NS_CLI 127.0.0.1 1080 $((15 * SLOW)) || bad "client SOCKS5 up"

# Idle connections are cut off (the deadline), not held: one that sends
# nothing (checked in the background meanwhile; its result at the end).
$C timeout $((40 * SLOW)) python3 -c "
import socket, sys, time
s = socket.create_connection(('$NET.4.2', 9464), timeout=60)
t = time.monotonic()
closed = s.recv(1) == b''
print('%.1f' % (time.monotonic() - t))
sys.exit(0 if closed else 1)" >"$W/idle.out" 2>&1 &
IDLE_PID=$!
pn_at_exit "kill $IDLE_PID 2>/dev/null"

scrape_all before
[ "$(val relay-before postern_relay_forwarded_packets_total)" = 0 ] &&
	ok "relay: no packets forwarded before any tunnel" ||
	bad "relay: forwarded $(val relay-before postern_relay_forwarded_packets_total) packets before any tunnel"
[ "$(grep '^# TYPE' "$W/ctl-before.prom")" = "$(grep '^# TYPE' "$W/api-before.prom")" ] &&
	ok "controller: the listener and /v1/metrics give the same families" ||
	bad "controller: the listener and /v1/metrics differ"

for m in postern_controller_push_subscribers postern_controller_store_commits_total \
	postern_controller_credentials_issued_total postern_relay_sessions \
	postern_relay_credential_expiry_timestamp_seconds 'postern_relay_drops_total{reason="peer_filter"}' \
	'postern_relay_refused_connections_total{reason="per_source"}' \
	postern_connector_flows_open 'postern_connector_tunnel_paths{path="relay_udp"}' \
	postern_connector_credential_expiry_timestamp_seconds postern_client_flows_total \
	'postern_client_tunnel_bytes_total{direction="tx"}' postern_client_credential_expiry_timestamp_seconds; do
	f=ctl-before
	case $m in postern_relay*) f=relay-before ;; postern_connector*) f=conn-before ;; postern_client*) f=cli-before ;; esac
	[ -n "$(val $f "$m")" ] && ok "$m exposed" || bad "$m missing from $f"
done
exp=$(val conn-before postern_connector_credential_expiry_timestamp_seconds)
now_s=$(date +%s)
[ -n "$exp" ] && gt "$exp" "$now_s" &&
	ok "connector credential expiry is in the future ($exp > $now_s)" || bad "connector credential expiry ($exp, now $now_s)"

# Traffic: three echo flows of 64 KiB through the tunnel, and a policy
# change pushed to every subscriber.
for i in 1 2 3; do
	expect "echo flow $i through the tunnel" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 $NET.9.2 7 2>&1)"
done
$CTL resource add other --network corp --address $NET.9.2 --ports tcp/8000 >/dev/null &&
	$CTL grant add eng other >/dev/null || bad "policy change"
# The push reaches the subscribers: its counter moves (poll: pushes are asynchronous).
t0=$(now)
for i in $(seq $((60 * SLOW))); do
	scrape ctl-push $NS_CLI http://$NET.0.1:9464/metrics &&
		[ "$(val ctl-push postern_controller_push_events_total)" != "$(val ctl-before postern_controller_push_events_total)" ] && break
	sleep 0.25
done
echo "#    push events counted after $(since "$t0") s"

scrape_all after
grew postern_client_flows_total cli-before cli-after
grew 'postern_client_tunnel_bytes_total{direction="tx"}' cli-before cli-after
grew 'postern_client_tunnel_bytes_total{direction="rx"}' cli-before cli-after
grew 'postern_client_proxy_flows_total{result="ok"}' cli-before cli-after
grew postern_connector_flows_total conn-before conn-after
grew 'postern_connector_flow_bytes_total{direction="up"}' conn-before conn-after
grew 'postern_connector_flow_bytes_total{direction="down"}' conn-before conn-after
grew postern_relay_forwarded_packets_total relay-before relay-after
grew postern_relay_sessions_opened_total relay-before relay-after
grew postern_controller_push_events_total ctl-before ctl-after
grew postern_controller_store_commits_total ctl-before ctl-after
grew postern_controller_policy_version ctl-before ctl-after
expect "connector: every flow counted" "3" "$(awk -v a="$(val conn-before postern_connector_flows_total)" \
	-v b="$(val conn-after postern_connector_flows_total)" 'BEGIN { print b - a }')"
tun=$(val conn-after postern_connector_tunnels)
paths=$(grep '^postern_connector_tunnel_paths{' "$W/conn-after.prom" | awk '{s += $2} END {print s + 0}')
[ "$tun" = 1 ] && [ "$paths" = 1 ] && ok "connector: one tunnel, on one path" ||
	bad "connector tunnels $tun, by path $paths: $(grep tunnel_paths "$W/conn-after.prom" | tr '\n' ' ')"

# /v1/metrics is READ access: no key, a wrong key -> 401; counted.
code=$($C curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$W/ctl/ca.crt" \
	https://$NET.0.1:8443/v1/metrics)
expect "GET /v1/metrics without a key is refused" 401 "$code"
code=$($C curl -sS --max-time 10 -o "$W/wrongkey.out" -w '%{http_code}' --cacert "$W/ctl/ca.crt" \
	-H "Authorization: Bearer pnak_$(printf '0%.0s' $(seq 64))" https://$NET.0.1:8443/v1/metrics)
expect "GET /v1/metrics with a wrong key is refused" 401 "$code"
grep -q '^postern' "$W/wrongkey.out" && bad "a refused request got metrics" || ok "a refused request got no metrics"
scrape ctl-denied $NS_CLI http://$NET.0.1:9464/metrics
grew 'postern_controller_api_denied_total{reason="unauthenticated"}' ctl-after ctl-denied

# The responder (relay, connector, client) and the controller's listener:
# GET /metrics only.
for t in "relay $NET.2.2" "connector $NET.4.2" "controller $NET.0.1"; do
	set -- $t
	expect "$1: GET / is 404" 404 "$($C curl -sS --max-time 10 -o /dev/null -w '%{http_code}' http://$2:9464/)"
	expect "$1: POST /metrics is 405" 405 "$($C curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST http://$2:9464/metrics)"
done
# An oversized request head is refused (431) and the connection closed;
# the listener still answers afterwards.
big=$(head -c 8000 /dev/zero | tr '\0' x)
code=$($C curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "X-Big: $big" http://$NET.2.2:9464/metrics)
expect "relay: an oversized request is refused" 431 "$code"
scrape relay-last $NS_CLI http://$NET.2.2:9464/metrics && ok "relay metrics still served" || bad "relay metrics after refusals"
# (the deadline is 10 s: PN_MHTTP_IDLE_MS)
if wait $IDLE_PID && gt "$(cat "$W/idle.out")" 8 && gt $((20 * SLOW)) "$(cat "$W/idle.out")"; then
	ok "connector: a silent connection is closed after $(cat "$W/idle.out") s"
else
	bad "connector: a silent connection was not closed at its deadline: $(cat "$W/idle.out")"
fi

pn_stop_check client 10
pn_stop_check connector 10
pn_stop_check relay 10
pn_stop_check controller 15
pn_finish
