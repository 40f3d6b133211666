#!/bin/bash
# Fresh install (docs/security.md, case 20): two `controller init` runs get
# different CA keys, API TLS keys, bootstrap keys and databases; there is
# no default password (the bootstrap key is the only credential, common
# passwords and another install's key are refused); every file holding a
# secret is 0600 in a 0700 directory.
source "$(dirname "$0")/../lib/netns.sh" "${1:?build dir}" fresh-install

for i in a b; do
	"$PN_BIN" controller init --data "$W/$i" --api-listen 127.0.0.1:0 --hostname localhost,127.0.0.1 \
		>"$W/init-$i.out" 2>"$W/init-$i.err" || { cat "$W/init-$i.err"; exit 1; }
	eval "KEY_$i=\$(tail -1 \"\$W/init-\$i.out\")"
done
check "bootstrap key A is pnak_ + 64 hex" grep -Eq '^pnak_[0-9a-f]{64}$' <<<"$KEY_a"
check "bootstrap key B is pnak_ + 64 hex" grep -Eq '^pnak_[0-9a-f]{64}$' <<<"$KEY_b"
check "the two installs print different bootstrap keys" test "$KEY_a" != "$KEY_b"

pub() { openssl pkey -in "$1" -pubout 2>/dev/null | sha256sum | cut -c1-64; }
for k in ca.key api.key; do
	pa=$(pub "$W/a/$k") pb=$(pub "$W/b/$k")
	check "$k: a private key ($(head -1 "$W/a/$k"))" test -n "$pa" -a "$pa" != "$(printf '' | sha256sum | cut -c1-64)"
	check "$k differs between the installs (public keys ${pa:0:12} / ${pb:0:12})" test "$pa" != "$pb"
done
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null; }
check "the CA certificates differ" test "$(fp "$W/a/ca.crt")" != "$(fp "$W/b/ca.crt")"
# every file of an install is its own (config.json names only the listener)
for f in $(cd "$W/a" && ls); do
	[ "$f" = config.json ] && continue
	check "$f differs between the installs" bash -c "! cmp -s '$W/a/$f' '$W/b/$f'"
done

# modes: the directory 0700; every file but the certificates 0600
check "data dir 0700" test "$(stat -c %a "$W/a")" = 700
for f in $(cd "$W/a" && ls); do
	m=$(stat -c %a "$W/a/$f")
	case $f in
	*.crt) check "$f: mode $m, not writable by others" test $((8#$m & 8#022)) = 0 ;;
	*) check "$f: mode $m (want 600)" test "$m" = 600 ;;
	esac
done

# the bootstrap key is stored only hashed, and it is the only key
check "the bootstrap key is not stored in clear" test "$(sqlite3 "$W/a/controller.db" .dump | grep -c "${KEY_a#pnak_}")" = 0
check "one admin key, the bootstrap one" test "$(sqlite3 "$W/a/controller.db" "SELECT COUNT(*) || ':' || MIN(name) FROM admin_keys")" = 1:bootstrap
check "no service account, user or session at install" test "$(sqlite3 "$W/a/controller.db" \
	"SELECT (SELECT COUNT(*) FROM service_accounts) + (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM console_sessions)")" = 0

pn_ctl_local a "$W/a" || pn_finish
pn_ctl_local b "$W/b" || pn_finish
# st URL CA [KEY] -> HTTP status of GET /v1/networks
st() {
	local args=(-sS --cacert "$2" --tlsv1.3 -o /dev/null -w '%{http_code}')
	[ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
	curl "${args[@]}" "$1/v1/networks" 2>/dev/null
}
check "A's bootstrap key works on A" test "$(st "$URL_a" "$W/a/ca.crt" "$KEY_a")" = 200
check "B's bootstrap key works on B" test "$(st "$URL_b" "$W/b/ca.crt" "$KEY_b")" = 200
check "A's key is refused by B (401)" test "$(st "$URL_b" "$W/b/ca.crt" "$KEY_a")" = 401
check "B's key is refused by A (401)" test "$(st "$URL_a" "$W/a/ca.crt" "$KEY_b")" = 401
check "B's API certificate does not verify under A's CA" \
	bash -c "! curl -sS --cacert '$W/a/ca.crt' -o /dev/null '$URL_b/v1/ca' 2>/dev/null"
for p in admin password postern changeme root secret 123456 "pnak_$(printf '%064d' 0)"; do
	s1=$(st "$URL_a" "$W/a/ca.crt" "$p")
	s2=$(curl -sS --cacert "$W/a/ca.crt" --tlsv1.3 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"api_key\":\"$p\"}" "$URL_a/v1/console/session" 2>/dev/null)
	check "default password '$p' refused as a key ($s1) and at console sign-in ($s2)" test "$s1:$s2" = 401:401
done
check "no key at all: 401" test "$(st "$URL_a" "$W/a/ca.crt")" = 401
# the running controllers create no secret file with a weaker mode
for f in $(cd "$W/a" && ls); do
	m=$(stat -c %a "$W/a/$f")
	case $f in *.crt) ;; *) check "after start, $f: mode $m (want 600)" test "$m" = 600 ;; esac
done
pn_stop_check a 10
pn_stop_check b 10
pn_finish
