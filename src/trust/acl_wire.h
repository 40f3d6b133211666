#ifndef PN_TRUST_ACL_WIRE_H
#define PN_TRUST_ACL_WIRE_H
/*
 * Access-list codec internals, exposed for the fuzzers and tests.
 * NEVER authorize anything with pn_acl_decode_body alone: it does not check
 * the signature.  Use pn_acl_verify (acl.h).
 */
#include <stddef.h>
#include <stdint.h>

#include "trust/acl.h"

/* Validate one entry as pn_acl_add_entry does.  0, PN_E_INVAL,
 * PN_E_TOOBIG, PN_E_BAD_NAME. */
int pn_acl_entry_check(const struct pn_acl_entry *e);

/*
 * Encode the signed part (header + body) with `signer_fpr`; *out has room
 * for the 65-byte signature trailer after *outlen bytes.  free().
 * 0, PN_E_INVAL, PN_E_TOOBIG, PN_E_BAD_NAME, -ENOMEM.
 */
int pn_acl_encode_unsigned(const struct pn_acl *acl, const uint8_t signer_fpr[PN_FPR_LEN],
			   uint8_t **out, size_t *outlen);

/*
 * Decode the signed part (exactly signed_len bytes: header + body, no
 * trailer) without any signature or time check.  On failure *acl is left
 * empty.  Errors as pn_acl_verify's format errors.
 */
int pn_acl_decode_body(const uint8_t *p, size_t len, struct pn_acl *acl);
#endif
