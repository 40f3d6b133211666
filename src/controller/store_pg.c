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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/store_pg.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#define SQL_MAX 2048
#define MAXP 24
#define PG_WAIT_S 5	    /* waiting for a free pooled connection */
#define PG_DOWN_LOG_S 10    /* at most one "unreachable" log per this */
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23

struct pg;

struct pgconn {
	PGconn *c;
	int busy;
	int failed; /* a statement of the current transaction failed */
};

struct pg {
	char *url;
	pthread_mutex_t m;
	pthread_cond_t cv;
	pthread_key_t key; /* the calling thread's struct pgconn in a transaction */
	struct pgconn conns[PN_STORE_PG_POOL];
	int64_t last_down_log;
	struct pn_pg_listen *listen;
};

/* Parameters as text (libpq's text format; the server infers the types). */
struct params {
	const char *v[MAXP];
	char num[MAXP][24];
	int n;
};

static int p_text(struct params *ps, const char *s)
{
	if (ps->n >= MAXP)
		return PN_E_INVAL;
	ps->v[ps->n++] = s;
	return 0;
}

static int p_int(struct params *ps, int64_t v)
{
	if (ps->n >= MAXP)
		return PN_E_INVAL;
	snprintf(ps->num[ps->n], sizeof(ps->num[0]), "%lld", (long long)v);
	ps->v[ps->n] = ps->num[ps->n];
	ps->n++;
	return 0;
}

/* A JSON value for a column of the given type; NULL for null/absent. */
static int p_json(struct params *ps, enum pn_col_type type, const json_t *v)
{
	if (!v || json_is_null(v))
		return p_text(ps, NULL);
	if (type == PN_COL_INT) {
		if (json_is_integer(v))
			return p_int(ps, (int64_t)json_integer_value(v));
		if (json_is_boolean(v))
			return p_int(ps, json_is_true(v));
		return PN_E_INVAL;
	}
	/* PostgreSQL text cannot hold NUL: refuse rather than truncate */
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return PN_E_INVAL;
	return p_text(ps, json_string_value(v));
}

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	PN_LOG_DEBUG("store", "notice", "backend=postgres msg=\"%s\"", msg);
}

PGconn *pn_pg_connect(const char *url, char *err, size_t errsz)
{
	/* dbname (the URI) comes last: what it says overrides these defaults */
	static const char *const keys[] = {"connect_timeout", "application_name",
					   "client_encoding", "keepalives_idle",
					   "keepalives_interval", "keepalives_count", "dbname", NULL};
	const char *vals[] = {"5", "postern-controller", "UTF8", "10", "5", "3", url, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	PGresult *res;

	if (err && errsz)
		err[0] = '\0';
	if (!c || PQstatus(c) != CONNECTION_OK) {
		if (err && errsz) {
			snprintf(err, errsz, "%s", c ? PQerrorMessage(c) : "out of memory");
			err[strcspn(err, "\n")] = '\0';
		}
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	/* A lost lock holder or a stuck statement must not hang API threads. */
	res = PQexec(c, "SET statement_timeout = 15000; SET lock_timeout = 5000;"
			" SET idle_in_transaction_session_timeout = 60000");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (err && errsz)
			snprintf(err, errsz, "session setup failed");
		PQclear(res);
		PQfinish(c);
		return NULL;
	}
	PQclear(res);
	return c;
}

int pn_pg_error(PGconn *c, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : "";

	if (!c || PQstatus(c) == CONNECTION_BAD)
		return PN_E_STORE_DOWN;
	if (state) {
		if (!strncmp(state, "23", 2)) { /* integrity constraint violation */
			PN_LOG_DEBUG("store", "constraint", "state=%s msg=\"%s\"", state, msg);
			return PN_E_STORE_CONFLICT;
		}
		/* serialization failure, deadlock, lock or statement timeout */
		if (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
		    !strcmp(state, "55P03") || !strcmp(state, "57014"))
			return PN_E_STORE_BUSY;
		/* connection exception, server shutting down */
		if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))
			return PN_E_STORE_DOWN;
	}
	PN_LOG_ERROR("store", "sql_error", "backend=postgres state=%s msg=\"%s\"",
		     state ? state : "-", msg ? msg : "");
	return PN_E_STORE;
}

static struct pgconn *cur(struct pg *p)
{
	return pthread_getspecific(p->key);
}

/* Run one statement on the thread's connection; *out (if wanted) keeps the result. */
static int run(struct pg *p, const char *sql, const struct params *ps, PGresult **out)
{
	struct pgconn *pc = cur(p);
	PGresult *res;
	ExecStatusType st;
	int r;

	if (!pc)
		return PN_E_INVAL; /* not inside a transaction */
	res = PQexecParams(pc->c, sql, ps ? ps->n : 0, NULL, ps ? ps->v : NULL, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	r = pn_pg_error(pc->c, res);
	PQclear(res);
	pc->failed = 1;
	return r;
}

static int simple(struct pgconn *pc, const char *sql)
{
	PGresult *res = PQexec(pc->c, sql);
	int r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pn_pg_error(pc->c, res);

	PQclear(res);
	return r;
}

/*
 * A statement that may violate a constraint runs inside a savepoint: as in
 * SQLite, a failed statement is undone alone and the transaction stays
 * usable (PostgreSQL would otherwise abort all of it).
 */
static int run_sp(struct pg *p, const char *sql, const struct params *ps, PGresult **out)
{
	struct pgconn *pc = cur(p);
	int r;

	if (!pc)
		return PN_E_INVAL;
	if ((r = simple(pc, "SAVEPOINT pn_stmt"))) {
		pc->failed = 1;
		return r;
	}
	r = run(p, sql, ps, out);
	if (r && r != PN_E_STORE_DOWN && !simple(pc, "ROLLBACK TO SAVEPOINT pn_stmt"))
		pc->failed = 0; /* only the statement failed */
	if (!pc->failed && simple(pc, "RELEASE SAVEPOINT pn_stmt"))
		pc->failed = 1;
	return r;
}

static json_t *row_json(const PGresult *res, int row)
{
	json_t *o = json_object();
	int n = PQnfields(res);

	if (!o)
		return NULL;
	for (int i = 0; i < n; i++) {
		const char *val = PQgetvalue(res, row, i);
		Oid t = PQftype(res, i);
		json_t *v;

		if (PQgetisnull(res, row, i))
			v = json_null();
		else if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2)
			v = json_integer((json_int_t)strtoll(val, NULL, 10));
		else
			v = json_stringn(val, (size_t)PQgetlength(res, row, i));
		if (!v || json_object_set_new(o, PQfname(res, i), v)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int collect(PGresult *res, json_t **out)
{
	json_t *arr = json_array();

	if (!arr) {
		PQclear(res);
		return -ENOMEM;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *row = row_json(res, i);

		if (!row || json_array_append_new(arr, row)) {
			json_decref(arr);
			PQclear(res);
			return -ENOMEM;
		}
	}
	PQclear(res);
	*out = arr;
	return 0;
}

static int query_all(struct pg *p, const char *sql, const struct params *ps, json_t **out)
{
	PGresult *res = NULL;
	int r = run(p, sql, ps, &res);

	return r ? r : collect(res, out);
}

/* Rows changed by the statement: 0 or PN_E_STORE_NOTFOUND unless exactly one. */
static int run_one(struct pg *p, const char *sql, const struct params *ps)
{
	PGresult *res = NULL;
	int r = run_sp(p, sql, ps, &res);

	if (r)
		return r;
	r = strcmp(PQcmdTuples(res), "1") ? PN_E_STORE_NOTFOUND : 0;
	PQclear(res);
	return r;
}

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

/* ---- transactions and the pool ---- */

static void release(struct pg *p, struct pgconn *pc)
{
	/* never hand on a connection in an unknown state */
	if (pc->c && (PQstatus(pc->c) != CONNECTION_OK ||
		      PQtransactionStatus(pc->c) != PQTRANS_IDLE)) {
		PQfinish(pc->c);
		pc->c = NULL;
	}
	pthread_setspecific(p->key, NULL);
	pthread_mutex_lock(&p->m);
	pc->busy = 0;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->m);
}

static struct pgconn *acquire(struct pg *p)
{
	struct pgconn *pc = NULL;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += PG_WAIT_S;
	pthread_mutex_lock(&p->m);
	for (;;) {
		/* prefer an open connection, else any free slot */
		for (unsigned i = 0; i < PN_STORE_PG_POOL; i++)
			if (!p->conns[i].busy && (p->conns[i].c || !pc))
				pc = &p->conns[i];
		if (pc || pthread_cond_timedwait(&p->cv, &p->m, &ts) == ETIMEDOUT)
			break;
	}
	if (pc)
		pc->busy = 1;
	pthread_mutex_unlock(&p->m);
	return pc;
}

static void log_down(struct pg *p, const char *err)
{
	int64_t now = (int64_t)time(NULL), last;

	pthread_mutex_lock(&p->m);
	last = p->last_down_log;
	if (now - last >= PG_DOWN_LOG_S)
		p->last_down_log = now;
	pthread_mutex_unlock(&p->m);
	if (now - last >= PG_DOWN_LOG_S)
		PN_LOG_WARN("store", "unreachable", "backend=postgres msg=\"%s\"", err);
}

static int pg_begin(void *be, int write)
{
	struct pg *p = be;
	struct pgconn *pc;
	char sql[96];
	int r = PN_E_STORE_DOWN;

	if (cur(p))
		return PN_E_INVAL; /* transactions do not nest */
	if (write)
		snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%lld)",
			 PN_PG_LOCK_WRITE);
	else
		snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL REPEATABLE READ");
	if (!(pc = acquire(p)))
		return PN_E_STORE_BUSY;
	pthread_setspecific(p->key, pc);
	/* A pooled connection may have died with the server: one fresh try. */
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *res;

		if (!pc->c) {
			char err[256];

			if (!(pc->c = pn_pg_connect(p->url, err, sizeof(err)))) {
				log_down(p, err);
				r = PN_E_STORE_DOWN;
				break;
			}
		}
		pc->failed = 0;
		res = PQexec(pc->c, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK ||
		    PQresultStatus(res) == PGRES_TUPLES_OK)
			r = 0;
		else
			r = pn_pg_error(pc->c, res);
		PQclear(res);
		if (r != PN_E_STORE_DOWN)
			break;
		PQfinish(pc->c);
		pc->c = NULL;
	}
	if (r) {
		if (pc->c && PQtransactionStatus(pc->c) != PQTRANS_IDLE)
			PQclear(PQexec(pc->c, "ROLLBACK"));
		release(p, pc);
	}
	return r;
}

static int pg_commit(void *be)
{
	struct pg *p = be;
	struct pgconn *pc = cur(p);
	PGresult *res;
	int r = 0;

	if (!pc)
		return PN_E_INVAL;
	if (pc->failed) {
		/* a failed statement aborted the transaction: COMMIT would only
		 * roll back; say so instead of pretending */
		PQclear(PQexec(pc->c, "ROLLBACK"));
		release(p, pc);
		return PN_E_STORE;
	}
	res = PQexec(pc->c, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pn_pg_error(pc->c, res);
	else if (strcmp(PQcmdStatus(res), "COMMIT"))
		r = PN_E_STORE; /* the server rolled back */
	PQclear(res);
	release(p, pc);
	return r;
}

static void pg_rollback(void *be)
{
	struct pg *p = be;
	struct pgconn *pc = cur(p);

	if (!pc)
		return;
	if (pc->c && PQstatus(pc->c) == CONNECTION_OK &&
	    PQtransactionStatus(pc->c) != PQTRANS_IDLE)
		PQclear(PQexec(pc->c, "ROLLBACK"));
	release(p, pc);
}

/* ---- generic rows ---- */

static int pg_insert(void *be, enum pn_obj kind, const json_t *row)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct params ps = {0};
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
		if ((r = p_json(&ps, d->cols[i].type, v)))
			return r;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s$%u", i ? "," : "", i + 1);
	}
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, ")");
	if (!sql_fits(n))
		return PN_E_INVAL;
	return run_sp(be, sql, &ps, NULL);
}

static int pg_get(void *be, enum pn_obj kind, const char *col, const char *value, json_t **out)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct params ps = {0};
	PGresult *res = NULL;
	char sql[SQL_MAX];
	size_t n;
	int r;

	if (!d || !find_col(d, col) || !value)
		return PN_E_INVAL;
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
	n = put_cols(sql, n, d);
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, " FROM %s WHERE \"%s\" = $1", d->table,
			      col);
	if (!sql_fits(n))
		return PN_E_INVAL;
	p_text(&ps, value);
	if ((r = run(be, sql, &ps, &res)))
		return r;
	if (PQntuples(res) < 1)
		r = PN_E_STORE_NOTFOUND;
	else if (!(*out = row_json(res, 0)))
		r = -ENOMEM;
	PQclear(res);
	return r;
}

static int pg_list(void *be, enum pn_obj kind, const struct pn_filter *f, unsigned nf,
		   unsigned limit, json_t **out)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	const struct pn_col *oc = d ? find_col(d, d->order_by) : NULL;
	struct params ps = {0};
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
			p_text(&ps, f[i].text);
		else
			p_int(&ps, f[i].integer);
	}
	/* byte order like SQLite's BINARY collation; ties in insertion order */
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, " ORDER BY \"%s\"%s, rowid LIMIT %u",
			      d->order_by, oc && oc->type == PN_COL_TEXT ? " COLLATE \"C\"" : "",
			      limit ? limit : 100000u);
	if (!sql_fits(n))
		return PN_E_INVAL;
	return query_all(be, sql, &ps, out);
}

static int pg_update(void *be, enum pn_obj kind, const char *id, const json_t *set)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct params ps = {0};
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
		if ((r = p_json(&ps, d->cols[i].type, v)))
			return r;
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s \"%s\" = $%d",
				      ps.n > 1 ? "," : "", d->cols[i].name, ps.n);
	}
	if (!ps.n)
		return PN_E_INVAL;
	if ((r = p_text(&ps, id)))
		return r;
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, " WHERE \"%s\" = $%d", d->key, ps.n);
	if (!sql_fits(n))
		return PN_E_INVAL;
	return run_one(be, sql, &ps);
}

static int pg_remove(void *be, enum pn_obj kind, const char *id)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	struct params ps = {0};
	char sql[256];

	if (!d)
		return PN_E_INVAL;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE \"%s\" = $1", d->table, d->key);
	p_text(&ps, id);
	return run_one(be, sql, &ps);
}

/* ---- special operations ---- */

static int pg_token_consume(void *be, const char *hash_hex, int64_t now, json_t **out)
{
	struct params ps = {0};
	PGresult *res = NULL;
	int r;

	p_text(&ps, hash_hex);
	p_int(&ps, now);
	/* The conditional UPDATE is the atomic test-and-set: only the caller
	 * whose statement changed the row owns the token. */
	r = run(be, "UPDATE enroll_tokens SET used = 1 WHERE hash = $1 AND used = 0"
		    " AND expires > $2 RETURNING hash, kind, target_id, expires, used, created",
		&ps, &res);
	if (r)
		return r;
	if (PQntuples(res) != 1)
		r = PN_E_TOKEN;
	else if (!(*out = row_json(res, 0)))
		r = -ENOMEM;
	PQclear(res);
	return r;
}

static int one_u64(struct pg *p, const char *sql, const struct params *ps, uint64_t *out)
{
	PGresult *res = NULL;
	int r = run(p, sql, ps, &res);

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
	return one_u64(be, "WITH u AS (UPDATE meta SET value = value + 1"
			   " WHERE key = 'policy_version' RETURNING value)"
			   " SELECT value, pg_notify('" PN_PG_CHANNEL "', value::text) FROM u",
		       NULL, out);
}

static int pg_version_set(void *be, uint64_t v)
{
	struct params ps = {0};

	p_int(&ps, (int64_t)v);
	return run_one(be, "UPDATE meta SET value = $1 WHERE key = 'policy_version'", &ps);
}

static int pg_audit_append(void *be, int64_t ts, const char *actor, const char *action,
			   const char *kind, const char *object_id, const json_t *detail)
{
	char *text = json_dumps(detail ? detail : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
	struct params ps = {0};
	int r;

	if (!text)
		return -ENOMEM;
	p_int(&ps, ts);
	p_text(&ps, actor);
	p_text(&ps, action);
	p_text(&ps, kind);
	p_text(&ps, object_id);
	p_text(&ps, text);
	r = run(be, "INSERT INTO audit(ts, actor, action, kind, object_id, detail)"
		    " VALUES($1, $2, $3, $4, $5, $6)", &ps, NULL);
	free(text);
	return r;
}

static int pg_audit_list(void *be, int64_t after_seq, unsigned limit, json_t **out)
{
	struct params ps = {0};

	p_int(&ps, after_seq);
	p_int(&ps, limit);
	return query_all(be, "SELECT seq, ts, actor, action, kind, object_id, detail FROM audit"
			     " WHERE seq > $1 ORDER BY seq LIMIT $2", &ps, out);
}

static const char *const flow_text_cols[] = {"event", "flow_id", "client_id", "user",
					     "resource_id", "dest", "proto", "path",
					     "verdict", "reason"};
static const char *const flow_int_cols[] = {"port", "bytes_up", "bytes_down"};

static int pg_flow_insert(void *be, const char *reporter_id, const json_t *ev)
{
	struct params ps = {0};

	p_text(&ps, reporter_id);
	p_int(&ps, json_integer_value(json_object_get(ev, "ts_ms")));
	for (size_t k = 0; k < sizeof(flow_text_cols) / sizeof(flow_text_cols[0]); k++) {
		const char *v = json_string_value(json_object_get(ev, flow_text_cols[k]));

		if (v && strlen(v) != json_string_length(json_object_get(ev, flow_text_cols[k])))
			return PN_E_INVAL;
		p_text(&ps, v ? v : "");
	}
	for (size_t k = 0; k < sizeof(flow_int_cols) / sizeof(flow_int_cols[0]); k++)
		p_int(&ps, json_integer_value(json_object_get(ev, flow_int_cols[k])));
	return run(be, "INSERT INTO flow_events(received, reporter_id, ts_ms, event, flow_id,"
		       " client_id, \"user\", resource_id, dest, proto, path, verdict, reason, port,"
		       " bytes_up, bytes_down) VALUES(EXTRACT(EPOCH FROM now())::bigint, $1, $2,"
		       " $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)", &ps, NULL);
}

#define FLOW_COLS                                                                            \
	"seq, received, reporter_id, ts_ms, event, flow_id, client_id, \"user\", resource_id," \
	" dest, port, proto, path, verdict, reason, bytes_up, bytes_down"

static int pg_flow_list(void *be, const struct pn_flow_query *q, json_t **out)
{
	struct params ps = {0};

	p_int(&ps, q->after_seq);
	p_int(&ps, q->since_ms);
	p_int(&ps, q->until_ms);
	p_text(&ps, q->resource_id);
	p_text(&ps, q->client_id);
	p_text(&ps, q->verdict);
	p_int(&ps, q->limit);
	return query_all(be, "SELECT " FLOW_COLS " FROM flow_events WHERE seq > $1::bigint"
			     " AND ($2::bigint = 0 OR ts_ms >= $2::bigint)"
			     " AND ($3::bigint = 0 OR ts_ms < $3::bigint)"
			     " AND ($4::text IS NULL OR resource_id = $4::text)"
			     " AND ($5::text IS NULL OR client_id = $5::text)"
			     " AND ($6::text IS NULL OR verdict = $6::text)"
			     " ORDER BY seq LIMIT $7::bigint", &ps, out);
}

static int pg_restore_log(void *be, int flows, const json_t *rows)
{
	size_t i;
	json_t *row;
	int r;

	json_array_foreach(rows, i, row) {
		struct params ps = {0};

		p_int(&ps, json_integer_value(json_object_get(row, "seq")));
		if (!flows) {
			static const char *const tc[] = {"actor", "action", "kind", "object_id",
							 "detail"};

			p_int(&ps, json_integer_value(json_object_get(row, "ts")));
			for (size_t k = 0; k < 5; k++)
				p_text(&ps, json_string_value(json_object_get(row, tc[k])));
			r = run(be, "INSERT INTO audit(seq, ts, actor, action, kind, object_id,"
				    " detail) VALUES($1, $2, $3, $4, $5, $6, $7)", &ps, NULL);
		} else {
			p_int(&ps, json_integer_value(json_object_get(row, "received")));
			p_text(&ps, json_string_value(json_object_get(row, "reporter_id")));
			p_int(&ps, json_integer_value(json_object_get(row, "ts_ms")));
			for (size_t k = 0; k < sizeof(flow_text_cols) / sizeof(flow_text_cols[0]); k++)
				p_text(&ps, json_string_value(json_object_get(row, flow_text_cols[k])));
			for (size_t k = 0; k < sizeof(flow_int_cols) / sizeof(flow_int_cols[0]); k++)
				p_int(&ps, json_integer_value(json_object_get(row, flow_int_cols[k])));
			r = run(be, "INSERT INTO flow_events(seq, received, reporter_id, ts_ms, event,"
				    " flow_id, client_id, \"user\", resource_id, dest, proto, path,"
				    " verdict, reason, port, bytes_up, bytes_down) VALUES($1, $2, $3,"
				    " $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
				&ps, NULL);
		}
		if (r)
			return r;
	}
	/* new rows continue after the restored sequence numbers */
	return run(be, flows ? "SELECT setval(pg_get_serial_sequence('flow_events', 'seq'),"
			       " COALESCE((SELECT MAX(seq) FROM flow_events), 0) + 1, false)"
			     : "SELECT setval(pg_get_serial_sequence('audit', 'seq'),"
			       " COALESCE((SELECT MAX(seq) FROM audit), 0) + 1, false)",
		   NULL, NULL);
}

static int pg_member_resources(void *be, const char *member_col, const char *member_id,
			       json_t **out)
{
	struct params ps = {0};
	const char *sql;

	if (!strcmp(member_col, "user_id"))
		sql = "SELECT DISTINCT r.id, r.name, r.network_id, r.address, r.protocols, r.created"
		      " FROM resources r JOIN policies p ON p.resource_id = r.id"
		      " JOIN memberships m ON m.group_id = p.group_id WHERE m.user_id = $1"
		      " ORDER BY r.id";
	else if (!strcmp(member_col, "service_account_id"))
		sql = "SELECT DISTINCT r.id, r.name, r.network_id, r.address, r.protocols, r.created"
		      " FROM resources r JOIN policies p ON p.resource_id = r.id"
		      " JOIN memberships m ON m.group_id = p.group_id"
		      " WHERE m.service_account_id = $1 ORDER BY r.id";
	else
		return PN_E_INVAL;
	p_text(&ps, member_id);
	return query_all(be, sql, &ps, out);
}

static int pg_network_clients(void *be, const char *network_id, int64_t now, json_t **out)
{
	struct params ps = {0};

	p_text(&ps, network_id);
	p_int(&ps, now);
	/* one row per (credential id, key): see store_sqlite.c */
	return query_all(be, "SELECT c.cred_id, c.key_fp, c.holder_kind, c.holder_id,"
			     " MAX(c.not_after) AS not_after FROM credentials c"
			     " WHERE c.type = 'client' AND c.revoked = 0"
			     " AND c.not_after > $2 AND EXISTS (SELECT 1 FROM memberships m"
			     " JOIN policies p ON p.group_id = m.group_id"
			     " JOIN resources r ON r.id = p.resource_id"
			     " WHERE r.network_id = $1 AND ((c.holder_kind = 'service_account'"
			     " AND m.service_account_id = c.holder_id) OR (c.holder_kind = 'user'"
			     " AND m.user_id = c.holder_id)))"
			     " GROUP BY c.cred_id, c.key_fp, c.holder_kind, c.holder_id"
			     " ORDER BY c.cred_id COLLATE \"C\"", &ps, out);
}

static int pg_revoked_list(void *be, int64_t now, json_t **out)
{
	struct params ps = {0};

	p_int(&ps, now);
	return query_all(be, "SELECT c.serial, CASE WHEN EXISTS (SELECT 1 FROM credentials l"
			     " WHERE l.cred_id = c.cred_id AND l.revoked = 0 AND l.not_after > $1)"
			     " THEN NULL ELSE c.cred_id END AS cred_id, c.type, c.holder_id,"
			     " c.not_after FROM credentials c WHERE c.revoked = 1"
			     " AND c.not_after > $1 ORDER BY c.serial COLLATE \"C\"", &ps, out);
}

static int pg_revoke_where(void *be, const char *col, const char *value, int *n)
{
	struct params ps = {0};
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
	p_text(&ps, value);
	if ((r = run(be, sql, &ps, &res)))
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
	struct pg *p = be;

	if (p->listen)
		return -EBUSY;
	return pn_pg_listen_start(p->url, cb, arg, &p->listen);
}

static void pg_close(void *be)
{
	struct pg *p = be;

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
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
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
	.integrity_check = pg_integrity_check,
	.close = pg_close,
	.watch = pg_watch,
	.restore_log = pg_restore_log,
	.version_set = pg_version_set,
	.concurrent = 1,
};

int pn_store_open_pg(const char *url, struct pn_store **out)
{
	struct pg *p = calloc(1, sizeof(*p));
	struct pn_store *st = NULL;
	pthread_condattr_t ca;
	char err[256];
	PGconn *c;
	int r;

	if (!p)
		return -ENOMEM;
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
	if (!(c = pn_pg_connect(url, err, sizeof(err)))) {
		PN_LOG_ERROR("store", "open_failed", "backend=postgres msg=\"%s\"", err);
		r = PN_E_STORE_DOWN;
		goto out;
	}
	p->conns[0].c = c;
	if ((r = pn_pg_migrate(c)))
		goto out;
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
