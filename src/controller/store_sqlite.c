/*
 * SQLite back end of the store.  Every statement is parameterized; table
 * and column names come only from the static descriptions in
 * store_schema.c.  The database runs in WAL mode with foreign keys on and
 * synchronous=FULL, so a committed change survives kill -9 and power loss
 * and an uncommitted one is never visible.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "controller/store_sqlite.h"
#include "core/err.h"
#include "core/log.h"

struct sq {
	sqlite3 *db;
};

#define SQL_MAX 2048

static int sq_err(struct sq *s, int rc)
{
	int ext = sqlite3_extended_errcode(s->db);

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return PN_E_STORE_BUSY;
	if (rc == SQLITE_CONSTRAINT) {
		PN_LOG_DEBUG("store", "constraint", "ext=%d msg=\"%s\"", ext, sqlite3_errmsg(s->db));
		return PN_E_STORE_CONFLICT;
	}
	/* No space for the WAL or the database: the write fails closed (the
	 * transaction is rolled back) and succeeds again once space is freed. */
	if (rc == SQLITE_FULL || sqlite3_system_errno(s->db) == ENOSPC) {
		PN_LOG_ERROR("store", "disk_full", "err=PN_E_STORE_FULL sqlite_rc=%d sqlite_ext=%d",
			     rc, ext);
		return PN_E_STORE_FULL;
	}
	PN_LOG_ERROR("store", "sql_error", "err=PN_E_STORE sqlite_rc=%d sqlite_ext=%d msg=\"%s\"",
		     rc, ext, sqlite3_errmsg(s->db));
	return PN_E_STORE;
}

static int prep(struct sq *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : sq_err(s, rc);
}

static int exec_simple(struct sq *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_err(s, rc);
}

static int sq_begin(void *be, int write)
{
	return exec_simple(be, write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

static int sq_commit(void *be)
{
	return exec_simple(be, "COMMIT");
}

static void sq_rollback(void *be)
{
	struct sq *s = be;

	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Bind a JSON value to a column of the given type; NULL for null/absent. */
static int bind_json(sqlite3_stmt *st, int idx, enum pn_col_type type, const json_t *v)
{
	if (!v || json_is_null(v))
		return sqlite3_bind_null(st, idx);
	if (type == PN_COL_INT) {
		if (json_is_integer(v))
			return sqlite3_bind_int64(st, idx, (sqlite3_int64)json_integer_value(v));
		if (json_is_boolean(v))
			return sqlite3_bind_int(st, idx, json_is_true(v));
		return SQLITE_MISMATCH;
	}
	if (!json_is_string(v))
		return SQLITE_MISMATCH;
	return sqlite3_bind_text(st, idx, json_string_value(v), (int)json_string_length(v),
				 SQLITE_TRANSIENT);
}

/* One result row as a JSON object keyed by column name. */
static json_t *row_json(sqlite3_stmt *st)
{
	json_t *o = json_object();
	int n = sqlite3_column_count(st);

	if (!o)
		return NULL;
	for (int i = 0; i < n; i++) {
		json_t *v;

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = json_integer((json_int_t)sqlite3_column_int64(st, i));
			break;
		case SQLITE_NULL:
			v = json_null();
			break;
		default:
			v = json_stringn((const char *)sqlite3_column_text(st, i),
					 (size_t)sqlite3_column_bytes(st, i));
		}
		if (!v || json_object_set_new(o, sqlite3_column_name(st, i), v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Step through st collecting rows into an array (limit 0 = all). */
static int collect(struct sq *s, sqlite3_stmt *st, json_t **out)
{
	json_t *arr = json_array();
	int rc;

	if (!arr)
		return -ENOMEM;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = row_json(st);

		if (!row || json_array_append_new(arr, row)) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return sq_err(s, rc);
	}
	*out = arr;
	return 0;
}

static const struct pn_col *find_col(const struct pn_objdesc *d, const char *name)
{
	for (unsigned i = 0; i < d->ncols; i++)
		if (!strcmp(d->cols[i].name, name))
			return &d->cols[i];
	return NULL;
}

static int sq_insert(void *be, enum pn_obj kind, const json_t *row)
{
	struct sq *s = be;
	const struct pn_objdesc *d = pn_store_desc(kind);
	char sql[SQL_MAX], vals[SQL_MAX];
	size_t n = 0, m = 0;
	sqlite3_stmt *st = NULL;
	int r, rc, idx = 1;

	if (!d)
		return PN_E_INVAL;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "INSERT INTO %s(", d->table);
	for (unsigned i = 0; i < d->ncols; i++) {
		if ((d->cols[i].flags & PN_COL_REQUIRED) && !json_object_get(row, d->cols[i].name))
			return PN_E_INVAL;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s%s", i ? "," : "",
				      d->cols[i].name);
		m += (size_t)snprintf(vals + m, sizeof(vals) - m, "%s?", i ? "," : "");
	}
	snprintf(sql + n, sizeof(sql) - n, ") VALUES(%s)", vals);
	if ((r = prep(s, sql, &st)))
		return r;
	for (unsigned i = 0; i < d->ncols; i++, idx++)
		if (bind_json(st, idx, d->cols[i].type, json_object_get(row, d->cols[i].name)) !=
		    SQLITE_OK) {
			r = PN_E_INVAL;
			goto out;
		}
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : sq_err(s, rc);
out:
	sqlite3_finalize(st);
	return r;
}

static int sq_get(void *be, enum pn_obj kind, const char *col, const char *value, json_t **out)
{
	struct sq *s = be;
	const struct pn_objdesc *d = pn_store_desc(kind);
	char sql[SQL_MAX];
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (!d || !find_col(d, col))
		return PN_E_INVAL;
	snprintf(sql, sizeof(sql), "SELECT * FROM %s WHERE %s = ?", d->table, col);
	if ((r = prep(s, sql, &st)))
		return r;
	sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = row_json(st);
		r = *out ? 0 : -ENOMEM;
	} else {
		r = rc == SQLITE_DONE ? PN_E_STORE_NOTFOUND : sq_err(s, rc);
	}
	sqlite3_finalize(st);
	return r;
}

static int sq_list(void *be, enum pn_obj kind, const struct pn_filter *f, unsigned nf,
		   unsigned limit, json_t **out)
{
	struct sq *s = be;
	const struct pn_objdesc *d = pn_store_desc(kind);
	char sql[SQL_MAX];
	size_t n = 0;
	sqlite3_stmt *st = NULL;
	int r;

	if (!d || nf > 8)
		return PN_E_INVAL;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "SELECT * FROM %s", d->table);
	for (unsigned i = 0; i < nf; i++) {
		if (!find_col(d, f[i].col))
			return PN_E_INVAL;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s %s = ?", i ? " AND" : " WHERE",
				      f[i].col);
	}
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY %s LIMIT %u", d->order_by,
		 limit ? limit : 100000u);
	if ((r = prep(s, sql, &st)))
		return r;
	for (unsigned i = 0; i < nf; i++) {
		if (f[i].text)
			sqlite3_bind_text(st, (int)i + 1, f[i].text, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, (int)i + 1, f[i].integer);
	}
	r = collect(s, st, out);
	sqlite3_finalize(st);
	return r;
}

static int sq_update(void *be, enum pn_obj kind, const char *id, const json_t *set)
{
	struct sq *s = be;
	const struct pn_objdesc *d = pn_store_desc(kind);
	char sql[SQL_MAX];
	size_t n = 0;
	sqlite3_stmt *st = NULL;
	int r, rc, idx = 1, any = 0;

	if (!d)
		return PN_E_INVAL;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, "UPDATE %s SET", d->table);
	for (unsigned i = 0; i < d->ncols; i++) {
		if (!(d->cols[i].flags & PN_COL_MUTABLE) || !json_object_get(set, d->cols[i].name))
			continue;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s %s = ?", any ? "," : "",
				      d->cols[i].name);
		any = 1;
	}
	if (!any)
		return PN_E_INVAL;
	snprintf(sql + n, sizeof(sql) - n, " WHERE %s = ?", d->key);
	if ((r = prep(s, sql, &st)))
		return r;
	for (unsigned i = 0; i < d->ncols; i++) {
		const json_t *v = json_object_get(set, d->cols[i].name);

		if (!(d->cols[i].flags & PN_COL_MUTABLE) || !v)
			continue;
		if ((d->cols[i].flags & PN_COL_REQUIRED) && json_is_null(v)) {
			r = PN_E_INVAL;
			goto out;
		}
		if (bind_json(st, idx++, d->cols[i].type, v) != SQLITE_OK) {
			r = PN_E_INVAL;
			goto out;
		}
	}
	sqlite3_bind_text(st, idx, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = sq_err(s, rc);
	else
		r = sqlite3_changes(s->db) == 1 ? 0 : PN_E_STORE_NOTFOUND;
out:
	sqlite3_finalize(st);
	return r;
}

static int sq_remove(void *be, enum pn_obj kind, const char *id)
{
	struct sq *s = be;
	const struct pn_objdesc *d = pn_store_desc(kind);
	char sql[SQL_MAX];
	sqlite3_stmt *st = NULL;
	int r, rc;

	if (!d)
		return PN_E_INVAL;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s = ?", d->table, d->key);
	if ((r = prep(s, sql, &st)))
		return r;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		r = sq_err(s, rc);
	else
		r = sqlite3_changes(s->db) == 1 ? 0 : PN_E_STORE_NOTFOUND;
	sqlite3_finalize(st);
	return r;
}

static int sq_token_consume(void *be, const char *hash_hex, int64_t now, json_t **out)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = prep(s, "UPDATE enroll_tokens SET used = 1 WHERE hash = ? AND used = 0 AND expires > ?",
		 &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, hash_hex, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_err(s, rc);
	/* The conditional UPDATE is the atomic test-and-set: only the caller
	 * whose statement changed the row owns the token. */
	if (sqlite3_changes(s->db) != 1)
		return PN_E_TOKEN;
	return sq_get(be, PN_OBJ_ENROLL_TOKEN, "hash", hash_hex, out);
}

static int sq_version_get(void *be, uint64_t *out)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prep(s, "SELECT value FROM meta WHERE key = 'policy_version'", &st)))
		return r;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = PN_E_STORE;
	sqlite3_finalize(st);
	return r;
}

static int sq_version_bump(void *be, uint64_t *out)
{
	int r = exec_simple(be, "UPDATE meta SET value = value + 1 WHERE key = 'policy_version'");

	return r ? r : sq_version_get(be, out);
}

static int sq_audit_append(void *be, int64_t ts, const char *actor, const char *action,
			   const char *kind, const char *object_id, const json_t *detail)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	char *text = json_dumps(detail ? detail : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
	int r, rc;

	if (!text)
		return -ENOMEM;
	r = prep(s, "INSERT INTO audit(ts, actor, action, kind, object_id, detail)"
		    " VALUES(?, ?, ?, ?, ?, ?)", &st);
	if (r)
		goto out;
	sqlite3_bind_int64(st, 1, ts);
	sqlite3_bind_text(st, 2, actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, object_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, text, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : sq_err(s, rc);
out:
	sqlite3_finalize(st);
	free(text);
	return r;
}

static int sq_audit_list(void *be, int64_t after_seq, unsigned limit, json_t **out)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r;

	r = prep(s, "SELECT seq, ts, actor, action, kind, object_id, json(detail) AS detail"
		    " FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, after_seq);
	sqlite3_bind_int(st, 2, (int)limit);
	r = collect(s, st, out);
	sqlite3_finalize(st);
	return r;
}

static const char *const flow_text_cols[] = {"event", "flow_id", "client_id", "user",
					     "resource_id", "dest", "proto", "path",
					     "verdict", "reason"};

static int sq_flow_insert(void *be, const char *reporter_id, const json_t *ev)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r, rc, i = 1;

	r = prep(s, "INSERT INTO flow_events(received, reporter_id, ts_ms, event, flow_id,"
		    " client_id, user, resource_id, dest, proto, path, verdict, reason, port,"
		    " bytes_up, bytes_down) VALUES(strftime('%s','now'), ?, ?, ?, ?, ?, ?, ?,"
		    " ?, ?, ?, ?, ?, ?, ?, ?)", &st);
	if (r)
		return r;
	sqlite3_bind_text(st, i++, reporter_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, i++, json_integer_value(json_object_get(ev, "ts_ms")));
	for (size_t k = 0; k < sizeof(flow_text_cols) / sizeof(flow_text_cols[0]); k++) {
		const char *v = json_string_value(json_object_get(ev, flow_text_cols[k]));

		sqlite3_bind_text(st, i++, v ? v : "", -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int64(st, i++, json_integer_value(json_object_get(ev, "port")));
	sqlite3_bind_int64(st, i++, json_integer_value(json_object_get(ev, "bytes_up")));
	sqlite3_bind_int64(st, i++, json_integer_value(json_object_get(ev, "bytes_down")));
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : sq_err(s, rc);
	sqlite3_finalize(st);
	return r;
}

static int sq_flow_list(void *be, const struct pn_flow_query *q, json_t **out)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r;

	/* Optional filters are expressed as (? IS NULL OR col = ?) so the
	 * statement text is fixed and every value is bound. */
	r = prep(s, "SELECT * FROM flow_events WHERE seq > ?1"
		    " AND (?2 = 0 OR ts_ms >= ?2) AND (?3 = 0 OR ts_ms < ?3)"
		    " AND (?4 IS NULL OR resource_id = ?4) AND (?5 IS NULL OR client_id = ?5)"
		    " AND (?6 IS NULL OR verdict = ?6) ORDER BY seq LIMIT ?7", &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, q->after_seq);
	sqlite3_bind_int64(st, 2, q->since_ms);
	sqlite3_bind_int64(st, 3, q->until_ms);
	if (q->resource_id)
		sqlite3_bind_text(st, 4, q->resource_id, -1, SQLITE_TRANSIENT);
	if (q->client_id)
		sqlite3_bind_text(st, 5, q->client_id, -1, SQLITE_TRANSIENT);
	if (q->verdict)
		sqlite3_bind_text(st, 6, q->verdict, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 7, (int)q->limit);
	r = collect(s, st, out);
	sqlite3_finalize(st);
	return r;
}

static int sq_member_resources(void *be, const char *member_col, const char *member_id,
			       json_t **out)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	const char *sql;
	int r;

	if (!strcmp(member_col, "user_id"))
		sql = "SELECT DISTINCT r.* FROM resources r JOIN policies p ON p.resource_id = r.id"
		      " JOIN memberships m ON m.group_id = p.group_id WHERE m.user_id = ?"
		      " ORDER BY r.id";
	else if (!strcmp(member_col, "service_account_id"))
		sql = "SELECT DISTINCT r.* FROM resources r JOIN policies p ON p.resource_id = r.id"
		      " JOIN memberships m ON m.group_id = p.group_id"
		      " WHERE m.service_account_id = ? ORDER BY r.id";
	else
		return PN_E_INVAL;
	if ((r = prep(s, sql, &st)))
		return r;
	sqlite3_bind_text(st, 1, member_id, -1, SQLITE_TRANSIENT);
	r = collect(s, st, out);
	sqlite3_finalize(st);
	return r;
}

static int sq_network_clients(void *be, const char *network_id, int64_t now, json_t **out)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r;

	/* one row per (credential id, key): renewals of the same device with
	 * the same key share one access list */
	r = prep(s, "SELECT c.cred_id, c.key_fp, c.holder_kind, c.holder_id,"
		    " MAX(c.not_after) AS not_after FROM credentials c"
		    " WHERE c.type = 'client' AND c.revoked = 0"
		    " AND c.not_after > ?2 AND EXISTS (SELECT 1 FROM memberships m"
		    " JOIN policies p ON p.group_id = m.group_id"
		    " JOIN resources r ON r.id = p.resource_id"
		    " WHERE r.network_id = ?1 AND ((c.holder_kind = 'service_account'"
		    " AND m.service_account_id = c.holder_id) OR (c.holder_kind = 'user'"
		    " AND m.user_id = c.holder_id)))"
		    " GROUP BY c.cred_id, c.key_fp, c.holder_kind, c.holder_id ORDER BY c.cred_id",
		 &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, network_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	r = collect(s, st, out);
	sqlite3_finalize(st);
	return r;
}

static int sq_revoked_list(void *be, int64_t now, json_t **out)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r;

	/* cred_id is reported only when no live credential shares it, so a
	 * receiver may revoke by id ("every credential of this device") without
	 * hitting a re-enrolled or renewed instance; otherwise the serial alone. */
	r = prep(s, "SELECT c.serial, CASE WHEN EXISTS (SELECT 1 FROM credentials l"
		    " WHERE l.cred_id = c.cred_id AND l.revoked = 0 AND l.not_after > ?1)"
		    " THEN NULL ELSE c.cred_id END AS cred_id, c.type, c.holder_id, c.not_after"
		    " FROM credentials c WHERE c.revoked = 1 AND c.not_after > ?1 ORDER BY c.serial",
		 &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, now);
	r = collect(s, st, out);
	sqlite3_finalize(st);
	return r;
}

static int sq_revoke_where(void *be, const char *col, const char *value, int *n)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	const char *sql;
	int r, rc;

	if (!strcmp(col, "holder_id"))
		sql = "UPDATE credentials SET revoked = 1 WHERE holder_id = ? AND revoked = 0";
	else if (!strcmp(col, "serial"))
		sql = "UPDATE credentials SET revoked = 1 WHERE serial = ? AND revoked = 0";
	else if (!strcmp(col, "cred_id"))
		sql = "UPDATE credentials SET revoked = 1 WHERE cred_id = ? AND revoked = 0";
	else
		return PN_E_INVAL;
	if ((r = prep(s, sql, &st)))
		return r;
	sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : sq_err(s, rc);
	if (!r && n)
		*n = sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return r;
}

static int sq_purge_before(void *be, enum pn_obj kind, const char *col, int64_t before, int *n)
{
	struct sq *s = be;
	const struct pn_objdesc *d = pn_store_desc(kind);
	sqlite3_stmt *st = NULL;
	char sql[SQL_MAX];
	int r, rc;

	/* the column name goes into SQL text: only one of the description's */
	if (!pn_store_int_col(d, col))
		return PN_E_INVAL;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s < ?", d->table, col);
	if ((r = prep(s, sql, &st)))
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)before);
	rc = sqlite3_step(st);
	r = rc == SQLITE_DONE ? 0 : sq_err(s, rc);
	if (!r && n)
		*n = sqlite3_changes(s->db);
	sqlite3_finalize(st);
	return r;
}

static int sq_integrity_check(void *be)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int r;

	if ((r = prep(s, "PRAGMA integrity_check", &st)))
		return r;
	r = PN_E_STORE;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    !strcmp((const char *)sqlite3_column_text(st, 0), "ok"))
		r = 0;
	sqlite3_finalize(st);
	if (!r) {
		if ((r = prep(s, "PRAGMA foreign_key_check", &st)))
			return r;
		if (sqlite3_step(st) != SQLITE_DONE)
			r = PN_E_STORE;
		sqlite3_finalize(st);
	}
	return r;
}

static void sq_close(void *be)
{
	struct sq *s = be;

	if (!s)
		return;
	sqlite3_close_v2(s->db);
	free(s);
}

const struct pn_store_ops pn_store_sqlite_ops = {
	.name = "sqlite",
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.insert = sq_insert,
	.get = sq_get,
	.list = sq_list,
	.update = sq_update,
	.remove = sq_remove,
	.token_consume = sq_token_consume,
	.version_get = sq_version_get,
	.version_bump = sq_version_bump,
	.audit_append = sq_audit_append,
	.audit_list = sq_audit_list,
	.flow_insert = sq_flow_insert,
	.flow_list = sq_flow_list,
	.member_resources = sq_member_resources,
	.network_clients = sq_network_clients,
	.revoked_list = sq_revoked_list,
	.revoke_where = sq_revoke_where,
	.purge_before = sq_purge_before,
	.integrity_check = sq_integrity_check,
	.close = sq_close,
};

/*
 * The database holds key hashes, sessions and the credential records:
 * readable by its owner only.  SQLite creates its -wal and -shm files with
 * the database file's mode, so the database is created 0600 before SQLite
 * opens it; files of an older install that others could read are narrowed.
 */
static int private_files(const char *path)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char name[4096];
	struct stat sb;

	if (path[0] == ':' || !strncmp(path, "file:", 5)) /* in memory, or a URI */
		return 0;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		int fd;

		if ((size_t)snprintf(name, sizeof(name), "%s%s", path, sfx[i]) >= sizeof(name))
			return -ENAMETOOLONG;
		fd = open(name, (i == 0 ? O_CREAT : 0) | O_RDONLY | O_CLOEXEC, 0600);
		if (fd < 0) {
			if (i > 0 && errno == ENOENT)
				continue;
			PN_LOG_ERROR("store", "open_failed", "path=%s errno=%d", name, errno);
			return PN_E_STORE;
		}
		if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
			PN_LOG_WARN("store", "mode_narrowed", "path=%s mode=%o now=600 ok=%d", name,
				    (unsigned)(sb.st_mode & 0777), fchmod(fd, 0600) == 0);
		close(fd);
	}
	return 0;
}

int pn_store_open_sqlite(const char *path, struct pn_store **out)
{
	struct sq *s;
	struct pn_store *st = NULL;
	char err[256];
	int r = -ENOMEM, rc;

	/* SQLite is loaded by the first SQLite store (sqlite_dl.h): without
	 * it the store does not open (fails closed). */
	if ((r = pn_sqlite_load(err, sizeof(err)))) {
		PN_LOG_ERROR("store", "open_failed", "backend=sqlite err=%s msg=\"%s\"",
			     pn_errname(r), err);
		return r;
	}
	if ((r = private_files(path)))
		return r;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	r = -ENOMEM;
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		PN_LOG_ERROR("store", "open_failed", "path=%s msg=\"%s\"", path,
			     s->db ? sqlite3_errmsg(s->db) : "out of memory");
		r = PN_E_STORE;
		goto out;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if ((r = exec_simple(s, "PRAGMA journal_mode=WAL")) ||
	    (r = exec_simple(s, "PRAGMA synchronous=FULL")) ||
	    (r = exec_simple(s, "PRAGMA foreign_keys=ON")))
		goto out;
	if ((r = pn_sqlite_migrate(s->db)))
		goto out;
	st = calloc(1, sizeof(*st));
	if (!st) {
		r = -ENOMEM;
		goto out;
	}
	st->ops = &pn_store_sqlite_ops;
	st->be = s;
	pthread_mutex_init(&st->lock, NULL);
	s = NULL; /* transferred */
	*out = st;
	r = 0;
out:
	sq_close(s);
	return r;
}
