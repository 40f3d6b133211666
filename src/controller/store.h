#ifndef PN_CONTROLLER_STORE_H
#define PN_CONTROLLER_STORE_H
/*
 * The controller's store: one interface, pluggable back ends (SQLite now,
 * PostgreSQL later).  A back end implements `struct pn_store_ops`; the
 * controller only calls the pn_store_* wrappers below.
 *
 * Objects are JSON rows (jansson): an object kind names a table whose
 * columns are described statically (store_schema.c); generic CRUD builds
 * parameterized SQL from that description, never from input.  Special
 * operations (atomic token consumption, the policy version counter, audit,
 * flow events, access-list queries) have their own ops.
 *
 * Concurrency: every access happens inside a transaction opened with
 * pn_store_begin (write, serialized: BEGIN IMMEDIATE) or pn_store_read
 * (consistent snapshot) and closed with pn_store_commit / pn_store_rollback.
 * The wrapper holds a mutex for the whole transaction (SQLite) or the back
 * end gives each thread its own pooled connection (PostgreSQL), so one
 * store handle may be shared by all HTTP threads.
 *
 * Errors: 0, -ENOMEM, PN_E_STORE (SQL failure, logged), PN_E_STORE_BUSY,
 * PN_E_STORE_DOWN (database server unreachable; the API answers 503),
 * PN_E_STORE_NOTFOUND, PN_E_STORE_CONFLICT (unique or foreign-key
 * constraint), PN_E_STORE_SCHEMA (database newer than the program),
 * PN_E_TOKEN (token unknown, used or expired), PN_E_INVAL.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

enum pn_obj {
	PN_OBJ_NETWORK = 0,
	PN_OBJ_RESOURCE,
	PN_OBJ_GROUP,
	PN_OBJ_USER,
	PN_OBJ_SERVICE_ACCOUNT,
	PN_OBJ_MEMBERSHIP,
	PN_OBJ_POLICY,
	PN_OBJ_CONNECTOR,
	PN_OBJ_RELAY,
	PN_OBJ_ADMIN_KEY,
	PN_OBJ_SA_KEY,
	PN_OBJ_CREDENTIAL,
	PN_OBJ_ENROLL_TOKEN,
	PN_OBJ_IDENTITY,       /* OIDC: a user's (issuer, subject) */
	PN_OBJ_OIDC_FLOW,      /* OIDC: a pending browser or device login */
	PN_OBJ_IDP_MEMBERSHIP, /* OIDC: memberships synchronised from a groups claim */
	PN_OBJ_ADMIN_SESSION,  /* OIDC: an admin's session key (`postern ctl login`) */
	PN_OBJ_CONSOLE_SESSION, /* console: a browser's session (cookie) */
	PN_OBJ_PRESENCE,        /* console: when a connector or relay was last seen */
	PN_OBJ_COUNT_
};

enum pn_col_type { PN_COL_TEXT = 1, PN_COL_INT = 2 };

#define PN_COL_REQUIRED 0x01 /* NOT NULL, must be given on insert */
#define PN_COL_SECRET 0x02   /* never leaves the controller (hashes) */
#define PN_COL_MUTABLE 0x04  /* may be changed by update */

struct pn_col {
	const char *name;
	enum pn_col_type type;
	unsigned flags;
};

struct pn_objdesc {
	const char *table;
	const char *key;       /* primary key column (TEXT) */
	const char *order_by;  /* list order */
	const struct pn_col *cols;
	unsigned ncols;
};

/* The static description of a kind; NULL for an out-of-range kind. */
const struct pn_objdesc *pn_store_desc(enum pn_obj kind);
/* Is col an integer column of d?  (d may be NULL: no.) */
int pn_store_int_col(const struct pn_objdesc *d, const char *col);
/* Copy of row without PN_COL_SECRET columns (new reference; NULL on ENOMEM). */
json_t *pn_store_public_row(enum pn_obj kind, const json_t *row);

/* Filters for list: rows where col == value (text or integer), ANDed. */
struct pn_filter {
	const char *col;
	const char *text; /* if NULL, integer is used */
	int64_t integer;
};

struct pn_flow_query {
	int64_t since_ms, until_ms; /* 0 = unbounded */
	const char *resource_id, *client_id, *verdict; /* NULL = any */
	int64_t after_seq;  /* paging: rows with seq > after_seq */
	unsigned limit;     /* 1..1000 */
};

struct pn_store_ops {
	const char *name;
	int (*begin)(void *be, int write);
	int (*commit)(void *be);
	void (*rollback)(void *be);
	/* Generic rows.  insert: every PN_COL_REQUIRED column present. */
	int (*insert)(void *be, enum pn_obj kind, const json_t *row);
	/* *out = row where col == value (new ref), PN_E_STORE_NOTFOUND if none. */
	int (*get)(void *be, enum pn_obj kind, const char *col, const char *value, json_t **out);
	int (*list)(void *be, enum pn_obj kind, const struct pn_filter *f, unsigned nf,
		    unsigned limit, json_t **out);
	/* Set the PN_COL_MUTABLE columns present in `set` on the row with key id. */
	int (*update)(void *be, enum pn_obj kind, const char *id, const json_t *set);
	int (*remove)(void *be, enum pn_obj kind, const char *id);
	/*
	 * Consume an enrollment token atomically: UPDATE ... SET used=1 WHERE
	 * hash=? AND used=0 AND expires>now; exactly one caller wins.  *out =
	 * the token row.  PN_E_TOKEN if unknown, used or expired.
	 */
	int (*token_consume)(void *be, const char *hash_hex, int64_t now, json_t **out);
	/* Policy version: read, or increment and return the new value. */
	int (*version_get)(void *be, uint64_t *out);
	int (*version_bump)(void *be, uint64_t *out);
	int (*audit_append)(void *be, int64_t ts, const char *actor, const char *action,
			    const char *kind, const char *object_id, const json_t *detail);
	int (*audit_list)(void *be, int64_t after_seq, unsigned limit, json_t **out);
	int (*flow_insert)(void *be, const char *reporter_id, const json_t *ev);
	int (*flow_list)(void *be, const struct pn_flow_query *q, json_t **out);
	/* Resources granted to a user or service account (via group policies). */
	int (*member_resources)(void *be, const char *member_col, const char *member_id,
				json_t **out);
	/* Client credentials (unexpired, unrevoked) whose holder has a grant to
	 * a resource in the network: [{credential row + "holder_kind"...}]. */
	int (*network_clients)(void *be, const char *network_id, int64_t now, json_t **out);
	/* Unexpired revoked credentials: serial, type, holder_id, not_after and
	 * cred_id, the latter NULL while a live credential still has that id. */
	int (*revoked_list)(void *be, int64_t now, json_t **out);
	/* Mark credentials revoked where col == value; *n = rows changed. */
	int (*revoke_where)(void *be, const char *col, const char *value, int *n);
	/* Delete the rows of kind whose integer column col (an PN_COL_INT
	 * column of its description, else PN_E_INVAL) is below `before`
	 * (expired sessions); *n (may be NULL) = rows deleted. */
	int (*purge_before)(void *be, enum pn_obj kind, const char *col, int64_t before, int *n);
	int (*integrity_check)(void *be);
	void (*close)(void *be);
	/*
	 * Optional (NULL: not supported).  Call cb(arg, version) from a store
	 * thread whenever any process sharing the database commits a policy
	 * version bump (and once after each reconnection).  0 or -errno.
	 */
	int (*watch)(void *be, void (*cb)(void *arg, uint64_t version), void *arg);
	/* Optional, for migrate-store: insert audit (flows 0) or flow_events
	 * (flows 1) rows as audit_list / flow_list return them, keeping their
	 * seq; and set the policy version. */
	int (*restore_log)(void *be, int flows, const json_t *rows);
	int (*version_set)(void *be, uint64_t v);
	/* 1: the back end gives each thread its own connection, so the wrapper
	 * does not serialize transactions (PostgreSQL). */
	int concurrent;
};

struct pn_store {
	const struct pn_store_ops *ops;
	void *be;
	pthread_mutex_t lock;
	int in_tx;
	/* latency counters for the metrics (pn_store_stats): lock-free */
	atomic_uint_least64_t begins[2], begin_ns[2]; /* [0] read, [1] write */
	atomic_uint_least64_t commits, commit_ns, commit_failures, last_commit_ns;
};

/* Transactions begun (read / write) and the time spent getting them (lock
 * and BEGIN), commits and the time they took, failed commits. */
struct pn_store_stats {
	uint64_t begins[2], begin_ns[2];
	uint64_t commits, commit_ns, commit_failures, last_commit_ns;
};
void pn_store_stats(const struct pn_store *s, struct pn_store_stats *st);

/* Open (creating if needed) the SQLite store at path and migrate it:
 * WAL, foreign_keys=ON, busy_timeout 5 s, synchronous=FULL. */
int pn_store_open_sqlite(const char *path, struct pn_store **out);
/*
 * Open a PostgreSQL store (libpq connection URI "postgres://..." or
 * "postgresql://...") and migrate it.  A pool of PN_STORE_PG_POOL
 * connections, opened on demand and re-opened after a failure, serves the
 * calling threads; each thread holds one connection for the length of its
 * transaction.  Write transactions are serialized across every process
 * sharing the database (transaction-scoped advisory lock), like SQLite's
 * BEGIN IMMEDIATE; read transactions see one snapshot (REPEATABLE READ).
 * PN_E_STORE_DOWN when the server cannot be reached.
 */
#define PN_STORE_PG_POOL 16
int pn_store_open_pg(const char *url, struct pn_store **out);
/* 1 if spec is a PostgreSQL URI (postgres:// or postgresql://). */
int pn_store_is_pg(const char *spec);
/* pn_store_open_pg for a PostgreSQL URI, else pn_store_open_sqlite. */
int pn_store_open(const char *spec, struct pn_store **out);
/* Copy everything in `from` into the empty store `to` (migrate-store; see
 * store_copy.c): one transaction, all or nothing.  -EEXIST if `to` holds a
 * network, PN_E_INVAL if `to` cannot restore logs (SQLite). */
int pn_store_copy(struct pn_store *from, struct pn_store *to);
/* Register a change callback (ops->watch); 0 if the back end has none. */
int pn_store_watch(struct pn_store *s, void (*cb)(void *arg, uint64_t version), void *arg);
void pn_store_close(struct pn_store *s); /* NULL-safe */

/* Current schema version this program writes. */
int pn_store_schema_version(void);

int pn_store_begin(struct pn_store *s); /* write transaction */
int pn_store_read(struct pn_store *s);  /* read transaction */
int pn_store_commit(struct pn_store *s);
void pn_store_rollback(struct pn_store *s);

/* Thin wrappers (must be inside a transaction). */
int pn_store_insert(struct pn_store *s, enum pn_obj kind, const json_t *row);
int pn_store_get(struct pn_store *s, enum pn_obj kind, const char *id, json_t **out);
int pn_store_get_by(struct pn_store *s, enum pn_obj kind, const char *col, const char *value,
		    json_t **out);
int pn_store_list(struct pn_store *s, enum pn_obj kind, const struct pn_filter *f, unsigned nf,
		  unsigned limit, json_t **out);
int pn_store_update(struct pn_store *s, enum pn_obj kind, const char *id, const json_t *set);
int pn_store_remove(struct pn_store *s, enum pn_obj kind, const char *id);

/* A fresh random 16-byte id as 32 lowercase hex characters + NUL. */
int pn_store_new_id(char out[33]);
/* SHA-256 of data, as 64 lowercase hex + NUL. */
int pn_store_hash_hex(const void *data, size_t len, char out[65]);
#endif
