/*
 * PostgreSQL back end of the store (libpq).  Same model and guarantees as
 * store_sqlite.c:
 *
 * - every statement is parameterized; table and column names come only
 *   from the static descriptions in store_schema.c (and are quoted);
 * - a write transaction takes a transaction-scoped advisory lock first, so
 *   writers are serialized across every controller sharing the database,
 *   exactly like SQLite's BEGIN IMMEDIATE: each change commits atomically
 *   with its audit record and policy-version bump, and a one-time token is
 *   consumed by exactly one caller (the conditional UPDATE ... RETURNING is
 *   itself atomic too);
 * - a read transaction is one REPEATABLE READ snapshot;
 * - a pool of PN_STORE_PG_POOL connections, opened on demand: each thread
 *   holds one (thread-specific) for the length of its transaction, and a
 *   broken connection is dropped and re-opened by the next transaction, so
 *   the controller recovers by itself when the server returns.  While it is
 *   away, begin fails with PN_E_STORE_DOWN (the API answers 503);
 * - version_bump NOTIFYs PN_PG_CHANNEL in the same transaction: the
 *   listener of every controller learns of the commit (store_pg_listen.c).
 *
 * This file holds the queries (the ops); store_pg_pool.c the connections,
 * the pool, transactions and statement helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/pq_dl.h"
#include "controller/store_pg.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#define SQL_MAX 2048

static const struct pn_col *find_col(const struct pn_objdesc *d, const char *name)
{
	for (unsigned i = 0; i < d->ncols; i++)
		if (!strcmp(d->cols[i].name, name))
			return &d->cols[i];
	return NULL;
}

/* "\"a\",\"b\",..." : the described columns (never the hidden rowid). */
static size_t put_cols(char *sql, size_t n, const struct pn_objdesc *d)
{
	for (unsigned i = 0; i < d->ncols && n < SQL_MAX; i++)
		n += (size_t)snprintf(sql + n, SQL_MAX - n, "%s\"%s\"", i ? "," : "",
				      d->cols[i].name);
	return n;
}

static int sql_fits(size_t n)
{
	return n < SQL_MAX - 1;
}

/* ---- generic rows ---- */

static int pg_insert(void *be, enum pn_obj kind, const json_t *row)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct pn_pg_params ps = {0};
	char sql[SQL_MAX];
	size_t n;
	int r;

	if (!d)
		return PN_E_INVAL;
	n = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s(", d->table);
	n = put_cols(sql, n, d);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, ") VALUES(");
	for (unsigned i = 0; i < d->ncols; i++) {
		const json_t *v = json_object_get(row, d->cols[i].name);

		if ((d->cols[i].flags & PN_COL_REQUIRED) && !v)
			return PN_E_INVAL;
		if ((r = pn_pg_json(&ps, d->cols[i].type, v)))
			return r;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s$%u", i ? "," : "", i + 1);
	}
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, ")");
	if (!sql_fits(n))
		return PN_E_INVAL;
	return pn_pg_run_sp(be, sql, &ps, NULL);
}

static int pg_get(void *be, enum pn_obj kind, const char *col, const char *value, json_t **out)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct pn_pg_params ps = {0};
	PGresult *res = NULL;
	char sql[SQL_MAX];
	size_t n;
	int r;

	if (!d || !find_col(d, col) || !value)
		return PN_E_INVAL;
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	n = put_cols(sql, n, d);
	n +=
	    (size_t)snprintf(sql + n, sizeof(sql) - n, " FROM %s WHERE \"%s\" = $1", d->table, col);
	if (!sql_fits(n))
		return PN_E_INVAL;
	pn_pg_text(&ps, value);
	if ((r = pn_pg_run(be, sql, &ps, &res)))
		return r;
	if (PQntuples(res) < 1)
		r = PN_E_STORE_NOTFOUND;
	else if (!(*out = pn_pg_row_json(res, 0)))
		r = -ENOMEM;
	PQclear(res);
	return r;
}

static int pg_list(void *be, enum pn_obj kind, const struct pn_filter *f, unsigned nf,
		   unsigned limit, json_t **out)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	const struct pn_col *oc = d ? find_col(d, d->order_by) : NULL;
	struct pn_pg_params ps = {0};
	char sql[SQL_MAX];
	size_t n;

	if (!d || nf > 8)
		return PN_E_INVAL;
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	n = put_cols(sql, n, d);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, " FROM %s", d->table);
	for (unsigned i = 0; i < nf; i++) {
		if (!find_col(d, f[i].col))
			return PN_E_INVAL;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s \"%s\" = $%u",
				      i ? " AND" : " WHERE", f[i].col, i + 1);
		if (f[i].text)
			pn_pg_text(&ps, f[i].text);
		else
			pn_pg_int(&ps, f[i].integer);
	}
	/* byte order like SQLite's BINARY collation; ties in insertion order */
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, " ORDER BY \"%s\"%s, rowid LIMIT %u",
			      d->order_by, oc && oc->type == PN_COL_TEXT ? " COLLATE \"C\"" : "",
			      limit ? limit : 100000u);
	if (!sql_fits(n))
		return PN_E_INVAL;
	return pn_pg_query_all(be, sql, &ps, out);
}

static int pg_update(void *be, enum pn_obj kind, const char *id, const json_t *set)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct pn_pg_params ps = {0};
	char sql[SQL_MAX];
	size_t n;
	int r;

	if (!d)
		return PN_E_INVAL;
	n = (size_t)snprintf(sql, sizeof(sql), "UPDATE %s SET", d->table);
	for (unsigned i = 0; i < d->ncols; i++) {
		const json_t *v = json_object_get(set, d->cols[i].name);

		if (!(d->cols[i].flags & PN_COL_MUTABLE) || !v)
			continue;
		if ((d->cols[i].flags & PN_COL_REQUIRED) && json_is_null(v))
			return PN_E_INVAL;
		if ((r = pn_pg_json(&ps, d->cols[i].type, v)))
			return r;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s \"%s\" = $%d",
				      ps.n > 1 ? "," : "", d->cols[i].name, ps.n);
	}
	if (!ps.n)
		return PN_E_INVAL;
	if ((r = pn_pg_text(&ps, id)))
		return r;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, " WHERE \"%s\" = $%d", d->key, ps.n);
	if (!sql_fits(n))
		return PN_E_INVAL;
	return pn_pg_run_one(be, sql, &ps);
}

static int pg_remove(void *be, enum pn_obj kind, const char *id)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct pn_pg_params ps = {0};
	char sql[256];

	if (!d)
		return PN_E_INVAL;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE \"%s\" = $1", d->table, d->key);
	pn_pg_text(&ps, id);
	return pn_pg_run_one(be, sql, &ps);
}

/* ---- special operations ---- */

static int pg_token_consume(void *be, const char *hash_hex, int64_t now, json_t **out)
{
	struct pn_pg_params ps = {0};
	PGresult *res = NULL;
	int r;

	pn_pg_text(&ps, hash_hex);
	pn_pg_int(&ps, now);
	/* The conditional UPDATE is the atomic test-and-set: only the caller
	 * whose statement changed the row owns the token. */
	r = pn_pg_run(be,
		      "UPDATE enroll_tokens SET used = 1 WHERE hash = $1 AND used = 0"
		      " AND expires > $2 RETURNING hash, kind, target_id, expires, used, created",
		      &ps, &res);
	if (r)
		return r;
	if (PQntuples(res) != 1)
		r = PN_E_TOKEN;
	else if (!(*out = pn_pg_row_json(res, 0)))
		r = -ENOMEM;
	PQclear(res);
	return r;
}

static int one_u64(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps, uint64_t *out)
{
	PGresult *res = NULL;
	int r = pn_pg_run(p, sql, ps, &res);

	if (r)
		return r;
	if (PQntuples(res) != 1)
		r = PN_E_STORE;
	else
		*out = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return r;
}

static int pg_version_get(void *be, uint64_t *out)
{
	return one_u64(be, "SELECT value FROM meta WHERE key = 'policy_version'", NULL, out);
}

static int pg_version_bump(void *be, uint64_t *out)
{
	/* NOTIFY is delivered at commit, to every listening controller */
	return one_u64(be,
		       "WITH u AS (UPDATE meta SET value = value + 1"
		       " WHERE key = 'policy_version' RETURNING value)"
		       " SELECT value, pg_notify('" PN_PG_CHANNEL "', value::text) FROM u",
		       NULL, out);
}

static int pg_version_set(void *be, uint64_t v)
{
	struct pn_pg_params ps = {0};

	pn_pg_int(&ps, (int64_t)v);
	return pn_pg_run_one(be, "UPDATE meta SET value = $1 WHERE key = 'policy_version'", &ps);
}

static int pg_audit_append(void *be, int64_t ts, const char *actor, const char *action,
			   const char *kind, const char *object_id, const json_t *detail)
{
	char *text = json_dumps(detail ? detail : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
	struct pn_pg_params ps = {0};
	int r;

	if (!text)
		return -ENOMEM;
	pn_pg_int(&ps, ts);
	pn_pg_text(&ps, actor);
	pn_pg_text(&ps, action);
	pn_pg_text(&ps, kind);
	pn_pg_text(&ps, object_id);
	pn_pg_text(&ps, text);
	r = pn_pg_run(be,
		      "INSERT INTO audit(ts, actor, action, kind, object_id, detail)"
		      " VALUES($1, $2, $3, $4, $5, $6)",
		      &ps, NULL);
	free(text);
	return r;
}

static int pg_audit_list(void *be, int64_t after_seq, unsigned limit, json_t **out)
{
	struct pn_pg_params ps = {0};

	pn_pg_int(&ps, after_seq);
	pn_pg_int(&ps, limit);
	return pn_pg_query_all(be,
			       "SELECT seq, ts, actor, action, kind, object_id, detail FROM audit"
			       " WHERE seq > $1 ORDER BY seq LIMIT $2",
			       &ps, out);
}

static const char *const flow_text_cols[] = {"event",	    "flow_id", "client_id", "user",
					     "resource_id", "dest",    "proto",	    "path",
					     "verdict",	    "reason"};
static const char *const flow_int_cols[] = {"port", "bytes_up", "bytes_down"};

static int pg_flow_insert(void *be, const char *reporter_id, const json_t *ev)
{
	struct pn_pg_params ps = {0};

	pn_pg_text(&ps, reporter_id);
	pn_pg_int(&ps, json_integer_value(json_object_get(ev, "ts_ms")));
	for (size_t k = 0; k < sizeof(flow_text_cols) / sizeof(flow_text_cols[0]); k++) {
		const char *v = json_string_value(json_object_get(ev, flow_text_cols[k]));

		if (v && strlen(v) != json_string_length(json_object_get(ev, flow_text_cols[k])))
			return PN_E_INVAL;
		pn_pg_text(&ps, v ? v : "");
	}
	for (size_t k = 0; k < sizeof(flow_int_cols) / sizeof(flow_int_cols[0]); k++)
		pn_pg_int(&ps, json_integer_value(json_object_get(ev, flow_int_cols[k])));
	return pn_pg_run(
	    be,
	    "INSERT INTO flow_events(received, reporter_id, ts_ms, event, flow_id,"
	    " client_id, \"user\", resource_id, dest, proto, path, verdict, reason, port,"
	    " bytes_up, bytes_down) VALUES(EXTRACT(EPOCH FROM now())::bigint, $1, $2,"
	    " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
	    &ps, NULL);
}

#define FLOW_COLS                                                                                  \
	"seq, received, reporter_id, ts_ms, event, flow_id, client_id, \"user\", resource_id,"     \
	" dest, port, proto, path, verdict, reason, bytes_up, bytes_down"

static int pg_flow_list(void *be, const struct pn_flow_query *q, json_t **out)
{
	struct pn_pg_params ps = {0};

	pn_pg_int(&ps, q->after_seq);
	pn_pg_int(&ps, q->since_ms);
	pn_pg_int(&ps, q->until_ms);
	pn_pg_text(&ps, q->resource_id);
	pn_pg_text(&ps, q->client_id);
	pn_pg_text(&ps, q->verdict);
	pn_pg_int(&ps, q->limit);
	return pn_pg_query_all(be,
			       "SELECT " FLOW_COLS " FROM flow_events WHERE seq > $1::bigint"
			       " AND ($2::bigint = 0 OR ts_ms >= $2::bigint)"
			       " AND ($3::bigint = 0 OR ts_ms < $3::bigint)"
			       " AND ($4::text IS NULL OR resource_id = $4::text)"
			       " AND ($5::text IS NULL OR client_id = $5::text)"
			       " AND ($6::text IS NULL OR verdict = $6::text)"
			       " ORDER BY seq LIMIT $7::bigint",
			       &ps, out);
}

static int pg_restore_log(void *be, int flows, const json_t *rows)
{
	size_t i;
	json_t *row;
	int r;

	json_array_foreach(rows, i, row)
	{
		struct pn_pg_params ps = {0};

		pn_pg_int(&ps, json_integer_value(json_object_get(row, "seq")));
		if (!flows) {
			static const char *const tc[] = {"actor", "action", "kind", "object_id",
							 "detail"};

			pn_pg_int(&ps, json_integer_value(json_object_get(row, "ts")));
			for (size_t k = 0; k < 5; k++)
				pn_pg_text(&ps, json_string_value(json_object_get(row, tc[k])));
			r = pn_pg_run(be,
				      "INSERT INTO audit(seq, ts, actor, action, kind, object_id,"
				      " detail) VALUES($1, $2, $3, $4, $5, $6, $7)",
				      &ps, NULL);
		} else {
			pn_pg_int(&ps, json_integer_value(json_object_get(row, "received")));
			pn_pg_text(&ps, json_string_value(json_object_get(row, "reporter_id")));
			pn_pg_int(&ps, json_integer_value(json_object_get(row, "ts_ms")));
			for (size_t k = 0; k < sizeof(flow_text_cols) / sizeof(flow_text_cols[0]);
			     k++)
				pn_pg_text(&ps, json_string_value(
						    json_object_get(row, flow_text_cols[k])));
			for (size_t k = 0; k < sizeof(flow_int_cols) / sizeof(flow_int_cols[0]);
			     k++)
				pn_pg_int(&ps, json_integer_value(
						   json_object_get(row, flow_int_cols[k])));
			r = pn_pg_run(
			    be,
			    "INSERT INTO flow_events(seq, received, reporter_id, ts_ms, event,"
			    " flow_id, client_id, \"user\", resource_id, dest, proto, path,"
			    " verdict, reason, port, bytes_up, bytes_down) VALUES($1, $2, $3,"
			    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
			    &ps, NULL);
		}
		if (r)
			return r;
	}
	/* new rows continue after the restored sequence numbers */
	return pn_pg_run(be,
			 flows ? "SELECT setval(pg_get_serial_sequence('flow_events', 'seq'),"
				 " COALESCE((SELECT MAX(seq) FROM flow_events), 0) + 1, false)"
			       : "SELECT setval(pg_get_serial_sequence('audit', 'seq'),"
				 " COALESCE((SELECT MAX(seq) FROM audit), 0) + 1, false)",
			 NULL, NULL);
}

static int pg_member_resources(void *be, const char *member_col, const char *member_id,
			       json_t **out)
{
	struct pn_pg_params ps = {0};
	const char *sql;

	if (!strcmp(member_col, "user_id"))
		sql =
		    "SELECT DISTINCT r.id, r.name, r.network_id, r.address, r.protocols, r.created"
		    " FROM resources r JOIN policies p ON p.resource_id = r.id"
		    " JOIN memberships m ON m.group_id = p.group_id WHERE m.user_id = $1"
		    " ORDER BY r.id";
	else if (!strcmp(member_col, "service_account_id"))
		sql =
		    "SELECT DISTINCT r.id, r.name, r.network_id, r.address, r.protocols, r.created"
		    " FROM resources r JOIN policies p ON p.resource_id = r.id"
		    " JOIN memberships m ON m.group_id = p.group_id"
		    " WHERE m.service_account_id = $1 ORDER BY r.id";
	else
		return PN_E_INVAL;
	pn_pg_text(&ps, member_id);
	return pn_pg_query_all(be, sql, &ps, out);
}

static int pg_network_clients(void *be, const char *network_id, int64_t now, json_t **out)
{
	struct pn_pg_params ps = {0};

	pn_pg_text(&ps, network_id);
	pn_pg_int(&ps, now);
	/* one row per (credential id, key): see store_sqlite.c */
	return pn_pg_query_all(be,
			       "SELECT c.cred_id, c.key_fp, c.holder_kind, c.holder_id,"
			       " MAX(c.not_after) AS not_after FROM credentials c"
			       " WHERE c.type = 'client' AND c.revoked = 0"
			       " AND c.not_after > $2 AND EXISTS (SELECT 1 FROM memberships m"
			       " JOIN policies p ON p.group_id = m.group_id"
			       " JOIN resources r ON r.id = p.resource_id"
			       " WHERE r.network_id = $1 AND ((c.holder_kind = 'service_account'"
			       " AND m.service_account_id = c.holder_id) OR (c.holder_kind = 'user'"
			       " AND m.user_id = c.holder_id)))"
			       " GROUP BY c.cred_id, c.key_fp, c.holder_kind, c.holder_id"
			       " ORDER BY c.cred_id COLLATE \"C\"",
			       &ps, out);
}

static int pg_revoked_list(void *be, int64_t now, json_t **out)
{
	struct pn_pg_params ps = {0};

	pn_pg_int(&ps, now);
	return pn_pg_query_all(
	    be,
	    "SELECT c.serial, CASE WHEN EXISTS (SELECT 1 FROM credentials l"
	    " WHERE l.cred_id = c.cred_id AND l.revoked = 0 AND l.not_after > $1)"
	    " THEN NULL ELSE c.cred_id END AS cred_id, c.type, c.holder_id,"
	    " c.not_after FROM credentials c WHERE c.revoked = 1"
	    " AND c.not_after > $1 ORDER BY c.serial COLLATE \"C\"",
	    &ps, out);
}

static int pg_revoke_where(void *be, const char *col, const char *value, int *n)
{
	struct pn_pg_params ps = {0};
	PGresult *res = NULL;
	const char *sql;
	int r;

	if (!strcmp(col, "holder_id"))
		sql = "UPDATE credentials SET revoked = 1 WHERE holder_id = $1 AND revoked = 0";
	else if (!strcmp(col, "serial"))
		sql = "UPDATE credentials SET revoked = 1 WHERE serial = $1 AND revoked = 0";
	else if (!strcmp(col, "cred_id"))
		sql = "UPDATE credentials SET revoked = 1 WHERE cred_id = $1 AND revoked = 0";
	else
		return PN_E_INVAL;
	pn_pg_text(&ps, value);
	if ((r = pn_pg_run(be, sql, &ps, &res)))
		return r;
	if (n)
		*n = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

static int pg_purge_before(void *be, enum pn_obj kind, const char *col, int64_t before, int *n)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct pn_pg_params ps = {0};
	PGresult *res = NULL;
	char sql[256];
	int r;

	/* the column name goes into SQL text: only one of the description's */
	if (!pn_store_int_col(d, col))
		return PN_E_INVAL;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE \"%s\" < $1", d->table, col);
	pn_pg_int(&ps, before);
	if ((r = pn_pg_run(be, sql, &ps, &res)))
		return r;
	if (n)
		*n = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

static int pg_integrity_check(void *be)
{
	uint64_t n = 0;
	int r = one_u64(be, "SELECT COUNT(*) FROM meta WHERE key = 'policy_version'", NULL, &n);

	return r ? r : n == 1 ? 0 : PN_E_STORE;
}

static int pg_watch(void *be, void (*cb)(void *arg, uint64_t version), void *arg)
{
	struct pn_pg *p = be;

	if (p->listen)
		return -EBUSY;
	return pn_pg_listen_start(p->url, cb, arg, &p->listen);
}

static void pg_close(void *be)
{
	struct pn_pg *p = be;

	if (!p)
		return;
	pn_pg_listen_stop(p->listen);
	for (unsigned i = 0; i < PN_STORE_PG_POOL; i++)
		PQfinish(p->conns[i].c);
	pthread_key_delete(p->key);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->m);
	if (p->url) /* may carry a password */
		pn_wipe(p->url, strlen(p->url));
	free(p->url);
	free(p);
}

const struct pn_store_ops pn_store_pg_ops = {
    .name = "postgres",
    .begin = pn_pg_begin,
    .commit = pn_pg_commit,
    .rollback = pn_pg_rollback,
    .insert = pg_insert,
    .get = pg_get,
    .list = pg_list,
    .update = pg_update,
    .remove = pg_remove,
    .token_consume = pg_token_consume,
    .version_get = pg_version_get,
    .version_bump = pg_version_bump,
    .audit_append = pg_audit_append,
    .audit_list = pg_audit_list,
    .flow_insert = pg_flow_insert,
    .flow_list = pg_flow_list,
    .member_resources = pg_member_resources,
    .network_clients = pg_network_clients,
    .revoked_list = pg_revoked_list,
    .revoke_where = pg_revoke_where,
    .purge_before = pg_purge_before,
    .integrity_check = pg_integrity_check,
    .close = pg_close,
    .watch = pg_watch,
    .restore_log = pg_restore_log,
    .version_set = pg_version_set,
    .concurrent = 1,
};

int pn_store_open_pg(const char *url, struct pn_store **out)
{
	struct pn_pg *p = calloc(1, sizeof(*p));
	struct pn_store *st = NULL;
	pthread_condattr_t ca;
	char err[256];
	PGconn *c;
	int r;

	if (!p)
		return -ENOMEM;
	/* libpq is loaded by the first PostgreSQL store (pq_dl.h): without
	 * it the store does not open (fails closed). */
	if ((r = pn_pq_load(err, sizeof(err)))) {
		PN_LOG_ERROR("store", "open_failed", "backend=postgres err=%s msg=\"%s\"",
			     pn_errname(r), err);
		free(p);
		return r;
	}
	if (!(p->url = strdup(url)) || pthread_key_create(&p->key, NULL)) {
		free(p->url);
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* The server down at start is the same failure as later: the
	 * controller serves (503 store_unavailable) and the first transaction
	 * after it answers checks and migrates the schema (pn_pg_begin). */
	if (!(c = pn_pg_connect(url, err, sizeof(err)))) {
		PN_LOG_WARN("store", "unreachable_at_open",
			    "backend=postgres msg=\"%s\" action=retry_per_request", err);
	} else {
		p->conns[0].c = c;
		if ((r = pn_pg_migrate(c)))
			goto out;
		p->migrated = 1;
	}
	if (!(st = calloc(1, sizeof(*st)))) {
		r = -ENOMEM;
		goto out;
	}
	st->ops = &pn_store_pg_ops;
	st->be = p;
	pthread_mutex_init(&st->lock, NULL);
	p = NULL; /* transferred */
	*out = st;
	r = 0;
out:
	pg_close(p);
	return r;
}
