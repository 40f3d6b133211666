/* Credential issuance and verification against the pinned CA. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>

#include "core/err.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/secret.h"
#include "trust/cred.h"
#include "trust/ext.h"
#include "trust/util.h"

struct pn_anchor {
	/* Anchors are shared by threads (relay workers, the ctlapi thread);
	 * GnuTLS objects are not documented as safe for concurrent use. */
	pthread_mutex_t lock;
	gnutls_x509_crt_t crt;
	gnutls_pubkey_t pub;
	uint8_t fpr[PN_FPR_LEN];
};

void pn_id_hex(const uint8_t id[PN_ID_LEN], char out[PN_ID_HEX_LEN + 1])
{
	pn_hex_encode(id, PN_ID_LEN, out);
}

void pn_cred_serial_hex(const struct pn_cred_info *ci, char out[PN_SERIAL_HEX_LEN + 1])
{
	pn_hex_encode(ci->serial, ci->serial_len < PN_SERIAL_MAX ? ci->serial_len : PN_SERIAL_MAX,
		      out);
}

static uint32_t g_skew = PN_TRUST_SKEW_S;
static pthread_once_t g_skew_once = PTHREAD_ONCE_INIT;

static void skew_from_env(void)
{
	const char *e = getenv("PN_TEST_CLOCK_SKEW_S");
	char *end;
	long v;

	if (!e || !*e)
		return;
	errno = 0;
	v = strtol(e, &end, 10);
	if (!errno && !*end && v >= 1 && v <= PN_TRUST_SKEW_S)
		g_skew = (uint32_t)v;
}

uint32_t pn_trust_skew(void)
{
	(void)pthread_once(&g_skew_once, skew_from_env);
	return g_skew;
}

int pn_id_parse(const char *hex, uint8_t out[PN_ID_LEN])
{
	return pn_hex_decode(hex, out, PN_ID_LEN);
}

int pn_id_random(uint8_t out[PN_ID_LEN])
{
	return pn_random(out, PN_ID_LEN);
}

const char *pn_cred_type_name(enum pn_cred_type t)
{
	switch (t) {
	case PN_CRED_CLIENT: return "client";
	case PN_CRED_CONNECTOR: return "connector";
	case PN_CRED_RELAY: return "relay";
	default: return "unknown";
	}
}

/* "<32 hex id>.postern.invalid" */
static void san_for(const uint8_t id[PN_ID_LEN],
		    char out[PN_ID_HEX_LEN + sizeof(PN_CRED_SAN_SUFFIX)])
{
	pn_id_hex(id, out);
	memcpy(out + PN_ID_HEX_LEN, PN_CRED_SAN_SUFFIX, sizeof(PN_CRED_SAN_SUFFIX));
}

int pn_cred_csr_pubkey(const char *csr_pem, uint8_t pub_out[PN_ED25519_PUB_LEN],
		       uint8_t fpr[PN_FPR_LEN])
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d, x = {NULL, 0};
	size_t csr_len;
	int r;

	/* A CSR for one Ed25519 key is well under 1 KiB. */
	csr_len = strnlen(csr_pem, PN_CRED_PEM_MAX + 1);
	if (csr_len == 0 || csr_len > PN_CRED_PEM_MAX)
		return PN_E_MALFORMED;
	r = -ENOMEM;
	if (gnutls_x509_crq_init(&crq) < 0) {
		crq = NULL;
		goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		goto out;
	}
	d.data = (unsigned char *)(uintptr_t)csr_pem;
	d.size = (unsigned)csr_len;
	r = PN_E_MALFORMED;
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM) < 0)
		goto out;
	if (gnutls_x509_crq_get_pk_algorithm(crq, NULL) != GNUTLS_PK_EDDSA_ED25519) {
		r = PN_E_UNSUPPORTED;
		goto out;
	}
	/* Proof of possession: the CSR is signed by the key it certifies. */
	if (gnutls_x509_crq_verify(crq, 0) < 0) {
		r = PN_E_SIGNATURE;
		goto out;
	}
	if (gnutls_pubkey_import_x509_crq(pub, crq, 0) < 0 ||
	    gnutls_pubkey_export_ecc_raw2(pub, NULL, &x, NULL, 0) < 0)
		goto out;
	if (x.size != PN_ED25519_PUB_LEN)
		goto out;
	if (fpr && (r = pn_trust_spki_fpr(pub, fpr)) < 0)
		goto out;
	memcpy(pub_out, x.data, PN_ED25519_PUB_LEN);
	r = 0;
out:
	gnutls_free(x.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crq)
		gnutls_x509_crq_deinit(crq);
	return r;
}

int pn_cred_issue(const struct pn_ca *ca, const char *csr_pem, const struct pn_cred_info *info,
		  uint64_t lifetime_s, uint64_t now, char **out_pem, struct pn_cred_info *issued)
{
	uint8_t pub[PN_ED25519_PUB_LEN];
	int r;

	*out_pem = NULL;
	r = pn_cred_csr_pubkey(csr_pem, pub, NULL);
	if (r < 0)
		return r;
	return pn_cred_issue_pubkey(ca, pub, info, lifetime_s, now, out_pem, issued);
}

int pn_cred_issue_pubkey(const struct pn_ca *ca, const uint8_t pubkey[PN_ED25519_PUB_LEN],
			 const struct pn_cred_info *info, uint64_t lifetime_s, uint64_t now,
			 char **out_pem, struct pn_cred_info *issued)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d, ext_der = {NULL, 0}, pem = {NULL, 0};
	uint8_t ext[PN_CRED_EXT_MAX], serial[16], fpr[PN_FPR_LEN], ca_fpr[PN_FPR_LEN];
	char san[PN_ID_HEX_LEN + sizeof(PN_CRED_SAN_SUFFIX)], cn[PN_ID_HEX_LEN + 1];
	size_t ext_len = 0;
	uint64_t not_before;
	int r;

	*out_pem = NULL;
	if (lifetime_s < 1 || lifetime_s > PN_CRED_LIFETIME_MAX || now > (uint64_t)INT64_MAX / 2)
		return PN_E_INVAL;
	/* valid from a little before now: verifiers whose clock is behind ours
	   accept it at once (cred.h) */
	not_before = now > PN_TRUST_BACKDATE_S ? now - PN_TRUST_BACKDATE_S : 0;
	r = pn_cred_ext_encode(info, ext, sizeof(ext), &ext_len);
	if (r < 0)
		return r == PN_E_NOSPACE ? PN_E_INVAL : r;

	r = -ENOMEM;
	if (gnutls_x509_crt_init(&crt) < 0) {
		crt = NULL;
		goto out;
	}
	if (gnutls_pubkey_init(&pub) < 0) {
		pub = NULL;
		goto out;
	}
	d.data = (unsigned char *)(uintptr_t)pubkey;
	d.size = PN_ED25519_PUB_LEN;
	r = PN_E_MALFORMED;
	if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_ED25519, &d, NULL) < 0)
		goto out;
	r = pn_trust_spki_fpr(pub, fpr);
	if (r < 0)
		goto out;
	r = pn_trust_random_serial(serial);
	if (r < 0)
		goto out;

	pn_id_hex(info->id, cn);
	san_for(info->id, san);
	pn_ca_fingerprint(ca, ca_fpr);
	d.data = ext;
	d.size = (unsigned)ext_len;
	r = PN_E_CRYPTO;
	if (gnutls_x509_ext_export_subject_key_id(&d, &ext_der) < 0)
		goto out;
	if (gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_pubkey(crt, pub) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, PN_ID_HEX_LEN) <
		0 ||
	    gnutls_x509_crt_set_activation_time(crt, (time_t)not_before) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, (time_t)(now + lifetime_s)) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0 ||
	    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, san,
						 (unsigned)strlen(san), GNUTLS_FSAN_SET) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, fpr, 20) < 0 ||
	    gnutls_x509_crt_set_authority_key_id(crt, ca_fpr, 20) < 0 ||
	    gnutls_x509_crt_set_extension_by_oid(crt, PN_CRED_EXT_OID, ext_der.data, ext_der.size,
						 0) < 0)
		goto out;
	pn_ca_lock(ca);
	r = pn_ca_privkey(ca) ? gnutls_x509_crt_privkey_sign(crt, pn_ca_crt(ca), pn_ca_privkey(ca),
							      GNUTLS_DIG_UNKNOWN, 0)
			      : -1;
	pn_ca_unlock(ca);
	if (r < 0) {
		r = PN_E_CRYPTO;
		goto out;
	}
	r = PN_E_CRYPTO;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem) < 0)
		goto out;
	r = pn_trust_datum_to_str(&pem, out_pem, NULL);
	if (r < 0)
		goto out;
	if (issued) {
		*issued = *info;
		memcpy(issued->key_fpr, fpr, PN_FPR_LEN);
		memcpy(issued->serial, serial, sizeof(serial));
		issued->serial_len = sizeof(serial);
		issued->not_before = not_before;
		issued->not_after = now + lifetime_s;
	}
out:
	gnutls_free(ext_der.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	return r;
}

void pn_anchor_free(struct pn_anchor *a)
{
	if (!a)
		return;
	if (a->pub)
		gnutls_pubkey_deinit(a->pub);
	if (a->crt)
		gnutls_x509_crt_deinit(a->crt);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int pn_anchor_new(const void *ca_pem, size_t len, struct pn_anchor **out)
{
	struct pn_anchor *a;
	gnutls_datum_t d;
	unsigned status = 0, crit = 0, is_ca = 0;
	int r, pathlen = 0;

	*out = NULL;
	/* A CA certificate is well under PN_CA_CERT_PEM_MAX. */
	if (len == 0 || len > PN_CA_CERT_PEM_MAX)
		return PN_E_MALFORMED;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a);
		return -ENOMEM;
	}
	r = -ENOMEM;
	if (gnutls_x509_crt_init(&a->crt) < 0) {
		a->crt = NULL;
		goto out;
	}
	if (gnutls_pubkey_init(&a->pub) < 0) {
		a->pub = NULL;
		goto out;
	}
	d.data = (unsigned char *)(uintptr_t)ca_pem;
	d.size = (unsigned)len;
	r = PN_E_MALFORMED;
	if (gnutls_x509_crt_import(a->crt, &d, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_pubkey_import_x509(a->pub, a->crt, 0) < 0)
		goto out;
	if (gnutls_x509_crt_get_pk_algorithm(a->crt, NULL) != GNUTLS_PK_EDDSA_ED25519) {
		r = PN_E_UNSUPPORTED;
		goto out;
	}
	if (gnutls_x509_crt_get_basic_constraints(a->crt, &crit, &is_ca, &pathlen) < 0 || !is_ca)
		goto out;
	/* Self-signed by its own key (the anchor is pinned, not chained). */
	if (gnutls_x509_crt_verify(a->crt, &a->crt, 1,
				   GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
				       GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
				   &status) < 0 ||
	    status != 0) {
		r = PN_E_SIGNATURE;
		goto out;
	}
	r = pn_trust_spki_fpr(a->pub, a->fpr);
	if (r < 0)
		goto out;
	*out = a;
	a = NULL; /* transferred */
out:
	pn_anchor_free(a);
	return r;
}

int pn_anchor_load_file(const char *path, struct pn_anchor **out)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = pn_file_read(path, PN_CA_CERT_PEM_MAX, &pem, &len);
	if (r < 0)
		return r;
	r = pn_anchor_new(pem, len, out);
	free(pem);
	return r;
}

int pn_anchor_from_ca(const struct pn_ca *ca, struct pn_anchor **out)
{
	const char *pem = pn_ca_cert_pem(ca);

	return pn_anchor_new(pem, strlen(pem), out);
}

void pn_anchor_fingerprint(const struct pn_anchor *a, uint8_t out[PN_FPR_LEN])
{
	memcpy(out, a->fpr, PN_FPR_LEN);
}

int pn_anchor_verify_sig(const struct pn_anchor *a, const void *data, size_t len,
			 const uint8_t sig[PN_SIG_LEN])
{
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)data, (unsigned)len};
	gnutls_datum_t s = {(unsigned char *)(uintptr_t)sig, PN_SIG_LEN};

	int r;

	if (len > UINT32_MAX)
		return PN_E_SIGNATURE;
	pthread_mutex_lock(&((struct pn_anchor *)(uintptr_t)a)->lock);
	r = gnutls_pubkey_verify_data2(a->pub, GNUTLS_SIGN_EDDSA_ED25519, 0, &d, &s);
	pthread_mutex_unlock(&((struct pn_anchor *)(uintptr_t)a)->lock);
	return r >= 0 ? 0 : PN_E_SIGNATURE;
}

/* Reads the Postern extension; PN_E_UNTRUSTED if absent. */
static int crt_get_ext(gnutls_x509_crt_t crt, struct pn_cred_info *info)
{
	for (unsigned i = 0;; i++) {
		char oid[128];
		size_t oid_sz = sizeof(oid);
		unsigned crit = 0;
		gnutls_datum_t v = {NULL, 0};
		int r = gnutls_x509_crt_get_extension_info(crt, i, oid, &oid_sz, &crit);

		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return PN_E_UNTRUSTED;
		if (r == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* an OID longer than ours is not ours */
		if (r < 0)
			return PN_E_MALFORMED;
		if (strcmp(oid, PN_CRED_EXT_OID) != 0)
			continue;
		if (gnutls_x509_crt_get_extension_data2(crt, i, &v) < 0)
			return PN_E_MALFORMED;
		r = pn_cred_ext_decode_der(v.data, v.size, info);
		gnutls_free(v.data);
		return r;
	}
}

/* The SAN must be exactly our DNS name for the id in the extension. */
static int crt_check_san(gnutls_x509_crt_t crt, const uint8_t id[PN_ID_LEN])
{
	char want[PN_ID_HEX_LEN + sizeof(PN_CRED_SAN_SUFFIX)], got[128];
	size_t sz = sizeof(got) - 1;
	unsigned crit = 0;
	int r;

	san_for(id, want);
	r = gnutls_x509_crt_get_subject_alt_name(crt, 0, got, &sz, &crit);
	if (r != GNUTLS_SAN_DNSNAME)
		return PN_E_MALFORMED;
	got[sz < sizeof(got) ? sz : sizeof(got) - 1] = '\0';
	if (sz != strlen(want) || memcmp(got, want, sz) != 0)
		return PN_E_MALFORMED;
	return 0;
}

static int verify_crt(const struct pn_anchor *a, gnutls_x509_crt_t crt, enum pn_cred_type expected,
		      uint64_t now, uint32_t skew_s, struct pn_cred_info *info)
{
	gnutls_pubkey_t pub = NULL;
	unsigned status = 0, crit = 0, is_ca = 0;
	int r, pathlen = 0;
	time_t nb, na;
	size_t ssz;

	memset(info, 0, sizeof(*info));
	/* Exactly one issuer is acceptable: the pinned CA. */
	pthread_mutex_lock(&((struct pn_anchor *)(uintptr_t)a)->lock);
	r = gnutls_x509_crt_verify(
	    crt, &a->crt, 1,
	    GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, &status);
	pthread_mutex_unlock(&((struct pn_anchor *)(uintptr_t)a)->lock);
	if (r < 0 || status != 0)
		return PN_E_UNTRUSTED;
	/* Only Ed25519 leaves (CA:false) are Postern credentials. */
	if (gnutls_x509_crt_get_pk_algorithm(crt, NULL) != GNUTLS_PK_EDDSA_ED25519 ||
	    gnutls_x509_crt_get_basic_constraints(crt, &crit, &is_ca, &pathlen) < 0 || is_ca)
		return PN_E_UNTRUSTED;
	r = crt_get_ext(crt, info);
	if (r < 0)
		return r;
	r = crt_check_san(crt, info->id);
	if (r < 0)
		return r;
	nb = gnutls_x509_crt_get_activation_time(crt);
	na = gnutls_x509_crt_get_expiration_time(crt);
	if (nb == (time_t)-1 || na == (time_t)-1 || nb < 0 || na < nb)
		return PN_E_MALFORMED;
	info->not_before = (uint64_t)nb;
	info->not_after = (uint64_t)na;
	if (now + skew_s < info->not_before)
		return PN_E_NOT_YET_VALID;
	if (now > info->not_after + skew_s)
		return PN_E_EXPIRED;
	if (expected != PN_CRED_ANY && info->type != expected)
		return PN_E_WRONG_TYPE;
	ssz = sizeof(info->serial);
	if (gnutls_x509_crt_get_serial(crt, info->serial, &ssz) < 0)
		return PN_E_MALFORMED;
	info->serial_len = ssz;
	if (gnutls_pubkey_init(&pub) < 0)
		return -ENOMEM;
	r = gnutls_pubkey_import_x509(pub, crt, 0) < 0 ? PN_E_MALFORMED
						       : pn_trust_spki_fpr(pub, info->key_fpr);
	gnutls_pubkey_deinit(pub);
	return r;
}

static int verify_fmt(const struct pn_anchor *a, const void *cert, size_t len,
		      gnutls_x509_crt_fmt_t fmt, enum pn_cred_type expected, uint64_t now,
		      uint32_t skew_s, struct pn_cred_info *info, struct pn_cred_info *seen)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d;
	int r;

	memset(info, 0, sizeof(*info));
	/* One certificate of ours is ~1 KiB; bound what we hand to the parser. */
	if (len == 0 || len > PN_CRED_PEM_MAX)
		return PN_E_MALFORMED;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	d.data = (unsigned char *)(uintptr_t)cert;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_import(crt, &d, fmt) < 0) {
		r = PN_E_MALFORMED;
		goto out;
	}
	r = verify_crt(a, crt, expected, now, skew_s, info);
	/* found after the signature verified: what it says may be logged */
	if (seen && (r == PN_E_NOT_YET_VALID || r == PN_E_EXPIRED || r == PN_E_WRONG_TYPE))
		*seen = *info;
out:
	if (r < 0)
		memset(info, 0, sizeof(*info));
	gnutls_x509_crt_deinit(crt);
	return r;
}

int pn_cred_verify(const struct pn_anchor *a, const void *cert, size_t len,
		   enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
		   struct pn_cred_info *info)
{
	return pn_cred_verify_seen(a, cert, len, expected, now, skew_s, info, NULL);
}

int pn_cred_verify_seen(const struct pn_anchor *a, const void *cert, size_t len,
			enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
			struct pn_cred_info *info, struct pn_cred_info *seen)
{
	if (seen)
		memset(seen, 0, sizeof(*seen));
	return verify_fmt(a, cert, len,
			  pn_trust_is_pem(cert, len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER,
			  expected, now, skew_s, info, seen);
}

static int verify_peer(const struct pn_anchor *a, const gnutls_datum_t *certs, unsigned ncerts,
		       enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
		       struct pn_cred_info *info, struct pn_cred_info *seen)
{
	memset(info, 0, sizeof(*info));
	if (seen)
		memset(seen, 0, sizeof(*seen));
	if (!certs || ncerts == 0)
		return PN_E_UNTRUSTED;
	/* Only the leaf: intermediates are never accepted.  TLS carries DER. */
	return verify_fmt(a, certs[0].data, certs[0].size, GNUTLS_X509_FMT_DER, expected, now,
			  skew_s, info, seen);
}

int pn_cred_verify_peer(const struct pn_anchor *a, const gnutls_datum_t *certs, unsigned ncerts,
			enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
			struct pn_cred_info *info)
{
	return verify_peer(a, certs, ncerts, expected, now, skew_s, info, NULL);
}

int pn_cred_verify_session_seen(const struct pn_anchor *a, gnutls_session_t session,
				enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
				struct pn_cred_info *info, struct pn_cred_info *seen)
{
	unsigned n = 0;
	const gnutls_datum_t *certs;

	if (gnutls_certificate_type_get2(session, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509) {
		memset(info, 0, sizeof(*info));
		if (seen)
			memset(seen, 0, sizeof(*seen));
		return PN_E_UNTRUSTED;
	}
	certs = gnutls_certificate_get_peers(session, &n);
	return verify_peer(a, certs, certs ? n : 0, expected, now, skew_s, info, seen);
}

int pn_cred_verify_session(const struct pn_anchor *a, gnutls_session_t session,
			   enum pn_cred_type expected, uint64_t now, uint32_t skew_s,
			   struct pn_cred_info *info)
{
	return pn_cred_verify_session_seen(a, session, expected, now, skew_s, info, NULL);
}

uint64_t pn_cred_issued_at(const struct pn_cred_info *info)
{
	/* credentials from before the backdating (or shorter than it) */
	if (info->not_after - info->not_before <= PN_TRUST_BACKDATE_S)
		return info->not_before;
	return info->not_before + PN_TRUST_BACKDATE_S;
}

int pn_cred_check_id(const struct pn_cred_info *info, enum pn_cred_type type,
		     const uint8_t id[PN_ID_LEN])
{
	if (info->type != type)
		return PN_E_WRONG_TYPE;
	return memcmp(info->id, id, PN_ID_LEN) == 0 ? 0 : PN_E_WRONG_ID;
}

int pn_cred_tls_credentials(const struct pn_key *key, const char *cert_pem,
			    const struct pn_anchor *a, gnutls_certificate_credentials_t *out)
{
	gnutls_certificate_credentials_t c = NULL;
	gnutls_x509_crt_t ca_crt;
	gnutls_datum_t cd, kd;
	int rc;
	char *kpem = NULL;
	size_t klen = 0, clen;
	int r;

	*out = NULL;
	clen = strnlen(cert_pem, PN_CRED_PEM_MAX + 1);
	if (clen == 0 || clen > PN_CRED_PEM_MAX)
		return PN_E_MALFORMED;
	if (gnutls_certificate_allocate_credentials(&c) < 0)
		return -ENOMEM;
	r = pn_key_export_pem(key, &kpem, &klen);
	if (r < 0)
		goto out;
	cd.data = (unsigned char *)(uintptr_t)cert_pem;
	cd.size = (unsigned)clen;
	kd.data = (unsigned char *)kpem;
	kd.size = (unsigned)klen;
	r = PN_E_MALFORMED;
	if (gnutls_certificate_set_x509_key_mem2(c, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0)
		goto out;
	r = PN_E_CRYPTO;
	ca_crt = a->crt; /* GnuTLS copies it; the API just is not const */
	pthread_mutex_lock(&((struct pn_anchor *)(uintptr_t)a)->lock);
	rc = gnutls_certificate_set_x509_trust(c, &ca_crt, 1);
	pthread_mutex_unlock(&((struct pn_anchor *)(uintptr_t)a)->lock);
	if (rc < 0)
		goto out;
	*out = c;
	c = NULL; /* transferred */
	r = 0;
out:
	pn_key_pem_free(kpem, klen);
	if (c)
		gnutls_certificate_free_credentials(c);
	return r;
}
