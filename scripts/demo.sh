#!/bin/bash
# Postern's front door: one command on a fresh machine (Debian 12, root)
# installs what it needs, builds, and runs a full local demo in network
# namespaces, then cleans up:
#
#                        pnc-hub (router; controller on 10.203.0.1:8443, SQLite)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay   relay (UDP :3478, TLS :4433)
#   client: SOCKS5 127.0.0.1:1080
#           forward 127.0.0.1:15432 -> echo.corp.example:7
#                         +--- 10.203.4.2 pnc-conn1   connector ---- 10.203.9.2 pnc-res
#                                                                  HTTP :8000 (granted)
#                                                                  HTTP :8001 (not granted)
#                                                                  TCP echo :7
# The client cannot reach pnc-res except through the tunnel (client ->
# relay -> connector, end-to-end encrypted QUIC); names resolve at the
# connector.  It shows: the controller provisioning the network (ctl), the
# relay and the connector enrolling with one-time tokens, the client logging
# in with a service-account key,
# a request reaching the resource through SOCKS5 and through a
# port-forward, a denied request, a grant pushed live, and
# `postern client status`.
#
#   sudo scripts/demo.sh          (KEEP=1 leaves the namespaces up until Enter)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/out/demo}
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces): sudo $0" >&2; exit 2; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pending() { printf '   (pending: %s)\n' "$*"; }
# A step whose outcome is not what the demo shows fails the demo (exit 1),
# so the test command (scripts/test.sh, stage "demo") notices.
demo_failed=0
shows() { # what needle text: the step's output must contain needle
	if [[ "$3" == *"$2"* ]]; then return 0; fi
	printf '   \033[1mDEMO FAILED: %s\033[0m\n' "$1"
	demo_failed=$((demo_failed + 1))
}

step "1. dependencies (scripts/deps.sh)"
if [ "${PN_SKIP_DEPS:-0}" = 1 ]; then
	echo "   skipped (PN_SKIP_DEPS=1)"
else
	"$ROOT/scripts/deps.sh" || exit 1
fi

step "2. build ($BUILD)"
# The logs sit beside the build directory: make its parent first (out/ does
# not exist in a fresh clone).
mkdir -p "$BUILD" || exit 1
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD.configure.log" 2>&1 ||
	{ tail -20 "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" --target postern pnfixture >"$BUILD.build.log" 2>&1 ||
	{ tail -30 "$BUILD.build.log"; exit 1; }
PN_BIN=$BUILD/src/app/postern
PN_FIXTURE=$BUILD/tests/client/pnfixture
PN_SRC=$ROOT
echo "   built $PN_BIN"
if "$PN_BIN" client status --state /nonexistent 2>&1 | grep -q "no client runtime"; then
	echo "demo: this tree's client runtime is not built yet (it needs the tunnel endpoint" >&2
	echo "      with relay paths, the relay client and ctlapi)" >&2
	exit 1
fi

W=$(mktemp -d /tmp/pnc-demo.XXXXXX)
PN_TAG=${PN_TAG:-demo}
source "$ROOT/tests/client/topo.sh"
source "$ROOT/tests/client/itlib.sh"
cleanup() {
	step "cleanup: stopping processes, deleting namespaces"
	pn_topo_down
	rm -rf "$W"
	echo "   done"
}
trap cleanup EXIT

step "3. namespaces and the private resource ($NS_RES: python3 -m http.server, TCP/UDP echo)"
pn_topo_up
pn_resources
pn_wait_tcp $NS_CONN1 10.203.9.2 8000 10 && echo "   resource up at 10.203.9.2 (reachable from the connector only)"
ip netns exec $NS_CLI curl -s -m 2 http://10.203.9.2:8000/ >/dev/null 2>&1 ||
	echo "   from the client's namespace, 10.203.9.2 is unreachable (as it should be)"

step "4. controller (SQLite) in $NS_HUB at https://10.203.0.1:8443"
H="ip netns exec $NS_HUB"
C="ip netns exec $NS_CLI"
$H "$PN_BIN" controller init --data "$W/ctl" --api-listen 10.203.0.1:8443 --hostname 10.203.0.1 >"$W/init.out" 2>&1 ||
	{ cat "$W/init.out"; exit 1; }
# The key is a secret: show only its prefix (the demo keeps it in its env).
sed -E 's/^(pnak_.{6}).*/\1... (the demo uses it below as POSTERN_API_KEY)/; s/^/   /' "$W/init.out"
pn_bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen 10.203.0.1:8443
pn_wait_tcp $NS_CLI 10.203.0.1 8443 10 || { tail "$W/controller.log"; exit 1; }
export POSTERN_CONTROLLER_URL=https://10.203.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl"

step "5. policy: network corp, resources, a group, a service account, grants (postern ctl)"
run_ctl() { echo "   \$ postern ctl $*"; $CTL "$@" >"$W/ctl.out" 2>&1 || { cat "$W/ctl.out"; exit 1; }; }
run_ctl network add corp
run_ctl resource add app --network corp --address app.corp.example --ports tcp/8000
run_ctl resource add echo --network corp --address echo.corp.example --ports tcp/7
run_ctl resource add secret --network corp --address secret.corp.example --ports tcp/8001
run_ctl group add engineers
run_ctl service-account add demo-laptop --group engineers
SA_KEY=$(grep '^pnsk_' "$W/ctl.out")
run_ctl grant add engineers app
run_ctl grant add engineers echo
run_ctl connector add corp conn1
CONN_TOKEN=$(grep '^pnt1\.' "$W/ctl.out")
run_ctl relay add relay1 --udp 10.203.2.2:3478 --tls 10.203.2.2:4433
RELAY_TOKEN=$(grep '^pnt1\.' "$W/ctl.out")
echo "   (secret.corp.example:8001 is a resource, but no group is granted it)"

step "6. relay ($NS_RELAY) and connector ($NS_CONN1: enrolls with a one-time token, outbound connections only)"
mkdir -p "$W/pki"
if [ -n "$RELAY_TOKEN" ] && ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RELAY_TOKEN" \
	--state "$W/pki/relay1" >"$W/relay-enroll.log" 2>&1; then
	sed 's/^/   /' "$W/relay-enroll.log"
	RELAY_ENROLLED=1
else
	mkdir -p "$W/pki"
	PN_FIXTURE_CA=$W/ctl "$PN_FIXTURE" "$W/pki" relay relay1 || exit 1
	echo "   (pending: 'postern relay enroll' is not in this build; the relay's credential was"
	echo "    issued from the controller's CA with tests/client/pnfixture instead)"
fi
pn_start_relay
ip netns exec $NS_CONN1 "$PN_BIN" connector enroll --token "$CONN_TOKEN" --state "$W/conn1" 2>&1 | sed 's/^/   /'
# An enrolled relay reaches the connector in its relay list from the
# controller; otherwise it is named on the command line.
RELAY_ARGS=()
grep -q udp "$W/conn1/relays.json" 2>/dev/null ||
	RELAY_ARGS=(--relay "udp=10.203.2.2:3478,tls=10.203.2.2:4433,name=relay1")
pn_bg connector-conn1 ip netns exec $NS_CONN1 "$PN_BIN" connector run --state "$W/conn1" "${RELAY_ARGS[@]}"
echo "   relay pid $PID_relay, connector pid $PID_connector_conn1"

step "7. client ($NS_CLI): login with the service-account key, then run"
echo "   \$ postern client login --controller https://10.203.0.1:8443 --ca ca.crt --service-account-key @key --state alice"
echo "$SA_KEY" >"$W/sa.key"
$C "$PN_BIN" client login --controller https://10.203.0.1:8443 --ca "$W/ctl/ca.crt" \
	--service-account-key "@$W/sa.key" --state "$W/alice" 2>&1 | sed 's/^/   /'
if ! grep -q udp "$W/alice/relays.json" 2>/dev/null; then
	# The controller lists enrolled relays only.
	echo '[{"name":"relay1","udp":"10.203.2.2:3478","tls":"10.203.2.2:4433"}]' >"$W/alice/relays.json"
	echo "   (relay list written by the demo: the relay is not enrolled through the controller)"
fi
echo "   \$ postern client run --state alice --socks 127.0.0.1:1080 --forward 127.0.0.1:15432=echo.corp.example:7"
pn_bg client-alice $C "$PN_BIN" client run --state "$W/alice" --socks 127.0.0.1:1080 \
	--forward 127.0.0.1:15432=echo.corp.example:7
pn_wait_file "$W/alice/client.sock" 10 || { tail "$W/client-alice.log"; exit 1; }

step "8. a request through SOCKS5 (curl --socks5-hostname; the name resolves at the connector)"
echo "   \$ curl --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/"
out=$($C curl -s -m 10 --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/ 2>&1)
echo "$out" | sed 's/^/   /'
shows "the resource answers through SOCKS5" "hello from the private resource" "$out"

step "9. a request through the port-forward (127.0.0.1:15432 -> echo.corp.example:7)"
echo "   \$ echo 'ping through the tunnel' | nc 127.0.0.1 15432"
out=$($C python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 15432), timeout=10)
s.sendall(b"ping through the tunnel\n")
print("   echo reply:", s.recv(100).decode().strip())' 2>&1)
echo "$out"
shows "the echo service answers through the port-forward" "echo reply: ping through the tunnel" "$out"

step "10. a denied request (secret.corp.example:8001 is not granted)"
echo "   \$ curl --socks5-hostname 127.0.0.1:1080 http://secret.corp.example:8001/"
out=$($C curl -sS -m 10 --socks5-hostname 127.0.0.1:1080 http://secret.corp.example:8001/ 2>&1)
echo "$out" | sed 's/^/   /'
if [[ "$out" == *"hello from the private resource"* ]]; then
	shows "the request to a resource that is not granted is refused" "(refused)" "$out"
fi
out=$(grep 'flow_refused' "$W/client-alice.log" | tail -1)
echo "$out" | sed 's/^/   client log: /'
shows "the client logs the refusal" "flow_refused" "$out"

step "11. a grant pushed live: postern ctl grant add engineers secret"
v0=$(grep -c acl_installed "$W/client-alice.log")
$CTL grant add engineers secret >/dev/null
for i in $(seq 100); do [ "$(grep -c acl_installed "$W/client-alice.log")" -gt "$v0" ] && break; sleep 0.05; done
grep acl_installed "$W/client-alice.log" | tail -1 | sed 's/^/   client log: /'
out=$($C curl -sS -m 10 --socks5-hostname 127.0.0.1:1080 http://secret.corp.example:8001/ 2>&1)
echo "$out" | sed 's/^/   /'
shows "the new grant reaches the client and the request goes through" "hello from the private resource" "$out"

step "12. postern client status"
out=$($C "$PN_BIN" client status --state "$W/alice" 2>&1)
echo "$out" | sed 's/^/   /'
shows "client status lists the connector's tunnel" "up" "$out"

if [ -n "${KEEP:-}" ]; then
	echo
	echo "namespaces are up, e.g.: ip netns exec $NS_CLI curl --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/"
	read -r -p "press Enter to clean up " _
fi
if [ "$demo_failed" -ne 0 ]; then
	echo
	echo "demo: $demo_failed step(s) did not show what they should (logs were in $W)"
	for f in "$W"/*.log; do echo "== $f"; tail -15 "$f"; done
	exit 1
fi
echo
echo "demo: every step showed what it should"
