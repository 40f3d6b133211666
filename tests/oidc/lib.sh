# Shared by the OIDC integration tests: test CA, controller, checks.
# Needs: BIN, TMP set by the caller; node + npm; openssl; curl; python3.
OIDC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FAILS=0
CHECKS=0
PIDS=()
ok() { CHECKS=$((CHECKS + 1)); }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COND...
	local d=$1; shift
	if "$@"; then ok; echo "ok: $d"; else fail "$d"; fi
}
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	[ "${PN_TEST_STORE:-sqlite}" = pg ] && pg_stop
	[ "${PN_KEEP_TMP:-0}" = 1 ] || rm -rf "$TMP"
}
finish() {
	echo "$((CHECKS - FAILS)) passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}

# node_modules from package-lock.json (npm ci), once per checkout.
npm_ci() {
	command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing"; exit 1; }
	if [ ! -f "$OIDC_DIR/node_modules/.package-lock.json" ] ||
		[ "$OIDC_DIR/package-lock.json" -nt "$OIDC_DIR/node_modules/.package-lock.json" ]; then
		(cd "$OIDC_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$TMP/npm.log" 2>&1 ||
			{ cat "$TMP/npm.log"; echo "npm ci failed"; exit 1; }
	fi
}

# Test CA and a server certificate for 127.0.0.1 (the providers' TLS).
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=pn-oidc-test-ca -keyout "$TMP/idp-ca.key" -out "$TMP/idp-ca.pem" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
		-keyout "$TMP/idp.key" -out "$TMP/idp.csr" 2>/dev/null &&
	openssl x509 -req -in "$TMP/idp.csr" -CA "$TMP/idp-ca.pem" -CAkey "$TMP/idp-ca.key" \
		-CAcreateserial -days 2 -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') \
		-out "$TMP/idp.pem" 2>/dev/null || { echo "test CA failed"; exit 1; }
	export NODE_EXTRA_CA_CERTS=$TMP/idp-ca.pem
}

# start_node NAME SCRIPT ARGS...: run a node server that writes its port to
# $TMP/NAME.port; sets ${NAME}_URL.
start_node() {
	local name=$1; shift
	rm -f "$TMP/$name.port"
	node "$@" "$TMP/$name.port" >"$TMP/$name.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 300); do [ -s "$TMP/$name.port" ] && break; sleep 0.1; done
	[ -s "$TMP/$name.port" ] || { cat "$TMP/$name.log"; echo "$name did not start"; exit 1; }
	printf -v "${name}_URL" 'https://127.0.0.1:%s' "$(cat "$TMP/$name.port")"
}

# start_controller DIR OIDC_JSON [LIFETIME]: init + run; sets URL, KEY, CTL_PID.
# PN_TEST_STORE=pg: on a private PostgreSQL cluster (tests/controller/pg_cluster.sh).
STORE_ARGS=()
start_controller() {
	local dir=$1 cfg=$2 life=${3:-}
	if [ "${PN_TEST_STORE:-sqlite}" = pg ]; then
		# shellcheck source=../controller/pg_cluster.sh
		. "$OIDC_DIR/../controller/pg_cluster.sh"
		pg_start || { echo "could not start PostgreSQL"; exit 1; }
		STORE_ARGS=(--store "$PG_URL")
	fi
	"$BIN" controller init --data "$dir" --api-listen 127.0.0.1:0 --hostname 127.0.0.1 \
		"${STORE_ARGS[@]}" >"$TMP/init.out" 2>"$TMP/init.err" || { cat "$TMP/init.err"; exit 1; }
	KEY=$(tail -1 "$TMP/init.out")
	printf '%s\n' "$cfg" >"$dir/oidc.json"
	"$BIN" controller run --data "$dir" ${life:+--cred-lifetime "$life"} "${STORE_ARGS[@]}" \
		>"$dir.run.out" 2>"$dir.run.err" &
	CTL_PID=$!
	PIDS+=($CTL_PID)
	for _ in $(seq 1 200); do grep -q '^url=' "$dir.run.out" 2>/dev/null && break; sleep 0.05; done
	URL=$(sed -n 's/^url=//p' "$dir.run.out")
	[ -n "$URL" ] || { cat "$dir.run.err"; echo "controller did not start"; exit 1; }
	CTL_CA=$dir/ca.crt
}

# api METHOD PATH [BODY]: admin API call; $ST status, $OUT body.
api() {
	local args=(-sS --cacert "$CTL_CA" -o "$TMP/resp" -w '%{http_code}' -X "$1"
		-H "Authorization: Bearer $KEY")
	[ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	ST=$(curl "${args[@]}" "$URL$2" 2>/dev/null)
	OUT=$(cat "$TMP/resp" 2>/dev/null)
}
# pub METHOD PATH BODY: unauthenticated call.
pub() {
	ST=$(curl -sS --cacert "$CTL_CA" -o "$TMP/resp" -w '%{http_code}' -X "$1" \
		-H 'Content-Type: application/json' --data-binary "$3" "$URL$2" 2>/dev/null)
	OUT=$(cat "$TMP/resp" 2>/dev/null)
}
jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1" <<<"$OUT"; }
# sql QUERY: run a query on the controller's store ($TMP/ctl), print the rows.
sql() {
	if [ "${PN_TEST_STORE:-sqlite}" = pg ]; then pg_sql "$1"; else sqlite3 "$TMP/ctl/controller.db" "$1"; fi
}
