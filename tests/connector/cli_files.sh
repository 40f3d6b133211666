#!/bin/bash
# `postern connector run` checks its files at start, before serving:
# a certificate that does not certify the key is refused with one message
# naming both files (exit 2) instead of failing every handshake later; an
# unreadable file is named as itself.  Control: the matching pair starts.
# No root: the connector listens on 127.0.0.1 only.
#   bash cli_files.sh path/to/postern path/to/pnfixture
set -uo pipefail
P=${1:?usage: cli_files.sh POSTERN PNFIXTURE}
F=${2:?usage: cli_files.sh POSTERN PNFIXTURE}
W=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$W"' EXIT
fails=0
ok() { echo "ok   - $*"; }
bad() { fails=$((fails + 1)); echo "FAIL - $*"; }
expect() { # EXIT_CODE PATTERN DESCRIPTION -- args of `connector run`
	local code=$1 pat=$2 what=$3 out rc
	shift 4
	out=$(timeout 10 "$P" connector run "$@" 2>&1)
	rc=$?
	if [ $rc -ne "$code" ]; then bad "$what: exit $rc, wanted $code: $out"; return; fi
	if ! grep -qE -- "$pat" <<<"$out"; then bad "$what: output lacks /$pat/: $out"; return; fi
	ok "$what"
}

"$F" "$W/pki" ca >/dev/null &&
	"$F" "$W/pki" connector c1 corp --allow 10.0.0.1/32 tcp 80 >/dev/null &&
	"$F" "$W/pki" connector c2 corp --allow 10.0.0.1/32 tcp 80 >/dev/null || {
	echo "FAIL - pnfixture"
	exit 1
}
D=$W/pki
PORT=$((20000 + RANDOM % 20000))
UDP="--listen-udp 127.0.0.1:$PORT"

# c1's certificate with c2's key.
expect 2 "certificate $D/c1/cert.pem does not match key $D/c2/key.pem" \
	"mismatched certificate and key refused at start, both files named" -- \
	--ca "$D/c1/ca.crt" --cert "$D/c1/cert.pem" --key "$D/c2/key.pem" --acl "$D/c1/acl.bin" $UDP
# The same through a state directory.
mkdir -p "$W/state"
cp "$D/c1/ca.crt" "$D/c1/cert.pem" "$D/c1/acl.bin" "$W/state/"
cp "$D/c2/key.pem" "$W/state/"
expect 2 "certificate $W/state/cert.pem does not match key $W/state/key.pem" \
	"mismatch in a state directory" -- --state "$W/state" $UDP
expect 2 "cannot read $D/c1/none.pem: No such file" "missing certificate named" -- \
	--ca "$D/c1/ca.crt" --cert "$D/c1/none.pem" --key "$D/c1/key.pem" --acl "$D/c1/acl.bin" $UDP
expect 2 "cannot read $D/c1/none.bin: No such file" "missing access list named" -- \
	--ca "$D/c1/ca.crt" --cert "$D/c1/cert.pem" --key "$D/c1/key.pem" --acl "$D/c1/none.bin" $UDP

# Control: the matching pair starts and serves.
"$P" connector run --ca "$D/c1/ca.crt" --cert "$D/c1/cert.pem" --key "$D/c1/key.pem" \
	--acl "$D/c1/acl.bin" $UDP >"$W/run.log" 2>&1 &
PID=$!
for _ in $(seq 200); do
	grep -q "connector ready" "$W/run.log" && break
	kill -0 $PID 2>/dev/null || break
	sleep 0.05
done
grep -q "connector ready" "$W/run.log" && ok "matching pair starts" ||
	bad "matching pair starts: $(cat "$W/run.log")"
kill $PID 2>/dev/null
wait $PID 2>/dev/null
PID=

[ $fails -eq 0 ] && echo "all checks passed" || echo "$fails check(s) failed"
[ $fails -eq 0 ]
