#!/bin/bash
# Client front ends end to end: SOCKS5 (TCP CONNECT, UDP ASSOCIATE, remote
# name resolution) and a port-forward, through a relay to a connector that
# proxies to a private resource network; local and connector-side denials;
# malformed SOCKS requests; `postern client status`; relay over UDP and
# over TCP/TLS.  Needs root (network namespaces).
#
#                        pnc-hub (router)
#   pnc-cli 10.203.1.2 ---+--- 10.203.2.2 pnc-relay (relay: UDP :3478, TLS :4433)
#   client: SOCKS5 127.0.0.1:1080, forward 127.0.0.1:18000 -> app.corp.example:8000
#                         +--- 10.203.4.2 pnc-conn1 (connector) ---- 10.203.9.2 pnc-res
#                                                  (HTTP :8000 granted, :8001 not granted,
#                                                   TCP echo :7, UDP echo :7)
# The client has no route to pnc-res; names resolve only at the connector.
set -uo pipefail
BUILD=${1:?build dir}
PN_BIN=${PN_BIN:-$BUILD/src/app/postern}
PN_SRC=${PN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
PN_FIXTURE=$BUILD/tests/client/pnfixture
W=$(mktemp -d /tmp/pnc-it.XXXXXX)
source "$PN_SRC/tests/client/topo.sh"
source "$PN_SRC/tests/client/itlib.sh"
trap 'pn_topo_down; [ $fail -eq 0 ] && rm -rf "$W"' EXIT

pn_topo_up
pn_resources
pn_pki_one_connector
pn_start_relay
pn_start_connector conn1
pn_start_client alice --socks 127.0.0.1:1080 --forward 127.0.0.1:18000=app.corp.example:8000
C="ip netns exec pnc-cli"
CHECK="python3 $PN_SRC/tests/client/sockscheck.py"

# 1. SOCKS5 CONNECT with remote name resolution, HTTP through the tunnel.
out=$($C curl -s -m 10 --socks5-hostname 127.0.0.1:1080 http://app.corp.example:8000/)
expect "socks5 http by name" "hello from the private resource" "$out"
# 2. Port-forward.
out=$($C curl -s -m 10 http://127.0.0.1:18000/)
expect "port-forward http" "hello from the private resource" "$out"
# 3. TCP echo by address and by name, 64 KiB each, byte-exact.
expect "socks5 tcp echo by address" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 10.203.9.2 7)"
expect "socks5 tcp echo by name" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 echo.corp.example 7)"
# 4. UDP ASSOCIATE to the UDP echo service.
expect "socks5 udp associate" "udp: 3/3" "$($C $CHECK udp-echo 127.0.0.1:1080 10.203.9.2 7)"
# 5. Denials: not in the client's list (refused locally, 0x02), and in the
#    client's list but not the connector's (refused by the connector, 0x02).
expect "not granted: local refusal" "reply: 0x02" "$($C $CHECK reply 127.0.0.1:1080 connect name secret.corp.example 8001)"
grep -q 'flow_refused.*secret.corp.example:8001.*not_allowed\|flow_refused.*secret.corp.example:8001.*0x02' "$W/client-alice.log" &&
	ok "local refusal logged" || bad "local refusal logged"
expect "connector denial" "reply: 0x02" "$($C $CHECK reply 127.0.0.1:1080 connect v4 10.203.9.2 8002)"
out=$($C curl -s -m 10 -o /dev/null -w '%{http_code}' --socks5-hostname 127.0.0.1:1080 http://secret.corp.example:8001/ 2>&1)
expect "curl to a denied resource fails" "000" "$out"
# 6. Bad input gets the proper code and the proxy keeps serving.
expect "BIND refused 0x07" "reply: 0x07" "$($C $CHECK reply 127.0.0.1:1080 bind v4 10.203.9.2 7)"
expect "unknown command 0x07" "reply: 0x07" "$($C $CHECK reply 127.0.0.1:1080 raw:9 v4 10.203.9.2 7)"
expect "unknown address type 0x08" "reply: 0x08" "$($C $CHECK reply 127.0.0.1:1080 connect raw:9 10.203.9.2 7)"
expect "no acceptable method 0xff" "method: 0xff" "$($C $CHECK greet 127.0.0.1:1080 2)"
expect "still serving after bad requests" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1080 10.203.9.2 7)"
# 7. Flow ids are logged on the client.
grep -q 'flow_start flow=[0-9a-f]\{16\}' "$W/client-alice.log" && ok "flow ids logged" || bad "flow ids logged"
# 8. Status, human and JSON.
st=$($C "$PN_BIN" client status --state "$W/pki/alice")
echo "$st" | sed 's/^/    /'
expect "status shows the tunnel up" " up " "$st"
js=$($C "$PN_BIN" client status --json --state "$W/pki/alice")
path=$(echo "$js" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tunnels"]; print(t[0]["path"], t[0]["relay_transport"], t[0]["flows_total"] > 0)')
expect "status json: relayed path" "relay-udp udp True" "$path"
# 9. The same through the relay over TCP/TLS.
cp -a "$W/pki/alice" "$W/pki/alice-tls"
pn_start_client alice-tls --socks 127.0.0.1:1081 --transport tls
expect "relay over TLS: socks5 tcp echo" "echo: ok" "$($C $CHECK tcp-echo 127.0.0.1:1081 10.203.9.2 7)"
js=$($C "$PN_BIN" client status --json --state "$W/pki/alice-tls")
expect "status json: relay over TLS" "relay-tls" "$(echo "$js" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnels"][0]["path"])')"

finish
