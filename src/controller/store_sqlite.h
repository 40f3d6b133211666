#ifndef PN_CONTROLLER_STORE_SQLITE_H
#define PN_CONTROLLER_STORE_SQLITE_H
/* Internal to the SQLite back end. */
#include "controller/sqlite_dl.h"
#include "controller/store.h"

/* Bring the schema up to pn_store_schema_version(); 0 or PN_E_STORE*. */
int pn_sqlite_migrate(sqlite3 *db);
extern const struct pn_store_ops pn_store_sqlite_ops;
#endif
