#ifndef PN_CORE_DLSYMS_H
#define PN_CORE_DLSYMS_H
/*
 * An optional shared library loaded at run time, the first time a role
 * needs it (libpq for the controller's PostgreSQL store, libnftables for
 * the client's transparent mode), so the other roles' processes do not pay
 * for loading it at every start.  The library is opened with
 * dlopen(soname, RTLD_NOW | RTLD_LOCAL) once and every name of a
 * NULL-terminated list resolved into a table of pointers; the outcome
 * (success or failure) is remembered.  Thread-safe.  Used for libpq,
 * libnftables, libcurl, libmicrohttpd, libjwt and libsqlite3: of the
 * libraries postern uses, the client, connector and relay load only
 * GnuTLS, nettle, ngtcp2, libuv, jansson and libmnl at start.
 */
#include <stddef.h>

struct pn_dlsyms {
	const char *soname;	  /* e.g. "libpq.so.5" */
	const char *package;	  /* the Debian package that ships it, for the message */
	const char *const *names; /* NULL-terminated symbol names */
	void **syms;		  /* one slot per name, filled on success */
	/* Optional: run once after every name resolved, under the lock (e.g.
	 * the library's global initialization): 0, or nonzero with a reason
	 * in msg (msgsz bytes), which fails the load. */
	int (*init)(void *const *syms, char *msg, size_t msgsz);
	/* private (zero-initialize) */
	int state; /* 0 not tried, 1 loaded, else the error */
	void *handle;
	char msg[256];
};

/* For a library's header: its functions listed as LIST(X) X(name) ...,
 * enum { LIST(PN_DLSYMS_INDEX) COUNT } numbers the table's slots,
 * { LIST(PN_DLSYMS_NAME) NULL } is the names list, and
 * "#define name PN_DLSYM(table, name)" makes each call read through the
 * table with the type the library's own header declares. */
#define PN_DLSYMS_INDEX(n) PN_DL_##n,
#define PN_DLSYMS_NAME(n)  #n,
#define PN_DLSYM(tab, n)   ((__typeof__(n) *)(tab)[PN_DL_##n])

/* For the library's .c: the table tab (count slots), the names of LIST and
 * the descriptor var of the library so (in the Debian package pkg). */
#define PN_DLSYMS_DEFINE(var, tab, count, LIST, so, pkg)                                           \
	void *tab[count];                                                                          \
	static const char *const var##_names[] = {LIST(PN_DLSYMS_NAME) NULL};                      \
	static struct pn_dlsyms var = {                                                            \
	    .soname = (so), .package = (pkg), .names = var##_names, .syms = tab}

/* Load d (once): 0, or PN_E_LIBRARY with a message naming the library (or
 * the missing symbol) and the package in err (may be NULL), for the caller
 * to log. */
int pn_dlsyms_load(struct pn_dlsyms *d, char *err, size_t errsz);
#endif
