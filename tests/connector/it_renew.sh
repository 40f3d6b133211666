#!/bin/bash
# Credential renewal of long-running components: a controller issuing
# 10-second credentials (`controller run --cred-lifetime 10s`), a relay, a
# connector enrolled with a token and a client logged in with a service-
# account key.  A first flow opens a tunnel with the login credential.
# Once that credential is expired by more than the 60 s clock-skew
# tolerance (PN_TRUST_DEFAULT_SKEW; ~7 lifetimes) the connector ends that
# tunnel (a tunnel keeps its handshake credential), and a new flow needs a
# NEW tunnel whose handshake only succeeds if the connector presents a
# renewed credential (the client refuses an expired one) and the client
# does too (the connector refuses an expired one).  Also shown:
# the connector's cert.pem was replaced, the key was not, and both sides
# logged their renewals; the lifetime option refuses out-of-range values.
# Needs root (network namespaces).
#
#                     pnn-hub (router; controller https://10.205.0.1:8443)
#   pnn-cli 10.205.1.2 ---+--- 10.205.2.2 pnn-relay (relay, enrolled)
#   (client, SOCKS5 :1080,|
#    --direct to conn)    +--- 10.205.4.2 pnn-conn (connector, UDP :4433) ---- 10.205.9.2 pnn-res
#                                         10.205.9.1                           (HTTP :8000)
set -uo pipefail
BUILD=${1:?build dir}
PN_BIN=${PN_BIN:-$BUILD/src/app/postern}
LIFE=10   # seconds: the credential lifetime under test
SKEW=60   # PN_TRUST_DEFAULT_SKEW: verifiers accept this long past not_after
W=$(mktemp -d /tmp/pnn-renew.XXXXXX)
TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
NS_HUB=pnn-hub-$TAG NS_CLI=pnn-cli-$TAG NS_RELAY=pnn-relay-$TAG NS_CONN=pnn-conn-$TAG
NS_RES=pnn-res-$TAG
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
bg() { # name cmd...: background, log to $W/name.log, pid remembered
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
	for f in "$W"/connector.log "$W"/controller.log; do
		grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$f" 2>/dev/null &&
			bad "sanitizer report in $f"
	done
	if [ $fail -ne 0 ]; then
		echo "--- logs ($W)"
		for f in "$W"/*.log; do echo "== $f"; tail -30 "$f"; done
		echo "$fail check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
serial() { openssl x509 -noout -serial -in "$1" 2>/dev/null; }
BACKDATE=300 # PN_TRUST_BACKDATE_S: notBefore is issuance minus this
cert_life() { # seconds between issuance (notBefore + BACKDATE) and notAfter
	# one read: a renewal may replace the file between two openssl runs
	local pem
	pem=$(cat "$1")
	echo $(($(date -d "$(openssl x509 -noout -enddate <<<"$pem" | cut -d= -f2)" +%s) - \
		$(date -d "$(openssl x509 -noout -startdate <<<"$pem" | cut -d= -f2)" +%s) - BACKDATE))
}
pubkey() { openssl pkey -pubout -in "$1" 2>/dev/null | sha256sum; }

# The lifetime option is validated before anything else happens.
for v in 5s 25h 1500ms 1x; do
	"$PN_BIN" controller run --data "$W/none" --cred-lifetime "$v" >"$W/opt.out" 2>&1
	rc=$?
	[ $rc -eq 2 ] && grep -q "cred-lifetime" "$W/opt.out" && ok "--cred-lifetime $v refused (exit 2)" ||
		bad "--cred-lifetime $v refused (rc $rc: $(cat "$W/opt.out"))"
done

for n in $ALL_NS; do
	ip netns add "$n"
	ip -n "$n" link set lo up
done
ip netns exec $NS_HUB sysctl -qw net.ipv4.ip_forward=1
ip -n $NS_HUB addr add 10.205.0.1/32 dev lo
veth $NS_HUB h-cli 10.205.1.1/24 $NS_CLI cli0 10.205.1.2/24
veth $NS_HUB h-relay 10.205.2.1/24 $NS_RELAY relay0 10.205.2.2/24
veth $NS_HUB h-conn 10.205.4.1/24 $NS_CONN conn0 10.205.4.2/24
veth $NS_CONN res0 10.205.9.1/24 $NS_RES r0 10.205.9.2/24
ip -n $NS_CLI route add default via 10.205.1.1
ip -n $NS_RELAY route add default via 10.205.2.1
ip -n $NS_CONN route add default via 10.205.4.1

mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.205.9.2 --directory "$W/www"

H="ip netns exec $NS_HUB"
$H "$PN_BIN" controller init --data "$W/ctl" --api-listen 10.205.0.1:8443 --hostname 10.205.0.1 \
	>"$W/init.out" 2>&1 || { bad "controller init"; finish; }
bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen 10.205.0.1:8443 \
	--cred-lifetime ${LIFE}s
wait_tcp $NS_CLI 10.205.0.1 8443 15 || { bad "controller up"; finish; }
grep -q "cred_lifetime_s=$LIFE" "$W/controller.log" && ok "controller issues ${LIFE} s credentials" ||
	bad "controller lifetime in its log"
export POSTERN_CONTROLLER_URL=https://10.205.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl"
$CTL network add corp >/dev/null &&
	$CTL resource add app --network corp --address 10.205.9.2 --ports tcp/8000 >/dev/null &&
	$CTL group add eng >/dev/null || bad "ctl provisioning"
SA_KEY=$($CTL service-account add laptop --group eng | grep '^pnsk_')
$CTL grant add eng app >/dev/null || bad "grant"
TOKEN=$($CTL connector add corp conn1 | grep '^pnt1\.')
RTOKEN=$($CTL relay add relay1 --udp 10.205.2.2:3478 --tls 10.205.2.2:4433 | grep '^pnt1\.')

ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/relay" >"$W/enroll.log" 2>&1 ||
	bad "relay enroll"
bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/relay" \
	--udp 10.205.2.2:3478 --tls 10.205.2.2:4433
wait_tcp $NS_CLI 10.205.2.2 4433 15 || bad "relay listening"

ip netns exec $NS_CONN "$PN_BIN" connector enroll --token "$TOKEN" --state "$W/conn" >>"$W/enroll.log" 2>&1 ||
	{ bad "connector enroll"; finish; }
T_CONN=$(date +%s)
CONN_SERIAL0=$(serial "$W/conn/cert.pem")
CONN_KEY0=$(pubkey "$W/conn/key.pem")
CONN_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/conn/controller.json")
life=$(cert_life "$W/conn/cert.pem")
[ "$life" -ge $LIFE ] && [ "$life" -le $((LIFE + 60)) ] && ok "connector credential valid for ${life} s" ||
	bad "connector credential lifetime ${life} s"
bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.205.4.2:4433
wait_log "$W/connector.log" "relay_state.*state=ready" 15 && ok "connector registered with the relay" ||
	bad "connector registered with the relay"

echo "$SA_KEY" >"$W/sa.key"
ip netns exec $NS_CLI "$PN_BIN" client login --controller https://10.205.0.1:8443 --ca "$W/ctl/ca.crt" \
	--service-account-key "@$W/sa.key" --state "$W/cli" >"$W/login.out" 2>&1 ||
	{ bad "client login ($(cat "$W/login.out"))"; finish; }
T_CLI=$(date +%s)
CLI_SERIAL0=$(serial "$W/cli/cert.pem")
life=$(cert_life "$W/cli/cert.pem")
[ "$life" -ge $LIFE ] && [ "$life" -le $((LIFE + 60)) ] && ok "client credential (login) valid for ${life} s" ||
	bad "client credential lifetime ${life} s"
bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--direct "$CONN_ID=10.205.4.2:4433"
wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"
# A first flow opens the tunnel with the login credential.
out=$(ip netns exec $NS_CLI curl -s -m 15 --socks5 127.0.0.1:1080 http://10.205.9.2:8000/)
[[ "$out" == *"hello from the private resource"* ]] && ok "first flow (tunnel up with the login credential)" ||
	bad "first flow (got '${out:0:200}')"

# Wait until every credential from enrollment/login is past expiry + skew.
t_end=$(((T_CONN > T_CLI ? T_CONN : T_CLI) + LIFE + SKEW + 4))
echo "# waiting $((t_end - $(date +%s))) s (credential lifetime $LIFE s + skew $SKEW s)"
while [ "$(date +%s)" -lt $t_end ]; do
	sleep 1
	kill -0 "$PID_connector" 2>/dev/null || { bad "connector died"; finish; }
done

n=$(grep -c "cred_renewed" "$W/connector.log")
[ "$n" -ge 2 ] && ok "connector renewed $n times ($(grep -o 'how=[a-z]*' "$W/connector.log" | sort | uniq -c | tr -s ' ' | tr '\n' ' '))" ||
	bad "connector renewals ($n)"
n=$(grep -c "credential_renewed" "$W/client.log")
[ "$n" -ge 2 ] && ok "client renewed $n times" || bad "client renewals ($n)"
[ "$(serial "$W/conn/cert.pem")" != "$CONN_SERIAL0" ] && ok "connector cert.pem replaced (new serial)" ||
	bad "connector cert.pem replaced"
life=$(cert_life "$W/conn/cert.pem")
[ "$life" -ge $LIFE ] && [ "$life" -le $((LIFE + 60)) ] && ok "renewed credential valid for ${life} s" ||
	bad "renewed credential lifetime ${life} s"
[ "$(pubkey "$W/conn/key.pem")" = "$CONN_KEY0" ] && ok "connector key unchanged" || bad "connector key changed"
[ "$(serial "$W/cli/cert.pem")" != "$CLI_SERIAL0" ] && ok "client cert.pem replaced" ||
	bad "client cert.pem replaced"
openssl x509 -noout -checkend 0 -in "$W/conn/cert.pem" >/dev/null && ok "connector credential on disk is current" ||
	bad "connector credential on disk expired"
grep -q "connector cred_expired " "$W/connector.log" && bad "connector logged cred_expired" ||
	ok "connector never logged cred_expired"

# The tunnel of the login credential was ended once that credential
# expired (its flows would be denied); a new flow needs a new tunnel,
# handshaken with the renewed credentials of both sides.
wait_log "$W/connector.log" "tunnel_cred_expired" 5 && ok "connector ended the tunnel of the expired login credential" ||
	bad "connector ended the tunnel of the expired login credential"
out=$(ip netns exec $NS_CLI curl -s -m 15 --socks5 127.0.0.1:1080 http://10.205.9.2:8000/)
[[ "$out" == *"hello from the private resource"* ]] &&
	ok "new flow through the connector $(($(date +%s) - T_CONN)) s after its enrollment" ||
	bad "new flow after expiry of the first credentials (got '${out:0:200}')"
n=$(grep -c "tunnel_up" "$W/client.log")
[ "$n" -ge 2 ] && ok "client handshook $n tunnels" || bad "client tunnels up: $n"
finish
