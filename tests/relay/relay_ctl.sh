#!/bin/bash
# Relays as the controller hands them out, used by the real connector and
# client (postern binaries), for two promises:
#
# 1. A wss:// relay works (issue 10 item 4).  The relay is added with
#    `--ws wss://10.206.2.2:8443/postern`; a real haproxy terminates TLS
#    there with its own certificate (its own test CA, given to both roles
#    with --wss-ca) and passes the WebSocket upgrade to the relay.  The
#    client runs with --transport ws and the connector cannot reach the
#    relay's TLS port: both reach the relay only through wss://.  A bad
#    entry added to the client's relays.json is skipped with its reason;
#    the good relay is still used.
# 2. Open relay connections carry renewed credentials (item 5).  With
#    10-second credentials (`controller run --cred-lifetime 10s`), flows
#    run for ~85 s; past the first credentials' expiry + the 60 s skew the
#    connector ends the first tunnel and a new one needs a new relay
#    session, opened on the SAME relay connections (without RENEW the relay
#    refuses it: the client's credential on that connection expired); the
#    relay logs every credential re-presented (peer_renewed) and accepts
#    exactly one connection per role (peer_up) over the whole run.
# Needs root (network namespaces).
#
#                      pnc-hub (router; controller https://10.206.0.1:8443)
#   pnc-cli 10.206.1.2 ---+--- 10.206.2.2 pnc-relay: relay udp :3478, tls :4433,
#   (client, SOCKS5 :1080)|                 ws path /postern; haproxy TLS :8443 -> :4433
#                         +--- 10.206.4.2 pnc-conn (connector; TCP to :4433 dropped) --- 10.206.9.2 pnc-res
#                                         10.206.9.1                                     (HTTP :8000)
set -uo pipefail
BUILD=${1:?build dir}
PN_BIN=${PN_BIN:-$BUILD/src/app/postern}
LIFE=10
SKEW=60 # PN_TRUST_DEFAULT_SKEW
W=$(mktemp -d /tmp/pnc-relay.XXXXXX)
TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
NS_HUB=pnc-hub-$TAG NS_CLI=pnc-cli-$TAG NS_RELAY=pnc-relay-$TAG NS_CONN=pnc-conn-$TAG NS_RES=pnc-res-$TAG
ALL_NS="$NS_HUB $NS_CLI $NS_RELAY $NS_CONN $NS_RES"
PIDS=()
fail=0

ok() { echo "ok   - $1"; }
bad() {
	echo "FAIL - $1"
	fail=$((fail + 1))
}
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in $ALL_NS; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	[ $fail -eq 0 ] && rm -rf "$W"
}
trap cleanup EXIT
bg() { # name cmd...
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
veth() { # ns1 if1 addr1 ns2 if2 addr2
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
wait_tcp() { # ns host port seconds
	local i
	for i in $(seq $(($4 * 20))); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_log() { # file pattern seconds
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
finish() {
	local p f
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	for f in "$W"/connector.log "$W"/client.log "$W"/relay.log "$W"/controller.log; do
		grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$f" 2>/dev/null &&
			bad "sanitizer report in $f"
	done
	if [ $fail -ne 0 ]; then
		echo "--- logs ($W)"
		for f in "$W"/*.log; do echo "== $f"; tail -40 "$f"; done
		echo "$fail check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
flow() { # -> 0 if the resource answered through the tunnel
	local out
	out=$(ip netns exec $NS_CLI curl -s -m 15 --socks5 127.0.0.1:1080 http://10.206.9.2:8000/)
	[[ "$out" == *"hello from the private resource"* ]]
}

for n in $ALL_NS; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip netns exec $NS_HUB sysctl -qw net.ipv4.ip_forward=1
ip -n $NS_HUB addr add 10.206.0.1/32 dev lo
veth $NS_HUB h-cli 10.206.1.1/24 $NS_CLI cli0 10.206.1.2/24
veth $NS_HUB h-relay 10.206.2.1/24 $NS_RELAY relay0 10.206.2.2/24
veth $NS_HUB h-conn 10.206.4.1/24 $NS_CONN conn0 10.206.4.2/24
veth $NS_CONN res0 10.206.9.1/24 $NS_RES r0 10.206.9.2/24
ip -n $NS_CLI route add default via 10.206.1.1
ip -n $NS_RELAY route add default via 10.206.2.1
ip -n $NS_CONN route add default via 10.206.4.1

mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.206.9.2 --directory "$W/www"

# The proxy's own PKI: a test CA (not the Postern CA, not in the system
# store) and a certificate for the relay's public address.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=pn-proxy-test-ca \
	-keyout "$W/proxyca.key" -out "$W/proxyca.crt" >/dev/null 2>&1 &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=relay-proxy \
		-keyout "$W/proxy.key" -out "$W/proxy.csr" >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:10.206.2.2\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$W/proxy.ext" &&
	openssl x509 -req -in "$W/proxy.csr" -CA "$W/proxyca.crt" -CAkey "$W/proxyca.key" -CAcreateserial \
		-days 2 -extfile "$W/proxy.ext" -out "$W/proxy.crt" >/dev/null 2>&1 &&
	cat "$W/proxy.crt" "$W/proxy.key" >"$W/proxy.pem" || { bad "proxy certificate"; finish; }

H="ip netns exec $NS_HUB"
$H "$PN_BIN" controller init --data "$W/ctl" --api-listen 10.206.0.1:8443 --hostname 10.206.0.1 \
	>"$W/init.out" 2>&1 || { bad "controller init"; finish; }
bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen 10.206.0.1:8443 \
	--cred-lifetime ${LIFE}s
wait_tcp $NS_CLI 10.206.0.1 8443 15 || { bad "controller up"; finish; }
export POSTERN_CONTROLLER_URL=https://10.206.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl"
$CTL network add corp >/dev/null &&
	$CTL resource add app --network corp --address 10.206.9.2 --ports tcp/8000 >/dev/null &&
	$CTL group add eng >/dev/null || bad "ctl provisioning"
SA_KEY=$($CTL service-account add laptop --group eng | grep '^pnsk_')
$CTL grant add eng app >/dev/null || bad "grant"
TOKEN=$($CTL connector add corp conn1 | grep '^pnt1\.')
RTOKEN=$($CTL relay add relay1 --udp 10.206.2.2:3478 --tls 10.206.2.2:4433 \
	--ws wss://10.206.2.2:8443/postern | grep '^pnt1\.')
[ -n "$RTOKEN" ] && ok "controller accepted a relay with --ws wss://" || { bad "relay add with wss://"; finish; }

ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/relay" >"$W/enroll.log" 2>&1 ||
	bad "relay enroll"
bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/relay" \
	--udp 10.206.2.2:3478 --tls 0.0.0.0:4433 --ws-path /postern --stats-interval 0
cat >"$W/haproxy.cfg" <<HAP
global
  maxconn 256
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend wss
  bind 10.206.2.2:8443 ssl crt $W/proxy.pem
  acl ws hdr(Upgrade) -i websocket
  use_backend relay if ws
  default_backend nope
backend relay
  server r1 127.0.0.1:4433
backend nope
  http-request deny
HAP
bg haproxy ip netns exec $NS_RELAY haproxy -f "$W/haproxy.cfg" -db
wait_tcp $NS_CLI 10.206.2.2 8443 15 || bad "haproxy listening"
# The connector reaches the relay only through the proxy (TLS port dropped).
ip netns exec $NS_RELAY nft add table inet pnc
ip netns exec $NS_RELAY nft add chain inet pnc in '{ type filter hook input priority 0; }'
ip netns exec $NS_RELAY nft add rule inet pnc in ip saddr 10.206.4.2 tcp dport 4433 drop

ip netns exec $NS_CONN "$PN_BIN" connector enroll --token "$TOKEN" --state "$W/conn" >>"$W/enroll.log" 2>&1 ||
	{ bad "connector enroll"; finish; }
grep -q "wss://10.206.2.2:8443/postern" "$W/conn/relays.json" && ok "connector's relays.json holds the wss:// URL" ||
	bad "connector's relays.json: $(cat "$W/conn/relays.json")"
bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --wss-ca "$W/proxyca.crt"
wait_log "$W/connector.log" "relays count=1" 10 && ok "connector uses the wss:// relay (relays count=1)" ||
	bad "connector relays: $(grep relays "$W/connector.log")"
wait_log "$W/connector.log" "relay_state.*state=ready" 30 && ok "connector registered with the relay" ||
	bad "connector registered with the relay"
grep -q "peer_up role=connector .*ws=1" "$W/relay.log" && ok "connector came in over the WebSocket (wss:// via haproxy)" ||
	bad "connector over the WebSocket: $(grep peer_up "$W/relay.log")"

echo "$SA_KEY" >"$W/sa.key"
ip netns exec $NS_CLI "$PN_BIN" client login --controller https://10.206.0.1:8443 --ca "$W/ctl/ca.crt" \
	--service-account-key "@$W/sa.key" --state "$W/cli" >"$W/login.out" 2>&1 ||
	{ bad "client login ($(cat "$W/login.out"))"; finish; }
T0=$(date +%s)
# A broken entry and one the relay client cannot use, next to the good one.
python3 - "$W/cli/relays.json" <<'PY'
import json, sys
p = sys.argv[1]
l = json.load(open(p))
l.append({"name": "broken", "ws": "wss:/missing-slash"})
l.append({"name": "udponly", "udp": "10.206.2.2:3478"})
json.dump(l, open(p, "w"))
PY
bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--transport ws --wss-ca "$W/proxyca.crt"
wait_tcp $NS_CLI 127.0.0.1 1080 15 || { bad "client SOCKS5 listening"; finish; }
grep -q "state_invalid" "$W/client.log" && bad "client: state_invalid" || ok "client started with the wss:// relay"
grep -q 'relay_skipped index=1 relay=broken err=PN_E_CONFIG why="must be ws://' "$W/client.log" &&
	ok "bad entry skipped with its reason" || bad "bad entry skipped: $(grep relay_skipped "$W/client.log")"
grep -q 'relay_skipped index=2 relay=udponly' "$W/client.log" &&
	grep -q 'relay_invalid relay=udponly err=PN_E_CONFIG why="no control stream' "$W/client.log" &&
	ok "unusable entry (UDP only: no control stream) skipped with its reason" ||
	bad "unusable entry skipped: $(grep 'relay_invalid\|relay_skipped' "$W/client.log")"

# Flows every few seconds until the first credentials are expired by more
# than the skew: the connector then ends the tunnel of the login
# credential, and the next flow needs a new tunnel, hence a new relay
# session on the open relay connections.
t_end=$((T0 + LIFE + SKEW + 15))
echo "# flows for $((t_end - $(date +%s))) s (credential lifetime $LIFE s + skew $SKEW s + 15 s)"
nflows=0 nfail=0 late_ok=0
while [ "$(date +%s)" -lt $t_end ]; do
	if flow; then
		[ "$(date +%s)" -gt $((T0 + LIFE + SKEW + 2)) ] && late_ok=$((late_ok + 1))
	else
		nfail=$((nfail + 1))
		echo "# flow failed at +$(($(date +%s) - T0)) s"
	fi
	nflows=$((nflows + 1))
	sleep 4.5
	kill -0 "$PID_connector" 2>/dev/null && kill -0 "$PID_client" 2>/dev/null || { bad "a role died"; finish; }
done
[ $nfail -eq 0 ] && ok "$nflows flows over $((t_end - T0)) s, all answered" || bad "$nfail of $nflows flows failed"
[ $late_ok -ge 1 ] && ok "$late_ok flows after the first credentials expired (+ skew)" ||
	bad "no flow after the first credentials expired"
# The connector ends the tunnel of the expired login credential; its
# successor needs a new relay session on the same relay connections.
late=0
for ts in $(grep "client tunnel_up" "$W/client.log" | cut -d' ' -f1); do
	[ "$(date -d "$ts" +%s)" -gt $((T0 + LIFE + SKEW)) ] && late=$((late + 1))
done
[ $late -ge 1 ] && ok "new tunnel (new relay session) after the first credentials expired: $late" ||
	bad "no tunnel after the first credentials expired ($(grep -c tunnel_up "$W/client.log") in all)"
c=$(grep -c "peer_up role=client" "$W/relay.log")
k=$(grep -c "peer_up role=connector" "$W/relay.log")
[ "$c" -eq 1 ] && [ "$k" -eq 1 ] && ok "one relay connection per role for the whole run (no reconnect)" ||
	bad "relay accepted $c client and $k connector connections: $(grep 'peer_up\|peer_down' "$W/relay.log")"
c=$(grep -c "peer_renewed role=client" "$W/relay.log")
k=$(grep -c "peer_renewed role=connector" "$W/relay.log")
[ "$c" -ge 3 ] && [ "$k" -ge 3 ] && ok "renewed credentials re-presented on the open connections (client $c, connector $k)" ||
	bad "renewals presented: client $c, connector $k"
grep -q "peer_renew_refused" "$W/relay.log" && bad "relay refused a renewal" || ok "no renewal refused"
grep -q "err=PN_E_EXPIRED" "$W/client.log" && bad "client saw PN_E_EXPIRED" || ok "no PN_E_EXPIRED at the client"
finish
