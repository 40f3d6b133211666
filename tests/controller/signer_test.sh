#!/bin/bash
# The privilege-separated CA signer in a real `postern controller run`.
#
#   +-----------------------+  HTTPS 127.0.0.1  +---------------------------+
#   | curl (enrollments),   | ----------------> | controller front process  |
#   | memscan.py (root)     |                   |   (no ca.key)            |
#   +-----------------------+                   +------+-------------+------+
#                                        socketpair    |             | socketpair
#                                   +------------------v---+   +-----v----------------+
#                                   | signer child, slot 0 |   | signer child, slot 1 |
#                                   | (ca.key, seccomp,    |   | (the same)           |
#                                   | no new fds)          |   |                      |
#                                   +----------------------+   +----------------------+
#
# Covers, with a pool of two signer children (--signer-processes 2): the
# front process's memory (every readable mapping, after issuing
# credentials and access lists) holds no byte string of the CA private key
# (seed, scalar, prefix), while each child's does (the scan works); each
# child is confined (Seccomp 2, NoNewPrivs, not dumpable, only fds 0-3);
# every signature is logged; kill -9 of one child: at most one enrollment
# fails (503), the other child keeps serving and the dead one is replaced;
# kill -9 of every child: the next enrollment fails closed (503
# signer_unavailable, nothing issued, the token stays unused), the deaths
# are logged, new children serve the next one.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/netns.sh
source "$HERE/../lib/netns.sh" "${1:?build dir}" ctl-signer
BIN=$PN_BIN

"$BIN" controller init --data "$W/ctl" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 \
	>"$W/init.out" 2>"$W/init.err" || { cat "$W/init.err"; exit 1; }
KEY=$(tail -1 "$W/init.out")
pn_ctl_local ctl "$W/ctl" --signer-processes 2 || pn_finish
export POSTERN_CONTROLLER_URL=$URL_ctl POSTERN_API_KEY=$KEY POSTERN_CA_CERT=$W/ctl/ca.crt

# signer_pid SLOT: the pid of that slot's latest child (from the log)
signer_pid() { sed -n "s/.*signer_started pid=\([0-9]*\) slot=$1 .*/\1/p" "$W/ctl.log" | tail -1; }
SPID=$(signer_pid 0)
SPID1=$(signer_pid 1)
check "two signers started (pids in the log: $SPID $SPID1)" test -n "$SPID" -a -n "$SPID1" -a "$SPID" != "$SPID1"
for p in $SPID $SPID1; do
	check "signer $p is the front's child" test "$(awk '{print $4}' "/proc/$p/stat")" = "$PID_ctl"
done

openssl genpkey -algorithm ed25519 -out "$W/c.key" 2>/dev/null
openssl req -new -key "$W/c.key" -subj /CN=c -out "$W/c.csr" 2>/dev/null
"$BIN" ctl network add corp >/dev/null || bad "network add"
N=0
# enroll: a new connector token, one enrollment -> $ST (HTTP status), $W/enroll.body
enroll() {
	N=$((N + 1))
	TOK=$("$BIN" ctl connector add corp "c$N" | grep '^pnt1\.')
	python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
		"$TOK" "$W/c.csr" >"$W/enroll.json"
	ST=$(curl -sS --cacert "$W/ctl/ca.crt" -o "$W/enroll.body" -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary @"$W/enroll.json" "$URL_ctl/v1/enroll" 2>"$W/curl.err")
}
for i in 1 2 3; do
	enroll
	check "enrollment $i through the signer (status $ST)" grep -q '^20[01]$' <<<"$ST"
done
check "every signature logged (3 credentials)" test "$(pn_count "$W/ctl.log" 'signer signed kind=cred')" -ge 3
check "access lists signed by the signer" test "$(pn_count "$W/ctl.log" 'signer signed kind=acl')" -ge 1

# ---- memory: the front holds no CA key bytes; the signer does ----
read -r _ FRONT_HITS FRONT_REGIONS < <(python3 "$HERE/memscan.py" "$W/ctl/ca.key" "$PID_ctl")
echo "memscan: front pid $PID_ctl $FRONT_HITS hit(s) in $FRONT_REGIONS regions"
check "front regions scanned" test "${FRONT_REGIONS:-0}" -gt 5
check "front process memory holds no CA key bytes (two signer children)" test "${FRONT_HITS:-1}" = 0
for p in $SPID $SPID1; do
	read -r _ SIGNER_HITS _ < <(python3 "$HERE/memscan.py" "$W/ctl/ca.key" "$p")
	check "signer $p memory holds the key (the scan finds it: $SIGNER_HITS hit(s))" test "${SIGNER_HITS:-0}" -gt 0
done

# ---- confinement ----
for p in $SPID $SPID1; do
	check "signer $p seccomp filter on" grep -q '^Seccomp:[[:space:]]*2' "/proc/$p/status"
	check "signer $p no_new_privs" grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$p/status"
	check "signer $p keeps fds 0-3 only" test "$(ls "/proc/$p/fd" | sort -n | tr '\n' ' ')" = "0 1 2 3 "
	check "signer $p not dumpable (/proc/PID/mem owned by root)" test "$(stat -c %u "/proc/$p/mem")" = 0
done
check "front never opened ca.key" test -z "$(ls -l "/proc/$PID_ctl/fd" | grep ca.key)"

# dead = gone, or a zombie the front has not reaped yet (it reaps on its next request)
dead() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
wait_dead() {
	local deadline=$((SECONDS + 30))
	until dead "$1" || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
}

# ---- kill -9 one signer of two: the other serves, the dead one is replaced ----
kill -9 "$SPID1"
wait_dead "$SPID1"
fails=0 oks=0
for i in $(seq 20); do
	enroll
	if grep -q '^20[01]$' <<<"$ST"; then oks=$((oks + 1)); else fails=$((fails + 1)); sleep 0.5; fi
	[ $oks -ge 3 ] && [ "$(signer_pid 1)" != "$SPID1" ] && break
done
check "one signer killed: enrollments go on ($oks ok, $fails failed, at most 1)" test $oks -ge 3 -a $fails -le 1
NEW1=$(signer_pid 1)
check "the killed signer was replaced ($SPID1 -> $NEW1), the other kept ($(signer_pid 0))" \
	test -n "$NEW1" -a "$NEW1" != "$SPID1" -a "$(signer_pid 0)" = "$SPID"
check "its death logged" pn_wait_log "$W/ctl.log" "signer_died pid=$SPID1 slot=1" 30
# a restart is at most once a second per child: let both be restartable
sleep 1.2

# ---- kill -9 every signer: fail closed, logged, restarted ----
kill -9 "$SPID" "$NEW1"
wait_dead "$SPID"
wait_dead "$NEW1"
enroll
check "enrollment with a dead signer fails closed (503, got $ST)" test "$ST" = 503
check "error names the signer" grep -q 'signer_unavailable' "$W/enroll.body"
check "death logged" pn_wait_log "$W/ctl.log" 'signer_died' 30
REFUSED_TOK=$TOK
deadline=$((SECONDS + 60))
until [ "$ST" = 201 ] || [ "$ST" = 200 ] || [ $SECONDS -ge $deadline ]; do
	sleep 0.5
	enroll
done
check "a new signer serves the next enrollment (status $ST)" grep -q '^20[01]$' <<<"$ST"
SPID2=$(sed -n 's/.*signer_started pid=\([0-9]*\).*/\1/p' "$W/ctl.log" | tail -1)
check "new signer pid ($SPID $NEW1 -> $SPID2)" test -n "$SPID2" -a "$SPID2" != "$SPID" -a "$SPID2" != "$NEW1"
# the refused enrollment's token was not consumed: it still works
python3 -c 'import json,sys; print(json.dumps({"token": sys.argv[1], "csr": open(sys.argv[2]).read()}))' \
	"$REFUSED_TOK" "$W/c.csr" >"$W/enroll.json"
ST=$(curl -sS --cacert "$W/ctl/ca.crt" -o "$W/enroll.body" -w '%{http_code}' \
	-H 'Content-Type: application/json' --data-binary @"$W/enroll.json" "$URL_ctl/v1/enroll" 2>/dev/null)
check "the token of the failed enrollment is still unused (status $ST)" grep -q '^20[01]$' <<<"$ST"

# ---- stop: the signer goes with the front ----
pn_stop "$PID_ctl" 10
check "signer exits with the front" pn_wait_gone "$SPID2" 30
pn_finish
