#!/bin/bash
# What the browser test (console.mjs) asks of the network around it: enroll
# and run the connector with the token it copied from the page, log in and
# run a client, fetch through it.  Environment from it_console.sh.
# Background processes are recorded in $W/bg.pids (it_console.sh stops them).
set -uo pipefail
bg() { # name cmd...
	local name=$1
	shift
	setsid "$@" >"$W/$name.log" 2>&1 </dev/null &
	echo "$!" >>"$W/bg.pids"
}
case "$1" in
enroll) # TOKEN: enroll and run the connector
	ip netns exec "$NS_CONN" "$PN_BIN" connector enroll --token "$2" --state "$W/conn" \
		>"$W/enroll.log" 2>&1 || { cat "$W/enroll.log" >&2; exit 1; }
	bg connector ip netns exec "$NS_CONN" "$PN_BIN" connector run --state "$W/conn" \
		--listen-udp "$NET.4.2:4433"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/conn/controller.json"
	;;
client) # SA_KEY CONN_ID: log in a client and run it (offline: it keeps its list)
	echo "$2" >"$W/sa.key"
	ip netns exec "$NS_CLI" "$PN_BIN" client login --controller "https://$NET.0.1:8443" \
		--ca "$W/ctl/ca.crt" --service-account-key "@$W/sa.key" --state "$W/cli" \
		>"$W/login.out" 2>&1 || { cat "$W/login.out" >&2; exit 1; }
	bg client ip netns exec "$NS_CLI" "$PN_BIN" client run --state "$W/cli" --offline \
		--socks 127.0.0.1:1080 --direct "$3=$NET.4.2:4433"
	for _ in $(seq 150); do
		ip netns exec "$NS_CLI" bash -c 'exec 3<>/dev/tcp/127.0.0.1/1080' 2>/dev/null && exit 0
		sleep 0.1
	done
	echo "client SOCKS5 not listening" >&2
	exit 1
	;;
fetch) # through the client's SOCKS5 proxy; prints the body
	ip netns exec "$NS_CLI" curl -s -m 10 --socks5 127.0.0.1:1080 "http://$NET.9.2:8000/" || true
	;;
*)
	echo "usage: helper.sh enroll TOKEN | client SA_KEY CONN_ID | fetch" >&2
	exit 2
	;;
esac
