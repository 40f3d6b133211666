/*
 * Versioned schema migrations for the SQLite back end.  Migration n is
 * applied in one transaction together with its row in schema_migrations, so
 * a crash leaves the database at n-1 or n, never between.  Never edit an
 * applied migration: append a new one.
 */
#include <time.h>

#include "controller/sqlite_dl.h"
#include "controller/store_sqlite.h"
#include "core/err.h"
#include "core/log.h"

static const char *const migrations[] = {
	/* 1: the initial model. */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"INSERT INTO meta(key, value) VALUES('policy_version', 1);"
	"CREATE TABLE networks(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE resources(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE RESTRICT,"
	" address TEXT NOT NULL, protocols TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX resources_network ON resources(network_id);"
	"CREATE TABLE groups(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE users(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, email TEXT,"
	" disabled INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE service_accounts(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" disabled INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE memberships(id TEXT PRIMARY KEY,"
	" group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	" user_id TEXT REFERENCES users(id) ON DELETE CASCADE,"
	" service_account_id TEXT REFERENCES service_accounts(id) ON DELETE CASCADE,"
	" created INTEGER NOT NULL,"
	" CHECK ((user_id IS NULL) <> (service_account_id IS NULL)),"
	" UNIQUE(group_id, user_id), UNIQUE(group_id, service_account_id));"
	"CREATE INDEX memberships_user ON memberships(user_id);"
	"CREATE INDEX memberships_sa ON memberships(service_account_id);"
	"CREATE TABLE policies(id TEXT PRIMARY KEY,"
	" group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
	" resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,"
	" created INTEGER NOT NULL, UNIQUE(group_id, resource_id));"
	"CREATE INDEX policies_resource ON policies(resource_id);"
	"CREATE TABLE connectors(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE RESTRICT,"
	" enrolled INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE relays(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" udp TEXT, tls TEXT, ws TEXT, enrolled INTEGER NOT NULL DEFAULT 0,"
	" revoked INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE admin_keys(id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" role TEXT NOT NULL CHECK (role IN ('admin', 'readonly')),"
	" hash TEXT NOT NULL UNIQUE, revoked INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE sa_keys(id TEXT PRIMARY KEY,"
	" service_account_id TEXT NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,"
	" hash TEXT NOT NULL UNIQUE, revoked INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE credentials(serial TEXT PRIMARY KEY, cred_id TEXT NOT NULL,"
	" type TEXT NOT NULL CHECK (type IN ('client', 'connector', 'relay')),"
	" holder_kind TEXT NOT NULL, holder_id TEXT NOT NULL, name TEXT NOT NULL,"
	" key_fp TEXT NOT NULL, not_after INTEGER NOT NULL,"
	" revoked INTEGER NOT NULL DEFAULT 0, issued INTEGER NOT NULL);"
	"CREATE INDEX credentials_holder ON credentials(holder_id);"
	"CREATE INDEX credentials_cred ON credentials(cred_id);"
	"CREATE TABLE enroll_tokens(hash TEXT PRIMARY KEY,"
	" kind TEXT NOT NULL CHECK (kind IN ('connector', 'relay')),"
	" target_id TEXT NOT NULL, expires INTEGER NOT NULL,"
	" used INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,"
	" actor TEXT NOT NULL, action TEXT NOT NULL, kind TEXT NOT NULL,"
	" object_id TEXT NOT NULL, detail TEXT NOT NULL);"
	"CREATE TABLE flow_events(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" received INTEGER NOT NULL, reporter_id TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
	" event TEXT NOT NULL, flow_id TEXT NOT NULL, client_id TEXT NOT NULL,"
	" user TEXT NOT NULL, resource_id TEXT NOT NULL, dest TEXT NOT NULL,"
	" port INTEGER NOT NULL, proto TEXT NOT NULL, path TEXT NOT NULL,"
	" verdict TEXT NOT NULL, reason TEXT NOT NULL, bytes_up INTEGER NOT NULL,"
	" bytes_down INTEGER NOT NULL);"
	"CREATE INDEX flow_events_ts ON flow_events(ts_ms);",
	/* 2: OIDC sign-in (oidc*.c): identities, pending logins, synced groups. */
	"CREATE TABLE user_identities(id TEXT PRIMARY KEY,"
	" user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" provider TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT NULL, email TEXT,"
	" display_name TEXT, idp_groups TEXT NOT NULL DEFAULT '[]', refresh_token TEXT,"
	" reauth_due INTEGER NOT NULL DEFAULT 0, last_login INTEGER NOT NULL,"
	" created INTEGER NOT NULL, UNIQUE(issuer, subject));"
	"CREATE INDEX user_identities_user ON user_identities(user_id);"
	"CREATE TABLE oidc_flows(id TEXT PRIMARY KEY,"
	" kind TEXT NOT NULL CHECK (kind IN ('browser', 'device')),"
	" purpose TEXT NOT NULL CHECK (purpose IN ('client', 'admin')),"
	" provider TEXT NOT NULL, nonce TEXT, challenge TEXT, redirect_uri TEXT,"
	" device_code TEXT, expires INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE idp_memberships("
	" membership_id TEXT PRIMARY KEY REFERENCES memberships(id) ON DELETE CASCADE,"
	" identity_id TEXT NOT NULL REFERENCES user_identities(id) ON DELETE CASCADE,"
	" created INTEGER NOT NULL);"
	"CREATE INDEX idp_memberships_identity ON idp_memberships(identity_id);"
	"CREATE TABLE admin_sessions(id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
	" user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	" expires INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);",
	/* 3: admin console (console_*.c): browser sessions, component presence. */
	"CREATE TABLE console_sessions(id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
	" principal_kind TEXT NOT NULL CHECK (principal_kind IN ('admin-key', 'admin-session')),"
	" principal_id TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('admin', 'readonly')),"
	" actor TEXT NOT NULL, expires INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE presence(holder_id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
	" last_seen INTEGER NOT NULL, created INTEGER NOT NULL);",
	/* 4: status reported by connectors and relays (POST /v1/ctl/status). */
	"ALTER TABLE presence ADD COLUMN version TEXT;"
	"ALTER TABLE presence ADD COLUMN paths_direct INTEGER;"
	"ALTER TABLE presence ADD COLUMN paths_relay INTEGER;"
	"ALTER TABLE presence ADD COLUMN reported INTEGER;",
};

int pn_store_schema_version(void)
{
	return (int)(sizeof(migrations) / sizeof(migrations[0]));
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		int err = rc == SQLITE_BUSY ? PN_E_STORE_BUSY : PN_E_STORE;

		PN_LOG_ERROR("store", "sql_error", "err=%s sqlite_rc=%d msg=\"%s\"",
			     pn_errname(err), rc, msg ? msg : "");
		sqlite3_free(msg);
		return err;
	}
	return 0;
}

static int current_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int r = PN_E_STORE;

	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
			       &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out;
	*out = sqlite3_column_int(st, 0);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int pn_sqlite_migrate(sqlite3 *db)
{
	int have = 0, want = pn_store_schema_version(), r;

	r = exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations("
		     "version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)");
	if (r)
		return r;
	if ((r = current_version(db, &have)))
		return r;
	if (have > want) {
		PN_LOG_ERROR("store", "schema_newer", "db=%d program=%d", have, want);
		return PN_E_STORE_SCHEMA;
	}
	for (int v = have + 1; v <= want; v++) {
		sqlite3_stmt *st = NULL;

		if ((r = exec(db, "BEGIN IMMEDIATE")))
			return r;
		if ((r = exec(db, migrations[v - 1])))
			goto fail;
		r = PN_E_STORE;
		if (sqlite3_prepare_v2(db, "INSERT INTO schema_migrations(version, applied)"
					   " VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int(st, 1, v);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			goto fail;
		}
		sqlite3_finalize(st);
		if ((r = exec(db, "COMMIT")))
			goto fail;
		PN_LOG_INFO("store", "migrated", "version=%d", v);
		continue;
fail:
		exec(db, "ROLLBACK");
		return r;
	}
	return 0;
}
