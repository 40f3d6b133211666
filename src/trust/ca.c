/* The network CA: key + self-signed Ed25519 CA certificate. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/err.h"
#include "core/file.h"
#include "core/secret.h"
#include "trust/ca.h"
#include "trust/util.h"

struct pn_ca {
	/* Serialises use of key/crt by signers: GnuTLS does not document its
	 * key and certificate objects as safe for concurrent use, and the
	 * controller issues from several HTTP threads. */
	pthread_mutex_t lock;
	struct pn_key *key;
	gnutls_x509_crt_t crt;
	char *pem;
	size_t pem_len;
	uint8_t fpr[PN_FPR_LEN];
	char fpr_hex[PN_FPR_HEX_LEN + 1];
};

void pn_ca_free(struct pn_ca *ca)
{
	if (!ca)
		return;
	pn_key_free(ca->key);
	if (ca->crt)
		gnutls_x509_crt_deinit(ca->crt);
	free(ca->pem);
	pthread_mutex_destroy(&ca->lock);
	free(ca);
}

static struct pn_ca *ca_alloc(void)
{
	struct pn_ca *ca = calloc(1, sizeof(*ca));

	if (ca && pthread_mutex_init(&ca->lock, NULL) != 0) {
		free(ca);
		return NULL;
	}
	return ca;
}

void pn_ca_lock(const struct pn_ca *ca)
{
	pthread_mutex_lock(&((struct pn_ca *)(uintptr_t)ca)->lock);
}

void pn_ca_unlock(const struct pn_ca *ca)
{
	pthread_mutex_unlock(&((struct pn_ca *)(uintptr_t)ca)->lock);
}

/* Self-signed CA certificate for ca->key, valid from now. */
static int ca_make_cert(struct pn_ca *ca, uint64_t now)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = {NULL, 0};
	uint8_t serial[16];
	char cn[64];
	int r = PN_E_CRYPTO;

	if (gnutls_x509_crt_init(&ca->crt) < 0) {
		ca->crt = NULL;
		return -ENOMEM;
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = pn_trust_random_serial(serial);
	if (r < 0)
		goto out;
	r = PN_E_CRYPTO;
	/* The CN names the key so two networks' CAs are told apart in tools. */
	snprintf(cn, sizeof(cn), "Postern network CA %.16s", ca->fpr_hex);
	if (gnutls_pubkey_import_privkey(pub, pn_key_gnutls(ca->key), 0, 0) < 0 ||
	    gnutls_x509_crt_set_version(ca->crt, 3) < 0 ||
	    gnutls_x509_crt_set_pubkey(ca->crt, pub) < 0 ||
	    gnutls_x509_crt_set_serial(ca->crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(ca->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					  (unsigned)strlen(cn)) < 0 ||
	    gnutls_x509_crt_set_activation_time(ca->crt, (time_t)now) < 0 ||
	    gnutls_x509_crt_set_expiration_time(ca->crt, (time_t)(now + PN_CA_LIFETIME_S)) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(ca->crt, 1, 0) < 0 ||
	    gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
						       GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(ca->crt, ca->fpr, 20) < 0)
		goto out;
	if (gnutls_x509_crt_privkey_sign(ca->crt, ca->crt, pn_key_gnutls(ca->key),
					 GNUTLS_DIG_UNKNOWN, 0) < 0)
		goto out;
	if (gnutls_x509_crt_export2(ca->crt, GNUTLS_X509_FMT_PEM, &d) < 0)
		goto out;
	r = pn_trust_datum_to_str(&d, &ca->pem, &ca->pem_len);
	if (r < 0)
		goto out;
	/* Re-parse what we will publish: a freshly built crt object keeps
	 * stale raw-DN caches, and issuers must see exactly ca.crt. */
	gnutls_x509_crt_deinit(ca->crt);
	ca->crt = NULL;
	r = -ENOMEM;
	if (gnutls_x509_crt_init(&ca->crt) < 0) {
		ca->crt = NULL;
		goto out;
	}
	d.data = (unsigned char *)ca->pem;
	d.size = (unsigned)ca->pem_len;
	r = gnutls_x509_crt_import(ca->crt, &d, GNUTLS_X509_FMT_PEM) < 0 ? PN_E_CRYPTO : 0;
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	return r;
}

static int ca_set_fpr(struct pn_ca *ca)
{
	pn_key_fingerprint(ca->key, ca->fpr);
	pn_fpr_hex(ca->fpr, ca->fpr_hex);
	return 0;
}

int pn_ca_new(uint64_t now, struct pn_ca **out)
{
	struct pn_ca *ca;
	int r;

	*out = NULL;
	ca = ca_alloc();
	if (!ca)
		return -ENOMEM;
	r = pn_key_generate(&ca->key);
	if (r < 0)
		goto out;
	ca_set_fpr(ca);
	r = ca_make_cert(ca, now);
	if (r < 0)
		goto out;
	*out = ca;
	ca = NULL; /* transferred */
out:
	pn_ca_free(ca);
	return r;
}

static int ca_paths(const char *dir, char key[PATH_MAX], char crt[PATH_MAX])
{
	if (snprintf(key, PATH_MAX, "%s/ca.key", dir) >= PATH_MAX ||
	    snprintf(crt, PATH_MAX, "%s/ca.crt", dir) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int pn_ca_init_dir(const char *dir, uint64_t now)
{
	char kp[PATH_MAX], cp[PATH_MAX];
	struct pn_ca *ca = NULL;
	char *kpem = NULL;
	size_t klen = 0;
	int r;

	r = ca_paths(dir, kp, cp);
	if (r < 0)
		return r;
	/* Never replace a network's CA: every component pinned it. */
	if (access(kp, F_OK) == 0 || access(cp, F_OK) == 0)
		return -EEXIST;
	r = pn_ca_new(now, &ca);
	if (r < 0)
		return r;
	r = pn_key_export_pem(ca->key, &kpem, &klen);
	if (r < 0)
		goto out;
	r = pn_file_write(kp, kpem, klen, 0600, PN_FILE_NOCLOBBER);
	if (r < 0)
		goto out;
	r = pn_file_write(cp, ca->pem, ca->pem_len, 0644, PN_FILE_NOCLOBBER);
	if (r < 0)
		unlink(kp);
out:
	pn_key_pem_free(kpem, klen);
	pn_ca_free(ca);
	return r;
}

/* Read and parse ca.crt; with a key loaded it must certify exactly that
 * key, without one the fingerprint is taken from the certificate. */
static int ca_load_crt(struct pn_ca *ca, const char *cp)
{
	gnutls_datum_t d;
	gnutls_pubkey_t pub = NULL;
	uint8_t crt_fpr[PN_FPR_LEN];
	unsigned crit = 0, is_ca = 0;
	int r, pathlen = 0;

	r = pn_file_read(cp, PN_CA_CERT_PEM_MAX, &ca->pem, &ca->pem_len);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (gnutls_x509_crt_init(&ca->crt) < 0) {
		ca->crt = NULL;
		goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		goto out;
	}
	r = PN_E_MALFORMED;
	d.data = (unsigned char *)ca->pem;
	d.size = (unsigned)ca->pem_len;
	if (gnutls_x509_crt_import(ca->crt, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_import_x509(pub, ca->crt, 0) < 0)
		goto out;
	r = pn_trust_spki_fpr(pub, crt_fpr);
	if (r < 0)
		goto out;
	if (!ca->key) {
		memcpy(ca->fpr, crt_fpr, PN_FPR_LEN);
		pn_fpr_hex(ca->fpr, ca->fpr_hex);
	}
	/* ca.crt must be a CA certificate for exactly this key. */
	if (memcmp(crt_fpr, ca->fpr, PN_FPR_LEN) != 0 ||
	    gnutls_x509_crt_get_basic_constraints(ca->crt, &crit, &is_ca, &pathlen) < 0 || !is_ca) {
		r = PN_E_CONFIG;
		goto out;
	}
	r = 0;
out:
	if (pub)
		gnutls_pubkey_deinit(pub);
	return r;
}

int pn_ca_load(const char *dir, struct pn_ca **out)
{
	char kp[PATH_MAX], cp[PATH_MAX];
	struct pn_ca *ca = NULL;
	struct stat st;
	int r;

	*out = NULL;
	r = ca_paths(dir, kp, cp);
	if (r < 0)
		return r;
	if (stat(kp, &st) < 0)
		return -errno;
	/* A CA key readable by group/others is a misconfiguration we refuse. */
	if (st.st_mode & 077)
		return PN_E_CONFIG;
	ca = ca_alloc();
	if (!ca)
		return -ENOMEM;
	r = pn_key_load_pem_file(kp, &ca->key);
	if (r < 0)
		goto out;
	ca_set_fpr(ca);
	r = ca_load_crt(ca, cp);
	if (r < 0)
		goto out;
	*out = ca;
	ca = NULL; /* transferred */
out:
	pn_ca_free(ca);
	return r;
}

int pn_ca_load_public(const char *dir, struct pn_ca **out)
{
	char kp[PATH_MAX], cp[PATH_MAX];
	struct pn_ca *ca = NULL;
	int r;

	*out = NULL;
	r = ca_paths(dir, kp, cp);
	if (r < 0)
		return r;
	ca = ca_alloc();
	if (!ca)
		return -ENOMEM;
	r = ca_load_crt(ca, cp);
	if (r < 0)
		goto out;
	*out = ca;
	ca = NULL; /* transferred */
out:
	pn_ca_free(ca);
	return r;
}

const char *pn_ca_cert_pem(const struct pn_ca *ca)
{
	return ca->pem;
}

void pn_ca_fingerprint(const struct pn_ca *ca, uint8_t out[PN_FPR_LEN])
{
	memcpy(out, ca->fpr, PN_FPR_LEN);
}

const char *pn_ca_fingerprint_hex(const struct pn_ca *ca)
{
	return ca->fpr_hex;
}

int pn_ca_sign(const struct pn_ca *ca, const void *data, size_t len, uint8_t sig[PN_SIG_LEN])
{
	int r;

	if (!ca->key)
		return PN_E_CRYPTO; /* a public-only CA (pn_ca_load_public) */
	pn_ca_lock(ca);
	r = pn_key_sign(ca->key, data, len, sig);
	pn_ca_unlock(ca);
	return r;
}

gnutls_x509_crt_t pn_ca_crt(const struct pn_ca *ca)
{
	return ca->crt;
}

gnutls_privkey_t pn_ca_privkey(const struct pn_ca *ca)
{
	return ca->key ? pn_key_gnutls(ca->key) : NULL;
}
