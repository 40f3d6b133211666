#!/bin/bash
# Every daemon, run as its systemd unit runs it (NOTIFY_SOCKET and
# WATCHDOG_USEC set), tells the manager it is ready, feeds the watchdog and
# says when it stops.  A Python socket stands in for systemd.
#
#   notify_recv.py @pn-sdn-TAG-ROLE  <-- READY=1, WATCHDOG=1..., STOPPING=1 --
#       postern {controller,relay,connector,client} run        (loopback only)
#
# WATCHDOG_USEC=400000: a ping every 200 ms.
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" sdnotify
FIX=$B/tests/lib/pnfixture
HERE=$(cd "$(dirname "$0")" && pwd)

# notified ROLE CMD...: run CMD under a fresh notify socket; READY=1, three
# pings, then SIGTERM: STOPPING=1 and a clean exit.
notified() {
	local role=$1 sock=@pn-sdn-$PN_TAG-$1 rlog=$W/$1.notify.log pid rc
	shift
	pn_bg "$role-recv" python3 "$HERE/notify_recv.py" "$sock"
	pn_wait_log "$W/$role-recv.log" listening 30 || { bad "$role: notify socket up"; return; }
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000 pn_bg "$role" "$@"
	eval "pid=\$PID_${role//-/_}"
	rlog=$W/$role-recv.log
	# READY=1, or the daemon gave up (its log says why)
	for _ in $(seq 600); do
		grep -q "^READY=1|STATUS=$role ready$" "$rlog" || ! kill -0 "$pid" 2>/dev/null && break
		sleep 0.1
	done
	if grep -q "^READY=1|STATUS=$role ready$" "$rlog"; then
		ok "$role: READY=1 once ready"
	else
		bad "$role: no READY=1 (got: $(tr '\n' ' ' <"$rlog")): $(tail -3 "$W/$role.log")"
		return
	fi
	pn_wait_count "$rlog" '^WATCHDOG=1$' 3 60 && ok "$role: WATCHDOG=1 keeps coming" ||
		bad "$role: $(pn_count "$rlog" '^WATCHDOG=1$') watchdog pings"
	pn_stop "$pid" 30
	rc=$?
	[ "$rc" -eq 0 ] && ok "$role: exits 0 on SIGTERM" || bad "$role: exit status $rc on SIGTERM"
	pn_wait_log "$rlog" '^STOPPING=1$' 30 && ok "$role: STOPPING=1 on SIGTERM" ||
		bad "$role: no STOPPING=1 (got: $(tr '\n' ' ' <"$rlog"))"
	[ "$(pn_count "$rlog" '^READY=1')" -eq 1 ] || bad "$role: READY=1 sent more than once"
}

mkdir -p "$W/pki"
check "test PKI" sh -c "'$FIX' '$W/pki' ca && '$FIX' '$W/pki' relay r1 &&
	'$FIX' '$W/pki' connector c1 net1 --allow 127.0.0.1 tcp '*' &&
	'$FIX' '$W/pki' client u1 --net net1 c1 --grant net1 127.0.0.1 tcp '*' \
	--relay r1 127.0.0.1:9 127.0.0.1:9"
check "controller init" "$PN_BIN" controller init --data "$W/ctl" --api-listen 127.0.0.1:0 \
	--hostname 127.0.0.1

notified controller "$PN_BIN" controller run --data "$W/ctl" --api-listen 127.0.0.1:0
notified relay "$PN_BIN" relay run --state "$W/pki/r1" --udp 127.0.0.1:0 --stats-interval 0
notified connector "$PN_BIN" connector run --state "$W/pki/c1" --listen-udp 127.0.0.1:0
notified client "$PN_BIN" client run --state "$W/pki/u1" --offline --socks 127.0.0.1:19080

# Not started by systemd: nothing is sent, nothing changes.
pn_bg plain "$PN_BIN" relay run --state "$W/pki/r1" --udp 127.0.0.1:0 --stats-interval 0
pn_wait_log "$W/plain.log" " ready " 30 && ok "without NOTIFY_SOCKET the relay runs as before" ||
	bad "relay without NOTIFY_SOCKET"
grep -q " core sdnotify" "$W/plain.log" && bad "sdnotify acted without NOTIFY_SOCKET"
pn_stop_check plain 30
pn_finish
