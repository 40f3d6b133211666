#ifndef PN_TRUST_UTIL_H
#define PN_TRUST_UTIL_H
/* Internal helpers shared by the trust sources (DER/PEM, fingerprints,
 * serials); not part of the API.  Files: core/file.h. */
#include <stddef.h>
#include <stdint.h>

#include <gnutls/abstract.h>

#include "trust/key.h"

/* SHA-256 of the DER SubjectPublicKeyInfo.  0 or PN_E_CRYPTO. */
int pn_trust_spki_fpr(gnutls_pubkey_t pub, uint8_t out[PN_FPR_LEN]);
/* Copy a gnutls-allocated datum into a malloc'd NUL-terminated string and
 * free (after wiping) the datum.  0 or -ENOMEM (datum freed either way). */
int pn_trust_datum_to_str(gnutls_datum_t *d, char **out, size_t *outlen);
/* 16 random bytes with the top bit clear (a positive DER INTEGER). */
int pn_trust_random_serial(uint8_t out[16]);
/* Is the (PEM or DER) input PEM?  "-----BEGIN" after leading whitespace. */
int pn_trust_is_pem(const void *p, size_t len);
#endif
