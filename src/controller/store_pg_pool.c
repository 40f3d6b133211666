/*
 * PostgreSQL back end, part 1 (see store_pg.c): connections, the pool,
 * transactions and the statement helpers every query goes through.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "controller/pq_dl.h"
#include "controller/store_pg.h"
#include "core/err.h"
#include "core/log.h"

#define PG_WAIT_S     5	 /* waiting for a free pooled connection */
#define PG_DOWN_LOG_S 10 /* at most one "unreachable" log per this */
#define OID_INT8      20
#define OID_INT2      21
#define OID_INT4      23

int pn_pg_text(struct pn_pg_params *ps, const char *s)
{
	if (ps->n >= PN_PG_MAXP)
		return PN_E_INVAL;
	ps->v[ps->n++] = s;
	return 0;
}

int pn_pg_int(struct pn_pg_params *ps, int64_t v)
{
	if (ps->n >= PN_PG_MAXP)
		return PN_E_INVAL;
	snprintf(ps->num[ps->n], sizeof(ps->num[0]), "%lld", (long long)v);
	ps->v[ps->n] = ps->num[ps->n];
	ps->n++;
	return 0;
}

/* A JSON value for a column of the given type; NULL for null/absent. */
int pn_pg_json(struct pn_pg_params *ps, enum pn_col_type type, const json_t *v)
{
	if (!v || json_is_null(v))
		return pn_pg_text(ps, NULL);
	if (type == PN_COL_INT) {
		if (json_is_integer(v))
			return pn_pg_int(ps, (int64_t)json_integer_value(v));
		if (json_is_boolean(v))
			return pn_pg_int(ps, json_is_true(v));
		return PN_E_INVAL;
	}
	/* PostgreSQL text cannot hold NUL: refuse rather than truncate */
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return PN_E_INVAL;
	return pn_pg_text(ps, json_string_value(v));
}

/* A server message as one log value: first line, double quotes made single. */
static void log_text(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
	dst[strcspn(dst, "\r\n")] = '\0';
	for (char *q = dst; *q; q++)
		if (*q == '"')
			*q = '\'';
}

static void quiet_notice(void *arg, const char *msg)
{
	char t[256];

	(void)arg;
	log_text(t, sizeof(t), msg);
	PN_LOG_DEBUG("store", "notice", "backend=postgres msg=\"%s\"", t);
}

PGconn *pn_pg_connect(const char *url, char *err, size_t errsz)
{
	/* dbname (the URI) comes last: what it says overrides these defaults */
	static const char *const keys[] = {"connect_timeout",
					   "application_name",
					   "client_encoding",
					   "keepalives_idle",
					   "keepalives_interval",
					   "keepalives_count",
					   "gssencmode",
					   "dbname",
					   NULL};
	const char *vals[] = {"5", "postern-controller", "UTF8", "10", "5", "3", "disable", url,
			      NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	PGresult *res;

	if (err && errsz)
		err[0] = '\0';
	if (!c || PQstatus(c) != CONNECTION_OK) {
		if (err && errsz)
			log_text(err, errsz, c ? PQerrorMessage(c) : "out of memory");
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
	char msg[256];

	if (!c || PQstatus(c) == CONNECTION_BAD)
		return PN_E_STORE_DOWN;
	log_text(msg, sizeof(msg), res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL);
	if (state) {
		if (!strncmp(state, "23", 2)) { /* integrity constraint violation */
			PN_LOG_DEBUG("store", "constraint", "state=%s msg=\"%s\"", state, msg);
			return PN_E_STORE_CONFLICT;
		}
		/* serialization failure, deadlock, lock or statement timeout */
		if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03") ||
		    !strcmp(state, "57014"))
			return PN_E_STORE_BUSY;
		if (!strcmp(state, "53100")) { /* disk_full */
			PN_LOG_ERROR("store", "disk_full", "backend=postgres state=%s msg=\"%s\"",
				     state, msg);
			return PN_E_STORE_FULL;
		}
		/* connection exception, server shutting down */
		if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))
			return PN_E_STORE_DOWN;
	}
	PN_LOG_ERROR("store", "sql_error", "backend=postgres state=%s msg=\"%s\"",
		     state ? state : "-", msg);
	return PN_E_STORE;
}

struct pn_pgconn *pn_pg_cur(struct pn_pg *p)
{
	return pthread_getspecific(p->key);
}

/* Run one statement on the thread's connection; *out (if wanted) keeps the result. */
int pn_pg_run(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps, PGresult **out)
{
	struct pn_pgconn *pc = pn_pg_cur(p);
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

static int simple(struct pn_pgconn *pc, const char *sql)
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
int pn_pg_run_sp(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps, PGresult **out)
{
	struct pn_pgconn *pc = pn_pg_cur(p);
	int r;

	if (!pc)
		return PN_E_INVAL;
	if ((r = simple(pc, "SAVEPOINT pn_stmt"))) {
		pc->failed = 1;
		return r;
	}
	r = pn_pg_run(p, sql, ps, out);
	if (r && r != PN_E_STORE_DOWN && !simple(pc, "ROLLBACK TO SAVEPOINT pn_stmt"))
		pc->failed = 0; /* only the statement failed */
	if (!pc->failed && simple(pc, "RELEASE SAVEPOINT pn_stmt"))
		pc->failed = 1;
	return r;
}

json_t *pn_pg_row_json(const PGresult *res, int row)
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
		json_t *row = pn_pg_row_json(res, i);

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

int pn_pg_query_all(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps, json_t **out)
{
	PGresult *res = NULL;
	int r = pn_pg_run(p, sql, ps, &res);

	return r ? r : collect(res, out);
}

/* Rows changed by the statement: 0 or PN_E_STORE_NOTFOUND unless exactly one. */
int pn_pg_run_one(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps)
{
	PGresult *res = NULL;
	int r = pn_pg_run_sp(p, sql, ps, &res);

	if (r)
		return r;
	r = strcmp(PQcmdTuples(res), "1") ? PN_E_STORE_NOTFOUND : 0;
	PQclear(res);
	return r;
}

/* ---- transactions and the pool ---- */

static void release(struct pn_pg *p, struct pn_pgconn *pc)
{
	/* never hand on a connection in an unknown state */
	if (pc->c &&
	    (PQstatus(pc->c) != CONNECTION_OK || PQtransactionStatus(pc->c) != PQTRANS_IDLE)) {
		PQfinish(pc->c);
		pc->c = NULL;
	}
	pthread_setspecific(p->key, NULL);
	pthread_mutex_lock(&p->m);
	pc->busy = 0;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->m);
}

static struct pn_pgconn *acquire(struct pn_pg *p)
{
	struct pn_pgconn *pc = NULL;
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

static void log_down(struct pn_pg *p, const char *err)
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

/* The first connection after a start without the server checks and
 * migrates the schema (one thread; the others wait for it). */
static int ensure_schema(struct pn_pg *p, PGconn *c)
{
	int r = 0;

	pthread_mutex_lock(&p->m);
	while (p->migrated < 0) { /* another thread migrating (rare: poll; p->cv is the pool's) */
		pthread_mutex_unlock(&p->m);
		usleep(10000);
		pthread_mutex_lock(&p->m);
	}
	if (p->migrated) {
		pthread_mutex_unlock(&p->m);
		return 0;
	}
	p->migrated = -1;
	pthread_mutex_unlock(&p->m);
	r = pn_pg_migrate(c);
	if (!r)
		PN_LOG_INFO("store", "schema_ready", "backend=postgres after=unreachable_at_open");
	pthread_mutex_lock(&p->m);
	p->migrated = r ? 0 : 1;
	pthread_mutex_unlock(&p->m);
	return r;
}

int pn_pg_begin(void *be, int write)
{
	struct pn_pg *p = be;
	struct pn_pgconn *pc;
	char sql[96];
	int r = PN_E_STORE_DOWN;

	if (pn_pg_cur(p))
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
		if ((r = ensure_schema(p, pc->c)))
			break;
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

int pn_pg_commit(void *be)
{
	struct pn_pg *p = be;
	struct pn_pgconn *pc = pn_pg_cur(p);
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

void pn_pg_rollback(void *be)
{
	struct pn_pg *p = be;
	struct pn_pgconn *pc = pn_pg_cur(p);

	if (!pc)
		return;
	if (pc->c && PQstatus(pc->c) == CONNECTION_OK && PQtransactionStatus(pc->c) != PQTRANS_IDLE)
		PQclear(PQexec(pc->c, "ROLLBACK"));
	release(p, pc);
}
