/* libnftables loaded on first use (nft_dl.h). */
#define PN_NFT_DL_IMPL
#include "client/nft_dl.h"

void *pn_nft_sym[PN_NFT_COUNT];

static const char *const nft_names[] = {PN_NFT_FUNCS(PN_DLSYMS_NAME) NULL};

static struct pn_dlsyms nft_lib = {.soname = "libnftables.so.1",
				   .package = "libnftables1",
				   .names = nft_names,
				   .syms = pn_nft_sym};

int pn_nft_load(char *err, size_t errsz)
{
	return pn_dlsyms_load(&nft_lib, err, errsz);
}
