#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/err.h"
#include "core/secret.h"

void pn_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void pn_wipe_free(void *p, size_t n)
{
	pn_wipe(p, n);
	free(p);
}

void pn_wipe_free_str(char *s)
{
	if (s)
		pn_wipe_free(s, strlen(s));
}

int pn_ct_memcmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	return d != 0;
}

int pn_random(void *p, size_t n)
{
	return gnutls_rnd(GNUTLS_RND_RANDOM, p, n) == 0 ? 0 : PN_E_CRYPTO;
}
