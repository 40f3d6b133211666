#ifndef PN_CTLAPI_CURL_DL_H
#define PN_CTLAPI_CURL_DL_H
/*
 * libcurl (libcurl-gnutls.so.4), loaded at run time by the first request
 * that needs it (core/dlsyms.h): postern does not link it, so a client,
 * connector or relay that never talks to a controller does not load it
 * (with the libcrypto, Kerberos, LDAP, libssh2, librtmp and nghttp2 it
 * pulls in) at every start.  curl_global_init runs once, when the library
 * is loaded, under the loader's lock.
 *
 * Include this instead of <curl/curl.h> in the files that call libcurl:
 * each curl_* name below then reads through the table.  Every function
 * called must be listed here (an unlisted one fails to link).  libcurl's
 * compile-time option type checks (typecheck-gcc.h) work on the real
 * function names only, so they are off here (CURL_DISABLE_TYPECHECK):
 * pass longs as 1L, pointers as pointers, curl_off_t where the option says.
 */
#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK
#endif
#include <curl/curl.h>
#include <stddef.h>

#include "core/dlsyms.h"

#define PN_CURL_FUNCS(X)                                                                           \
	X(curl_global_init)                                                                        \
	X(curl_easy_init)                                                                          \
	X(curl_easy_setopt)                                                                        \
	X(curl_easy_getinfo)                                                                       \
	X(curl_easy_perform)                                                                       \
	X(curl_easy_cleanup)                                                                       \
	X(curl_easy_strerror)                                                                      \
	X(curl_easy_escape)                                                                        \
	X(curl_easy_unescape)                                                                      \
	X(curl_free)                                                                               \
	X(curl_slist_append)                                                                       \
	X(curl_slist_free_all)                                                                     \
	X(curl_getdate)

enum pn_curl_fn { PN_CURL_FUNCS(PN_DLSYMS_INDEX) PN_CURL_COUNT };
extern void *pn_curl_sym[PN_CURL_COUNT];

/* Load libcurl-gnutls.so.4 and run curl_global_init (once; thread-safe):
 * 0 or PN_E_LIBRARY with the reason (library or symbol missing, Debian
 * package libcurl3-gnutls; or curl_global_init failed) in err. */
int pn_curl_load(char *err, size_t errsz);
/* pn_curl_load, the failure logged as module mod's event library_missing:
 * 0 or PN_E_LIBRARY.  For every path that is about to call libcurl. */
int pn_curl_ready(const char *mod);
/* pn_curl_ready, then curl_easy_init: the start of every request path.
 * 0 with *out a handle the caller frees with curl_easy_cleanup;
 * PN_E_LIBRARY (libcurl missing: logged as module mod's library_missing,
 * the request fails closed) or -ENOMEM, with *out NULL. */
int pn_curl_easy_open(const char *mod, CURL **out);
/* What a reply to a remote peer says when pn_curl_easy_open gave
 * PN_E_LIBRARY (the log has the loader's reason). */
#define PN_CURL_MISSING_MSG "libcurl missing (package libcurl3-gnutls)"

#ifndef PN_CURL_DL_IMPL
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init    PN_DLSYM(pn_curl_sym, curl_global_init)
#define curl_easy_init	    PN_DLSYM(pn_curl_sym, curl_easy_init)
#define curl_easy_setopt    PN_DLSYM(pn_curl_sym, curl_easy_setopt)
#define curl_easy_getinfo   PN_DLSYM(pn_curl_sym, curl_easy_getinfo)
#define curl_easy_perform   PN_DLSYM(pn_curl_sym, curl_easy_perform)
#define curl_easy_cleanup   PN_DLSYM(pn_curl_sym, curl_easy_cleanup)
#define curl_easy_strerror  PN_DLSYM(pn_curl_sym, curl_easy_strerror)
#define curl_easy_escape    PN_DLSYM(pn_curl_sym, curl_easy_escape)
#define curl_easy_unescape  PN_DLSYM(pn_curl_sym, curl_easy_unescape)
#define curl_free	    PN_DLSYM(pn_curl_sym, curl_free)
#define curl_slist_append   PN_DLSYM(pn_curl_sym, curl_slist_append)
#define curl_slist_free_all PN_DLSYM(pn_curl_sym, curl_slist_free_all)
#define curl_getdate	    PN_DLSYM(pn_curl_sym, curl_getdate)
#endif
#endif
