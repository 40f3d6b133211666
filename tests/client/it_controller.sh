#!/bin/bash
# The client with a real controller: `postern client login` with a
# service-account key (ctlapi), `postern client run` subscribed to the
# push channel, access-list updates applied live (a grant added -> the
# destination becomes reachable; removed -> refused locally again), a
# login with a bad key refused, renewal, status naming who is signed in,
# and the credential revoked at the controller: REVOKED stops the client.
# Needs root (network namespaces).
#
#                        pnc-hub (router; controller https://10.203.0.1:8443, SQLite)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay, enrolled with a token)
#   (client, SOCKS5 :1080)+--- 10.203.4.2 pnc-conn1 (connector, enrolled with a token) ---- pnc-res
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" client-controller
source "$(dirname "$0")/../lib/fixnet.sh"
CHECK="python3 $PN_SRC/tests/client/sockscheck.py"

pn_topo_up
pn_resources || bad "resources up"
pn_controller_up || pn_finish
pn_provision echo echo.corp.example tcp/7 || pn_finish
$CTL resource add app --network corp --address app.corp.example --ports tcp/8000 >/dev/null ||
	bad "resource app (not granted)"
RTOKEN=$($CTL relay add relay1 --udp 10.203.2.2:3478 --tls 10.203.2.2:4433 | grep '^pnt1\.')
mkdir -p "$W/pki"
ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/pki/relay1" >>"$W/enroll.log" 2>&1 &&
	ok "relay enrolled" || bad "relay enroll"
pn_start_relay
pn_connector_enroll "$TOKEN" conn1 $NS_CONN1
grep -q 10.203.2.2 "$W/conn1/relays.json" && ok "connector got the relay list from the controller" ||
	bad "connector relay list"
pn_bg connector-conn1 ip netns exec $NS_CONN1 "$PN_BIN" connector run --state "$W/conn1"

# A wrong key is refused and leaves no credential behind.
echo "pnsk_$(printf '0%.0s' $(seq 64))" >"$W/bad.key"
$C "$PN_BIN" client login --controller https://10.203.0.1:8443 --ca "$W/ctl/ca.crt" \
	--service-account-key "@$W/bad.key" --state "$W/bad" >"$W/bad.out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ ! -s "$W/bad/cert.pem" ] && ok "login with a wrong key refused (rc $rc)" ||
	bad "login with a wrong key refused (rc $rc)"

pn_client_login alice "$SA_KEY" "$W/pki/alice" && ok "login with the service-account key"
[ "$(stat -c %a "$W/pki/alice/key.pem")" = 600 ] && ok "key.pem is 0600" || bad "key.pem mode"
grep -q 10.203.2.2 "$W/pki/alice/relays.json" && ok "client got the relay list from the controller" ||
	bad "client relay list"
# The login credential's serial, read before the client runs: renewal (every
# 2 s below) may well happen before the checks further down get to it.
serial0=$(openssl x509 -noout -serial -in "$W/pki/alice/cert.pem")
PN_CLIENT_ONLINE=1 pn_start_client alice --socks 127.0.0.1:1080 --renew-interval 2

acl_count() { grep -c acl_installed "$W/client-alice.log"; }
wait_acl() { # previous count
	local i
	for i in $(seq 60); do [ "$(acl_count)" -gt "$1" ] && return 0; sleep 0.05; done
	return 1
}
expect "granted resource through the tunnel" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 echo.corp.example 7)"
expect "ungranted resource refused locally" "reply: 0x02" "$($C $CHECK reply 127.0.0.1:1080 connect name app.corp.example 8000)"
n=$(acl_count)
$CTL grant add eng app >/dev/null
wait_acl "$n" && ok "pushed access list installed within 3 s" || bad "pushed access list installed"
out=$($C curl -s -m 10 --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/)
expect "new grant usable at once" "hello from the private resource" "$out"
n=$(acl_count)
$CTL grant delete eng app >/dev/null
wait_acl "$n" && ok "revoking push installed" || bad "revoking push installed"
expect "revoked grant refused again" "reply: 0x02" "$($C $CHECK reply 127.0.0.1:1080 connect name app.corp.example 8000)"
js=$($C "$PN_BIN" client status --json --state "$W/pki/alice")
expect "status names the service account" '"name":"laptop"' "$js"
# Renewal (forced every 2 s here): a new credential from the controller,
# installed without disturbing service.
for i in $(seq 100); do
	grep -q credential_renewed "$W/client-alice.log" && break
	sleep 0.1
done
grep -q credential_renewed "$W/client-alice.log" && ok "credential renewed" || bad "credential renewed"
[ "$(openssl x509 -noout -serial -in "$W/pki/alice/cert.pem")" != "$serial0" ] &&
	ok "cert.pem replaced by a new credential" || bad "cert.pem replaced"
n=$($C "$PN_BIN" client status --json --state "$W/pki/alice" | python3 -c 'import json,sys; print(json.load(sys.stdin)["renewals"])')
[ "${n:-0}" -ge 1 ] && ok "status counts $n renewal(s)" || bad "status renewals ($n)"
expect "service continues after renewal" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 echo.corp.example 7)"
# Who is signed in: a service-account login (no user.json).
expect "status shows who is signed in" "signed in as laptop (service account), groups: eng" \
	"$($C "$PN_BIN" client status --state "$W/pki/alice")"
# Revocation: the service account's credentials are revoked at the
# controller, the push channel says REVOKED, and the client stops on its
# own: exit status 1, the reason on stderr, its status socket gone.
$CTL service-account revoke laptop >/dev/null || bad "revoke the service account's credentials"
for i in $(seq 300); do
	kill -0 "$PID_client_alice" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$PID_client_alice" 2>/dev/null; then
	bad "client stopped after REVOKED (still running after 30 s)"
else
	wait "$PID_client_alice"
	expect "client exits 1 after REVOKED" "rc=1" "rc=$?"
	expect "client says why" "credential revoked by the controller (PN_E_NODE_REVOKED): log in again" \
		"$(grep 'log in again' "$W/client-alice.log")"
	[ ! -e "$W/pki/alice/client.sock" ] && ok "status socket removed" || bad "status socket removed"
fi
pn_finish
