#!/bin/bash
# Postern's front door: one command on a fresh machine (Debian 12, root)
# installs what it needs, builds, and runs a full local demo in network
# namespaces, then cleans up:
#
#                        pnc-hub (router; controller on 10.203.0.1:8443)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay   relay (UDP :3478, TLS :4433)
#   client: SOCKS5 127.0.0.1:1080
#           forward 127.0.0.1:15432 -> echo.corp.example:7
#                         +--- 10.203.4.2 pnc-conn1   connector ---- 10.203.9.2 pnc-res
#                                                                  HTTP :8000 (granted)
#                                                                  HTTP :8001 (not granted)
#                                                                  TCP echo :7
# The client cannot reach pnc-res except through the tunnel (client ->
# relay -> connector, end-to-end encrypted QUIC); names resolve at the
# connector.  It shows: a request reaching the resource through SOCKS5 and
# through a port-forward, a denied request, and `postern client status`.
#
#   sudo scripts/demo.sh          (KEEP=1 leaves the namespaces up until Enter)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/out/demo}
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces): sudo $0" >&2; exit 2; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pending() { printf '   (pending: %s)\n' "$*"; }

step "1. dependencies (scripts/deps.sh)"
"$ROOT/scripts/deps.sh" || exit 1

step "2. build ($BUILD)"
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
source "$ROOT/tests/client/topo.sh"
source "$ROOT/tests/client/itlib.sh"
cleanup() {
	step "cleanup: stopping processes, deleting namespaces"
	pn_topo_down
	rm -rf "$W"
	echo "   done"
}
trap cleanup EXIT

step "3. namespaces and the private resource (pnc-res: python3 -m http.server, TCP/UDP echo)"
pn_topo_up
pn_resources
pn_wait_tcp pnc-conn1 10.203.9.2 8000 10 && echo "   resource up at 10.203.9.2 (reachable from the connector only)"
ip netns exec pnc-cli curl -s -m 2 http://10.203.9.2:8000/ >/dev/null 2>&1 ||
	echo "   from the client's namespace, 10.203.9.2 is unreachable (as it should be)"

step "4. control plane: CA, credentials, signed access lists"
CTL_OK=0
if "$PN_BIN" ctl --help 2>&1 | grep -q "service-account"; then
	CTL_OK=1
fi
if [ $CTL_OK = 1 ]; then
	pending "controller provisioning through 'postern ctl' is wired in the next revision of this script"
fi
echo "   minting the network's CA, relay/connector/client credentials and signed access lists"
echo "   with the trust library (tests/client/pnfixture), as the controller would issue them"
pn_pki || { echo "demo: pki failed" >&2; exit 1; }
echo "   client 'alice' is granted app.corp.example:8000 and echo.corp.example:7 (not :8001)"

step "5. relay (pnc-relay) and connector (pnc-conn1: outbound connections only)"
pn_start_relay
pn_start_connector conn1
echo "   relay pid $PID_relay, connector pid $PID_connector_conn1"

step "6. client (pnc-cli): SOCKS5 on 127.0.0.1:1080, port-forward 127.0.0.1:15432 -> echo.corp.example:7"
pn_start_client alice --socks 127.0.0.1:1080 --forward 127.0.0.1:15432=echo.corp.example:7
C="ip netns exec pnc-cli"

step "7. a request through SOCKS5 (curl --socks5-hostname; the name resolves at the connector)"
echo "   \$ curl --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/"
$C curl -s -m 10 --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/ | sed 's/^/   /'

step "8. a request through the port-forward (127.0.0.1:15432 -> echo.corp.example:7)"
echo "   \$ echo 'ping through the tunnel' | nc 127.0.0.1 15432"
$C python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 15432), timeout=10)
s.sendall(b"ping through the tunnel\n")
print("   echo reply:", s.recv(100).decode().strip())'

step "9. a denied request (secret.corp.example:8001 is not granted to alice)"
echo "   \$ curl --socks5-hostname 127.0.0.1:1080 http://secret.corp.example:8001/"
$C curl -sS -m 10 --socks5-hostname 127.0.0.1:1080 http://secret.corp.example:8001/ 2>&1 | sed 's/^/   /'
grep 'flow_refused' "$W/client-alice.log" | tail -1 | sed 's/^/   client log: /'

step "10. postern client status"
$C "$PN_BIN" client status --state "$W/pki/alice" | sed 's/^/   /'

if [ -n "${KEEP:-}" ]; then
	echo
	echo "namespaces are up (ip netns exec pnc-cli curl --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/);"
	read -r -p "press Enter to clean up " _
fi
