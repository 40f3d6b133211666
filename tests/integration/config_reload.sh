#!/bin/bash
# SIGHUP on every daemon started with --config FILE: the file is read again,
# the flags are applied over it again, what can change while running does
# (each role's [log]; the relay's limits), and every other changed key is
# logged as needing a restart.  A bad file on reload is refused with its
# FILE:LINE: key message and the daemon keeps running as it was.
#
#   one network namespace, loopback only:
#     relay      127.0.0.1 udp/tls port 0   (pnfixture credential)
#     connector  127.0.0.1 udp port 0       (pnfixture credential, offline)
#     client     127.0.0.1 socks            (pnfixture credential, --offline)
#     controller 127.0.0.1 port 0           (controller init)
#
# Root (run inside the isolation wrapper).   bash config_reload.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/../lib/netns.sh" "${1:?usage: config_reload.sh BUILD_DIR}" cfgreload
P=$PN_BIN
F=${PN_FIXTURE:-$B/tests/lib/pnfixture}
T=60 # generous: sanitizer builds on a loaded machine

cfg() { printf '%b' "$2" >"$W/$1"; }
# hup NAME: SIGHUP to NAME, wait until its log has one more "reloaded" or
# "reload_failed" record.
hup() {
	local pid=PID_$1 n
	n=$(($(pn_count "$W/$1.log" 'reloaded') + $(pn_count "$W/$1.log" 'reload_failed')))
	kill -HUP "${!pid}" || { bad "$1: not running"; return 1; }
	for _ in $(seq $((T * 10))); do
		kill -0 "${!pid}" 2>/dev/null || { bad "$1 died on SIGHUP"; return 1; }
		[ $(($(pn_count "$W/$1.log" 'reloaded') + $(pn_count "$W/$1.log" 'reload_failed'))) -gt "$n" ] && return 0
		sleep 0.1
	done
	bad "$1: no reload record within ${T}s"
	return 1
}
has() { # NAME PATTERN DESCRIPTION
	if grep -qE -- "$2" "$W/$1.log"; then ok "$3"; else bad "$3: /$2/ not in $1.log"; fi
}
hasnt() { # NAME PATTERN DESCRIPTION
	if grep -qE -- "$2" "$W/$1.log"; then bad "$3: /$2/ in $1.log"; else ok "$3"; fi
}
alive() { # NAME
	local pid=PID_$1
	if kill -0 "${!pid}" 2>/dev/null; then ok "$1 still running"; else bad "$1 died"; fi
}
# refused NAME: the relay's refused_pending counter, from a fresh SIGUSR1 stats line.
refused() {
	local n
	n=$(pn_count "$W/relay.log" ' stats ')
	kill -USR1 "$PID_relay"
	pn_wait_count "$W/relay.log" ' stats ' $((n + 1)) $T || { echo -1; return; }
	grep ' stats ' "$W/relay.log" | tail -1 | sed -n 's/.*refused_pending=\([0-9]*\).*/\1/p'
}

"$F" "$W/pki" ca >/dev/null && "$F" "$W/pki" relay relay1 >/dev/null &&
	"$F" "$W/pki" connector conn1 corp --allow 127.0.0.2/32 tcp 7 >/dev/null &&
	"$F" "$W/pki" client alice --net corp conn1 --grant corp 127.0.0.2 tcp 7 \
		--relay relay1 127.0.0.1:9 127.0.0.1:9 >/dev/null ||
	{ bad "pki fixture"; pn_finish; }

# ---------------------------------------------------------------- relay --
relay_conf() { # max_pending_per_ip udp
	cfg relay.conf "[relay]\nstate = $W/pki/relay1\nudp = $2\ntls = 127.0.0.1:0\nmax_pending_per_ip = $1\nmax_conns = 5\nstats_interval = 0\n[log]\nlevel = info\n"
}
relay_conf 16 127.0.0.1:0
# --max-conns on the command line wins over the file, also after a reload.
pn_bg relay "$P" relay run --config "$W/relay.conf" --max-conns 7
pn_wait_log "$W/relay.log" "relay ready" $T || { bad "relay started"; pn_finish; }
TLS=$(sed -n 's/.*relay ready.*tls_port=\([0-9]*\).*/\1/p' "$W/relay.log" | head -1)
# Two unauthenticated connections from one address under a cap of 16.
exec 5<>"/dev/tcp/127.0.0.1/$TLS" 6<>"/dev/tcp/127.0.0.1/$TLS"
sleep 1
r=$(refused)
[ "$r" = 0 ] && ok "relay: cap 16, two pending connections admitted" || bad "relay: refused_pending=$r before reload"
exec 5>&- 6>&-
relay_conf 1 127.0.0.1:1
sed -i 's/^max_conns = 5/max_conns = 6/' "$W/relay.conf"
hup relay
has relay 'reload_applied key=relay.max_pending_per_ip' "relay: max_pending_per_ip applied"
has relay 'reload_ignored key=relay.udp .*needs a restart' "relay: changed udp address logged as needing a restart"
hasnt relay 'key=relay.max_conns' "relay: --max-conns still overrides the file"
has relay 'reloaded file=.*relay.conf applied=1 restart_needed=1' "relay: summary line"
# The new per-source cap holds: the second pending connection is refused.
exec 5<>"/dev/tcp/127.0.0.1/$TLS" 6<>"/dev/tcp/127.0.0.1/$TLS"
for _ in $(seq $((T * 2))); do
	r=$(refused)
	[ "${r:-0}" -ge 1 ] && break
	sleep 0.5
done
[ "${r:-0}" -ge 1 ] && ok "relay: cap 1 after SIGHUP refuses the second pending connection" ||
	bad "relay: refused_pending=$r after reload"
exec 5>&- 6>&-
# A broken file: refused with FILE:LINE: key, nothing changes.
printf '[relay]\nstate = %s\nmax_sessions = zero\n' "$W/pki/relay1" >"$W/relay.conf"
hup relay
has relay "reload_failed err=\"$W/relay.conf:3: key 'relay.max_sessions': expected integer" \
	"relay: a bad file on reload names file, line and key"
alive relay

# ------------------------------------------------------------ connector --
cfg conn.conf "[connector]\nstate = $W/pki/conn1\nlisten_udp = 127.0.0.1:0\nrelays = []\n[log]\nlevel = info\n"
pn_bg conn "$P" connector run --config "$W/conn.conf"
pn_wait_log "$W/conn.log" "connector ready" $T || { bad "connector started"; pn_finish; }
cfg conn.conf "[connector]\nstate = $W/pki/conn1\nlisten_udp = 127.0.0.1:1\nrelays = []\n[log]\nlevel = \"info,connector=debug\"\n"
hup conn
has conn 'reload_applied key=log.level' "connector: log level applied"
has conn 'reload_ignored key=connector.listen_udp' "connector: listen_udp needs a restart"
has conn 'connector reload signal=SIGHUP' "connector: list files reloaded as before"
alive conn

# --------------------------------------------------------------- client --
cfg client.conf "[client]\nstate = $W/pki/alice\nsocks = [\"127.0.0.1:19080\"]\noffline = true\n[log]\nformat = text\n"
pn_bg client "$P" client run --config "$W/client.conf"
pn_wait_file "$W/pki/alice/client.sock" $T || { bad "client started"; pn_finish; }
cfg client.conf "[client]\nstate = $W/pki/alice\nsocks = [\"127.0.0.1:19081\"]\noffline = true\n[log]\nformat = json\n"
hup client
has client '"event":"reload_applied","key":"log.format"' "client: JSON format applied at once"
has client '"event":"reload_ignored","key":"client.socks"' "client: socks needs a restart"
alive client

# ----------------------------------------------------------- controller --
"$P" controller init --data "$W/ctl" --api-listen 127.0.0.1:0 >/dev/null 2>&1 || bad "controller init"
cfg ctl.conf "[controller]\ndata = $W/ctl\napi_listen = 127.0.0.1:0\n"
pn_ctl_local ctl "$W/ctl" --config "$W/ctl.conf" --data "$W/ctl"
cfg ctl.conf "[controller]\ndata = $W/ctl\napi_listen = 127.0.0.1:0\ncred_lifetime = 30m\n[log]\nlevel = debug\n"
hup ctl
has ctl 'reload_applied key=log.level' "controller: log level applied"
has ctl 'reload_ignored key=controller.cred_lifetime' "controller: cred_lifetime needs a restart"
alive ctl

pn_finish
