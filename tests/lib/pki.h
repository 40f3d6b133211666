#ifndef PN_TEST_LIB_PKI_H
#define PN_TEST_LIB_PKI_H
/*
 * The one test PKI: credentials and signed access lists minted with the real
 * trust library, for cmocka tests (linked as pn_testpki) and for the
 * integration scripts (through the pnfixture CLI).  Clients are issued as
 * user NAME@test in group eng.
 */
#include <stddef.h>
#include <stdint.h>

#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/key.h"

struct tpki_cred {
	char *cert_pem, *key_pem;
	struct pn_cred_info info;
};

/* Issue a credential of `type` valid [now, now + lifetime] with a random id;
 * 0 or error. */
int tpki_issue(struct pn_ca *ca, enum pn_cred_type type, const char *name, uint64_t now,
	       uint64_t lifetime, struct tpki_cred *out);
/* The same with a given id (NULL: random), e.g. to impersonate a component. */
int tpki_issue_id(struct pn_ca *ca, enum pn_cred_type type, const char *name, const uint8_t *id,
		  uint64_t now, uint64_t lifetime, struct tpki_cred *out);
/* The same for a given key (e.g. to test adoption of a renewal for one's own
 * key) and id (NULL: random). */
int tpki_issue_key(struct pn_ca *ca, const struct pn_key *key, enum pn_cred_type type,
		   const char *name, const uint8_t *id, uint64_t now, uint64_t lifetime,
		   struct tpki_cred *out);
/* Renew `old` (same type, id, name) valid [now, now + lifetime]: for the
 * same key, or with new_key for a freshly generated one.  0 or error. */
int tpki_reissue(struct pn_ca *ca, const struct tpki_cred *old, int new_key, uint64_t now,
		 uint64_t lifetime, struct tpki_cred *out);
void tpki_cred_free(struct tpki_cred *c);
/* Its key, loaded (pn_key_free), and its TLS credentials checked against
 * `a` (gnutls_certificate_free_credentials).  0 or error. */
int tpki_key(const struct tpki_cred *c, struct pn_key **out);
int tpki_tls(const struct tpki_cred *c, const struct pn_anchor *a,
	     gnutls_certificate_credentials_t *out);
/* A client access list for `holder` naming `connector` (valid [issued, expires))
 * with one grant (10.0.0.0/24 tcp 22,443). */
int tpki_client_acl(struct pn_ca *ca, const struct pn_cred_info *holder,
		    const uint8_t connector[PN_ID_LEN], uint64_t issued, uint64_t expires,
		    uint8_t **out, size_t *len);
/* Bind `acl` to `holder`, stamp it and sign it with `ca`; 0 or error. */
int tpki_sign_acl(struct pn_ca *ca, struct pn_acl *acl, const struct pn_cred_info *holder,
		  uint64_t version, uint64_t issued, uint64_t expires, uint8_t **out, size_t *len);

/* Files (mode 0600); parent directories are created.  0 or -errno. */
int tpki_put(const char *path, const void *p, size_t n);
/* DIR/key.pem, DIR/cert.pem, DIR/id (hex) and, with ca, DIR/ca.crt. */
int tpki_put_cred_dir(const char *dir, const struct tpki_cred *c, const struct pn_ca *ca);
#endif
