#!/bin/bash
# The admin console in a real browser (Debian's chromium driven by
# playwright-core, pinned in tests/console/package-lock.json): console.mjs
# signs in, builds a network through the pages, enrolls a real connector
# with the token copied from the page and watches it go online on the
# overview, sees a denied flow in flow events, checks the read-only admin,
# CSRF and refused input.  Screenshots go to <build>/console-artifacts.
# Needs root (network namespaces), node + npm, chromium.
#
#                     pnh-hub (controller https://10.213.0.1:8443; chromium)
#   pnc-cli 10.213.1.2 ---+
#   (client, SOCKS5 :1080,|
#    --direct, --offline) +--- 10.213.4.2 pnn-conn (connector, UDP :4433) ---- 10.213.9.2 pns-res
#                                         10.213.9.1                          (HTTP :8000)
set -uo pipefail
BUILD=${1:?build dir}
source "$(dirname "$0")/../lib/netns.sh" "$BUILD" console
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${PN_CONSOLE_OUT:-$B/console-artifacts}

command -v node >/dev/null && command -v npm >/dev/null || { bad "node/npm missing"; pn_finish; }
[ -x /usr/bin/chromium ] || { bad "chromium missing (scripts/deps.sh)"; pn_finish; }
if [ ! -f "$HERE/node_modules/.package-lock.json" ] ||
	[ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
	(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >"$W/npm.log" 2>&1 ||
		{ cat "$W/npm.log"; bad "npm ci"; pn_finish; }
fi

pn_star 10.213 norelay || pn_finish
mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
pn_bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind $NET.9.2 --directory "$W/www"
pn_controller_up || pn_finish
pn_wait_tcp $NS_CONN $NET.9.2 8000 10 || bad "resource up"

# A read-only admin key, made with the bootstrap key through the API.
RO=$($CTL --json admin-key add viewer --role readonly) || { bad "read-only key"; pn_finish; }
RO_KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_key"])' "$RO")
RO_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$RO")
# The browser trusts the console certificate's key and nothing else.
SPKI=$(openssl x509 -in "$W/ctl/console.crt" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)

: >"$W/bg.pids"
$H env HOME="$W" URL="https://$NET.0.1:8443" KEY="$POSTERN_API_KEY" RO_KEY="$RO_KEY" RO_ID="$RO_ID" \
	SPKI="$SPKI" HELPER="$HERE/helper.sh" OUT="$OUT" NET="$NET" W="$W" PN_BIN="$PN_BIN" \
	NS_CONN="$NS_CONN" NS_CLI="$NS_CLI" NODE_PATH="$HERE/node_modules" \
	timeout 150 node "$HERE/console.mjs" >"$W/console.out" 2>&1
rc=$?
cat "$W/console.out"
[ $rc = 0 ] && ok "browser test ($(tail -1 "$W/console.out"))" || bad "browser test exit $rc"
while read -r pid; do kill "$pid" 2>/dev/null; done <"$W/bg.pids"
sleep 0.5
ls "$OUT"/*.png >/dev/null 2>&1 && ok "screenshots in $OUT" || bad "no screenshots"
pn_finish
