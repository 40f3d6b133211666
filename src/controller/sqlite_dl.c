/* libsqlite3.so.0 loaded on first use (sqlite_dl.h). */
#define PN_SQLITE_DL_IMPL
#include "controller/sqlite_dl.h"

PN_DLSYMS_DEFINE(sqlite_lib, pn_sqlite_sym, PN_SQLITE_COUNT, PN_SQLITE_FUNCS, "libsqlite3.so.0",
		 "libsqlite3-0");

int pn_sqlite_load(char *err, size_t errsz)
{
	return pn_dlsyms_load(&sqlite_lib, err, errsz);
}
