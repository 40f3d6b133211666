/*
 * libFuzzer: the ID token / JWKS parsing path of the OIDC login
 * (controller/oidc_jwt.c).  Input: JWKS JSON, a NUL byte, the token.  The
 * verifier must return one of its documented errors (or 0 for a token
 * that really verifies under the given JWKS), never crash, and fill no
 * claims on failure.  Seeds (corpus/fuzz_oidc_jwt) hold real RS256, ES256
 * and EdDSA tokens with their JWKS, plus alg=none and HS256 variants.
 * Input without a NUL byte is a claims object fed to the claim checks
 * directly (signatures stop most mutated tokens before their claims).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "controller/oidc_jwt.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	struct pn_oidc_expect e = {.issuer = "https://idp.test",
				   .client_id = "postern",
				   .nonce = "n0",
				   .groups_claim = "groups",
				   .now = 1800000000};
	struct pn_oidc_claims c;
	json_t *jwks;
	char *tok;
	uint8_t *raw = NULL;
	size_t n = 0;
	int rc;

	if (!nul) {
		json_t *cl = json_loadb((const char *)data, size, 0, NULL);

		if (json_is_object(cl) && pn_oidc_claims_check(cl, &e, &c) == 0 &&
		    (!c.sub[0] || c.ngroups > PN_OIDC_GROUPS_MAX))
			abort();
		json_decref(cl);
		return 0;
	}
	jwks = json_loadb((const char *)data, (size_t)(nul - data), 0, NULL);
	tok = strndup((const char *)nul + 1, size - (size_t)(nul + 1 - data));
	if (!tok) {
		json_decref(jwks);
		return 0;
	}
	rc = pn_oidc_jwt_verify(tok, jwks, &e, &c);
	if (rc != 0 && c.sub[0])
		abort(); /* a refused token must leave no claims behind */
	if (rc > 0)
		abort();
	if (pn_oidc_b64url_decode(tok, strlen(tok), &raw, &n) == 0 && n > 3 * strlen(tok) / 4 + 1)
		abort();
	free(raw);
	free(tok);
	json_decref(jwks);
	return 0;
}
