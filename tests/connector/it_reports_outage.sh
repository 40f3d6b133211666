#!/bin/bash
# Flow reports are not lost: 50,000 flow events from an enrolled connector
# identity reach a real controller and are all stored, although one in
# eight has every field at its limit (batches counted by events would
# exceed the controller's 64 KiB request limit and get 413) and the
# controller is unreachable (nftables reset) for a while in the middle
# (connections refused: requests fail and are retried with backoff).  Then a small bounded
# queue while the controller refuses connections: every event is either
# stored or counted as dropped, and the drops are logged with their count.
#
# The events are fed by tests/connector/reportd.c into the connector's own
# reporter (src/connector/reporter.c + report.c, the code `postern
# connector run` uses).  Needs root (network namespace, nftables).
#
#   pnf-TAG (one namespace, loopback only)
#     controller https://127.0.0.1:8443 <--- reportd (enrolled connector state)
#     nft: reset tcp dport 8443 during the outages
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" reports
REPORTD=${REPORTD:-$BUILD/tests/connector/reportd}
NS=pnf-$PN_TAG
N=50000

X="ip netns exec $NS"
stored_rows() {
	python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True,timeout=10); print(c.execute("select count(*) from flow_events").fetchone()[0])' \
		"$W/ctl/controller.db"
}
block() { # refuse connections to the controller
	$X nft -f - <<EOF
table inet pnf {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp dport 8443 reject with tcp reset
	}
}
EOF
}
unblock() { $X nft delete table inet pnf; }
field() { grep -o "$1=[0-9]*" "$2" | tail -1 | cut -d= -f2; }

pn_ns "$NS" || pn_finish
$X "$PN_BIN" controller init --data "$W/ctl" --api-listen 127.0.0.1:8443 --hostname 127.0.0.1 \
	>"$W/init.out" 2>&1 || { bad "controller init"; pn_finish; }
pn_bg controller $X "$PN_BIN" controller run --data "$W/ctl" --api-listen 127.0.0.1:8443
pn_wait_tcp "$NS" 127.0.0.1 8443 15 || { bad "controller up"; pn_finish; }
export POSTERN_CONTROLLER_URL=https://127.0.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
$X "$PN_BIN" ctl network add corp >/dev/null || bad "network add"
TOKEN=$($X "$PN_BIN" ctl connector add corp conn1 | grep '^pnt1\.')
$X "$PN_BIN" connector enroll --token "$TOKEN" --state "$W/conn" >"$W/enroll.log" 2>&1 ||
	{ bad "connector enroll"; pn_finish; }

# 1. 50,000 events at 10,000/s; the controller refuses connections from
#    2 s to 6 s.  (A drop shorter than curl's connect timeout is bridged by
#    TCP's SYN retransmissions and would not fail a request.)
t0=$(date +%s.%N)
$X "$REPORTD" --state "$W/conn" --events $N --rate 10000 >"$W/reportd1.out" 2>"$W/reportd1.log" &
RPID=$!
PN_PIDS+=($RPID)
sleep 2
block || bad "nftables block"
sleep 4
unblock || bad "nftables unblock"
wait $RPID
rc=$?
t1=$(date +%s.%N)
cat "$W/reportd1.out"
[ $rc -eq 0 ] && ok "reporter: stored = generated ($(cat "$W/reportd1.out"))" ||
	bad "reporter (rc $rc): $(cat "$W/reportd1.out")"
rows=$(stored_rows)
[ "$rows" = "$N" ] && ok "controller stored $rows of $N flow events in $(printf '%.1f' "$(echo "$t1 - $t0" | bc)") s" ||
	bad "controller stored $rows of $N flow events"
n=$(grep -c "report_failed" "$W/reportd1.log")
[ "$n" -ge 1 ] && ok "requests failed during the outage and were retried ($n report_failed, $(field failures "$W/reportd1.out") failures)" ||
	bad "no failed request during the outage: the test did not test retries"
grep -q "report_refused\|body_too_large" "$W/reportd1.log" "$W/controller.log" &&
	bad "a batch was refused (too large?)" || ok "no batch refused (none over the size limit)"
grep -q "flow_reports_dropped" "$W/reportd1.log" && bad "events dropped in phase 1" ||
	ok "no event dropped"

# 2. A queue of 500 while the controller refuses connections: drops are
#    counted and logged, nothing else is lost.
block || bad "nftables reset"
$X "$REPORTD" --state "$W/conn" --events 3000 --rate 3000 --queue 500 --wait-s 25 \
	>"$W/reportd2.out" 2>"$W/reportd2.log" &
RPID=$!
PN_PIDS+=($RPID)
pn_wait_log "$W/reportd2.log" "flow_reports_dropped" 15 && ok "drops logged while the queue is full" ||
	bad "no flow_reports_dropped line"
sleep 2
unblock
wait $RPID
cat "$W/reportd2.out"
gen=$(field generated "$W/reportd2.out")
st=$(field stored "$W/reportd2.out")
dr=$(field dropped_full "$W/reportd2.out")
logged=$(grep -o "flow_reports_dropped count=[0-9]*" "$W/reportd2.log" | cut -d= -f2 | paste -sd+ | bc)
lines=$(grep -c "flow_reports_dropped" "$W/reportd2.log")
[ "$gen" = 3000 ] && [ "$st" -ge 500 ] && [ $((st + dr)) -eq 3000 ] &&
	ok "bounded queue: stored $st + dropped $dr = generated $gen" ||
	bad "bounded queue: generated=$gen stored=$st dropped=$dr"
[ "${logged:-0}" = "$dr" ] && ok "dropped count logged: $logged in $lines line(s)" ||
	bad "logged drops ${logged:-0} != $dr"
[ "$lines" -le 10 ] && ok "drop log rate-limited ($lines lines for $dr drops)" ||
	bad "drop log not rate-limited ($lines lines)"
rows=$(stored_rows)
[ "$rows" = $((N + st)) ] && ok "controller holds $rows = $N + $st" || bad "controller holds $rows, wanted $((N + st))"
pn_finish
