#ifndef PN_CONTROLLER_SQLITE_DL_H
#define PN_CONTROLLER_SQLITE_DL_H
/*
 * SQLite, loaded at run time by the first SQLite store opened
 * (core/dlsyms.h): postern does not link it, so the client, connector and
 * relay do not load it at start.  Include after the system headers in the
 * files that call it: each sqlite3_* name below then reads through the
 * table.  Every function called must be listed here (an unlisted one
 * fails to link).
 */
#include <sqlite3.h>
#include <stddef.h>

#include "core/dlsyms.h"

#define PN_SQLITE_FUNCS(X)                                                                         \
	X(sqlite3_bind_int)                                                                        \
	X(sqlite3_bind_int64)                                                                      \
	X(sqlite3_bind_null)                                                                       \
	X(sqlite3_bind_text)                                                                       \
	X(sqlite3_busy_timeout)                                                                    \
	X(sqlite3_changes)                                                                         \
	X(sqlite3_close_v2)                                                                        \
	X(sqlite3_column_bytes)                                                                    \
	X(sqlite3_column_count)                                                                    \
	X(sqlite3_column_int)                                                                      \
	X(sqlite3_column_int64)                                                                    \
	X(sqlite3_column_name)                                                                     \
	X(sqlite3_column_text)                                                                     \
	X(sqlite3_column_type)                                                                     \
	X(sqlite3_errmsg)                                                                          \
	X(sqlite3_exec)                                                                            \
	X(sqlite3_extended_errcode)                                                                \
	X(sqlite3_finalize)                                                                        \
	X(sqlite3_free)                                                                            \
	X(sqlite3_get_autocommit)                                                                  \
	X(sqlite3_open_v2)                                                                         \
	X(sqlite3_prepare_v2)                                                                      \
	X(sqlite3_step)                                                                            \
	X(sqlite3_system_errno)

enum pn_sqlite_fn { PN_SQLITE_FUNCS(PN_DLSYMS_INDEX) PN_SQLITE_COUNT };
extern void *pn_sqlite_sym[PN_SQLITE_COUNT];

/* Load libsqlite3.so.0 (once; thread-safe): 0 or PN_E_LIBRARY with the reason
 * (library or symbol missing, Debian package libsqlite3-0) in err. */
int pn_sqlite_load(char *err, size_t errsz);

#ifndef PN_SQLITE_DL_IMPL
#define sqlite3_bind_int	 PN_DLSYM(pn_sqlite_sym, sqlite3_bind_int)
#define sqlite3_bind_int64	 PN_DLSYM(pn_sqlite_sym, sqlite3_bind_int64)
#define sqlite3_bind_null	 PN_DLSYM(pn_sqlite_sym, sqlite3_bind_null)
#define sqlite3_bind_text	 PN_DLSYM(pn_sqlite_sym, sqlite3_bind_text)
#define sqlite3_busy_timeout	 PN_DLSYM(pn_sqlite_sym, sqlite3_busy_timeout)
#define sqlite3_changes		 PN_DLSYM(pn_sqlite_sym, sqlite3_changes)
#define sqlite3_close_v2	 PN_DLSYM(pn_sqlite_sym, sqlite3_close_v2)
#define sqlite3_column_bytes	 PN_DLSYM(pn_sqlite_sym, sqlite3_column_bytes)
#define sqlite3_column_count	 PN_DLSYM(pn_sqlite_sym, sqlite3_column_count)
#define sqlite3_column_int	 PN_DLSYM(pn_sqlite_sym, sqlite3_column_int)
#define sqlite3_column_int64	 PN_DLSYM(pn_sqlite_sym, sqlite3_column_int64)
#define sqlite3_column_name	 PN_DLSYM(pn_sqlite_sym, sqlite3_column_name)
#define sqlite3_column_text	 PN_DLSYM(pn_sqlite_sym, sqlite3_column_text)
#define sqlite3_column_type	 PN_DLSYM(pn_sqlite_sym, sqlite3_column_type)
#define sqlite3_errmsg		 PN_DLSYM(pn_sqlite_sym, sqlite3_errmsg)
#define sqlite3_exec		 PN_DLSYM(pn_sqlite_sym, sqlite3_exec)
#define sqlite3_extended_errcode PN_DLSYM(pn_sqlite_sym, sqlite3_extended_errcode)
#define sqlite3_finalize	 PN_DLSYM(pn_sqlite_sym, sqlite3_finalize)
#define sqlite3_free		 PN_DLSYM(pn_sqlite_sym, sqlite3_free)
#define sqlite3_get_autocommit	 PN_DLSYM(pn_sqlite_sym, sqlite3_get_autocommit)
#define sqlite3_open_v2		 PN_DLSYM(pn_sqlite_sym, sqlite3_open_v2)
#define sqlite3_prepare_v2	 PN_DLSYM(pn_sqlite_sym, sqlite3_prepare_v2)
#define sqlite3_step		 PN_DLSYM(pn_sqlite_sym, sqlite3_step)
#define sqlite3_system_errno	 PN_DLSYM(pn_sqlite_sym, sqlite3_system_errno)
#endif
#endif
