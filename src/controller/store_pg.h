#ifndef PN_CONTROLLER_STORE_PG_H
#define PN_CONTROLLER_STORE_PG_H
/* Internal to the PostgreSQL back end. */
#include <libpq-fe.h>

#include "controller/store.h"

/* Bring the schema up to pn_store_schema_version() (migrations are
 * serialized across processes by a session advisory lock); 0 or PN_E_STORE*. */
int pn_pg_migrate(PGconn *c);
/* Number of PostgreSQL migrations (must equal pn_store_schema_version()). */
int pn_pg_schema_version(void);
/* Map a failed result (or NULL) on c to PN_E_STORE_CONFLICT, _BUSY, _DOWN or
 * PN_E_STORE (logged). */
int pn_pg_error(PGconn *c, const PGresult *res);
/* Advisory lock keys ("postern" in ASCII, then 1 / 2). */
#define PN_PG_LOCK_WRITE   0x706f737465726e01ll
#define PN_PG_LOCK_MIGRATE 0x706f737465726e02ll
#define PN_PG_CHANNEL	   "postern_policy"

/* Connect (timeouts, keepalives, UTF8, statement/lock timeouts set); NULL
 * on failure, with the server's message in err (may be NULL). */
PGconn *pn_pg_connect(const char *url, char *err, size_t errsz);

/* The change listener: its own connection LISTENing on PN_PG_CHANNEL,
 * reconnecting every second while the server is away; cb runs on its
 * thread with each notified version and the current version after each
 * (re)connection. */
struct pn_pg_listen;
int pn_pg_listen_start(const char *url, void (*cb)(void *arg, uint64_t version), void *arg,
		       struct pn_pg_listen **out);
void pn_pg_listen_stop(struct pn_pg_listen *l); /* NULL-safe; joins the thread */

/* ---- internal to store_pg*.c ---- */
#define PN_PG_MAXP 24 /* parameters per statement */

struct pn_pg;

struct pn_pgconn {
	PGconn *c;
	int busy;
	int failed; /* a statement of the current transaction failed */
};

struct pn_pg {
	char *url;
	pthread_mutex_t m;
	pthread_cond_t cv;
	pthread_key_t key; /* the calling thread's struct pn_pgconn in a transaction */
	struct pn_pgconn conns[PN_STORE_PG_POOL];
	int64_t last_down_log;
	struct pn_pg_listen *listen;
	int migrated; /* schema checked/migrated (at open, or at the first
		       * connection when the server was down at open); under m */
};

/* Parameters as text (libpq's text format; the server infers the types). */
struct pn_pg_params {
	const char *v[PN_PG_MAXP];
	char num[PN_PG_MAXP][24];
	int n;
};

/* store_pg_pool.c: parameters (text; NULL = SQL NULL), PN_E_INVAL when full
 * or for a JSON value that does not fit the column type */
int pn_pg_text(struct pn_pg_params *ps, const char *s);
int pn_pg_int(struct pn_pg_params *ps, int64_t v);
int pn_pg_json(struct pn_pg_params *ps, enum pn_col_type type, const json_t *v);
/* The calling thread's connection while it is in a transaction, or NULL. */
struct pn_pgconn *pn_pg_cur(struct pn_pg *p);
/* One statement on the thread's connection (*out, if wanted, keeps the
 * result); _sp inside a savepoint (only the statement fails); _one: exactly
 * one row changed or PN_E_STORE_NOTFOUND; query_all: rows as a JSON array. */
int pn_pg_run(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps, PGresult **out);
int pn_pg_run_sp(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps, PGresult **out);
int pn_pg_run_one(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps);
int pn_pg_query_all(struct pn_pg *p, const char *sql, const struct pn_pg_params *ps, json_t **out);
json_t *pn_pg_row_json(const PGresult *res, int row);
int pn_pg_begin(void *be, int write);
int pn_pg_commit(void *be);
void pn_pg_rollback(void *be);
#endif
