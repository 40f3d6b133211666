/* libpq loaded on first use (pq_dl.h). */
#define PN_PQ_DL_IMPL
#include "controller/pq_dl.h"
#include "core/err.h"

void *pn_pq_sym[PN_PQ_COUNT];

static const char *const pq_names[] = {PN_PQ_FUNCS(PN_DLSYMS_NAME) NULL};

static struct pn_dlsyms pq_lib = {
    .soname = "libpq.so.5", .package = "libpq5", .names = pq_names, .syms = pn_pq_sym};

int pn_pq_load(char *err, size_t errsz)
{
	return pn_dlsyms_load(&pq_lib, err, errsz) ? PN_E_STORE_LIBRARY : 0;
}
