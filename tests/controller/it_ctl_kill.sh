#!/bin/bash
# security.md case 2: kill -9 of the only controller (SQLite) with flows
# open, and its restart.  Needs root (network namespaces).
#
#                      hub (router; controller https://10.233.0.1:8443)
#   cli 10.233.1.2 ---+--- 10.233.2.2 relay (enrolled)
#   (client "laptop",  +--- 10.233.4.2 conn (connector) ---- 10.233.9.2 res
#    SOCKS5 :1080)                                           (flowend.py sink :9000,
#                                                             echo_idle.py echo :9001)
#
# With an upload under way (rate-limited, ~10 s) and an idle open echo flow,
# the controller is killed with SIGKILL.  While it is down: the upload
# completes with sha256 equal at both ends, the idle flow still echoes, new
# flows open and complete (the client's and connector's cached credentials
# and access lists), a new login (a new authorization) fails and writes
# nothing, client, connector and relay stay up and log no ERROR (warnings
# about the controller only), and the database as the kill left it passes
# integrity_check.  After a restart (same data directory): connector
# and client subscribe again, a grant removed then is pushed to the
# connector and enforced (new flows refused, the idle flow opened under it
# is closed), and integrity_check passes again.
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" ctl-kill
FE="python3 $PN_SRC/tests/connector/flowend.py"
EI="python3 $PN_SRC/tests/controller/echo_idle.py"
UPLOAD=$((24 << 20)) # bytes of the long transfer,
RATE=$((2 << 20))    # at this rate: ~12 s, the controller is down for most of it

pn_star 10.233 || pn_finish
pn_bg sink ip netns exec $NS_RES $FE sink 10.233.9.2 9000 "$W/sink.jsonl"
pn_bg echo ip netns exec $NS_RES $EI server 10.233.9.2 9001
start_controller() {
	pn_bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen 10.233.0.1:8443
}
pn_controller_up || pn_finish
pn_provision sink 10.233.9.2 tcp/9000-9001 || pn_finish
RTOKEN=$($CTL relay add relay1 --udp 10.233.2.2:3478 --tls 10.233.2.2:4433 | grep '^pnt1\.')
pn_relay_enroll_up "$RTOKEN" || pn_finish
pn_connector_enroll "$TOKEN" || pn_finish
pn_bg connector ip netns exec $NS_CONN "$PN_BIN" connector run --state "$W/conn" --listen-udp 10.233.4.2:4433
pn_wait_log "$W/connector.log" "relay_state.*state=ready" 30 && ok "connector registered with the relay" ||
	bad "connector registered with the relay"
pn_client_login laptop "$SA_KEY" || pn_finish
CLI_SUB="push_subscribed holder=[0-9a-f]* kind=service_account"
pn_bg client $C "$PN_BIN" client run --state "$W/laptop" --socks 127.0.0.1:1080
pn_wait_tcp $NS_CLI 127.0.0.1 1080 30 || bad "client SOCKS5 listening"
pn_wait_count "$W/controller.log" "push_subscribed holder=$CONN_ID" 1 30 || bad "connector subscribed"
pn_wait_count "$W/controller.log" "$CLI_SUB" 1 30 || bad "client subscribed"

# complete ID BYTES: an upload through the tunnel ends with FIN, the sink's
# sha256 equal to the sender's (0/1); the application's output in $W/ID.out
complete() {
	local out sha
	out=$($C $FE upload 127.0.0.1:1080 10.233.9.2 9000 "$1" "$2" 0 60)
	echo "$out" >"$W/$1.out"
	sha=$(echo "$out" | sed -n 's/^end: fin sha256=\([0-9a-f]*\) reply=sha256=\([0-9a-f]*\) .*/\1 \2/p')
	[ -n "$sha" ] && [ "${sha% *}" = "${sha#* }" ]
}
retry_complete() { # what id: up to 30 attempts a second apart
	local i
	for i in $(seq 30); do
		complete "$2$i" $((1 << 20)) && { ok "$1: 1 MiB upload complete, sha256 equal"; return 0; }
		sleep 1
	done
	bad "$1: no complete upload in 30 attempts ($(tail -1 "$W/$2$i.out"))"
}
PING=0
ping_idle() { # what: the idle flow echoes a new line within 30 s
	PING=$((PING + 1))
	touch "$W/idle/ping.$PING"
	pn_wait_log "$W/idle.log" "^echo $PING " 30 && grep -q "^echo $PING ok" "$W/idle.log" &&
		ok "$1: the idle flow echoes" || bad "$1: the idle flow does not echo ($(tail -2 "$W/idle.log"))"
}
integrity() { # what
	local r
	r=$(sqlite3 "$W/ctl/controller.db" 'PRAGMA integrity_check; PRAGMA foreign_key_check;' 2>&1)
	[ "$r" = ok ] && ok "$1: integrity_check ok, no foreign-key errors" || bad "$1: integrity_check: $r"
}
# error-level lines (or sanitizer / assertion reports) in a component's log:
# with the controller away a component logs warnings (controller_disconnected,
# request_failed, report_failed), nothing worse
errors_of() {
	grep -E ' ERROR |Sanitizer|runtime error|Assertion' "$W/$1.log" 2>/dev/null | head -5
}

retry_complete "first flow" first
mkdir -p "$W/idle"
pn_bg idle $C $EI idle 127.0.0.1:1080 10.233.9.2 9001 "$W/idle"
pn_wait_log "$W/idle.log" "^open" 30 || bad "idle flow opened ($(cat "$W/idle.log"))"
ping_idle "before the kill"

# ---- the long transfer, and kill -9 of the controller under it ----
$C $FE upload 127.0.0.1:1080 10.233.9.2 9000 long $UPLOAD $RATE 120 >"$W/long.out" 2>&1 &
UP=$!
pn_wait_log "$W/long.out" "^sent: 2" 30 || bad "long upload under way ($(tail -1 "$W/long.out"))"
nsub_conn=$(pn_count "$W/controller.log" "push_subscribed holder=$CONN_ID")
nsub_cli=$(pn_count "$W/controller.log" "$CLI_SUB")
ncon_cli=$(pn_count "$W/client.log" "client controller_connected")
kill -9 "$PID_controller"
pn_wait_gone "$PID_controller" 30 && ok "controller killed (SIGKILL) mid-transfer" || bad "controller still running"
wait "$PID_controller" 2>/dev/null
pn_wait_tcp $NS_CLI 10.233.0.1 8443 1 && bad "controller port still open after the kill"
integrity "as kill -9 left it"

# ---- with the controller down ----
ping_idle "controller down"
retry_complete "new flow with the controller down" down
complete down-b $((1 << 20)) && ok "a second new flow with the controller down" ||
	bad "second new flow with the controller down ($(tail -1 "$W/down-b.out"))"
# new authorizations fail closed: a login needs the controller
pn_expect_exit 1 "PN_E_CTL|connect|Couldn" "a new client login with the controller down fails" -- \
	$C "$PN_BIN" client login --controller https://10.233.0.1:8443 --ca "$W/ctl/ca.crt" \
	--service-account-key "@$W/laptop.key" --state "$W/laptop2"
[ ! -e "$W/laptop2/cert.pem" ] && ok "nothing written by the failed login" || bad "a credential was written with the controller down"
wait $UP
line=$(grep '^end:' "$W/long.out")
sha=$(sed -n 's/^end: fin sha256=\([0-9a-f]*\) reply=sha256=\([0-9a-f]*\) bytes=\([0-9]*\).*/\1 \2 \3/p' <<<"$line")
read -r s_app s_res n_res <<<"$sha"
[ -n "$sha" ] && [ "$s_app" = "$s_res" ] && [ "$n_res" = "$UPLOAD" ] &&
	ok "long transfer across the kill completed: $n_res bytes, sha256 equal" ||
	bad "long transfer across the kill: '$line' ($(tail -2 "$W/long.out"))"
# the components have tried the controller by now (subscription retries)
sleep 3
ping_idle "controller down for a while"
for p in connector client relay; do
	eval "pid=\$PID_$p"
	kill -0 "$pid" 2>/dev/null && ok "$p still running with the controller down" || bad "$p exited"
	e=$(errors_of $p)
	[ -z "$e" ] && ok "$p logged no error (warnings only: $(grep -c ' WARN ' "$W/$p.log"))" ||
		bad "$p logged errors: $e"
done

# ---- restart: subscriptions, a change pushed and enforced ----
t0=$(now)
start_controller
pn_wait_tcp $NS_CLI 10.233.0.1 8443 30 && ok "controller restarted" || { bad "controller restart"; pn_finish; }
# reconnect backoff is capped at 10 s (ctlapi/sub.c): allow 40 s
pn_wait_count "$W/controller.log" "push_subscribed holder=$CONN_ID" $((nsub_conn + 1)) 40 &&
	ok "connector subscribed again $(since "$t0") s after the restart" ||
	bad "connector did not subscribe again ($(grep push_subscribed "$W/controller.log" | tail -2))"
pn_wait_count "$W/controller.log" "$CLI_SUB" $((nsub_cli + 1)) 40 &&
	pn_wait_count "$W/client.log" "client controller_connected" $((ncon_cli + 1)) 10 &&
	ok "client subscribed again $(since "$t0") s after the restart" ||
	bad "client did not subscribe again ($(grep push_subscribed "$W/controller.log" | tail -2))"
ping_idle "after the restart"
retry_complete "new flow after the restart" after
npush=$(pn_count "$W/connector.log" "policy_push")
$CTL grant delete eng sink >/dev/null && ok "grant deleted after the restart" || bad "grant delete after the restart"
V=$(sqlite3 "$W/ctl/controller.db" "SELECT value FROM meta WHERE key='policy_version'" 2>&1)
pn_wait_log "$W/connector.log" "policy_push version=$V " 30 &&
	ok "the change reached the connector (policy version $V)" ||
	bad "connector did not get version $V ($(grep policy_push "$W/connector.log" | tail -2))"
[ "$(pn_count "$W/connector.log" "policy_push")" -gt "$npush" ] || bad "no push after the grant delete"
pn_wait_log "$W/idle.log" "^end:" 30 && ok "the idle flow opened under the removed grant is closed ($(grep '^end:' "$W/idle.log"))" ||
	bad "the idle flow stays open after its grant was removed"
denied=0
for i in $(seq 10); do
	out=$($C $FE upload 127.0.0.1:1080 10.233.9.2 9000 "revoked$i" 65536 0 30)
	[[ "$out" == *"end: fin"* ]] || { denied=1; break; }
	sleep 1
done
[ $denied = 1 ] && ok "new flows refused after the grant was removed (${out:0:80})" ||
	bad "new flows still allowed 10 s after the grant was removed"
pn_stop_check controller 30
integrity "after the restart and a clean stop"
pn_finish
