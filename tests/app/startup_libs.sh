#!/bin/bash
# startup_libs: postern does not load at start the libraries only some roles
# use (docs/performance.md, cold start): libpq (the controller's PostgreSQL
# store) and libnftables (the client's transparent mode) are loaded with
# dlopen on first use, so neither they nor what they pull in (libssl,
# libnftnl, libxtables) may appear in the binary's load list.
set -uo pipefail
P=${1:?usage: startup_libs.sh BUILD_DIR}/src/app/postern
[ -x "$P" ] || { echo "FAIL: no $P"; exit 1; }
libs=$(ldd "$P") || { echo "FAIL: ldd $P"; exit 1; }
bad=0
for l in libpq.so libssl.so libnftables.so libnftnl.so libxtables.so; do
	if grep -q "$l" <<<"$libs"; then
		echo "FAIL: $P loads $l at start:"
		grep "$l" <<<"$libs"
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "ok: $(grep -c '=>' <<<"$libs") libraries, none of libpq/libssl/libnftables"
exit "$bad"
