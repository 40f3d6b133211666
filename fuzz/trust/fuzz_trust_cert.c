/*
 * A peer's certificate as presented in a TLS handshake (DER) or a PEM file:
 * pn_cred_verify / pn_cred_verify_peer against a CA made at start-up whose
 * key is discarded, so nothing may ever verify; the point is that no input
 * crashes the parse -> signature -> extension path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "core/err.h"
#include "trust/ca.h"
#include "trust/cred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pn_anchor *anchor; /* harness state: set once, read-only after */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_cred_info info;
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)data, (unsigned)size};

	if (!anchor) {
		struct pn_ca *ca = NULL;
		if (pn_ca_new(1800000000ull, &ca) != 0 || pn_anchor_from_ca(ca, &anchor) != 0)
			abort();
		pn_ca_free(ca);
	}
	if (pn_cred_verify(anchor, data, size, PN_CRED_ANY, 1800000000ull, 60, &info) == 0)
		abort();
	if (pn_cred_verify_peer(anchor, &d, 1, PN_CRED_CLIENT, 1800000000ull, 60, &info) == 0)
		abort();
	return 0;
}
