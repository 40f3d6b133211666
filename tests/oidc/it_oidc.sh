#!/bin/bash
# People sign in through a real OpenID Provider (npm oidc-provider, HTTPS
# with a test CA), on loopback:
#
#   +-------------------------+  HTTPS  +---------------------------------+
#   | postern client login    |-------->| postern controller run          |
#   |  loopback 127.0.0.1:P   |         |  oidc.json -> provider "corp"   |
#   |  $BROWSER = browse.mjs  |         |  code exchange, refresh (secret)|
#   +-----------+-------------+         +----------------+----------------+
#               | the provider's login and consent pages  | discovery, JWKS,
#               v                                         v token endpoint
#   +--------------------------------------------------------------------+
#   | node op.mjs: oidc-provider, users alice(eng) bob(staff) carol       |
#   +--------------------------------------------------------------------+
#
# Covers: browser login (PKCE + loopback redirect, a forged-state request on
# the loopback first gets 400 and is ignored), device login, users created
# from (iss, sub) with groups synced from the claim, groups -> access (a
# grant to "eng" is in alice's access list only), group change at the IdP
# picked up at renewal, user removed at the IdP -> renewal refused, the
# refresh token stored sealed (never in clear in the database).
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "${1:?build dir}" oidc

npm_ci
make_ca
SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$SECRET" >"$W/idp.secret"
start_node op "$OIDC_DIR/op.mjs" "$W/idp.crt" "$W/idp.key" "$SECRET"
echo "provider at $op_URL"

# three registrations at the same provider, one per ID token algorithm
prov() { # prov NAME CLIENT_ID
	printf '{"name": "%s", "issuer": "%s", "client_id": "%s", "client_secret_file": "%s",
	  "scopes": "openid email profile groups", "groups_claim": "groups",
	  "admin_group": "postern-admins", "ca_file": "%s"}' "$1" "$op_URL" "$2" \
		"$W/idp.secret" "$W/idp-ca.crt"
}
start_controller "$W/ctl" "{\"providers\": [$(prov corp postern), $(prov corp-es postern-es),
  $(prov corp-ed postern-ed)]}"

# policy: group eng may reach db.corp.example; group staff exists, no grant
api POST /v1/networks '{"name":"corp"}'
api POST /v1/resources '{"name":"db","network":"corp","address":"db.corp.example","protocols":["tcp/5432"]}'
api POST /v1/groups '{"name":"eng"}'
api POST /v1/groups '{"name":"staff"}'
api POST /v1/policies '{"group":"eng","resource":"db"}'
check "policy eng -> db created" test "$ST" = 201

login() { # login USER DIR [extra args]
	local u=$1 d=$2; shift 2
	PN_OIDC_USER=$u PN_OIDC_BROWSE_LOG=$W/browse-$u.log BROWSER=$OIDC_DIR/browser.sh \
		timeout 120 "$BIN" client login --controller "$URL" --ca "$CTL_CA" --state "$d" \
		--timeout 90 --provider "${PROVIDER:-corp}" "$@" >"$W/login-$u.out" 2>&1
}
has_db() { grep -aq 'db.corp.example' "$1/acl.bin"; }

# ---- browser login: alice (eng) ----
PN_OIDC_BROWSE_MODE=--wrong-state-first login alice "$W/alice"
check "alice browser login exit 0" test $? -eq 0
check "forged state on the loopback got 400" grep -q 'forged state -> 400' "$W/browse-alice.log"
check "alice signed in with group eng" grep -q 'signed in as alice <alice@example.com> groups: eng' "$W/login-alice.out"
check "alice credential written" test -s "$W/alice/cert.pem"
check "alice's access list has the eng grant" has_db "$W/alice"
api GET /v1/users
check "user alice created from the IdP" grep -q '"name": *"alice"' <<<"$OUT"
api GET /v1/identities
check "API shows alice's identity, IdP groups and reauth_due" python3 -c '
import json, sys, time
ids = json.load(sys.stdin)["identities"]
a = [i for i in ids if i["user_name"] == "alice"][0]
assert a["subject"] == "alice" and a["idp_groups"] == ["eng"] and a["reauth_due"] > time.time()
assert "refresh_token" not in a' <<<"$OUT"
check "client keeps who signed in (user.json)" grep -q '"name": "alice"' "$W/alice/user.json"
"$BIN" client status --state "$W/alice" >"$W/status-alice.out" 2>&1
check "client status shows who signed in (no client running)" \
	grep -q 'signed in as alice <alice@example.com> through corp, groups: eng' "$W/status-alice.out"
check "refresh token sealed at rest" \
	test "$(sql "SELECT count(*) FROM user_identities WHERE subject='alice' AND length(refresh_token) > 40")" = 1
check "loopback listener closed after the redirect" grep -q 'second -> refused' "$W/browse-alice.log"

# ---- ES256 and EdDSA ID tokens from the same provider ----
for pa in corp-es:ES256 corp-ed:EdDSA; do
	PROVIDER=${pa%%:*} login alice "$W/alice-${pa##*:}"
	check "alice login with ${pa##*:} ID tokens" test $? -eq 0 -a -s "$W/alice-${pa##*:}/cert.pem"
done
check "the controller verified ES256 and EdDSA tokens (JWKS has 3 keys)" \
	grep -q 'jwks_fetched provider=corp-ed keys=3' "$W/ctl.log"

# ---- device login: bob (staff) ----
(PN_OIDC_USER=bob timeout 120 "$BIN" client login --device --controller "$URL" --ca "$CTL_CA" \
	--provider corp --state "$W/bob" >"$W/login-bob.out" 2>&1; echo $? >"$W/login-bob.rc") &
PN_PIDS+=($!)
pn_wait_log "$W/login-bob.out" 'enter the code' 20
VURI=$(sed -n 's/^To sign in, open //p' "$W/login-bob.out")
CODE=$(sed -n 's/^and enter the code: //p' "$W/login-bob.out")
check "device login printed a code and URL" test -n "$CODE" -a -n "$VURI"
node "$OIDC_DIR/browse.mjs" --device "$VURI" "$CODE" bob >"$W/browse-bob.log" 2>&1
check "device verification pages completed" test $? -eq 0
for _ in $(seq 1 300); do [ -s "$W/login-bob.rc" ] && break; sleep 0.1; done
check "bob device login exit 0" test "$(cat "$W/login-bob.rc" 2>/dev/null)" = 0
check "bob signed in with group staff" grep -q 'signed in as bob <bob@example.com> groups: staff' "$W/login-bob.out"
check "bob's access list lacks the eng grant" bash -c "! grep -aq db.corp.example '$W/bob/acl.bin'"

# ---- group change at the IdP picked up at renewal ----
curl -sS --cacert "$W/idp-ca.crt" -X POST -d '{"groups":["staff","eng"]}' "$op_URL/test/users/bob" >/dev/null
"$BIN" client renew --state "$W/bob" >"$W/renew-bob.out" 2>&1
check "bob renewal ok" test $? -eq 0
check "bob now reaches db (eng from the IdP)" has_db "$W/bob"
curl -sS --cacert "$W/idp-ca.crt" -X POST -d '{"groups":["staff"]}' "$op_URL/test/users/bob" >/dev/null
"$BIN" client renew --state "$W/bob" >>"$W/renew-bob.out" 2>&1
check "bob loses db when eng leaves the claim" bash -c "! grep -aq db.corp.example '$W/bob/acl.bin'"

# ---- an admin's local membership is left alone by the sync ----
api POST /v1/groups '{"name":"ops"}'
api POST /v1/resources '{"name":"wiki","network":"corp","address":"wiki.corp.example","protocols":["tcp/443"]}'
api POST /v1/policies '{"group":"ops","resource":"wiki"}'
api POST /v1/memberships '{"group":"ops","user":"bob"}'
check "admin adds bob to ops locally" test "$ST" = 201
curl -sS --cacert "$W/idp-ca.crt" -X POST -d '{"groups":[]}' "$op_URL/test/users/bob" >/dev/null
"$BIN" client renew --state "$W/bob" >>"$W/renew-bob.out" 2>&1
check "bob keeps the local ops grant across an IdP sync" grep -aq wiki.corp.example "$W/bob/acl.bin"
api GET '/v1/memberships?user=bob'
check "only the local membership remains (staff left the claim)" \
	test "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["memberships"]))' <<<"$OUT")" = 1

# ---- user removed at the IdP: renewal refused ----
"$BIN" client renew --state "$W/alice" >"$W/renew-alice.out" 2>&1
check "alice renewal while present ok" test $? -eq 0
curl -sS --cacert "$W/idp-ca.crt" -X DELETE "$op_URL/test/users/alice" >/dev/null
"$BIN" client renew --state "$W/alice" >>"$W/renew-alice.out" 2>&1
check "alice renewal refused after removal at the IdP" test $? -ne 0
check "refusal says sign in again" grep -q 'reauthentication\|sign in again' "$W/ctl.log" "$W/renew-alice.out"

# ---- admin login for ctl: carol is in postern-admins at the IdP ----
ctl_login() { # ctl_login USER [args] -> key on stdout
	local u=$1; shift
	PN_OIDC_USER=$u PN_OIDC_BROWSE_LOG=$W/browse-ctl-$u.log BROWSER=$OIDC_DIR/browser.sh \
		timeout 120 "$BIN" ctl --url "$URL" --ca "$CTL_CA" login --provider corp "$@" \
		2>"$W/ctl-login-$u.err"
}
AKEY=$(ctl_login carol)
check "carol: ctl login exit 0 with a pnas_ key" grep -Eq '^pnas_[0-9a-f]{64}$' <<<"$AKEY"
POSTERN_API_KEY=$AKEY "$BIN" ctl --url "$URL" --ca "$CTL_CA" network add lab >/dev/null 2>&1
check "carol's session can change the policy" test $? -eq 0
api GET '/v1/audit?limit=1000'
check "the change is audited as the person" \
	python3 -c 'import json,sys; a=json.load(sys.stdin)["audit"]; sys.exit(0 if any(e["actor"].startswith("user:") and e["actor"].endswith(":carol") and e["kind"]=="network" for e in a) else 1)' <<<"$OUT"
(timeout 120 "$BIN" ctl --url "$URL" --ca "$CTL_CA" login --device --provider corp >"$W/ctl-dev.key" \
	2>"$W/ctl-dev.err"; echo $? >"$W/ctl-dev.rc") &
PN_PIDS+=($!)
pn_wait_log "$W/ctl-dev.err" 'enter the code' 20
node "$OIDC_DIR/browse.mjs" --device "$(sed -n 's/^To sign in, open //p' "$W/ctl-dev.err")" \
	"$(sed -n 's/^and enter the code: //p' "$W/ctl-dev.err")" carol >"$W/browse-ctl-dev.log" 2>&1
for _ in $(seq 1 300); do [ -s "$W/ctl-dev.rc" ] && break; sleep 0.1; done
check "carol: ctl login --device gives an admin session" \
	grep -Eq '^pnas_[0-9a-f]{64}$' "$W/ctl-dev.key"
BKEY=$(ctl_login bob)
check "bob (not in the admin group): ctl login refused, exit 3" test $? -eq 3 -a -z "$BKEY"
check "bob's refusal names the reason" grep -q "admin group" "$W/ctl-login-bob.err"
api GET /v1/users
CAROL=$(python3 -c 'import json,sys; print([u["id"] for u in json.load(sys.stdin)["users"] if u["name"]=="carol"][0])' <<<"$OUT" 2>/dev/null)
api PATCH "/v1/users/$CAROL" '{"disabled": true}'
check "carol disabled (200)" test "$ST" = 200
POSTERN_API_KEY=$AKEY "$BIN" ctl --url "$URL" --ca "$CTL_CA" network list >/dev/null 2>&1
check "carol disabled in Postern: her admin session is refused (exit 3)" test $? -eq 3

pn_finish
