#ifndef PN_FUZZ_FZCONN_H
#define PN_FUZZ_FZCONN_H
/*
 * A tunnel connection core (pn_tconn: ngtcp2 + GnuTLS) on a fixed clock
 * for the connection-level fuzzer and its seed generator: identities from
 * the test PKI (a connector and a client of one CA), configurations as the
 * tunnel endpoint makes them, and pn_random replaced (-Wl,--wrap) by a
 * generator reset with fzc_reset, so connection ids and every other value
 * Postern draws are the same on every run.  (GnuTLS draws its own
 * randomness for the TLS handshake: only packets up to the first ones
 * under handshake keys replay exactly.)
 */
#include <stdint.h>

#include "tunnel/conn.h"
#include "tunnel/path.h"

#define FZC_NOW0 1000000000ull /* monotonic clock at the start (ns) */
#define FZC_UNIX 1800000000ull /* wall clock for credential checks (s) */

struct fzc {
	struct pn_ca *ca;
	struct pn_anchor *anchor;
	gnutls_certificate_credentials_t cl_tls, sv_tls;
	uint8_t connector_id[16];
	uint8_t retry_secret[PN_TCONN_RETRY_SECRET_LEN];
	struct pn_mempath *pa, *pb; /* path identities: the client's, the server's */
};

/* Once (aborts on failure). */
struct fzc *fzc_get(void);
/* Restart the pn_random sequence. */
void fzc_reset(void);
/* The configuration for one side. */
void fzc_config(struct fzc *f, enum pn_tconn_role role, struct pn_tconn_config *cfg);
#endif
