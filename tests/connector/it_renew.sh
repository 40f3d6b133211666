#!/bin/bash
# Credential renewal of long-running components: a controller issuing
# 10-second credentials (`controller run --cred-lifetime 10s`), a relay, a
# connector enrolled with a token and a client logged in with a service-
# account key.  A first flow opens a tunnel with the login credential.
# The client re-presents every renewal inside that tunnel (PN_CTL_CRED),
# so once the login credential is expired by more than the clock-skew
# tolerance (PN_TRUST_DEFAULT_SKEW, 60 s; narrowed to 10 s here with the
# test knob PN_TEST_CLOCK_SKEW_S, which every role started below inherits)
# the tunnel still lives and serves a new flow (before the fix the
# connector ended it then).
# Then the client is restarted: a new flow needs a NEW tunnel whose
# handshake only succeeds if the connector presents a renewed credential
# (the client refuses an expired one) and the client does too (the
# connector refuses an expired one).  Also shown:
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
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" renew
LIFE=10   # seconds: the credential lifetime under test
SKEW=10   # verifiers accept this long past not_after (PN_TRUST_DEFAULT_SKEW,
export PN_TEST_CLOCK_SKEW_S=$SKEW # narrowed from 60 s for every role started here)

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

pn_star 10.205 || pn_finish

mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
pn_bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind 10.205.9.2 --directory "$W/www"

pn_controller_up --cred-lifetime ${LIFE}s || pn_finish
grep -q "cred_lifetime_s=$LIFE" "$W/controller.log" && ok "controller issues ${LIFE} s credentials" ||
	bad "controller lifetime in its log"
pn_provision app 10.205.9.2 tcp/8000 || pn_finish
RTOKEN=$($CTL relay add relay1 --udp 10.205.2.2:3478 --tls 10.205.2.2:4433 | grep '^pnt1\.')

pn_relay_enroll_up "$RTOKEN"

pn_connector_enroll "$TOKEN" || pn_finish
T_CONN=$(date +%s)
# Start it at once (a copy of the enrolled credential is inspected after):
# on a loaded machine the openssl runs below can outlast a 10 s credential.
cp "$W/conn/cert.pem" "$W/conn-cert0.pem"
cp "$W/conn/key.pem" "$W/conn-key0.pem"
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.205.4.2:4433
CONN_SERIAL0=$(serial "$W/conn-cert0.pem")
CONN_KEY0=$(pubkey "$W/conn-key0.pem")
life=$(cert_life "$W/conn-cert0.pem")
[ "$life" -ge $LIFE ] && [ "$life" -le $((LIFE + 60)) ] && ok "connector credential valid for ${life} s" ||
	bad "connector credential lifetime ${life} s"
pn_wait_log "$W/connector.log" "relay_state.*state=ready" 15 && ok "connector registered with the relay" ||
	bad "connector registered with the relay"

pn_client_login cli "$SA_KEY" || pn_finish
T_CLI=$(date +%s)
CLI_SERIAL0=$(serial "$W/cli/cert.pem")
life=$(cert_life "$W/cli/cert.pem")
[ "$life" -ge $LIFE ] && [ "$life" -le $((LIFE + 60)) ] && ok "client credential (login) valid for ${life} s" ||
	bad "client credential lifetime ${life} s"
pn_bg client ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--direct "$CONN_ID=10.205.4.2:4433"
pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "client SOCKS5 listening"
# A first flow opens the tunnel with the login credential.
out=$(ip netns exec $NS_CLI curl -s -m 15 --socks5 127.0.0.1:1080 http://10.205.9.2:8000/)
[[ "$out" == *"hello from the private resource"* ]] && ok "first flow (tunnel up with the login credential)" ||
	bad "first flow (got '${out:0:200}')"

# Wait until every credential from enrollment/login is past expiry + skew.
t_end=$(((T_CONN > T_CLI ? T_CONN : T_CLI) + LIFE + SKEW + 4))
echo "# waiting $((t_end - $(date +%s))) s (credential lifetime $LIFE s + skew $SKEW s)"
while [ "$(date +%s)" -lt $t_end ]; do
	sleep 1
	kill -0 "$PID_connector" 2>/dev/null || { bad "connector died"; pn_finish; }
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

# The tunnel of the login credential lives on under the renewals the
# client re-presented in it: not ended at the login credential's expiry.
n=$(grep -c "connector tunnel_cred_renewed" "$W/connector.log")
[ "$n" -ge 2 ] && ok "connector adopted $n client credentials re-presented in the tunnel" ||
	bad "client credentials re-presented and adopted: $n"
grep -q "tunnel_cred_expired\|tunnel_cred_refused" "$W/connector.log" &&
	bad "connector: $(grep -m2 'tunnel_cred_expired\|tunnel_cred_refused' "$W/connector.log")" ||
	ok "tunnel neither ended at the login credential's expiry nor a renewal refused"
out=$(ip netns exec $NS_CLI curl -s -m 15 --socks5 127.0.0.1:1080 http://10.205.9.2:8000/)
[[ "$out" == *"hello from the private resource"* ]] &&
	ok "flow on the first tunnel $(($(date +%s) - T_CLI)) s after login" ||
	bad "flow after expiry of the first credentials (got '${out:0:200}')"
n=$(grep -c "tunnel_up" "$W/client.log")
[ "$n" -eq 1 ] && ok "one tunnel for the whole run" || bad "client tunnels up: $n"

# A restarted client (its renewed cert.pem) needs a new tunnel, handshaken
# with the renewed credentials of both sides.
pn_stop "$PID_client" || bad "client stopped on SIGTERM"
pn_bg client2 ip netns exec $NS_CLI "$PN_BIN" client run --state "$W/cli" --socks 127.0.0.1:1080 \
	--direct "$CONN_ID=10.205.4.2:4433"
pn_wait_tcp $NS_CLI 127.0.0.1 1080 15 || bad "restarted client SOCKS5 listening"
out=$(ip netns exec $NS_CLI curl -s -m 15 --socks5 127.0.0.1:1080 http://10.205.9.2:8000/)
[[ "$out" == *"hello from the private resource"* ]] &&
	ok "new flow through the connector $(($(date +%s) - T_CONN)) s after its enrollment" ||
	bad "new flow after expiry of the first credentials (got '${out:0:200}')"
grep -q "tunnel_up" "$W/client2.log" && ok "new tunnel handshaken with renewed credentials" ||
	bad "restarted client: no tunnel up"
pn_finish
