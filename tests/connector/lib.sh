# Helpers for the connector integration scripts (sourced).  Callers set
# W (work dir) and ALL_NS (namespaces to delete at exit); processes
# started with bg are killed by pid at exit.
PIDS=()
fail=0

ok() { echo "ok   - $1"; }
bad() {
	echo "FAIL - $1"
	fail=$((fail + 1))
}
cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for n in $ALL_NS; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
		rm -rf "/etc/netns/$n"
	done
	[ $fail -eq 0 ] && rm -rf "$W"
}
trap cleanup EXIT
bg() { # name cmd...: background, log to $W/name.log, pid in PID_name
	local name=$1
	shift
	"$@" >>"$W/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_$name=$!"
}
veth() { # ns1 if1 addr1 ns2 if2 addr2
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
wait_tcp() { # ns host port seconds
	local i
	for i in $(seq $(($4 * 20))); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
wait_log() { # file pattern seconds
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
finish() {
	local p f
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
	for f in "$W"/connector*.log; do
		grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:" "$f" 2>/dev/null &&
			bad "sanitizer report in $f"
	done
	if [ $fail -ne 0 ]; then
		echo "--- logs ($W)"
		for f in "$W"/*.log; do echo "== $f"; tail -30 "$f"; done
		echo "$fail check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "${2:-$(now)}"; }
le() { python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$1" "$2"; }
