#!/bin/bash
# --config FILE for every role's `run`, through the one loader
# (core/config.h) and each role's option table (src/app/opts.h):
#   - the sample configurations in docs/examples parse (--check-config);
#   - a bad file fails with one FILE:LINE: key 'SECTION.KEY' message, exit 2,
#     for every role (unknown key, wrong type, out of range, a cross-field
#     check, a bad [log] level);
#   - flags override the file (scalars replace, repeatable flags add to a
#     list), a bad flag value names the flag and the key;
#   - --check-config prints every key of the role's table.
# No root.   bash config_roles.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../lib/netns.sh" "${1:?usage: config_roles.sh BUILD_DIR}" cfgroles
P=$PN_BIN
EX=$PN_SRC/docs/examples

cfg() { printf '%b' "$2" >"$W/$1"; }

# --- the samples parse, and say what they set
for role in controller relay connector client; do
	pn_expect_exit 0 "^\[$role\]" "docs/examples/$role.conf parses" -- \
		"$P" "$role" run --config "$EX/$role.conf" --check-config
done
out=$("$P" relay run --config "$EX/relay.conf" --check-config 2>&1)
expect "relay sample: state from the file" 'state = "/var/lib/postern/relay"' "$out"
expect "relay sample: default limit" 'max_sessions = 262144' "$out"

# --- bad files: FILE:LINE: key 'SECTION.KEY', exit 2, for every role
bad_file() { # role name content pattern description
	cfg "$2" "$3"
	pn_expect_exit 2 "^postern $1 run: $W/$2:$4" "$1: $5" -- "$P" "$1" run --config "$W/$2"
}
bad_file controller c1.conf '[controller]\ndata = /tmp/x\napi_lsten = 1.2.3.4:1\n' \
	"3: unknown key 'controller.api_lsten' \(did you mean 'api_listen'\?\)" "unknown key"
bad_file controller c2.conf '[controller]\ndata = /tmp/x\ncred_lifetime = 2d\n' \
	"3: key 'controller.cred_lifetime': expected duration 10s..1d" "duration out of range"
bad_file controller c3.conf '[controller]\ndata = /tmp/x\ncred_lifetime = 90500ms\n' \
	"3: key 'controller.cred_lifetime': whole seconds only" "cross-field check"
bad_file relay r1.conf '[relay]\nstate = /tmp/x\nudp = 127.0.0.1:0\nmax_sessions = many\n' \
	"4: key 'relay.max_sessions': expected integer 1..4294967295" "wrong type"
bad_file relay r2.conf '[relay]\nstate = /tmp/x\nudp = 127.0.0.1:0\nws_path = postern\n' \
	"4: key 'relay.ws_path': must be a path like /postern" "cross-field check"
bad_file relay r3.conf '[relay]\nstate = /tmp/x\nudp = 127.0.0.1:0\nno_gso = maybe\n' \
	"4: key 'relay.no_gso': expected true or false" "wrong boolean"
bad_file connector n1.conf '[connector]\nstate = /tmp/x\nlisten_udp = nowhere\n' \
	"3: key 'connector.listen_udp': expected ADDR:PORT" "bad address"
bad_file connector n2.conf '[connector]\nstate = /tmp/x\nmax_flows = 0\n' \
	"3: key 'connector.max_flows': expected integer 1..16777216" "out of range"
bad_file connector n3.conf '[connector]\nstate = /tmp/x\nrelays = "tls=1.2.3.4:5"\n' \
	"3: key 'connector.relays': expected a list" "list expected"
bad_file client k1.conf '[client]\nstate = /tmp/x\nsocks = ["127.0.0.1:1"]\ntransport = quic\n' \
	"4: key 'client.transport': expected one of" "bad enum"
bad_file client k2.conf '[client]\nstate = /tmp/x\nsocks = ["127.0.0.1:1"]\nrenew_interval = 1s\n' \
	"4: key 'client.renew_interval': must be 0 \(automatic\) or at least 2s" "cross-field check"
for role in controller relay connector client; do
	cfg "log-$role.conf" "[log]\nlevel = loud\n"
	pn_expect_exit 2 "^postern $role run: $W/log-$role.conf:2: key 'log.level'" \
		"$role: bad [log] level" -- "$P" "$role" run --config "$W/log-$role.conf"
	cfg "sec-$role.conf" "[reley]\n"
	pn_expect_exit 2 "^postern $role run: $W/sec-$role.conf:1: unknown section \[reley\]" \
		"$role: unknown section" -- "$P" "$role" run --config "$W/sec-$role.conf"
done
# required keys: from the file or a flag
pn_expect_exit 2 "$W/none.conf: key 'controller.data': required but not set \(add it under \[controller\] or give --data\)" \
	"controller: data is required" -- sh -c ": >'$W/none.conf'; '$P' controller run --config '$W/none.conf'"
pn_expect_exit 2 "key 'relay.state': need state" "relay: state or files required" -- \
	"$P" relay run --udp 127.0.0.1:0
pn_expect_exit 2 "key 'relay.udp': need udp" "relay: a listener required" -- \
	"$P" relay run --state /tmp/x

# --- flags over the file
cfg over.conf '[relay]\nstate = /tmp/x\nudp = 127.0.0.1:0\nmax_sessions = 100\nsession_idle = 2m\n'
out=$("$P" relay run --config "$W/over.conf" --max-sessions 7 --session-idle 45 --check-config 2>&1)
expect "a flag replaces the file's value" "max_sessions = 7" "$out"
expect "a bare number for a seconds flag" "session_idle = 45s" "$out"
expect "the file's other values stay" 'udp = "127.0.0.1:0"' "$out"
cfg list.conf '[connector]\nstate = /tmp/x\nrelays = ["tls=10.0.0.1:443"]\n'
out=$("$P" connector run --config "$W/list.conf" --relay udp=10.0.0.2:3478 --check-config 2>&1)
expect "a repeatable flag adds to the file's list" 'relays = ["tls=10.0.0.1:443", "udp=10.0.0.2:3478"]' "$out"
out=$("$P" client run --config "$EX/client.conf" --log debug --log-json --idle-timeout 5000 --check-config 2>&1)
expect "--log overrides [log] level" 'level = "debug"' "$out"
expect "--log-json overrides [log] format" 'format = json' "$out"
expect "--idle-timeout in ms" 'idle_timeout = 5s' "$out"
pn_expect_exit 2 "^postern relay run: --max-sessions: key 'relay.max_sessions': expected integer" \
	"a bad flag value names the flag and the key" -- \
	"$P" relay run --config "$W/over.conf" --max-sessions lots
pn_expect_exit 2 "^postern client run: --forward: key 'client.forward': expected \"LADDR:LPORT=HOST:PORT\"" \
	"a cross-field check on a flag names the flag" -- \
	"$P" client run --state /tmp/x --forward 127.0.0.1:1
pn_expect_exit 2 "^postern connector run: unknown option '--bogus'" "unknown flag" -- \
	"$P" connector run --state /tmp/x --bogus
pn_expect_exit 2 "^postern controller run: --config given twice" "--config twice" -- \
	"$P" controller run --config "$EX/controller.conf" --config "$EX/controller.conf"

pn_finish
