#!/bin/bash
# `postern doctor` in the namespace lab: a controller, two relays (UDP,
# TLS, WebSocket), an enrolled connector and a logged-in client.  Checked:
#   - all green for the client, the connector, a relay and the controller
#     (exit 0, JSON and table);
#   - transparent DNS configured without a running client (warning), and
#     /etc/resolv.conf left pointing at a stopped client (failure);
#   - UDP to the relays dropped by nftables on the client: the relay UDP
#     checks fail with advice naming UDP blocked and the TLS fallback, TLS
#     and WebSocket stay ok, the NAT check says udp-blocked (exit 1);
#   - the clock 10 minutes ahead (libfaketime): clock skew fails with
#     advice to fix NTP (exit 1);
#   - the controller stopped: the controller check fails with advice to
#     start it, the clock is not measured, the relays still answer (exit 1).
# Needs root (network namespaces).
#
#                 pnh (router; controller https://10.223.0.1:8443)
#   pnc 10.223.1.2 (client) --+-- 10.223.2.2 pnr (relay1: UDP 3478, TLS 4433, /postern)
#                             +-- 10.223.3.2 pnq (relay2: the same ports)
#                             +-- 10.223.4.2 pnn (connector)
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" doctor
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
# The doctor under ASan with libfaketime preloaded: ASan would insist on
# coming first in the library list.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
# PN_RELAY_BIN: run the relays from another build (an older relay that drops
# STUN requests above 548 bytes fails the path MTU check).
RELAY_BIN=${PN_RELAY_BIN:-$PN_BIN}
UP=60 # seconds for anything that starts a process (the machine may be loaded)

pn_star 10.223 || { bad "namespaces"; pn_finish; }
NS_RELAY2=pnq-$PN_TAG
pn_ns $NS_RELAY2 || { bad "namespace relay2"; pn_finish; }
pn_veth $NS_HUB h-relay2 $NET.3.1/24 $NS_RELAY2 relay0 $NET.3.2/24
ip -n $NS_RELAY2 route add default via $NET.3.1
N="ip netns exec $NS_CONN"

$H "$PN_BIN" controller init --data "$W/ctl" --api-listen $NET.0.1:8443 --hostname $NET.0.1 \
	>"$W/init.out" 2>&1 || { bad "controller init ($(tail -3 "$W/init.out"))"; pn_finish; }
pn_bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen $NET.0.1:8443
pn_wait_tcp $NS_CLI $NET.0.1 8443 $UP || { bad "controller up"; pn_finish; }
export POSTERN_CONTROLLER_URL=https://$NET.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl"
pn_provision echo 10.223.9.2 tcp/7 || pn_finish

# Two relays, each enrolled and run on its link address.
for i in 1 2; do
	ns=$NS_RELAY a=$NET.2.2
	[ $i = 2 ] && ns=$NS_RELAY2 a=$NET.3.2
	tok=$($CTL relay add relay$i --udp $a:3478 --tls $a:4433 --ws ws://$a:4433/postern | grep '^pnt1\.')
	ip netns exec $ns "$RELAY_BIN" relay enroll --token "$tok" --state "$W/relay$i" >>"$W/enroll.log" 2>&1 ||
		{ bad "relay$i enroll ($(tail -3 "$W/enroll.log"))"; pn_finish; }
	printf '[relay]\nudp = "%s:3478"\ntls = "%s:4433"\nws_path = "/postern"\nallow_peer = ["%s.0.0/16"]\n' \
		$a $a $NET >"$W/relay$i.conf"
	pn_bg relay$i ip netns exec $ns "$RELAY_BIN" relay run --config "$W/relay$i.conf" --state "$W/relay$i"
	pn_wait_tcp $NS_CLI $a 4433 $UP || { bad "relay$i listening"; pn_finish; }
done
pn_connector_enroll "$TOKEN" conn || pn_finish
pn_bg connector $N "$PN_BIN" connector run --state "$W/conn"
pn_client_login alice "$SA_KEY" || pn_finish
grep -q $NET.3.2 "$W/alice/relays.json" && ok "client knows both relays" || bad "client relay list"

# doctor NAME NS [doctor args...]: run it, output in $W/doctor-NAME.out
# (stdout) and .err, exit status in RC.
doctor() {
	local name=$1 ns=$2
	shift 2
	local t0=$(date +%s%N)
	ip netns exec "$ns" "$@" >"$W/doctor-$name.out" 2>"$W/doctor-$name.err"
	RC=$?
	echo "# doctor $name: exit $RC in $((($(date +%s%N) - t0) / 1000000)) ms"
	if grep -qE "Sanitizer|runtime error" "$W/doctor-$name.err"; then
		bad "doctor $name: sanitizer report"
		head -40 "$W/doctor-$name.err"
	fi
	case " $* " in *" --json "*) flatten "$name" ;; esac
}
# The JSON report flattened to $W/doctor-NAME.tsv, "check<TAB>key<TAB>value"
# lines, by awk (python takes seconds to start on a loaded machine): the
# doctor prints one key per line (jansson, indented) and printable ASCII.
flatten() { # name
	awk '
	function str(l) { sub(/^[^:]*: "/, "", l); sub(/",?$/, "", l); gsub(/\\"/, "\"", l); gsub(/\\\\/, "\\", l); return l }
	/^      "name": "/ { name = str($0) }
	/^      "(status|value|advice)": "/ { k = $0; sub(/^ *"/, "", k); sub(/".*/, "", k); print name "\t" k "\t" str($0) }
	/^  "(ok|warn|fail)": [0-9]+/ { k = $1; gsub(/[":]/, "", k); v = $2; sub(/,/, "", v); n[k] = v }
	END { print "-\tcounts\t" n["ok"] " " n["warn"] " " n["fail"] }
	' "$W/doctor-$1.out" >"$W/doctor-$1.tsv"
}
field() { # file(.out) check key
	local t=${1%.out}.tsv
	awk -F'\t' -v c="$2" -v k="$3" '$1 == c && $2 == k { print $3; f = 1; exit } END { if (!f) print "<no " c ">" }' "$t"
}
show() { # the doctor's output, for a failed check
	echo "       --- doctor output ($1, rc $RC)"
	sed 's/^/       /' "$W/doctor-$1.out" "$W/doctor-$1.err" | head -60
}
expect_field() { # what file check key needle
	local v
	v=$(field "$2" "$3" "$4")
	if [[ "$v" == *"$5"* ]]; then ok "$1"; else
		bad "$1 (wanted '$5' in $3.$4, got '$v')"
		show "$(basename "$2" .out | sed 's/^doctor-//')"
	fi
}

# ---- all green ------------------------------------------------------------
# The connector and the client are up once the relays saw their connections;
# the doctor needs none of that, but the connector's own checks want it running.
doctor client $NS_CLI "$PN_BIN" doctor --role client --state "$W/alice" --json
O=$W/doctor-client.out
if [ $RC -eq 0 ] && [ "$(field "$O" - counts)" = "12 0 0" ]; then
	ok "client: all green (exit 0, no warning)"
else
	bad "client: all green"
	show client
fi
for c in "clock skew" controller credential "relay relay1 udp" "relay relay1 tls" "relay relay1 ws" \
	"relay relay2 udp" "relay relay2 tls" "relay relay2 ws" nat "path mtu" dns; do
	expect_field "client: $c ok" "$O" "$c" status ok
done
expect_field "client: NAT none (no NAT in front of the client)" "$O" nat value "none"
expect_field "client: path MTU 1472 bytes of UDP payload to relay1 (1500-byte veth)" "$O" "path mtu" value \
	"1472 bytes of UDP payload reach relay relay1"
expect_field "client: WebSocket PING answered" "$O" "relay relay1 ws" value "PING answered"
doctor client-table $NS_CLI "$PN_BIN" doctor --state "$W/alice"
[ $RC -eq 0 ] && grep -q "^relay relay2 tls .* ok " "$W/doctor-client-table.out" &&
	grep -q "^12 ok, 0 warn, 0 fail" "$W/doctor-client-table.out" &&
	ok "client: the table (default role client) agrees" || { bad "client table"; show client-table; }
doctor connector $NS_CONN "$PN_BIN" doctor --role connector --state "$W/conn" --json
[ $RC -eq 0 ] && expect_field "connector: relay2 TLS ok with the connector's credential" \
	"$W/doctor-connector.out" "relay relay2 tls" status ok || { bad "connector: all green"; show connector; }
doctor relay $NS_RELAY "$PN_BIN" doctor --role relay --config "$W/relay1.conf" --state "$W/relay1" --json
if [ $RC -eq 0 ]; then
	expect_field "relay: its own UDP port answers STUN" "$W/doctor-relay.out" "relay self udp" status ok
	expect_field "relay: its own TLS listener shows its credential" "$W/doctor-relay.out" "relay self tls" value \
		"relay 'relay1' verified"
	expect_field "relay: controller reachable" "$W/doctor-relay.out" controller status ok
else
	bad "relay: all green"
	show relay
fi
doctor controller $NS_HUB "$PN_BIN" doctor --role controller --state "$W/ctl" --json
[ $RC -eq 0 ] && expect_field "controller: its own API answers under its CA" "$W/doctor-controller.out" \
	controller value "CA pin verified" || { bad "controller: all green"; show controller; }

# ---- transparent DNS (client) ---------------------------------------------
# Configured but no client running: a warning.  /etc/resolv.conf left by a
# client that is gone (ip netns exec shows /etc/netns/NS/resolv.conf as
# /etc/resolv.conf): the host has no DNS, a failure naming the backup.
printf '[client]\nstate = "%s"\ntransparent = true\n' "$W/alice" >"$W/client.conf"
doctor dns $NS_CLI "$PN_BIN" doctor --config "$W/client.conf" --json
[ $RC -eq 0 ] && expect_field "transparent configured, no client: dns warns" "$W/doctor-dns.out" dns value \
	"no client runs" || { bad "dns: transparent configured, exit $RC"; show dns; }
mkdir -p /etc/netns/$NS_CLI
printf '# postern transparent mode\nnameserver 127.0.0.153\n' >/etc/netns/$NS_CLI/resolv.conf
doctor dns2 $NS_CLI "$PN_BIN" doctor --config "$W/client.conf" --json
[ $RC -eq 1 ] && expect_field "resolv.conf left by a stopped client: dns fails, names the backup" \
	"$W/doctor-dns2.out" dns advice "resolv.conf.postern-backup" || { bad "dns: stale resolv.conf, exit $RC"; show dns2; }
rm -f /etc/netns/$NS_CLI/resolv.conf

# ---- UDP to the relays dropped ---------------------------------------------
ip netns exec $NS_CLI nft -f - <<-NFT
	table inet pndoctor {
		chain out {
			type filter hook output priority 0;
			udp dport 3478 drop
		}
	}
NFT
doctor udp $NS_CLI "$PN_BIN" doctor --role client --state "$W/alice" --json
O=$W/doctor-udp.out
[ $RC -eq 1 ] && ok "UDP blocked: exit 1" || { bad "UDP blocked: exit $RC"; show udp; }
expect_field "UDP blocked: relay1 udp fails" "$O" "relay relay1 udp" status fail
expect_field "UDP blocked: relay2 udp fails" "$O" "relay relay2 udp" status fail
expect_field "UDP blocked: the advice says UDP is blocked" "$O" "relay relay1 udp" advice "UDP to $NET.2.2:3478 is blocked"
expect_field "UDP blocked: the advice names the TLS fallback" "$O" "relay relay1 udp" advice "fall back to TLS"
expect_field "UDP blocked: relay1 TLS still ok" "$O" "relay relay1 tls" status ok
expect_field "UDP blocked: relay1 WebSocket still ok" "$O" "relay relay1 ws" status ok
expect_field "UDP blocked: NAT check says udp-blocked" "$O" nat value "udp-blocked"
expect_field "UDP blocked: path MTU not measured" "$O" "path mtu" status skip
ip netns exec $NS_CLI nft delete table inet pndoctor

# ---- the clock 10 minutes ahead ------------------------------------------
if [ -r "$FAKETIME_LIB" ]; then
	doctor clock $NS_CLI env FAKETIME=+10m LD_PRELOAD="$FAKETIME_LIB" \
		"$PN_BIN" doctor --role client --state "$W/alice" --json
	O=$W/doctor-clock.out
	[ $RC -eq 1 ] && ok "clock +10 min: exit 1" || { bad "clock +10 min: exit $RC"; show clock; }
	expect_field "clock +10 min: skew fails" "$O" "clock skew" status fail
	v=$(field "$O" "clock skew" value)
	s=$(sed -n 's/^+\([0-9]*\)\..*/\1/p' <<<"$v")
	[ -n "$s" ] && [ "$s" -ge 570 ] && [ "$s" -le 630 ] && ok "clock +10 min: skew measured as $v" ||
		{ bad "clock +10 min: skew about +600 s (got '$v')"; show clock; }
	expect_field "clock +10 min: the advice is to fix NTP" "$O" "clock skew" advice "NTP"
	expect_field "clock +10 min: the controller itself is fine" "$O" controller status ok
else
	bad "libfaketime missing ($FAKETIME_LIB): scripts/deps.sh installs it"
fi

# ---- the controller stopped ----------------------------------------------
pn_stop "$PID_controller" 10
doctor ctl $NS_CLI "$PN_BIN" doctor --role client --state "$W/alice" --json
O=$W/doctor-ctl.out
[ $RC -eq 1 ] && ok "controller down: exit 1" || { bad "controller down: exit $RC"; show ctl; }
expect_field "controller down: the controller check fails" "$O" controller status fail
expect_field "controller down: it says unreachable" "$O" controller value "unreachable"
expect_field "controller down: the advice is to start it" "$O" controller advice "start the controller"
expect_field "controller down: the clock is not measured" "$O" "clock skew" status skip
expect_field "controller down: relay1 TLS still ok" "$O" "relay relay1 tls" status ok
expect_field "controller down: relay2 UDP still ok" "$O" "relay relay2 udp" status ok
pn_finish
