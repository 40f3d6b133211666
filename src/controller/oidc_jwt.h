#ifndef PN_CONTROLLER_OIDC_JWT_H
#define PN_CONTROLLER_OIDC_JWT_H
/*
 * OpenID Connect ID token verification (sans I/O): a compact JWS, the
 * provider's JWKS (already fetched), what the login expects, and the clock
 * in; the checked claims or one precise error out.
 *
 * The signing algorithm is taken from the JWK the token's `kid` selects
 * (RSA -> RS256, EC P-256 -> ES256, OKP Ed25519 -> EdDSA, and the JWK's
 * own "alg" when present must agree); the token's header must name that
 * same algorithm.  "none", HMAC and anything else are refused before any
 * key is touched, so a public key can never be used as an HMAC secret.
 * JWK -> key is GnuTLS (gnutls_pubkey_import_rsa_raw / _ecc_raw); RS256
 * and ES256 signatures are verified by libjwt (GnuTLS build), EdDSA by
 * GnuTLS (libjwt 1.10 predates it); base64url is nettle's.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PN_OIDC_TOKEN_MAX     (16 * 1024) /* longer ID tokens are refused */
#define PN_OIDC_JWKS_KEYS_MAX 32	  /* keys looked at in one JWKS */
#define PN_OIDC_GROUPS_MAX    64	  /* group names taken from a token */
#define PN_OIDC_GROUP_LEN     64	  /* incl. NUL; longer names are skipped */
#define PN_OIDC_SKEW_S	      60	  /* clock skew allowed on exp/nbf/iat */
#define PN_OIDC_IAT_MAX_AGE_S 600	  /* a token issued longer ago is stale */
#define PN_OIDC_AUD_MAX	      16

struct pn_oidc_expect {
	const char *issuer;	  /* exact match on "iss" */
	const char *client_id;	  /* in "aud"; "azp" if present (required if aud > 1) */
	const char *nonce;	  /* NULL: none expected (device and refresh grants) */
	const char *subject;	  /* NULL or the "sub" the token must carry (refresh) */
	const char *groups_claim; /* NULL or "" = no groups */
	int64_t now;		  /* unix seconds */
};

struct pn_oidc_claims {
	char sub[256];
	char email[256]; /* "" if absent or too long */
	char name[256];	 /* "name", "" if absent */
	char preferred_username[128];
	char groups[PN_OIDC_GROUPS_MAX][PN_OIDC_GROUP_LEN];
	unsigned ngroups;
	int64_t iat, exp;
	char alg[8], kid[128];
};

/*
 * Verify token (NUL-terminated compact JWS) against jwks ({"keys":[...]}).
 * 0 and *out filled, or: PN_E_OIDC_TOKEN (syntax), PN_E_OIDC_ALG (alg not
 * RS256/ES256/EdDSA, or not the key's), PN_E_OIDC_KID (no key with that
 * kid; the caller may refetch the JWKS once), PN_E_OIDC_KEY (the selected
 * JWK is malformed), PN_E_OIDC_SIG, PN_E_OIDC_ISS, PN_E_OIDC_AUD,
 * PN_E_OIDC_EXPIRED (exp passed, or iat too old), PN_E_OIDC_NBF (nbf or
 * iat in the future), PN_E_OIDC_NONCE, PN_E_OIDC_CLAIMS (sub missing,
 * wrong subject, bad claim types), -ENOMEM.
 */
int pn_oidc_jwt_verify(const char *token, const json_t *jwks, const struct pn_oidc_expect *e,
		       struct pn_oidc_claims *out);

/* The claim checks alone (for the verifier above and the fuzzer): claims
 * of a token whose signature already checked out.  Same errors. */
int pn_oidc_claims_check(const json_t *claims, const struct pn_oidc_expect *e,
			 struct pn_oidc_claims *out);

/* base64url without padding (nettle): encode len bytes into out (at least
 * BASE64_ENCODE_LENGTH(len)+1 bytes); returns the string length. */
size_t pn_oidc_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outsz);
/* Decode base64url (no padding, alphabet checked); *out heap.  0 or
 * PN_E_MALFORMED / -ENOMEM. */
int pn_oidc_b64url_decode(const char *in, size_t len, uint8_t **out, size_t *outlen);
#endif
