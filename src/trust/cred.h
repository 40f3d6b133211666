#ifndef PN_TRUST_CRED_H
#define PN_TRUST_CRED_H
/*
 * Credentials: short-lived X.509 certificates issued by the network CA from
 * a holder's CSR, usable directly as TLS 1.3 / QUIC credentials in GnuTLS.
 *
 * Each certificate (v3, Ed25519, random 16-byte serial) carries:
 *   - subject CN = the holder id in hex (never a human name: relays see it);
 *   - subjectAltName DNS:<32 hex id>.postern.invalid (PN_CRED_SAN_SUFFIX) so a
 *     TLS peer can match the id it expects (gnutls_x509_crt_check_hostname);
 *   - keyUsage digitalSignature, basicConstraints CA:false,
 *     extKeyUsage serverAuth + clientAuth, subject/authority key ids;
 *   - the Postern extension (PN_CRED_EXT_OID, non-critical, see ext.h):
 *     holder type, random id, display name, policy version and, for
 *     clients, user and groups.
 *
 * Verification (pn_cred_verify*) accepts only certificates whose signature
 * verifies directly under the pinned CA (no intermediates, no other CA,
 * no system trust store), inside [not_before - skew, not_after + skew],
 * leaf (CA:false), with a well-formed Postern extension whose id matches
 * the SAN, of the expected type.
 */
#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "trust/ca.h"
#include "trust/key.h"

/*
 * Postern credential extension OID.  Under IANA's Private Enterprise arc,
 * PEN 32473 is the number RFC 5612 reserves for documentation and
 * examples: we use it until Postern has its own PEN.  Changing it is a
 * one-constant change (credentials are short-lived, so a switch-over only
 * needs verifiers to accept both for one credential lifetime).
 * (A 2.25.<UUID> arc was the first choice, but libtasn1 - hence GnuTLS -
 * cannot encode 128-bit arcs: it silently writes 2.25.LONG_MAX.)
 */
#define PN_CRED_EXT_OID	   "1.3.6.1.4.1.32473.1.1"
#define PN_CRED_SAN_SUFFIX ".postern.invalid"

#define PN_ID_LEN	      16 /* random holder id */
#define PN_ID_HEX_LEN	      32
#define PN_NAME_MAX	      64		 /* display name, bytes */
#define PN_USER_MAX	      128		 /* user (e.g. an email address), bytes */
#define PN_GROUP_MAX	      64		 /* one group name, bytes */
#define PN_GROUPS_MAX	      32		 /* groups per client credential */
#define PN_SERIAL_MAX	      20		 /* RFC 5280 */
#define PN_CRED_PEM_MAX	      16384		 /* refuse larger certificate inputs */
#define PN_CRED_LIFETIME_MAX  (7ull * 24 * 3600) /* issuance refuses longer */
/*
 * Clocks.  PN_TRUST_DEFAULT_SKEW is the one tolerance every verifier
 * applies to every signed document, credentials and access lists alike:
 * a document valid over [start, end] (credential not_before..not_after,
 * list issued_at..expires_at) is accepted at `now` iff
 *     start - skew <= now  and  now <= end + skew   (lists: now < end + skew)
 * and refused otherwise as not yet valid / expired (refusals are logged
 * on the refusing side with both clocks).  Issuers backdate the start by
 * PN_TRUST_BACKDATE_S, so a verifier whose clock is up to BACKDATE + SKEW
 * behind the issuer's accepts a fresh document at once; a clock ahead by
 * more than SKEW shortens the end.
 */
#define PN_TRUST_SKEW_S	      60 /* seconds of clock-skew tolerance */
/* The skew every verifier applies: PN_TRUST_SKEW_S, or less when the
 * environment sets PN_TEST_CLOCK_SKEW_S (an integer in [1, 60], read once
 * per process; anything else is ignored).  A test knob: it lets the
 * integration tests that wait out expiry + skew (relay_ctl,
 * it_connector_renew) wait seconds instead of a minute; it can only
 * narrow the tolerance, never widen it. */
uint32_t pn_trust_skew(void);
#define PN_TRUST_DEFAULT_SKEW pn_trust_skew()
#define PN_TRUST_BACKDATE_S   300 /* issuers start validity this long before now */

enum pn_cred_type {
	PN_CRED_ANY = 0, /* only as `expected` to pn_cred_verify: accept any type */
	PN_CRED_CLIENT = 1,
	PN_CRED_CONNECTOR = 2,
	PN_CRED_RELAY = 3,
};

/* What a credential says about its holder.  Strings are NUL-terminated
 * UTF-8-agnostic bytes without NUL; user/groups are empty unless CLIENT. */
struct pn_cred_info {
	enum pn_cred_type type;
	uint8_t id[PN_ID_LEN];
	char name[PN_NAME_MAX + 1];
	char user[PN_USER_MAX + 1];
	unsigned ngroups;
	char groups[PN_GROUPS_MAX][PN_GROUP_MAX + 1];
	uint64_t policy_version; /* policy version current at issuance */
	/* Filled in by issue/verify, ignored as issuance input: */
	uint8_t key_fpr[PN_FPR_LEN]; /* SHA-256 of the holder's SPKI */
	uint8_t serial[PN_SERIAL_MAX];
	size_t serial_len;
	uint64_t not_before, not_after; /* unix seconds */
};

/* Lowercase hex of an id (out: PN_ID_HEX_LEN + 1 bytes); parse: exactly 32
 * hex digits, 0 or PN_E_MALFORMED. */
void pn_id_hex(const uint8_t id[PN_ID_LEN], char out[PN_ID_HEX_LEN + 1]);
int pn_id_parse(const char *hex, uint8_t out[PN_ID_LEN]);
/* Lowercase hex of the credential's serial ("" when it has none). */
#define PN_SERIAL_HEX_LEN (2 * PN_SERIAL_MAX)
void pn_cred_serial_hex(const struct pn_cred_info *ci, char out[PN_SERIAL_HEX_LEN + 1]);
/* New random id.  0 or PN_E_CRYPTO. */
int pn_id_random(uint8_t out[PN_ID_LEN]);
/* "client" / "connector" / "relay" / "unknown". */
const char *pn_cred_type_name(enum pn_cred_type t);

/*
 * Issue a credential for the key in `csr_pem` (PEM PKCS#10, <= PN_CRED_PEM_MAX).
 * The CSR's self-signature is verified (proof of possession) and must be
 * Ed25519; its subject and any requested extensions are ignored.  From
 * `info` only type, id, name, user, groups and policy_version are used
 * (checked against the limits above; user/groups must be empty unless
 * CLIENT).  Validity is [now - PN_TRUST_BACKDATE_S, now + lifetime_s],
 * 1 <= lifetime_s <= PN_CRED_LIFETIME_MAX (the lifetime counts from now).  *out_pem: NUL-terminated heap string, free().
 * If `issued` is not NULL it receives the full info of the new certificate
 * (it may point to the same object as `info`).
 * 0, PN_E_INVAL (bad info/lifetime), PN_E_MALFORMED (CSR), PN_E_SIGNATURE
 * (CSR self-signature), PN_E_UNSUPPORTED (non-Ed25519 key), -ENOMEM, PN_E_CRYPTO.
 */
int pn_cred_issue(const struct pn_ca *ca, const char *csr_pem, const struct pn_cred_info *info,
		  uint64_t lifetime_s, uint64_t now, char **out_pem, struct pn_cred_info *issued);

/*
 * The two halves of pn_cred_issue, for a CA whose key lives in another
 * process (controller/signer.h).  pn_cred_csr_pubkey: parse and verify a
 * CSR (same checks and errors as above) and return its raw Ed25519 public
 * key and, if fpr is not NULL, its fingerprint.  pn_cred_issue_pubkey: issue for a raw public key (PN_E_MALFORMED
 * if it is not a valid Ed25519 point encoding; else as pn_cred_issue).
 */
#define PN_ED25519_PUB_LEN 32
int pn_cred_csr_pubkey(const char *csr_pem, uint8_t pub[PN_ED25519_PUB_LEN],
		       uint8_t fpr[PN_FPR_LEN]);
int pn_cred_issue_pubkey(const struct pn_ca *ca, const uint8_t pub[PN_ED25519_PUB_LEN],
			 const struct pn_cred_info *info, uint64_t lifetime_s, uint64_t now,
			 char **out_pem, struct pn_cred_info *issued);

/*
 * The pinned trust anchor: the CA certificate every component stores.
 * Immutable after creation and thread-safe: one anchor may be shared by
 * any number of threads (uses of the GnuTLS objects inside are serialised).
 */
struct pn_anchor;

/*
 * Parse a CA certificate (PEM, <= PN_CA_CERT_PEM_MAX) into an anchor.  It
 * must be a self-signed Ed25519 CA certificate.  0, PN_E_MALFORMED,
 * PN_E_UNSUPPORTED, PN_E_SIGNATURE, -ENOMEM.
 */
int pn_anchor_new(const void *ca_pem, size_t len, struct pn_anchor **out);
/* Convenience: read <path> (e.g. state/ca.crt) then pn_anchor_new. */
int pn_anchor_load_file(const char *path, struct pn_anchor **out);
/* An anchor for an in-memory CA (controller, tests). */
int pn_anchor_from_ca(const struct pn_ca *ca, struct pn_anchor **out);
void pn_anchor_free(struct pn_anchor *a); /* NULL-safe */
/* The pin: SHA-256 of the CA SPKI (compare with an enrollment token's
 * hash using pn_ct_memcmp). */
void pn_anchor_fingerprint(const struct pn_anchor *a, uint8_t out[PN_FPR_LEN]);
/* Verify an Ed25519 signature by the CA key.  0 or PN_E_SIGNATURE. */
int pn_anchor_verify_sig(const struct pn_anchor *a, const void *data, size_t len,
			 const uint8_t sig[PN_SIG_LEN]);

/*
 * Verify one certificate (PEM or DER, auto-detected; <= PN_CRED_PEM_MAX)
 * against the pinned anchor at time `now` (unix seconds) with `skew_s`
 * seconds of tolerance on both ends of the validity window.  `expected` is
 * the required holder type or PN_CRED_ANY.  On success fills *info.
 * Errors (checked in this order):
 *   PN_E_MALFORMED     empty, larger than PN_CRED_PEM_MAX, or not parseable
 *   PN_E_UNTRUSTED     signature does not verify under the pinned CA (any
 *                      other CA, any bit changed), a CA:true or non-Ed25519
 *                      certificate, or no Postern extension
 *   PN_E_MALFORMED     a signed but bad Postern extension, or a SAN that is
 *                      not exactly DNS:<hex id>.postern.invalid
 *   PN_E_NOT_YET_VALID now + skew < not_before
 *   PN_E_EXPIRED       now > not_after + skew
 *   PN_E_WRONG_TYPE    type != expected
 *   -ENOMEM
 * On any error *info is all zero.
 */
int pn_cred_verify(const struct pn_anchor *a, const void *cert, size_t len,
		   enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
		   struct pn_cred_info *info);

/*
 * The same check for the DER certificate list a TLS peer presented
 * (gnutls_certificate_get_peers()): only certs[0], the leaf, is used; any
 * further certificates are ignored (intermediates are never trusted).
 * ncerts == 0 gives PN_E_UNTRUSTED.  Meant for GnuTLS verify callbacks of
 * the tunnel (QUIC) and relay/controller TLS; the TLS handshake itself
 * proves possession of the leaf's key.
 */
int pn_cred_verify_peer(const struct pn_anchor *a, const gnutls_datum_t *certs, unsigned ncerts,
			enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
			struct pn_cred_info *info);

/* Convenience for a verify callback: pn_cred_verify_peer on the session's
 * peer certificates.  PN_E_UNTRUSTED when the peer sent none. */
int pn_cred_verify_session(const struct pn_anchor *a, gnutls_session_t session,
			   enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
			   struct pn_cred_info *info);
/* pn_cred_verify with *seen as for pn_cred_verify_session_seen below. */
int pn_cred_verify_seen(const struct pn_anchor *a, const void *cert, size_t len,
			enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
			struct pn_cred_info *info, struct pn_cred_info *seen);
/* The same, for a refusal log: on PN_E_NOT_YET_VALID, PN_E_EXPIRED and
 * PN_E_WRONG_TYPE (found after the signature verified under the anchor)
 * *seen receives what the certificate says (type, id, name, user,
 * not_before, not_after; no serial or key fingerprint); otherwise *seen
 * is all zero.  *info as above (all zero on any error). */
int pn_cred_verify_session_seen(const struct pn_anchor *a, gnutls_session_t session,
				enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
				struct pn_cred_info *info, struct pn_cred_info *seen);

/* When a credential was issued (its not_before undone of the backdating;
 * for renewal schedules: renew at issued + 2/3 of not_after - issued).
 * A credential no longer than PN_TRUST_BACKDATE_S counts from not_before. */
uint64_t pn_cred_issued_at(const struct pn_cred_info *info);

/*
 * Pinning: is this verified credential exactly the expected holder (the
 * client checks the connector the controller named, the relay a
 * registration's id)?  0, PN_E_WRONG_TYPE, PN_E_WRONG_ID.
 */
int pn_cred_check_id(const struct pn_cred_info *info, enum pn_cred_type type,
		     const uint8_t id[PN_ID_LEN]);

/*
 * Build GnuTLS certificate credentials presenting (key, cert_pem) and
 * trusting only the anchor's CA (so GnuTLS' own chain check, if used,
 * also pins it).  Callers still run pn_cred_verify_session in their verify
 * callback for the type/extension/skew checks.  *out: deinit with
 * gnutls_certificate_free_credentials.  0, PN_E_MALFORMED, PN_E_CRYPTO, -ENOMEM.
 */
int pn_cred_tls_credentials(const struct pn_key *key, const char *cert_pem,
			    const struct pn_anchor *a, gnutls_certificate_credentials_t *out);
#endif
