#!/bin/bash
# The admin console in a real browser (Debian's chromium driven by
# playwright-core, pinned in tests/console/package-lock.json): console.mjs
# signs in, builds a network through the pages, enrolls a real connector
# with the token copied from the page and watches it go online on the
# overview, sees a denied flow in flow events, checks the read-only admin,
# CSRF and refused input, and signs in through a real identity provider
# (tests/oidc/op.mjs: a member of its admin group gets in, others do not).  Screenshots go to <build>/console-artifacts.
# Needs root (network namespaces), node + npm, chromium.
#
#                     pnh-hub (controller https://10.213.0.1:8443; chromium;
#                              IdP https://127.0.0.1:P, tests/oidc/op.mjs)
#   pnc-cli 10.213.1.2 ---+--- 10.213.2.2 pnr-relay (relay edge1: its version and
#   (client, SOCKS5 :1080,|                          presence on the overview)
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

OIDC_DIR=$PN_SRC/tests/oidc
if [ ! -f "$OIDC_DIR/node_modules/.package-lock.json" ] ||
	[ "$OIDC_DIR/package-lock.json" -nt "$OIDC_DIR/node_modules/.package-lock.json" ]; then
	(cd "$OIDC_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$W/npm-oidc.log" 2>&1 ||
		{ cat "$W/npm-oidc.log"; bad "npm ci (tests/oidc)"; pn_finish; }
fi

pn_star 10.213 || pn_finish
mkdir -p "$W/www"
echo "hello from the private resource" >"$W/www/index.html"
pn_bg http ip netns exec $NS_RES python3 -m http.server 8000 --bind $NET.9.2 --directory "$W/www"

# The identity provider (tests/oidc/op.mjs, on the hub's loopback), which
# also sends browsers back to the console.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=pn-idp-ca \
	-keyout "$W/idp-ca.key" -out "$W/idp-ca.pem" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
		-keyout "$W/idp.key" -out "$W/idp.csr" 2>/dev/null &&
	openssl x509 -req -in "$W/idp.csr" -CA "$W/idp-ca.pem" -CAkey "$W/idp-ca.key" -CAcreateserial \
		-days 2 -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$W/idp.pem" 2>/dev/null ||
	{ bad "IdP certificate"; pn_finish; }
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/idp.secret"
pn_bg op $H env OP_REDIRECTS="https://$NET.0.1:8443/console/" node "$OIDC_DIR/op.mjs" "$W/idp.pem" \
	"$W/idp.key" "$(cat "$W/idp.secret")" "$W/op.port"
pn_wait_file "$W/op.port" 30 && sleep 0.2 || { bad "IdP up"; pn_finish; }
IDP=https://127.0.0.1:$(cat "$W/op.port")

$H "$PN_BIN" controller init --data "$W/ctl" --api-listen $NET.0.1:8443 --hostname $NET.0.1 \
	>"$W/init.out" 2>&1 || { bad "controller init"; pn_finish; }
printf '{"providers": [{"name": "corp", "issuer": "%s", "client_id": "postern",
  "client_secret_file": "%s", "scopes": "openid email profile groups", "groups_claim": "groups",
  "admin_group": "postern-admins", "ca_file": "%s"}]}\n' "$IDP" "$W/idp.secret" "$W/idp-ca.pem" \
	>"$W/ctl/oidc.json"
chmod 600 "$W/ctl/oidc.json"
pn_bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen $NET.0.1:8443
pn_wait_tcp $NS_CLI $NET.0.1 8443 30 || { cat "$W/controller.log"; bad "controller up"; pn_finish; }
export POSTERN_CONTROLLER_URL=https://$NET.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
export POSTERN_API_KEY
CTL="$H $PN_BIN ctl"
pn_wait_tcp $NS_CONN $NET.9.2 8000 10 || bad "resource up"

# A relay, enrolled with the CLI: the overview shows its version.
RTOKEN=$($CTL relay add edge1 --udp $NET.2.2:3478 --tls $NET.2.2:4433 | grep '^pnt1\.')
ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$RTOKEN" --state "$W/relay" \
	>"$W/relay-enroll.log" 2>&1 || { cat "$W/relay-enroll.log"; bad "relay enroll"; pn_finish; }
pn_bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/relay" \
	--udp $NET.2.2:3478 --tls $NET.2.2:4433 --allow-peer $NET.0.0/16
pn_wait_tcp $NS_CLI $NET.2.2 4433 30 || { cat "$W/relay.log"; bad "relay listening"; pn_finish; }

# A read-only admin key, made with the bootstrap key through the API.
RO=$($CTL --json admin-key add viewer --role readonly) || { bad "read-only key"; pn_finish; }
RO_KEY=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["api_key"])' "$RO")
RO_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$RO")
# The browser trusts the console certificate's key and the IdP's, nothing else.
spki() { openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64; }
SPKI="$(spki "$W/ctl/console.crt"),$(spki "$W/idp.pem")"

: >"$W/bg.pids"
rm -rf "$OUT"
$H env HOME="$W" URL="https://$NET.0.1:8443" KEY="$POSTERN_API_KEY" RO_KEY="$RO_KEY" RO_ID="$RO_ID" \
	SPKI="$SPKI" IDP="$IDP" HELPER="$HERE/helper.sh" OUT="$OUT" NET="$NET" W="$W" PN_BIN="$PN_BIN" \
	NS_CONN="$NS_CONN" NS_CLI="$NS_CLI" NODE_PATH="$HERE/node_modules" \
	timeout 240 node "$HERE/console.mjs" >"$W/console.out" 2>&1
rc=$?
cat "$W/console.out"
if [ $rc = 0 ]; then
	ok "browser test ($(tail -1 "$W/console.out"))"
else
	bad "browser test exit $rc"
	for f in controller connector relay client; do
		[ -f "$W/$f.log" ] && { echo "--- $f.log (last 30 lines)"; tail -30 "$W/$f.log"; }
	done
fi
while read -r pid; do kill "$pid" 2>/dev/null; done <"$W/bg.pids"
sleep 0.5
ls "$OUT"/*.png >/dev/null 2>&1 && ok "screenshots in $OUT" || bad "no screenshots"
pn_finish
