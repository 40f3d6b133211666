/* libmicrohttpd.so.12 loaded on first use (mhd_dl.h). */
#define PN_MHD_DL_IMPL
#include "controller/mhd_dl.h"

PN_DLSYMS_DEFINE(mhd_lib, pn_mhd_sym, PN_MHD_COUNT, PN_MHD_FUNCS, "libmicrohttpd.so.12",
		 "libmicrohttpd12");

int pn_mhd_load(char *err, size_t errsz)
{
	return pn_dlsyms_load(&mhd_lib, err, errsz);
}
