/*
 * Refresh tokens at rest: AES-256-GCM (GnuTLS AEAD) under DATA/oidc.key,
 * with the identity id as associated data so a sealed token copied onto
 * another identity's row does not open.  Text form: base64 (nettle) of
 * 12-byte nonce || ciphertext || 16-byte tag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/base64.h>

#include "controller/oidc.h"
#include "controller/state.h"
#include "core/err.h"
#include "core/secret.h"

#define NONCE_LEN 12
#define TAG_LEN	  16
#define PLAIN_MAX 8192 /* refresh tokens are opaque but not that long */

static int cipher(const struct pn_oidc *o, gnutls_aead_cipher_hd_t *h)
{
	gnutls_datum_t k = {(unsigned char *)(uintptr_t)o->seal_key, sizeof(o->seal_key)};

	return gnutls_aead_cipher_init(h, GNUTLS_CIPHER_AES_256_GCM, &k) < 0 ? PN_E_CRYPTO : 0;
}

int pn_oidc_seal(const struct pn_oidc *o, const char *ad, const char *plain, char **out)
{
	size_t pl = strlen(plain), ctl = pl + TAG_LEN;
	gnutls_aead_cipher_hd_t h = NULL;
	uint8_t *buf = NULL;
	int rc;

	*out = NULL;
	if (pl > PLAIN_MAX)
		return PN_E_TOOBIG;
	if (!(buf = malloc(NONCE_LEN + ctl)))
		return -ENOMEM;
	if ((rc = pn_random(buf, NONCE_LEN)) || (rc = cipher(o, &h)))
		goto out;
	if (gnutls_aead_cipher_encrypt(h, buf, NONCE_LEN, ad, strlen(ad), TAG_LEN, plain, pl,
				       buf + NONCE_LEN, &ctl) < 0) {
		rc = PN_E_CRYPTO;
		goto out;
	}
	*out = pn_b64_encode(buf, NONCE_LEN + ctl);
	rc = *out ? 0 : -ENOMEM;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	free(buf);
	return rc;
}

int pn_oidc_unseal(const struct pn_oidc *o, const char *ad, const char *sealed, char **out)
{
	struct base64_decode_ctx ctx;
	size_t sl = strlen(sealed), n, pl;
	gnutls_aead_cipher_hd_t h = NULL;
	uint8_t *raw = NULL;
	char *plain = NULL;
	int rc = PN_E_MALFORMED;

	*out = NULL;
	if (sl > BASE64_ENCODE_LENGTH(NONCE_LEN + PLAIN_MAX + TAG_LEN) + 4)
		return PN_E_MALFORMED;
	if (!(raw = malloc(BASE64_DECODE_LENGTH(sl) + 1)))
		return -ENOMEM;
	base64_decode_init(&ctx);
	n = BASE64_DECODE_LENGTH(sl) + 1;
	if (!base64_decode_update(&ctx, &n, raw, sl, sealed) || !base64_decode_final(&ctx) ||
	    n < NONCE_LEN + TAG_LEN)
		goto out;
	pl = n - NONCE_LEN;
	if (!(plain = malloc(pl + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = cipher(o, &h)))
		goto out;
	if (gnutls_aead_cipher_decrypt(h, raw, NONCE_LEN, ad, strlen(ad), TAG_LEN, raw + NONCE_LEN,
				       n - NONCE_LEN, plain, &pl) < 0) {
		rc = PN_E_SIGNATURE;
		goto out;
	}
	plain[pl] = '\0';
	*out = plain;
	plain = NULL;
	rc = 0;
out:
	if (h)
		gnutls_aead_cipher_deinit(h);
	free(raw);
	free(plain);
	return rc;
}
