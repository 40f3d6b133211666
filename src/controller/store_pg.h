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
#define PN_PG_LOCK_WRITE 0x706f737465726e01ll
#define PN_PG_LOCK_MIGRATE 0x706f737465726e02ll
#define PN_PG_CHANNEL "postern_policy"

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
#endif
