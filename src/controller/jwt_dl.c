/* libjwt-gnutls.so.0 loaded on first use (jwt_dl.h). */
#define PN_JWT_DL_IMPL
#include "controller/jwt_dl.h"

PN_DLSYMS_DEFINE(jwt_lib, pn_jwt_sym, PN_JWT_COUNT, PN_JWT_FUNCS, "libjwt-gnutls.so.0",
		 "libjwt-gnutls0");

int pn_jwt_load(char *err, size_t errsz)
{
	return pn_dlsyms_load(&jwt_lib, err, errsz);
}
