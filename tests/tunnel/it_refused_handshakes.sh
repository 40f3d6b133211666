#!/bin/bash
# A connector under a storm of refused handshakes (issue 10 item 1; run as
# root).  A revoked-but-unexpired client credential used to abort the
# connector in ngtcp2 on the first handshake.
#
#   pnr-cli                            pnr-con                     pnr-res
#   4 x pn-tclient storm (bad clients) postern connector           TCP echo
#   pn-tclient hold / hash (legit)     UDP 4433
#   10.203.1.2 ------veth------ 10.203.1.1 | 10.203.2.1 ---veth--- 10.203.2.2
#
# N handshakes (default 1000) in four parallel storms: a revoked client
# (valid credential, listed in --revoked), an expired credential, a client
# credential + list from another CA, and a valid client presenting another
# client's list.  Checks: every handshake refused with its reason on the
# client side and in the connector log (both clocks for the expired one),
# the connector still alive, a legitimate flow kept open during the storm
# survives, new legitimate flows during and after work, clean SIGTERM exit
# (sanitizer builds report here).  Only 10.203.0.0/16 inside these
# namespaces is used.
set -u
B=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$B" tunnel-refuse
BIN=$PN_BIN
TC=$B/tests/tunnel/pn-tclient
PKI=$B/tests/lib/pnfixture
N=${PN_REFUSE_N:-1000}
PAR=${PN_REFUSE_PAR:-16}
T=$W

NS_CLI=pnr-cli-$PN_TAG NS_CON=pnr-con-$PN_TAG NS_RES=pnr-res-$PN_TAG
pn_ns $NS_CLI $NS_CON $NS_RES || exit 1
pn_veth $NS_CLI pnr-cli0 10.203.1.2/24 $NS_CON pnr-con0 10.203.1.1/24
pn_veth $NS_RES pnr-res0 10.203.2.2/24 $NS_CON pnr-con1 10.203.2.1/24

# Resource: TCP echo (bench/peers/probe.py).
pn_bg echo ip netns exec $NS_RES python3 "$PN_SRC/bench/peers/probe.py" echo 7 10.203.2.2

pn_wait_tcp $NS_RES 10.203.2.2 7 10 || { echo "echo server did not start"; exit 1; }
$PKI "$T" tunnel-net 10.203.2.2 || { echo "pki tool failed"; exit 1; }
CONN_ID=$(cat "$T/conn/id")
cat "$T/rev/id" >"$T/revoked"

pn_bg conn ip netns exec $NS_CON "$BIN" connector run --ca "$T/ca.crt" --cert "$T/conn/cert.pem" \
	--key "$T/conn/key.pem" --acl "$T/conn/acl.bin" --listen-udp 10.203.1.1:4433 \
	--revoked "$T/revoked"
pn_wait_log "$T/conn.log" " ready " 10 || { bad "connector started"; pn_finish; }

# tc WHO ACL CMD... : the test client in pnr-cli
tc() {
	local who=$1 acl=$2; shift 2
	ip netns exec $NS_CLI "$TC" --ca "$T/ca.crt" --cert "$T/$who/cert.pem" --key "$T/$who/key.pem" \
		--acl "$acl" --connector "$CONN_ID" --udp 10.203.1.1:4433 --timeout 240 "$@"
}

out=$(tc cli "$T/cli/acl.bin" hash 10.203.2.2 7 1048576); rc=$?
[ $rc -eq 0 ] && ok "legitimate client before the storm: 1 MiB echo intact" || { bad "first flow (rc=$rc)"; echo "$out"; }

# a legitimate flow held open (echoing a trickle) through the whole storm
tc cli "$T/cli/acl.bin" hold 10.203.2.2 7 600 >"$T/hold.out" 2>&1 &
HOLD=$!
PN_PIDS+=($HOLD)
pn_wait_log "$T/hold.out" "tunnel=up" 10 || bad "held flow did not start"

# the storm: four kinds of bad clients at once, N handshakes in all
Q=$((N / 4))
T0=$(date +%s.%N)
tc rev "$T/rev/acl.bin" storm $Q $PAR >"$T/s.rev" 2>&1 &
S1=$!
tc old "$T/old/acl.bin" storm $Q $PAR >"$T/s.old" 2>&1 &
S2=$!
ip netns exec $NS_CLI "$TC" --ca "$T/ca.crt" --cert "$T/fcli/cert.pem" --key "$T/fcli/key.pem" \
	--acl "$T/fcli/acl.bin" --connector "$CONN_ID" --udp 10.203.1.1:4433 --timeout 240 \
	storm $Q $PAR >"$T/s.fca" 2>&1 &
S3=$!
tc cli "$T/cli2/acl.bin" storm $((N - 3 * Q)) $PAR >"$T/s.list" 2>&1 &
S4=$!
PN_PIDS+=($S1 $S2 $S3 $S4)
# new legitimate flows, one after another, while the storm runs
mid_ok=0
mid_n=0
while kill -0 $S1 2>/dev/null || kill -0 $S2 2>/dev/null || kill -0 $S3 2>/dev/null ||
	kill -0 $S4 2>/dev/null; do
	mid_n=$((mid_n + 1))
	tc cli "$T/cli/acl.bin" hash 10.203.2.2 7 65536 >"$T/mid.$mid_n" 2>&1 && mid_ok=$((mid_ok + 1))
done
for p in $S1 $S2 $S3 $S4; do wait $p; done
T1=$(date +%s.%N)
secs=$(python3 -c "print('%.1f' % ($T1 - $T0))")

# storm FILE KIND WANT: every handshake of that storm refused with WANT
storm() {
	local f=$1 kind=$2 want=$3 n=$4
	if grep -q "^storm total=$n refused=$n up=0 failed=0" "$f" &&
		grep -q "^storm_reason count=$n $want" "$f"; then
		ok "$kind: $n/$n refused, client told: $want"
	else
		bad "$kind storm"; cat "$f"
	fi
}
storm "$T/s.rev" "revoked credential" 'err=PN_E_TUN_REFUSED peer_code=credential text="revoked"' $Q
storm "$T/s.old" "expired credential" 'err=PN_E_TUN_CRED_REFUSED peer_code=- text="cred_expired"' $Q
storm "$T/s.fca" "credential from another CA" 'err=PN_E_TUN_CRED_REFUSED peer_code=- text="no_credential"' $Q
storm "$T/s.list" "another client's list" 'err=PN_E_TUN_REFUSED peer_code=bad_acl text="wrong_holder"' $((N - 3 * Q))
echo "       $N handshakes in ${secs} s ($PAR at a time per storm, 4 storms)"
if grep -lE "Sanitizer|runtime error" "$T"/s.* >/dev/null 2>&1; then
	bad "sanitizer report from a storm client"; grep -hE -A5 "Sanitizer|runtime error" "$T"/s.* | head -20
fi

if kill -0 $PID_conn 2>/dev/null; then ok "connector alive after $N refused handshakes"; else bad "connector died"; tail -20 "$T/conn.log"; fi

# the connector logged each refusal with its reason
count() { grep -c "$1" "$T/conn.log"; }
REV_ID=$(cat "$T/rev/id")
c1=$(count "tunnel_refused client=$REV_ID .*reason=revoked")
c2=$(count "tunnel_refused client=.* user=old@test reason=cred_expired not_before=[0-9]* not_after=[0-9]* now=[0-9]*")
c3=$(count "tunnel_refused client=- user= reason=no_credential")
c4=$(count "acl_refused client=.* user=cli@test reason=wrong_holder")
[ "$c1" -eq $Q ] && ok "connector log: $c1 x tunnel_refused reason=revoked" || bad "revoked in log: $c1/$Q"
[ "$c2" -eq $Q ] && ok "connector log: $c2 x tunnel_refused reason=cred_expired with both clocks" ||
	bad "expired in log: $c2/$Q"
[ "$c3" -eq $Q ] && ok "connector log: $c3 x tunnel_refused reason=no_credential (other CA)" ||
	bad "other CA in log: $c3/$Q"
[ "$c4" -eq $((N - 3 * Q)) ] && ok "connector log: $c4 x acl_refused reason=wrong_holder" ||
	bad "wrong list in log: $c4/$((N - 3 * Q))"
grep "reason=cred_expired" "$T/conn.log" | head -1 | sed 's/^/       /'

[ $mid_n -ge 1 ] && [ $mid_ok -eq $mid_n ] && ok "$mid_n new legitimate flows during the storm: echo intact" ||
	bad "flows during the storm: $mid_ok/$mid_n ok"
if grep -q "tunnel=up" "$T/hold.out" && ! grep -q "^closed" "$T/hold.out" && kill -0 $HOLD 2>/dev/null; then
	ok "legitimate flow held open through the storm"
else
	bad "held flow"; cat "$T/hold.out"
fi
kill $HOLD 2>/dev/null
wait $HOLD 2>/dev/null
out=$(tc cli "$T/cli/acl.bin" hash 10.203.2.2 7 4194304); rc=$?
[ $rc -eq 0 ] && ok "after the storm: new 4 MiB echo intact" || { bad "flow after the storm (rc=$rc)"; echo "$out"; }

pn_stop_check conn 10

pn_finish
