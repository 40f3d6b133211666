#ifndef PN_CLIENT_NFT_DL_H
#define PN_CLIENT_NFT_DL_H
/*
 * libnftables, loaded at run time by the first transparent-mode rule
 * change (core/dlsyms.h): postern does not link it, so the roles and modes
 * that never change rules do not load it at start.  Include after
 * <nftables/libnftables.h>; each nft_* name below then reads through the
 * table.
 */
#include <nftables/libnftables.h>
#include <stddef.h>

#include "core/dlsyms.h"

#define PN_NFT_FUNCS(X)                                                                            \
	X(nft_ctx_new)                                                                             \
	X(nft_ctx_free)                                                                            \
	X(nft_ctx_buffer_output)                                                                   \
	X(nft_ctx_buffer_error)                                                                    \
	X(nft_ctx_get_error_buffer)                                                                \
	X(nft_run_cmd_from_buffer)

enum pn_nft_fn { PN_NFT_FUNCS(PN_DLSYMS_INDEX) PN_NFT_COUNT };
extern void *pn_nft_sym[PN_NFT_COUNT];

/* Load libnftables.so.1 (once; thread-safe): 0 or PN_E_LIBRARY with the
 * reason (library or symbol missing, Debian package libnftables1) in err. */
int pn_nft_load(char *err, size_t errsz);

#ifndef PN_NFT_DL_IMPL
#define nft_ctx_new		 PN_DLSYM(pn_nft_sym, nft_ctx_new)
#define nft_ctx_free		 PN_DLSYM(pn_nft_sym, nft_ctx_free)
#define nft_ctx_buffer_output	 PN_DLSYM(pn_nft_sym, nft_ctx_buffer_output)
#define nft_ctx_buffer_error	 PN_DLSYM(pn_nft_sym, nft_ctx_buffer_error)
#define nft_ctx_get_error_buffer PN_DLSYM(pn_nft_sym, nft_ctx_get_error_buffer)
#define nft_run_cmd_from_buffer	 PN_DLSYM(pn_nft_sym, nft_run_cmd_from_buffer)
#endif
#endif
