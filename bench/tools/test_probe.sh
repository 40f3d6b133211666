#!/bin/bash
# test_pnb_probe: pnb_probe's subcommands against its own echo servers on
# loopback, and the output lines scripts/bench.sh greps.
#   bash test_probe.sh PATH/pnb_probe
set -uo pipefail
P=$1
W=$(mktemp -d /tmp/pnb_probe_test.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$W"/*; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
	exit 1
}
# `key: <integer>` present in file $1 for every key after it
has_ints() {
	local f=$1 k
	shift
	for k in "$@"; do grep -Eq "^$k: [0-9]+$" "$f" || fail "$f: no '$k: N' line"; done
}
wait_port() { # file: the server's `port: N` line (generous: a loaded machine)
	local i
	for i in $(seq 600); do
		grep -q '^port: [1-9]' "$1" 2>/dev/null && { sed -n 's/^port: //p' "$1"; return 0; }
		sleep 0.05
	done
	fail "no port line in $1"
}

"$P" echo 0 127.0.0.1 >"$W/echo.out" 2>&1 &
PIDS+=($!)
port=$(wait_port "$W/echo.out") || exit 1

# rr and newflow: p50/p99 lines; a name that resolves (localhost may give
# ::1 first: every address is tried, as Python's create_connection does)
"$P" rr localhost "$port" 200 >"$W/rr.out" 2>&1 || fail "rr exited $?"
has_ints "$W/rr.out" p50_us p99_us
"$P" newflow 127.0.0.1 "$port" 50 >"$W/newflow.out" 2>&1 || fail "newflow exited $?"
has_ints "$W/newflow.out" p50_us p99_us

# A large write comes back whole (the server keeps what the socket would
# not take and stops reading until it has gone)
python3 - "$port" >"$W/big.out" 2>&1 <<'PY' || fail "large echo"
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
data = bytes(range(256)) * 16384  # 4 MiB
threading.Thread(target=s.sendall, args=(data,), daemon=True).start()
got = bytearray()
while len(got) < len(data):
    c = s.recv(1 << 20)
    if not c:
        break
    got += c
sys.exit(0 if bytes(got) == data else 1)
PY

# firstbyte with T0 from stdin after `ready: 1` (the bench's fifo protocol)
rm -f "$W/t0"
mkfifo "$W/t0"
exec 3<>"$W/t0"
"$P" firstbyte 127.0.0.1 "$port" - 20 <&3 >"$W/fb.out" 2>&1 &
fbpid=$!
for i in $(seq 600); do grep -q '^ready: 1$' "$W/fb.out" && break; sleep 0.05; done
grep -q '^ready: 1$' "$W/fb.out" || fail "firstbyte: no ready line"
date +%s.%N >&3
wait $fbpid || fail "firstbyte exited $?"
exec 3>&-
has_ints "$W/fb.out" ms

# nothing listening: retries until the timeout, then `ms: timeout`, exit 1
"$P" echo 0 127.0.0.1 >"$W/gone.out" 2>&1 &
gpid=$!
gport=$(wait_port "$W/gone.out") || exit 1
kill $gpid && wait $gpid 2>/dev/null
"$P" firstbyte 127.0.0.1 "$gport" "$(date +%s.%N)" 0.3 >"$W/fbt.out" 2>&1 && fail "firstbyte to a closed port exited 0"
grep -qx 'ms: timeout' "$W/fbt.out" || fail "firstbyte: no 'ms: timeout'"

# firstbytes: one `ms:` line per T0 line
(date +%s.%N; date +%s.%N) | "$P" firstbytes 127.0.0.1 "$port" 20 >"$W/fbs.out" 2>&1 || fail "firstbytes exited $?"
[ "$(grep -c '^ms: [0-9]*$' "$W/fbs.out")" = 2 ] || fail "firstbytes: not 2 ms lines"

# stats, as probe.py prints it
printf '10\n30\n20\ntimeout\n40\n' | "$P" stats >"$W/stats.out" || fail "stats exited $?"
printf 'n: 4\nfailures: 1\np50: 30\np99: 40\nmax: 40\nmax_over_p50: 1.33\n' | diff - "$W/stats.out" >&2 ||
	fail "stats output"

# udp-echo
"$P" udp-echo 0 127.0.0.1 >"$W/uecho.out" 2>&1 &
PIDS+=($!)
uport=$(wait_port "$W/uecho.out") || exit 1
python3 - "$uport" <<'PY' || fail "udp echo"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)
s.sendto(b"ping" * 100, ("127.0.0.1", int(sys.argv[1])))
sys.exit(0 if s.recvfrom(2048)[0] == b"ping" * 100 else 1)
PY
echo "test_pnb_probe: ok"
