# Shared by the OIDC integration tests: test CA, providers, controller, API
# calls.  Sourced with the build dir and a short test name; it sources the
# one shell library, tests/lib/netns.sh (work dir W, checks, processes,
# pn_finish).  Needs: node + npm; openssl; curl; python3.
OIDC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/netns.sh
source "$OIDC_DIR/../lib/netns.sh" "${1:?build dir}" "${2:-oidc}"
BIN=$PN_BIN

# node_modules from package-lock.json (npm ci), once per checkout.
npm_ci() {
	command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing"; exit 1; }
	if [ ! -f "$OIDC_DIR/node_modules/.package-lock.json" ] ||
		[ "$OIDC_DIR/package-lock.json" -nt "$OIDC_DIR/node_modules/.package-lock.json" ]; then
		(cd "$OIDC_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$W/npm.log" 2>&1 ||
			{ cat "$W/npm.log"; echo "npm ci failed"; exit 1; }
	fi
}

# Test CA and a server certificate for 127.0.0.1 (the providers' TLS):
# $W/idp-ca.crt, $W/idp.crt, $W/idp.key.
make_ca() {
	pn_test_tls "$W/idp" IP:127.0.0.1 || { echo "test CA failed"; exit 1; }
	export NODE_EXTRA_CA_CERTS=$W/idp-ca.crt
}

# start_node NAME SCRIPT ARGS...: run a node server (log $W/NAME.log) that
# writes its port to $W/NAME.port; sets ${NAME}_URL.
start_node() {
	local name=$1; shift
	rm -f "$W/$name.port"
	pn_bg "$name" node "$@" "$W/$name.port"
	# Node loads oidc-provider and makes three keys before it listens: seconds
	# on a loaded machine, so a generous deadline, and what it was doing.
	if ! pn_wait_count "$W/$name.port" . 1 90; then
		local pid
		eval "pid=\$PID_$name"
		bad "$name started (pid $pid: $(ps -o stat=,etime=,time= -p "$pid" 2>/dev/null || echo gone);" \
			"wchan $(cat "/proc/$pid/wchan" 2>/dev/null); log: $(tail -5 "$W/$name.log"))"
		pn_finish
	fi
	printf -v "${name}_URL" 'https://127.0.0.1:%s' "$(cat "$W/$name.port")"
}

# start_controller DIR OIDC_JSON [LIFETIME]: init + run (log $W/ctl.log);
# sets URL, KEY, CTL_CA.  PN_TEST_STORE=pg: on a private PostgreSQL cluster
# (tests/controller/pg_cluster.sh).
STORE_ARGS=()
start_controller() {
	local dir=$1 cfg=$2 life=${3:-}
	if [ "${PN_TEST_STORE:-sqlite}" = pg ]; then
		# shellcheck source=../controller/pg_cluster.sh
		. "$OIDC_DIR/../controller/pg_cluster.sh"
		pn_at_exit pg_stop
		pg_start || { echo "could not start PostgreSQL"; exit 1; }
		STORE_ARGS=(--store "$PG_URL")
	fi
	"$BIN" controller init --data "$dir" --api-listen 127.0.0.1:0 --hostname 127.0.0.1 \
		"${STORE_ARGS[@]}" >"$W/init.out" 2>"$W/init.err" || { cat "$W/init.err"; exit 1; }
	KEY=$(tail -1 "$W/init.out")
	printf '%s\n' "$cfg" >"$dir/oidc.json"
	pn_ctl_local ctl "$dir" ${life:+--cred-lifetime "$life"} "${STORE_ARGS[@]}" || pn_finish
	URL=$URL_ctl
	CTL_CA=$dir/ca.crt
}

# api METHOD PATH [BODY]: admin API call; $ST status, $OUT body.
api() {
	local args=(-sS --cacert "$CTL_CA" -o "$W/resp" -w '%{http_code}' -X "$1"
		-H "Authorization: Bearer $KEY")
	[ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	ST=$(curl "${args[@]}" "$URL$2" 2>/dev/null)
	OUT=$(cat "$W/resp" 2>/dev/null)
}
# pub METHOD PATH BODY: unauthenticated call.
pub() {
	ST=$(curl -sS --cacert "$CTL_CA" -o "$W/resp" -w '%{http_code}' -X "$1" \
		-H 'Content-Type: application/json' --data-binary "$3" "$URL$2" 2>/dev/null)
	OUT=$(cat "$W/resp" 2>/dev/null)
}
jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1" <<<"$OUT"; }
# sql QUERY: run a query on the controller's store ($W/ctl), print the rows.
sql() {
	if [ "${PN_TEST_STORE:-sqlite}" = pg ]; then pg_sql "$1"; else sqlite3 "$W/ctl/controller.db" "$1"; fi
}
