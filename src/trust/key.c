/* Ed25519 holder keys on GnuTLS: generate, load, save, CSR, sign. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/err.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/secret.h"
#include "trust/key.h"
#include "trust/util.h"

struct pn_key {
	gnutls_x509_privkey_t x509; /* for PEM export */
	gnutls_privkey_t priv;	    /* references x509 (imported without copy) */
	uint8_t fpr[PN_FPR_LEN];
};

void pn_fpr_hex(const uint8_t fpr[PN_FPR_LEN], char out[PN_FPR_HEX_LEN + 1])
{
	pn_hex_encode(fpr, PN_FPR_LEN, out);
}

int pn_fpr_parse(const char *hex, uint8_t out[PN_FPR_LEN])
{
	return pn_hex_decode(hex, out, PN_FPR_LEN);
}

static int key_finish(struct pn_key *k)
{
	gnutls_pubkey_t pub = NULL;
	int r = PN_E_CRYPTO;

	if (gnutls_privkey_init(&k->priv) < 0) {
		k->priv = NULL;
		return -ENOMEM;
	}
	if (gnutls_privkey_import_x509(k->priv, k->x509, 0) < 0)
		goto out;
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (gnutls_pubkey_import_privkey(pub, k->priv, 0, 0) < 0)
		goto out;
	r = pn_trust_spki_fpr(pub, k->fpr);
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	return r;
}

int pn_key_generate(struct pn_key **out)
{
	struct pn_key *k;
	int r;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	if (gnutls_x509_privkey_init(&k->x509) < 0) {
		k->x509 = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (gnutls_x509_privkey_generate(k->x509, GNUTLS_PK_EDDSA_ED25519,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519), 0) < 0) {
		r = PN_E_CRYPTO;
		goto out;
	}
	r = key_finish(k);
	if (r < 0)
		goto out;
	*out = k;
	k = NULL; /* transferred */
out:
	pn_key_free(k);
	return r;
}

int pn_key_load_pem_mem(const void *pem, size_t len, struct pn_key **out)
{
	struct pn_key *k;
	gnutls_datum_t d;
	int r;

	*out = NULL;
	/* An Ed25519 PKCS#8 PEM is ~120 bytes; refuse anything absurd. */
	if (len == 0 || len > PN_KEY_PEM_MAX)
		return PN_E_MALFORMED;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	if (gnutls_x509_privkey_init(&k->x509) < 0) {
		k->x509 = NULL;
		r = -ENOMEM;
		goto out;
	}
	d.data = (unsigned char *)(uintptr_t)pem;
	d.size = (unsigned)len;
	if (gnutls_x509_privkey_import2(k->x509, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN) <
	    0) {
		r = PN_E_MALFORMED;
		goto out;
	}
	if (gnutls_x509_privkey_get_pk_algorithm(k->x509) != GNUTLS_PK_EDDSA_ED25519) {
		r = PN_E_UNSUPPORTED;
		goto out;
	}
	r = key_finish(k);
	if (r < 0)
		goto out;
	*out = k;
	k = NULL; /* transferred */
out:
	pn_key_free(k);
	return r;
}

int pn_key_load_pem_file(const char *path, struct pn_key **out)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = pn_file_read(path, PN_KEY_PEM_MAX, &pem, &len);
	if (r < 0)
		return r;
	r = pn_key_load_pem_mem(pem, len, out);
	pn_wipe_free(pem, len);
	return r;
}

int pn_key_export_pem(const struct pn_key *k, char **out, size_t *outlen)
{
	gnutls_datum_t d = {NULL, 0};

	*out = NULL;
	if (gnutls_x509_privkey_export2_pkcs8(k->x509, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					      &d) < 0)
		return PN_E_CRYPTO;
	return pn_trust_datum_to_str(&d, out, outlen);
}

void pn_key_pem_free(char *pem, size_t len)
{
	pn_wipe_free(pem, len);
}

int pn_key_save_pem_file(const struct pn_key *k, const char *path)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = pn_key_export_pem(k, &pem, &len);
	if (r < 0)
		return r;
	r = pn_file_write(path, pem, len, 0600, 0);
	pn_key_pem_free(pem, len);
	return r;
}

void pn_key_free(struct pn_key *k)
{
	if (!k)
		return;
	if (k->priv)
		gnutls_privkey_deinit(k->priv);
	if (k->x509)
		gnutls_x509_privkey_deinit(k->x509); /* GnuTLS zeroizes key params */
	pn_wipe(k, sizeof(*k));
	free(k);
}

int pn_key_fingerprint(const struct pn_key *k, uint8_t out[PN_FPR_LEN])
{
	memcpy(out, k->fpr, PN_FPR_LEN);
	return 0;
}

int pn_key_csr_pem(const struct pn_key *k, const char *cn, char **out, size_t *outlen)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = {NULL, 0};
	int r = PN_E_CRYPTO;

	*out = NULL;
	if (gnutls_x509_crq_init(&crq) < 0)
		return -ENOMEM;
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (gnutls_pubkey_import_privkey(pub, k->priv, 0, 0) < 0 ||
	    gnutls_x509_crq_set_version(crq, 1) < 0 || gnutls_x509_crq_set_pubkey(crq, pub) < 0)
		goto out;
	if (cn && *cn &&
	    gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strnlen(cn, 64)) < 0)
		goto out;
	if (gnutls_x509_crq_privkey_sign(crq, k->priv, GNUTLS_DIG_UNKNOWN, 0) < 0)
		goto out;
	if (gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d) < 0)
		goto out;
	r = pn_trust_datum_to_str(&d, out, outlen);
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	gnutls_x509_crq_deinit(crq);
	return r;
}

int pn_key_sign(const struct pn_key *k, const void *data, size_t len, uint8_t sig[PN_SIG_LEN])
{
	gnutls_datum_t in = {(unsigned char *)(uintptr_t)data, (unsigned)len};
	gnutls_datum_t s = {NULL, 0};
	int r = PN_E_CRYPTO;

	if (len > UINT_MAX)
		return PN_E_INVAL;
	if (gnutls_privkey_sign_data2(k->priv, GNUTLS_SIGN_EDDSA_ED25519, 0, &in, &s) < 0)
		return PN_E_CRYPTO;
	if (s.size == PN_SIG_LEN) {
		memcpy(sig, s.data, PN_SIG_LEN);
		r = 0;
	}
	gnutls_free(s.data);
	return r;
}

gnutls_privkey_t pn_key_gnutls(const struct pn_key *k)
{
	return k->priv;
}
