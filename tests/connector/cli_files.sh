#!/bin/bash
# `postern connector run` checks its files at start, before serving:
# a certificate that does not certify the key is refused with one message
# naming both files (exit 2) instead of failing every handshake later; an
# unreadable file is named as itself.  Control: the matching pair starts.
# No root: the connector listens on 127.0.0.1 only.
#   bash cli_files.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../lib/netns.sh" "${1:?usage: cli_files.sh BUILD_DIR}" connector-files
P=$PN_BIN
F=$B/tests/lib/pnfixture
expect_run() { # EXIT_CODE PATTERN DESCRIPTION -- args of `connector run`
	pn_expect_exit "$1" "$2" "$3" -- timeout 10 "$P" connector run "${@:5}"
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
expect_run 2 "certificate $D/c1/cert.pem does not match key $D/c2/key.pem" \
	"mismatched certificate and key refused at start, both files named" -- \
	--ca "$D/c1/ca.crt" --cert "$D/c1/cert.pem" --key "$D/c2/key.pem" --acl "$D/c1/acl.bin" $UDP
# The same through a state directory.
mkdir -p "$W/state"
cp "$D/c1/ca.crt" "$D/c1/cert.pem" "$D/c1/acl.bin" "$W/state/"
cp "$D/c2/key.pem" "$W/state/"
expect_run 2 "certificate $W/state/cert.pem does not match key $W/state/key.pem" \
	"mismatch in a state directory" -- --state "$W/state" $UDP
expect_run 2 "cannot read $D/c1/none.pem: No such file" "missing certificate named" -- \
	--ca "$D/c1/ca.crt" --cert "$D/c1/none.pem" --key "$D/c1/key.pem" --acl "$D/c1/acl.bin" $UDP
expect_run 2 "cannot read $D/c1/none.bin: No such file" "missing access list named" -- \
	--ca "$D/c1/ca.crt" --cert "$D/c1/cert.pem" --key "$D/c1/key.pem" --acl "$D/c1/none.bin" $UDP

# Control: the matching pair starts and serves.
pn_bg run "$P" connector run --ca "$D/c1/ca.crt" --cert "$D/c1/cert.pem" --key "$D/c1/key.pem" \
	--acl "$D/c1/acl.bin" $UDP
pn_wait_log "$W/run.log" "connector ready" 10 && ok "matching pair starts" ||
	bad "matching pair starts: $(cat "$W/run.log")"
pn_finish
