/* libcurl loaded on first use (curl_dl.h). */
#define PN_CURL_DL_IMPL
#include "ctlapi/curl_dl.h"

#include <errno.h>
#include <stdio.h>

#include "core/err.h"
#include "core/log.h"

static int curl_init(void *const *syms, char *msg, size_t msgsz)
{
	CURLcode cc = PN_DLSYM(syms, curl_global_init)(CURL_GLOBAL_DEFAULT);

	if (cc == CURLE_OK)
		return 0;
	snprintf(msg, msgsz,
		 "curl_global_init failed (libcurl-gnutls.so.4, package libcurl3-gnutls): %d",
		 (int)cc);
	return -1;
}

void *pn_curl_sym[PN_CURL_COUNT];
static const char *const curl_names[] = {PN_CURL_FUNCS(PN_DLSYMS_NAME) NULL};
static struct pn_dlsyms curl_lib = {.soname = "libcurl-gnutls.so.4",
				    .package = "libcurl3-gnutls",
				    .names = curl_names,
				    .syms = pn_curl_sym,
				    .init = curl_init};

int pn_curl_load(char *err, size_t errsz)
{
	return pn_dlsyms_load(&curl_lib, err, errsz);
}

int pn_curl_ready(const char *mod)
{
	char err[256];
	int r = pn_curl_load(err, sizeof(err));

	if (r)
		PN_LOG_ERROR(mod, "library_missing", "err=%s msg=\"%s\"", pn_errname(r), err);
	return r;
}

int pn_curl_easy_open(const char *mod, CURL **out)
{
	int r;

	*out = NULL;
	if ((r = pn_curl_ready(mod)) != 0)
		return r;
	if (!(*out = PN_DLSYM(pn_curl_sym, curl_easy_init)()))
		return -ENOMEM;
	return 0;
}
