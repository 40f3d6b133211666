# Private PostgreSQL 15 cluster for tests (source this file).
#
#   pg_start          initdb into a new /tmp/pn-pg.* as an unprivileged user,
#                     listen on a Unix socket in it only (no TCP), create the
#                     database "postern"; sets PG_URL (libpq URI), PG_PID
#   pg_stop           fast shutdown and removal of the directory (idempotent)
#   pg_kill           kill -9 the postmaster (failure tests); pg_start_again
#                     restarts the same cluster
#   pg_sql SQL        run SQL in the database (psql -At), print the rows
#
# Needs root (to run the server as another user) and Debian's postgresql-15.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PG_USER=
PG_DIR=
PG_PID=
PG_URL=

_pg_as() { # run a command as the cluster owner
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups -- "$@"
	else
		"$@"
	fi
}

pg_available() {
	[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && command -v psql >/dev/null
}

pg_start_again() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$PG_DIR/sock' -c fsync=on" \
		start >/dev/null || { cat "$PG_DIR/log" >&2; return 1; }
	PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
}

pg_start() {
	if [ "$(id -u)" = 0 ]; then
		if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi
	else
		PG_USER=$(id -un)
	fi
	PG_DIR=$(mktemp -d /tmp/pn-pg.XXXXXX)
	mkdir -p "$PG_DIR/sock"
	chown -R "$PG_USER" "$PG_DIR"
	_pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postern -A trust -E UTF8 --locale=C.UTF-8 \
		>"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
	pg_start_again || return 1
	PG_URL="postgresql:///postern?host=$PG_DIR/sock&user=postern"
	_pg_as "$PG_BIN/createdb" -h "$PG_DIR/sock" -U postern postern || return 1
}

pg_sql() {
	psql -X -q -At -h "$PG_DIR/sock" -U postern -d postern -c "$1"
}

pg_kill() {
	[ -n "$PG_PID" ] && kill -9 "$PG_PID" 2>/dev/null
	# the backends (working directory: the data dir) exit once the
	# postmaster is gone; a restart waits for them
	for _ in $(seq 1 100); do
		_pg_procs || break
		sleep 0.1
	done
	# The killed postmaster may linger as a zombie until it is reaped, and
	# kill(pid, 0) on a zombie succeeds: a restart would take its socket
	# lock for a live server's and refuse to start.  It is dead: drop its
	# locks.
	rm -f "$PG_DIR/data/postmaster.pid" "$PG_DIR/sock/.s.PGSQL."*.lock
	PG_PID=
}

_pg_procs() { # any process still working in the data directory?
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/cwd" 2>/dev/null)" = "$PG_DIR/data" ] && return 0
	done
	return 1
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	[ -f "$PG_DIR/data/postmaster.pid" ] &&
		_pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1
	PG_PID=
	rm -rf "$PG_DIR"
	PG_DIR=
}

# pg_test_store: for a suite that runs on both back ends: STORE (from
# PN_TEST_STORE, default sqlite) and STORE_ARGS for `controller init`; with
# pg, a private cluster started now and stopped at exit (netns.sh's
# pn_at_exit).  1 if PostgreSQL could not start.
pg_test_store() {
	STORE=${PN_TEST_STORE:-sqlite}
	STORE_ARGS=()
	[ "$STORE" = pg ] || return 0
	pn_at_exit pg_stop
	pg_start || { echo "could not start PostgreSQL"; return 1; }
	STORE_ARGS=(--store "$PG_URL")
	echo "store: PostgreSQL $(pg_sql 'SHOW server_version') at $PG_DIR"
}
