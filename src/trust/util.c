/* Small helpers shared by the trust sources: DER/PEM, fingerprints, serials. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/err.h"
#include "core/secret.h"
#include "trust/util.h"

int pn_trust_spki_fpr(gnutls_pubkey_t pub, uint8_t out[PN_FPR_LEN])
{
	gnutls_datum_t der = {NULL, 0};
	int r = PN_E_CRYPTO;

	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
		return PN_E_CRYPTO;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out) < 0)
		goto out;
	r = 0;
out:
	gnutls_free(der.data);
	return r;
}

int pn_trust_datum_to_str(gnutls_datum_t *d, char **out, size_t *outlen)
{
	char *s = malloc((size_t)d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = '\0';
		*out = s;
		if (outlen)
			*outlen = d->size;
	}
	pn_wipe(d->data, d->size);
	gnutls_free(d->data);
	d->data = NULL;
	d->size = 0;
	return s ? 0 : -ENOMEM;
}

int pn_trust_random_serial(uint8_t out[16])
{
	int r = pn_random(out, 16);

	if (r < 0)
		return r;
	out[0] &= 0x7f; /* positive INTEGER */
	if (out[0] == 0)
		out[0] = 0x01; /* keep 16 significant bytes: no leading-zero DER trim */
	return 0;
}

int pn_trust_is_pem(const void *p, size_t len)
{
	const unsigned char *c = p;

	/* DER certificates start with a SEQUENCE tag (0x30); PEM with text.
	 * Decide on the first non-space byte only: a DER certificate may
	 * legitimately contain "-----BEGIN" inside a display name. */
	while (len > 0 && (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')) {
		c++;
		len--;
	}
	return len >= 10 && memcmp(c, "-----BEGIN", 10) == 0;
}
