#ifndef PN_CONTROLLER_JWT_DL_H
#define PN_CONTROLLER_JWT_DL_H
/*
 * libjwt (GnuTLS build), loaded at run time by the first OIDC ID token
 * verified (core/dlsyms.h): postern does not link it, so the client,
 * connector and relay do not load it at start.  Include after the system
 * headers in the files that call it: each jwt_* name below then reads
 * through the table.  Every function called must be listed here (an
 * unlisted one fails to link).
 */
#include <jwt.h>
#include <stddef.h>

#include "core/dlsyms.h"

#define PN_JWT_FUNCS(X)                                                                            \
	X(jwt_decode)                                                                              \
	X(jwt_free)                                                                                \
	X(jwt_get_alg)

enum pn_jwt_fn { PN_JWT_FUNCS(PN_DLSYMS_INDEX) PN_JWT_COUNT };
extern void *pn_jwt_sym[PN_JWT_COUNT];

/* Load libjwt-gnutls.so.0 (once; thread-safe): 0 or PN_E_LIBRARY with the reason
 * (library or symbol missing, Debian package libjwt-gnutls0) in err. */
int pn_jwt_load(char *err, size_t errsz);

#ifndef PN_JWT_DL_IMPL
#define jwt_decode  PN_DLSYM(pn_jwt_sym, jwt_decode)
#define jwt_free    PN_DLSYM(pn_jwt_sym, jwt_free)
#define jwt_get_alg PN_DLSYM(pn_jwt_sym, jwt_get_alg)
#endif
#endif
