/* Ed25519 holder keys on GnuTLS; shared file helpers for the trust module. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/err.h"
#include "core/secret.h"
#include "trust/key.h"
#include "trust/util.h"

struct pn_key {
	gnutls_x509_privkey_t x509; /* for PEM export */
	gnutls_privkey_t priv;      /* references x509 (imported without copy) */
	uint8_t fpr[PN_FPR_LEN];
};

int pn_trust_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd, r;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	*out = NULL;
	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	/* A key or certificate file has a small, known size: refuse anything
	 * larger before allocating. */
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		r = S_ISREG(st.st_mode) ? PN_E_TOOBIG : -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	buf = NULL; /* transferred */
	r = 0;
out:
	if (buf) {
		pn_wipe(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return r;
}

int pn_trust_write_file(const char *path, const void *data, size_t len, unsigned mode,
			int noclobber)
{
	char tmp[PATH_MAX];
	int fd = -1, r;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (noclobber) {
		/* link(2) fails with EEXIST instead of replacing: atomic
		 * create-if-absent for files that must never be overwritten. */
		r = link(tmp, path) < 0 ? -errno : 0;
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out;
	}
	return 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

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

void pn_fpr_hex(const uint8_t fpr[PN_FPR_LEN], char out[PN_FPR_HEX_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < PN_FPR_LEN; i++) {
		out[2 * i] = hx[fpr[i] >> 4];
		out[2 * i + 1] = hx[fpr[i] & 15];
	}
	out[PN_FPR_HEX_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pn_trust_hex_parse(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (!hex[2 * i] || !hex[2 * i + 1])
			return PN_E_MALFORMED;
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return PN_E_MALFORMED;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : PN_E_MALFORMED;
}

int pn_fpr_parse(const char *hex, uint8_t out[PN_FPR_LEN])
{
	return pn_trust_hex_parse(hex, out, PN_FPR_LEN);
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
	if (gnutls_x509_privkey_import2(k->x509, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN) < 0) {
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
	r = pn_trust_read_file(path, PN_KEY_PEM_MAX, &pem, &len);
	if (r < 0)
		return r;
	r = pn_key_load_pem_mem(pem, len, out);
	pn_wipe(pem, len);
	free(pem);
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
	if (!pem)
		return;
	pn_wipe(pem, len);
	free(pem);
}

int pn_key_save_pem_file(const struct pn_key *k, const char *path)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	r = pn_key_export_pem(k, &pem, &len);
	if (r < 0)
		return r;
	r = pn_trust_write_file(path, pem, len, 0600, 0);
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
