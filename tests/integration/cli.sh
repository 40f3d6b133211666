#!/bin/bash
# The binary as a user meets it: usage for every role, and config files with
# syntax errors, unknown keys, wrong types and missing required keys, each
# answered by one message naming the file, the line and the key, exit 2,
# never a crash.
# No root.   bash cli.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../lib/netns.sh" "${1:?usage: cli.sh BUILD_DIR}" cli
P=$PN_BIN

pn_expect_exit 0 '^usage: postern <command>' "postern --help" -- "$P" --help
pn_expect_exit 2 'usage: postern <command>' "postern without a command" -- "$P"
pn_expect_exit 2 "unknown command 'nope'" "unknown command" -- "$P" nope
for role in controller relay connector client ctl; do
	pn_expect_exit 0 "usage: postern $role" "postern $role --help" -- "$P" "$role" --help
	# Real usage, not a placeholder: more than a few lines and no "not implemented".
	lines=$("$P" "$role" --help 2>&1 | wc -l)
	if [ "$lines" -ge 8 ] && ! "$P" "$role" --help 2>&1 | grep -qi "not implemented yet"; then
		ok "postern $role --help is real usage ($lines lines)"
	else
		bad "postern $role --help looks like a placeholder ($lines lines)"
	fi
done

cfg() { printf '%b' "$2" >"$W/$1"; }
cfg syntax.conf '[client\nstate = /tmp/x\n'
pn_expect_exit 2 "syntax.conf:1: expected ']'" "config syntax error names file and line" -- \
	"$P" client run --config "$W/syntax.conf"
cfg unknown.conf '[client]\nstate = /tmp/x\nsockz = ["127.0.0.1:1"]\n'
pn_expect_exit 2 "unknown.conf:3: unknown key 'client.sockz'" "unknown key" -- \
	"$P" client run --config "$W/unknown.conf"
cfg section.conf '[clinet]\nstate = /tmp/x\n'
pn_expect_exit 2 "section.conf:1: .*clinet" "unknown section" -- "$P" client run --config "$W/section.conf"
cfg type.conf '[client]\nstate = /tmp/x\nidle_timeout = soon\n'
pn_expect_exit 2 "type.conf:3: key 'client.idle_timeout': expected duration" "wrong type" -- \
	"$P" client run --config "$W/type.conf"
cfg bool.conf '[client]\nstate = /tmp/x\noffline = 3\n'
pn_expect_exit 2 "bool.conf:3: key 'client.offline': expected true or false" "wrong boolean" -- \
	"$P" client run --config "$W/bool.conf"
cfg missing.conf '[client]\nsocks = ["127.0.0.1:1080"]\n'
pn_expect_exit 2 "missing.conf: key 'client.state': required" "missing required key" -- \
	"$P" client run --config "$W/missing.conf"
cfg dup.conf '[client]\nstate = /tmp/x\nstate = /tmp/y\n'
pn_expect_exit 2 "dup.conf:3: .*state" "duplicate key" -- "$P" client run --config "$W/dup.conf"
cfg fwd.conf '[client]\nstate = /tmp/x\nforward = ["1.2.3.4"]\n'
pn_expect_exit 2 "fwd.conf:3: key 'client.forward'" "semantic check names the key" -- \
	"$P" client run --config "$W/fwd.conf"
cfg loglevel.conf '[client]\nstate = /tmp/x\n[log]\nlevel = loud\n'
pn_expect_exit 2 "loglevel.conf:4: key 'log.level'" "bad log level" -- \
	"$P" client run --config "$W/loglevel.conf"
printf '[client]\nstate = /tmp/\000x\n' >"$W/nul.conf"
pn_expect_exit 2 "nul.conf:2" "NUL byte" -- "$P" client run --config "$W/nul.conf"
head -c 2000000 /dev/zero | tr '\0' 'a' >"$W/huge.conf"
pn_expect_exit 2 "huge.conf" "oversized file" -- "$P" client run --config "$W/huge.conf"
pn_expect_exit 2 "nope.conf: cannot read" "missing file" -- "$P" client run --config "$W/nope.conf"
# Random garbage never crashes (exit 2, a message naming the file).
for i in $(seq 1 50); do
	head -c $((RANDOM % 400 + 1)) /dev/urandom >"$W/rand.conf"
	out=$("$P" client run --config "$W/rand.conf" 2>&1); rc=$?
	if [ "$rc" -ne 2 ] || ! grep -q "rand.conf" <<<"$out"; then
		bad "random config $i: exit $rc: $out"; break
	fi
done
[ "$rc" -eq 2 ] && ok "50 random configs rejected cleanly"

pn_finish
