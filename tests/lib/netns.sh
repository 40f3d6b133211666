# The one shell library of the integration tests (sourced; the namespace
# helpers need root).  It gives every test: a work directory W, namespaces
# named per run (two runs on one machine never share or delete each
# other's), veth links, processes started and stopped by pid with a cleanup
# trap (and pn_at_exit for more), waits with timeouts (TCP port, log line,
# count of log lines, file), checks (ok/bad/expect/check, counted), the end
# of a test (pn_finish: graceful stop, sanitizer reports, logs on failure)
# and bring-up helpers for a controller on loopback (pn_ctl_local), the
# star topology with a controller, an enrolled relay and connector, and
# clients logged in.
#
# Usage:  source "$PN_SRC/tests/lib/netns.sh" <build dir> <short test name>
# Sets B (build dir), PN_BIN (postern), W, PN_TAG; exit runs pn_cleanup.
B=${1:?build dir}
PN_BIN=${PN_BIN:-$B/src/app/postern}
PN_SRC=${PN_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
W=$(mktemp -d "/tmp/pn-${2:-test}.XXXXXX")
PN_TAG=${PN_TAG:-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')}
PN_PIDS=()
PN_NS=""
PN_AT_EXIT=()
PN_KEEP_W=${PN_KEEP_W:-0}
PN_CHECKS=0
fail=0

ok() {
	echo "ok   - $*"
	PN_CHECKS=$((PN_CHECKS + 1))
}
bad() {
	echo "FAIL - $*"
	fail=$((fail + 1))
	PN_CHECKS=$((PN_CHECKS + 1))
}
expect() { # name needle haystack
	if [[ "$3" == *"$2"* ]]; then ok "$1"; else bad "$1 (wanted '$2', got '${3:0:300}')"; fi
}
check() { # description command...: ok when it succeeds, else its output (kept in $W/check.out)
	local d=$1
	shift
	if "$@" >"$W/check.out" 2>&1; then ok "$d"; else
		bad "$d"
		sed 's/^/       /' "$W/check.out" | tail -15
	fi
}

pn_expect_exit() { # EXIT PATTERN DESCRIPTION -- command...: it exits EXIT and its
	# output (stdout and stderr) matches the extended regex PATTERN
	local code=$1 pat=$2 what=$3 out rc
	shift 4
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$code" ]; then bad "$what: exit $rc, wanted $code: $out"; return; fi
	if ! grep -qE -- "$pat" <<<"$out"; then bad "$what: output lacks /$pat/: $out"; return; fi
	ok "$what"
}

pn_ns() { # name...: create each namespace (lo up), deleted by pn_cleanup; callers add $PN_TAG
	local n
	for n in "$@"; do
		ip netns add "$n" || return 1
		ip -n "$n" link set lo up
		PN_NS="$PN_NS $n"
	done
}
pn_veth() { # ns1 if1 addr1 ns2 if2 addr2 (an empty address: none)
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || return 1
	[ -n "$3" ] && ip -n "$1" addr add "$3" dev "$2"
	[ -n "$6" ] && ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
pn_hosts() { # ns lines: /etc/hosts seen by processes run with ip netns exec ns
	mkdir -p "/etc/netns/$1"
	printf '127.0.0.1 localhost\n%s\n' "$2" >"/etc/netns/$1/hosts"
}

pn_bg() { # name cmd...: background, log to $W/name.log, pid in PID_name
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	PN_PIDS+=($!)
	eval "PID_${name//-/_}=$!"
}
pn_stop() { # pid [seconds]: SIGTERM, wait; returns the exit status (124: killed)
	local i
	kill "$1" 2>/dev/null
	for i in $(seq $((${2:-5} * 20))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$1" 2>/dev/null && { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124; }
	wait "$1" 2>/dev/null
}
pn_stop_check() { # name [seconds]: pn_stop PID_name, then a check that it went in time
	# and left no sanitizer report or assertion in $W/name.log
	local pid
	eval "pid=\${PID_${1//-/_}}"
	pn_stop "$pid" "${2:-5}"
	if [ $? -eq 124 ]; then
		bad "$1 did not stop on SIGTERM"
	elif grep -qE "Sanitizer|runtime error|Assertion" "$W/$1.log"; then
		bad "sanitizer report or assertion in $1's log"
		grep -E -A5 "Sanitizer|runtime error|Assertion" "$W/$1.log" | head -30
	else
		ok "$1 stopped cleanly"
	fi
}
pn_stop_all() { # SIGTERM everything started with pn_bg, wait up to 5 s each
	local p i
	for p in "${PN_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PN_PIDS[@]}"; do
		for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		wait "$p" 2>/dev/null
	done
}
pn_at_exit() { # command...: also run by pn_cleanup (last registered first)
	PN_AT_EXIT=("$*" "${PN_AT_EXIT[@]}")
}
pn_cleanup() {
	local p n c i
	for p in "${PN_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for i in $(seq 60); do # up to 3 s for a clean stop, then SIGKILL
		c=0
		for p in "${PN_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && c=1; done
		[ "$c" = 0 ] && break
		sleep 0.05
	done
	for p in "${PN_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	PN_PIDS=()
	for n in $PN_NS; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
		rm -rf "/etc/netns/$n"
	done
	PN_NS=""
	for c in "${PN_AT_EXIT[@]}"; do eval "$c"; done
	PN_AT_EXIT=()
	[ "$fail" -eq 0 ] && [ "$PN_KEEP_W" = 0 ] && rm -rf "$W"
}
trap pn_cleanup EXIT

pn_wait_tcp() { # ns host port [seconds]
	local i
	for i in $(seq $((${4:-10} * 20))); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
pn_wait_log() { # file pattern [seconds]
	local i
	for i in $(seq $((${3:-10} * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
pn_count() { # file pattern: how many lines match (0 without the file)
	local n
	n=$(grep -c "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}
pn_wait_count() { # file pattern min [seconds]: until at least min lines match
	local i
	for i in $(seq $((${4:-10} * 20))); do
		[ "$(pn_count "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
pn_wait_gone() { # pid [seconds]: until the process has exited
	local i
	for i in $(seq $((${2:-10} * 20))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}
pn_wait_file() { # path [seconds]
	local i
	for i in $(seq $((${2:-10} * 20))); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

pn_finish() { # stop everything, look for sanitizer reports, exit 0 / 1
	local f
	pn_stop_all
	PN_PIDS=()
	for f in $(grep -l "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$W"/*.log 2>/dev/null); do
		bad "sanitizer report in $f: $(grep -m1 'SUMMARY' "$f")"
	done
	if [ "$fail" -ne 0 ]; then
		echo "--- logs ($W)"
		for f in "$W"/*.log; do [ -e "$f" ] && { echo "== $f"; tail -30 "$f"; }; done
		echo "$fail of $PN_CHECKS check(s) failed"
		exit 1
	fi
	echo "all $PN_CHECKS checks passed"
	exit 0
}

# pn_ctl_local NAME DATA [controller run args...]: `postern controller run
# --data DATA` in the background (log $W/NAME.log, pid PID_NAME; its API
# where DATA's config says, port 0: any free one); waits for the url= line
# it prints and sets URL_NAME.  Running NAME again appends to its log: the
# new line is the one read.
pn_ctl_local() {
	local name=$1 data=$2 n
	shift 2
	n=$(pn_count "$W/$name.log" '^url=')
	pn_bg "$name" "$PN_BIN" controller run --data "$data" "$@"
	pn_wait_count "$W/$name.log" '^url=' $((n + 1)) 15 ||
		{ bad "controller $name started ($(tail -3 "$W/$name.log"))"; return 1; }
	printf -v "URL_${name//-/_}" '%s' "$(sed -n 's/^url=//p' "$W/$name.log" | tail -1)"
}

# pn_test_tls PREFIX SAN: a throwaway CA of its own (PREFIX-ca.crt, .key; not
# Postern's, not in the system store) and a server certificate for SAN
# (e.g. IP:10.0.0.1,DNS:localhost) signed by it: PREFIX.crt, PREFIX.key
# and PREFIX.pem (both, as haproxy wants them).  0 or 1.
pn_test_tls() {
	local p=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=pn-test-ca-$(basename "$p")" -keyout "$p-ca.key" -out "$p-ca.crt" >/dev/null 2>&1 &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$(basename "$p")" \
			-keyout "$p.key" -out "$p.csr" >/dev/null 2>&1 &&
		printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$2" >"$p.ext" &&
		openssl x509 -req -in "$p.csr" -CA "$p-ca.crt" -CAkey "$p-ca.key" -CAcreateserial -days 2 \
			-extfile "$p.ext" -out "$p.crt" >/dev/null 2>&1 &&
		cat "$p.crt" "$p.key" >"$p.pem"
}

# pn_ws_proxy_cfg FILE BACKEND BIND...: an haproxy configuration (HTTP mode)
# that passes WebSocket upgrades arriving on each BIND (the arguments of an
# haproxy `bind`, e.g. "10.0.0.1:8443 ssl crt $W/proxy.pem") to BACKEND
# (host:port) and denies anything else: a CDN or HTTPS proxy in front of a
# relay's WebSocket listener.
pn_ws_proxy_cfg() {
	local f=$1 be=$2 b i=0
	shift 2
	printf 'global\n  maxconn 256\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  timeout tunnel 1h\n' >"$f"
	for b in "$@"; do
		i=$((i + 1))
		printf 'frontend fe%d\n  bind %s\n  acl ws hdr(Upgrade) -i websocket\n  use_backend relay if ws\n  default_backend nope\n' $i "$b" >>"$f"
	done
	printf 'backend relay\n  server r1 %s\nbackend nope\n  http-request deny\n' "$be" >>"$f"
}

now() { date +%s.%N; }
# (awk, not python: an interpreter's start-up takes seconds on a loaded machine)
since() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f\n", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

# ---- the star topology with a controller ----
#
#                  hub (router; controller https://$NET.0.1:8443)
#   cli $NET.1.2 ---+--- $NET.2.2 relay
#                   +--- $NET.4.2 conn ---- $NET.9.1 | $NET.9.2 res
#
# pn_star NET [norelay] (NET e.g. 10.205): namespaces NS_HUB NS_CLI NS_RELAY
# (unless norelay) NS_CONN NS_RES; H and C run a command in the hub and
# client namespaces.
pn_star() {
	NET=$1
	NS_HUB=pnh-$PN_TAG NS_CLI=pnc-$PN_TAG NS_RELAY=pnr-$PN_TAG NS_CONN=pnn-$PN_TAG NS_RES=pns-$PN_TAG
	pn_ns $NS_HUB $NS_CLI $NS_CONN $NS_RES || return 1
	ip netns exec $NS_HUB sysctl -qw net.ipv4.ip_forward=1
	ip -n $NS_HUB addr add $NET.0.1/32 dev lo
	pn_veth $NS_HUB h-cli $NET.1.1/24 $NS_CLI cli0 $NET.1.2/24
	pn_veth $NS_HUB h-conn $NET.4.1/24 $NS_CONN conn0 $NET.4.2/24
	pn_veth $NS_CONN res0 $NET.9.1/24 $NS_RES r0 $NET.9.2/24
	ip -n $NS_CLI route add default via $NET.1.1
	ip -n $NS_CONN route add default via $NET.4.1
	if [ "${2:-}" != norelay ]; then
		pn_ns $NS_RELAY || return 1
		pn_veth $NS_HUB h-relay $NET.2.1/24 $NS_RELAY relay0 $NET.2.2/24
		ip -n $NS_RELAY route add default via $NET.2.1
	fi
	H="ip netns exec $NS_HUB"
	C="ip netns exec $NS_CLI"
}

# pn_controller_up [controller run args...]: init + run on the hub, wait for
# its API; exports POSTERN_CONTROLLER_URL/CA_CERT/API_KEY, sets CTL.
pn_controller_up() {
	$H "$PN_BIN" controller init --data "$W/ctl" --api-listen $NET.0.1:8443 --hostname $NET.0.1 \
		>"$W/init.out" 2>&1 || { bad "controller init ($(tail -3 "$W/init.out"))"; return 1; }
	pn_bg controller $H "$PN_BIN" controller run --data "$W/ctl" --api-listen $NET.0.1:8443 "$@"
	pn_wait_tcp $NS_CLI $NET.0.1 8443 15 || { bad "controller up"; return 1; }
	export POSTERN_CONTROLLER_URL=https://$NET.0.1:8443 POSTERN_CA_CERT=$W/ctl/ca.crt
	POSTERN_API_KEY=$(grep '^pnak_' "$W/init.out")
	export POSTERN_API_KEY
	CTL="$H $PN_BIN ctl"
}

# pn_relay_enroll_up TOKEN [relay run args...]: enroll relay1 in NS_RELAY
# (state $W/relay) and run it on $NET.2.2 UDP 3478, TLS 4433.
pn_relay_enroll_up() {
	local token=$1
	shift
	ip netns exec $NS_RELAY "$PN_BIN" relay enroll --token "$token" --state "$W/relay" \
		>>"$W/enroll.log" 2>&1 || { bad "relay enroll"; return 1; }
	pn_bg relay ip netns exec $NS_RELAY "$PN_BIN" relay run --state "$W/relay" \
		--udp $NET.2.2:3478 --tls $NET.2.2:4433 --allow-peer $NET.0.0/16 "$@"
	pn_wait_tcp $NS_CLI $NET.2.2 4433 15 || { bad "relay listening"; return 1; }
}

# pn_provision RESOURCE ADDRESS PORTS [SA]: through $CTL, network corp
# with RESOURCE (ADDRESS, PORTS as `ctl resource add --ports`) granted to
# group eng, service account SA (default laptop) in eng and connector conn1;
# sets SA_KEY and TOKEN (conn1's enrollment token).
pn_provision() {
	$CTL network add corp >/dev/null &&
		$CTL resource add "$1" --network corp --address "$2" --ports "$3" >/dev/null &&
		$CTL group add eng >/dev/null && $CTL grant add eng "$1" >/dev/null ||
		{ bad "ctl provisioning"; return 1; }
	SA_KEY=$($CTL service-account add "${4:-laptop}" --group eng | grep '^pnsk_')
	TOKEN=$($CTL connector add corp conn1 | grep '^pnt1\.')
	[ -n "$SA_KEY" ] && [ -n "$TOKEN" ] || { bad "service account and connector token"; return 1; }
}

# pn_state_id DIR: the id of the component whose state DIR holds (controller.json).
pn_state_id() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$1/controller.json"
}

# pn_connector_enroll TOKEN [STATE [NS]]: enroll a connector (state
# $W/STATE, default conn, in NS, default NS_CONN); sets CONN_ID.
pn_connector_enroll() {
	local st=${2:-conn} ns=${3:-$NS_CONN}
	ip netns exec "$ns" "$PN_BIN" connector enroll --token "$1" --state "$W/$st" \
		>>"$W/enroll.log" 2>&1 || { bad "connector enroll ($(tail -3 "$W/enroll.log"))"; return 1; }
	CONN_ID=$(pn_state_id "$W/$st")
}

# pn_client_login NAME KEY [STATE]: a service-account login in NS_CLI
# (state STATE, default $W/NAME; output $W/login-NAME.out).
pn_client_login() {
	echo "$2" >"$W/$1.key"
	$C "$PN_BIN" client login --controller https://$NET.0.1:8443 --ca "$W/ctl/ca.crt" \
		--service-account-key "@$W/$1.key" --state "${3:-$W/$1}" >"$W/login-$1.out" 2>&1 ||
		{ bad "client login $1 ($(cat "$W/login-$1.out"))"; return 1; }
}
