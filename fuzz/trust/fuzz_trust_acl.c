/*
 * The access-list decoder.  Each input goes through
 *   - pn_acl_decode_body (the body parser, reached without a signature);
 *     property: a decoded list re-encodes to exactly the input bytes;
 *   - pn_acl_verify against a CA made at start-up (layout, pin and
 *     signature checks; a mutated document must never verify).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "trust/acl.h"
#include "trust/acl_wire.h"
#include "trust/ca.h"
#include "trust/cred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pn_anchor *anchor; /* harness state: set once, read-only after */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_acl acl;
	uint8_t *enc = NULL;
	size_t n = 0;

	if (!anchor) {
		struct pn_ca *ca = NULL;
		if (pn_ca_new(1800000000ull, &ca) != 0 || pn_anchor_from_ca(ca, &anchor) != 0)
			abort();
		pn_ca_free(ca); /* only its public half is needed: nothing can verify */
	}
	pn_acl_init(&acl, PN_ACL_CLIENT);
	if (pn_acl_decode_body(data, size, &acl) == 0) {
		if (pn_acl_encode_unsigned(&acl, acl.signer_fpr, &enc, &n) != 0 || n != size ||
		    memcmp(enc, data, size) != 0)
			abort();
		free(enc);
	}
	pn_acl_fini(&acl);
	/* The key was generated here and discarded, so no input can carry a
	 * valid signature: success would be a forgery. */
	if (pn_acl_verify(anchor, data, size, 1800000000ull, &acl) == 0)
		abort();
	pn_acl_fini(&acl);
	return 0;
}
