#!/bin/bash
# startup_libs: postern does not load at start the libraries only some roles
# use (docs/performance.md, cold start).  libpq and SQLite (the controller's
# stores), libmicrohttpd (its listeners), libjwt (OIDC tokens), libcurl
# (requests to a controller or an identity provider) and libnftables (the
# client's transparent mode) are loaded with dlopen on first use, so:
#  1. neither they nor what they pull in are in the binary's load list (ldd);
#  2. a relay, connector and client run with all of them made unloadable
#     (an empty file bound over each, in a mount namespace of their own),
#     open a tunnel through the relay and have none of them mapped
#     (/proc/PID/maps);
#  3. a use of each library that is missing fails closed with a message
#     naming its Debian package: `postern ctl` (libcurl), `controller init`
#     (SQLite), `controller run` (libmicrohttpd).
# Runs as root in a mount and network namespace of its own (loopback only).
set -uo pipefail
B=${1:?usage: startup_libs.sh BUILD_DIR}
P=$B/src/app/postern
F=$B/tests/lib/pnfixture
[ -x "$P" ] && [ -x "$F" ] || { echo "FAIL: no $P or $F"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (mount namespace)"; exit 1; }
W=$(mktemp -d /tmp/pn-startlibs.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
	local p
	for p in $(cat "$W"/*.pid 2>/dev/null) "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
bad=0
fail() {
	echo "FAIL: $*"
	bad=1
}

# soname : Debian package, of every library loaded on first use
LAZY="libpq.so.5:libpq5 libsqlite3.so.0:libsqlite3-0 libmicrohttpd.so.12:libmicrohttpd12
libjwt-gnutls.so.0:libjwt-gnutls0 libcurl-gnutls.so.4:libcurl3-gnutls libnftables.so.1:libnftables1"
# ... and what they pull in, which no other library postern links needs
PULLED="libssl.so libcrypto.so libnftnl.so libxtables.so libgssapi_krb5.so libkrb5.so libldap
liblber libssh2.so librtmp.so libnghttp2.so libpsl.so libbrotli"
NEVER=$(for l in $LAZY; do echo "${l%%:*}"; done; echo $PULLED)

echo "=== 1. ldd"
libs=$(ldd "$P") || { echo "FAIL: ldd $P"; exit 1; }
for l in $NEVER; do
	grep -q "$l" <<<"$libs" && fail "$P loads $l at start: $(grep "$l" <<<"$libs")"
done
[ "$bad" = 0 ] && echo "ok: $(grep -c '=>' <<<"$libs") libraries, none of: $(echo $NEVER)"

# hide SONAME...: bind an empty file over each library's file (this
# namespace only), so dlopen of it fails
hide() {
	local so f
	for so in "$@"; do
		f=$(ldconfig -p | awk -v s="$so" '$1 == s && /x86-64|x86_64/ {print $NF; exit}')
		[ -n "$f" ] || f=$(ldconfig -p | awk -v s="$so" '$1 == s {print $NF; exit}')
		[ -n "$f" ] || { echo "FAIL: $so not installed"; return 1; }
		mount --bind "$W/empty" "$(readlink -f "$f")" || return 1
	done
}
: >"$W/empty"
export -f hide
export W

echo "=== 2. relay, connector and client without the lazy libraries"
D=$W/pki
{ $F "$D" ca && $F "$D" relay relay1 &&
	$F "$D" connector conn1 lab --allow 127.0.0.1/32 tcp 7777 \
		--relay relay1 127.0.0.1:47478 127.0.0.1:47443 &&
	$F "$D" client lab --net lab conn1 --grant lab 127.0.0.1 tcp 7777 \
		--relay relay1 127.0.0.1:47478 127.0.0.1:47443; } >"$W/pki.log" 2>&1 ||
	{ cat "$W/pki.log"; exit 1; }
python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7777)); s.listen(8)
while True:
    c, _ = s.accept(); d = c.recv(64); c.sendall(d); c.close()
' >"$W/echo.log" 2>&1 &
PIDS+=($!)
sonames=$(for l in $LAZY; do echo "${l%%:*}"; done)
# One mount namespace for the three, the libraries hidden in it.
unshare --mount --propagation private -- bash -c '
	hide $0 || exit 1
	"$1" relay run --state "$2/relay1" --udp 127.0.0.1:47478 --tls 127.0.0.1:47443 \
		--allow-peer 127.0.0.0/8 >"$W/relay.log" 2>&1 &
	echo $! >"$W/relay.pid"
	"$1" connector run --state "$2/conn1" --listen-udp 127.0.0.1:47433 >"$W/connector.log" 2>&1 &
	echo $! >"$W/connector.pid"
	"$1" client run --state "$2/lab" --offline --transport udp \
		--forward 127.0.0.1:47777=127.0.0.1:7777 >"$W/client.log" 2>&1 &
	echo $! >"$W/client.pid"
	wait' "$(echo $sonames)" "$P" "$D" &
PIDS+=($!)
# first byte through the tunnel (client -> relay -> connector -> echo)
got=""
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
	got=$(python3 -c '
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", 47777), timeout=2)
    s.sendall(b"pn-startlibs"); s.settimeout(5); print(s.recv(64).decode())
except Exception:
    pass' 2>/dev/null)
	[ "$got" = pn-startlibs ] && break
	sleep 0.1
done
if [ "$got" != pn-startlibs ]; then
	fail "no echo through the tunnel within 60 s with the lazy libraries hidden"
	for f in relay connector client; do echo "--- $f.log"; tail -n 30 "$W/$f.log"; done
fi
for role in relay connector client; do
	pid=$(cat "$W/$role.pid" 2>/dev/null)
	if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
		fail "$role not running"
		echo "--- $role.log"
		tail -n 30 "$W/$role.log"
		continue
	fi
	maps=$(cat "/proc/$pid/maps")
	for l in $NEVER; do
		grep -q "$l" <<<"$maps" && fail "$role (pid $pid) maps $l: $(grep -m1 "$l" <<<"$maps")"
	done
	echo "ok: $role (pid $pid) maps $(awk '$6 ~ /\.so/ {print $6}' <<<"$maps" | sort -u | wc -l) libraries, none of the lazy ones"
done
for p in $(cat "$W"/*.pid); do kill "$p" 2>/dev/null; done
rm -f "$W"/*.pid

echo "=== 3. a missing library fails its use closed, naming the package"
# expect NAME SONAME PACKAGE CMD...: CMD fails with SONAME hidden, saying PACKAGE
expect() {
	local name=$1 so=$2 pkg=$3 out rc
	shift 3
	out=$(unshare --mount --propagation private -- bash -c 'hide "$0" && exec "$@"' \
		"$so" "$@" 2>&1)
	rc=$?
	if [ "$rc" = 0 ]; then
		fail "$name succeeded without $so: $out"
	elif ! grep -q "$so" <<<"$out" || ! grep -q "package $pkg" <<<"$out"; then
		fail "$name without $so: no message naming $so and package $pkg (exit $rc): $out"
	else
		echo "ok: $name without $so: exit $rc, $(grep -m1 "package $pkg" <<<"$out")"
	fi
}
: >"$W/ca.pem"
expect "ctl status" libcurl-gnutls.so.4 libcurl3-gnutls \
	"$P" ctl status --url https://127.0.0.1:9 --key k --ca "$W/ca.pem"
expect "controller init" libsqlite3.so.0 libsqlite3-0 \
	"$P" controller init --data "$W/ctl1" --api-listen 127.0.0.1:0
"$P" controller init --data "$W/ctl2" --api-listen 127.0.0.1:0 >"$W/init2.log" 2>&1 ||
	{ cat "$W/init2.log"; fail "controller init"; }
expect "controller run" libmicrohttpd.so.12 libmicrohttpd12 \
	timeout 60 "$P" controller run --data "$W/ctl2"
exit "$bad"
