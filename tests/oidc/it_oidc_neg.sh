#!/bin/bash
# OIDC login against a deliberately wrong provider (evil.mjs: its own
# discovery, JWKS and tokens), on loopback:
#
#   postern client login --(HTTPS)--> postern controller run --(HTTPS)--> node evil.mjs
#        ^ loopback redirect                                     (mode set per case)
#        +------------- browse.mjs follows /authorize -----------------+
#
# Each case must be refused with its own clear error, create no user, no
# identity and no credential, and leave the client without a credential:
# wrong aud, wrong iss, alg=none, HS256 keyed with the RSA public key,
# expired, nbf in the future, unknown kid (exactly one JWKS refetch, and a
# second attempt right after is rate-limited), a token from another
# provider, a replayed nonce; at the controller: unknown state, missing and
# wrong PKCE verifier (refused before the IdP is asked; the flow is spent).
# Finally a good token logs in, so the refusals above are not an artefact.
set -u
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh" "${1:?build dir}" oidc-neg

make_ca
printf 'evil-secret\n' >"$W/evil.secret"
start_node evil "$OIDC_DIR/evil.mjs" "$W/idp.crt" "$W/idp.key"
start_controller "$W/ctl" "{\"providers\": [{\"name\": \"evil\", \"issuer\": \"$evil_URL\",
  \"client_id\": \"postern\", \"client_secret_file\": \"$W/evil.secret\",
  \"ca_file\": \"$W/idp-ca.crt\"}]}"
api POST /v1/groups '{"name":"eng"}'

mode() { curl -sS --cacert "$W/idp-ca.crt" -X POST "$evil_URL/test/mode?m=$1" >/dev/null; }
stat_() { curl -sS --cacert "$W/idp-ca.crt" "$evil_URL/test/stats" |
	python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
login() { # login CASE -> exit status
	BROWSER=$OIDC_DIR/browser.sh PN_OIDC_BROWSE_LOG=$W/browse-$1.log \
		timeout 60 "$BIN" client login --controller "$URL" --ca "$CTL_CA" \
		--state "$W/client" --timeout 30 >"$W/login-$1.out" 2>&1
}
nothing_stored() {
	local u i c
	u=$(sql "SELECT count(*) FROM users")
	i=$(sql "SELECT count(*) FROM user_identities")
	c=$(sql "SELECT count(*) FROM credentials WHERE holder_kind='user'")
	[ "$u$i$c" = 000 ] && [ ! -e "$W/client/cert.pem" ]
}
refused() { # refused CASE ERRNAME MESSAGE
	mode "$1"
	login "$1"
	check "$1: login refused" test $? -ne 0
	check "$1: controller logged $2" \
		grep -q "login_refused provider=evil reason=$2" "$W/ctl.log"
	check "$1: client shows \"$3\"" grep -q "$3" "$W/login-$1.out"
	check "$1: no user, identity or credential stored" nothing_stored
}

refused wrong_aud PN_E_OIDC_AUD "audience or authorized party is not this client"
refused wrong_iss PN_E_OIDC_ISS "issuer is not the provider"
refused none PN_E_OIDC_ALG "algorithm refused"
refused hs256 PN_E_OIDC_ALG "algorithm refused"
refused expired PN_E_OIDC_EXPIRED "ID token expired"
refused nbf_future PN_E_OIDC_NBF "not yet valid"
J0=$(stat_ jwks)
refused unknown_kid PN_E_OIDC_KID "key not in the provider's JWKS"
J1=$(stat_ jwks)
check "unknown kid: exactly one JWKS refetch ($J0 -> $J1)" test $((J1 - J0)) -eq 1
refused unknown_kid PN_E_OIDC_KID "key not in the provider's JWKS"
J2=$(stat_ jwks)
check "unknown kid again at once: refetch rate-limited ($J1 -> $J2)" test "$J2" -eq "$J1"
refused other_provider PN_E_OIDC_KID "key not in the provider's JWKS"
refused replay_nonce PN_E_OIDC_NONCE "nonce does not match"

# ---- at the controller, without the IdP ----
CSR='-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n'
V=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
CH=$(printf '%s' "$V" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
T0=$(stat_ token)
pub POST /v1/login/oidc/finish "{\"state\":\"$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')\",\"code\":\"c\",\"code_verifier\":\"$V\",\"csr\":\"$CSR\"}"
check "unknown state -> 401 invalid_state" test "$ST" = 401 -a -n "$(grep invalid_state <<<"$OUT")"
start_flow() {
	pub POST /v1/login/oidc/start "{\"redirect_uri\":\"http://127.0.0.1:9/callback\",\"code_challenge\":\"$CH\"}"
	STATE=$(jq_ '["state"]')
}
start_flow
pub POST /v1/login/oidc/finish "{\"state\":\"$STATE\",\"code\":\"c\",\"csr\":\"$CSR\"}"
check "missing PKCE verifier -> 401 pkce_missing" test "$ST" = 401 -a -n "$(grep pkce_missing <<<"$OUT")"
start_flow
WRONG=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
pub POST /v1/login/oidc/finish "{\"state\":\"$STATE\",\"code\":\"c\",\"code_verifier\":\"$WRONG\",\"csr\":\"$CSR\"}"
check "wrong PKCE verifier -> 401 pkce_mismatch" test "$ST" = 401 -a -n "$(grep pkce_mismatch <<<"$OUT")"
pub POST /v1/login/oidc/finish "{\"state\":\"$STATE\",\"code\":\"c\",\"code_verifier\":\"$V\",\"csr\":\"$CSR\"}"
check "the flow is spent after a wrong verifier -> 401 invalid_state" test "$ST" = 401 -a -n "$(grep invalid_state <<<"$OUT")"
check "the IdP's token endpoint was never asked ($T0 -> $(stat_ token))" test "$(stat_ token)" = "$T0"
pub POST /v1/login/oidc/start '{"redirect_uri":"https://evil.example/cb","code_challenge":"'"$CH"'"}'
check "non-loopback redirect_uri -> 400" test "$ST" = 400
pub POST /v1/login/oidc/start '{"redirect_uri":"http://127.0.0.1:80@evil.example/cb","code_challenge":"'"$CH"'"}'
check "loopback lookalike redirect_uri -> 400" test "$ST" = 400
pub POST /v1/login/oidc/start '{"redirect_uri":"http://127.0.0.1:9/cb","code_challenge":"short"}'
check "malformed PKCE challenge -> 400" test "$ST" = 400
check "still nothing stored" nothing_stored

# ---- control: a good token from the same provider logs in ----
mode good
login good
check "good token: login ok" test $? -eq 0
check "good token: one user" test "$(sql "SELECT count(*) FROM users")" = 1
pn_finish
