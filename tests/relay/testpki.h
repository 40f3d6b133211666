#ifndef PN_TEST_RELAY_TESTPKI_H
#define PN_TEST_RELAY_TESTPKI_H
/* Test credentials minted with the real trust library (no fixtures on disk). */
#include <stddef.h>
#include <stdint.h>

#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"

struct tpki_cred {
	char *cert_pem, *key_pem;
	struct pn_cred_info info;
};

/* Issue a credential of `type` valid [now, now + lifetime]; 0 or error. */
int tpki_issue(struct pn_ca *ca, enum pn_cred_type type, const char *name, uint64_t now,
	       uint64_t lifetime, struct tpki_cred *out);
void tpki_cred_free(struct tpki_cred *c);
/* Renew `old` (same type, id, name) valid [now, now + lifetime]: for the
 * same key, or with new_key for a freshly generated one.  0 or error. */
int tpki_reissue(struct pn_ca *ca, const struct tpki_cred *old, int new_key, uint64_t now,
		 uint64_t lifetime, struct tpki_cred *out);
/* A client access list for `holder` naming `connector` (valid [issued, expires)). */
int tpki_client_acl(struct pn_ca *ca, const struct pn_cred_info *holder,
		    const uint8_t connector[PN_ID_LEN], uint64_t issued, uint64_t expires,
		    uint8_t **out, size_t *len);
#endif
