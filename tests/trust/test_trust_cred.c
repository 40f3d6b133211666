/* Keys, the CA, credentials and the certificate extension. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "core/err.h"
#include "trust/ca.h"
#include "trust/cred.h"
#include "trust/ext.h"
#include "trust/key.h"

#define NOW 1800000000ull

static void client_info(struct pn_cred_info *info)
{
	memset(info, 0, sizeof(*info));
	info->type = PN_CRED_CLIENT;
	assert_int_equal(pn_id_random(info->id), 0);
	strcpy(info->name, "alice-laptop");
	strcpy(info->user, "alice@corp.example");
	info->ngroups = 2;
	strcpy(info->groups[0], "eng");
	strcpy(info->groups[1], "db-admins");
	info->policy_version = 42;
}

/* Issue a credential for a fresh key. */
static char *issue(const struct pn_ca *ca, struct pn_key **keyp, const struct pn_cred_info *info,
		   uint64_t lifetime, uint64_t now)
{
	struct pn_key *k = NULL;
	char *csr = NULL, *pem = NULL;
	size_t csr_len = 0;

	assert_int_equal(pn_key_generate(&k), 0);
	assert_int_equal(pn_key_csr_pem(k, "ignored", &csr, &csr_len), 0);
	assert_int_equal(pn_cred_issue(ca, csr, info, lifetime, now, &pem, NULL), 0);
	free(csr);
	if (keyp)
		*keyp = k;
	else
		pn_key_free(k);
	return pem;
}

static void test_key_roundtrip(void **state)
{
	struct pn_key *k = NULL, *k2 = NULL;
	uint8_t f1[PN_FPR_LEN], f2[PN_FPR_LEN], sig[PN_SIG_LEN];
	char path[] = "/tmp/pn_trust_keyXXXXXX", file[64], hex[PN_FPR_HEX_LEN + 1];
	struct stat st;
	char *pem = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/key.pem", path);
	assert_int_equal(pn_key_generate(&k), 0);
	assert_int_equal(pn_key_fingerprint(k, f1), 0);
	assert_int_equal(pn_key_save_pem_file(k, file), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pn_key_load_pem_file(file, &k2), 0);
	assert_int_equal(pn_key_fingerprint(k2, f2), 0);
	assert_memory_equal(f1, f2, PN_FPR_LEN);
	assert_int_equal(pn_key_sign(k2, "abc", 3, sig), 0);
	pn_fpr_hex(f1, hex);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(pn_fpr_parse(hex, f2), 0);
	assert_memory_equal(f1, f2, PN_FPR_LEN);
	assert_int_equal(pn_fpr_parse("00", f2), PN_E_MALFORMED);
	assert_int_equal(pn_key_export_pem(k, &pem, &len), 0);
	assert_non_null(strstr(pem, "BEGIN PRIVATE KEY"));
	pn_key_pem_free(pem, len);
	pn_key_free(k2);
	assert_int_equal(pn_key_load_pem_mem("garbage", 7, &k2 /* not overwritten on error */),
			 PN_E_MALFORMED);
	assert_null(k2);
	assert_true(pn_key_load_pem_file("/nonexistent/key.pem", &k2) < 0);
	pn_key_free(k);
	pn_key_free(NULL);
	unlink(file);
	rmdir(path);
}

static void test_ca_dir(void **state)
{
	char dir[] = "/tmp/pn_trust_caXXXXXX", kp[64], cp[64];
	struct pn_ca *ca = NULL;
	struct pn_anchor *a = NULL;
	uint8_t f1[PN_FPR_LEN];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(kp, sizeof(kp), "%s/ca.key", dir);
	snprintf(cp, sizeof(cp), "%s/ca.crt", dir);
	assert_int_equal(pn_ca_init_dir(dir, NOW), 0);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(pn_ca_init_dir(dir, NOW), -EEXIST); /* never overwritten */
	assert_int_equal(pn_ca_load(dir, &ca), 0);
	assert_int_equal(pn_anchor_load_file(cp, &a), 0);
	pn_anchor_fingerprint(a, f1);
	{
		uint8_t f2[PN_FPR_LEN];
		pn_ca_fingerprint(ca, f2);
		assert_memory_equal(f1, f2, PN_FPR_LEN);
	}
	assert_int_equal(strlen(pn_ca_fingerprint_hex(ca)), 64);
	pn_ca_free(ca);
	ca = NULL;
	/* A readable CA key is refused. */
	assert_int_equal(chmod(kp, 0640), 0);
	assert_int_equal(pn_ca_load(dir, &ca), PN_E_CONFIG);
	assert_null(ca);
	pn_anchor_free(a);
	unlink(kp);
	unlink(cp);
	rmdir(dir);
}

static void test_issue_verify(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_anchor *a = NULL;
	struct pn_cred_info in, out, issued;
	struct pn_key *k = NULL;
	char *csr = NULL, *pem = NULL;
	uint8_t fpr[PN_FPR_LEN];
	size_t n;

	(void)state;
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	client_info(&in);
	assert_int_equal(pn_key_generate(&k), 0);
	assert_int_equal(pn_key_csr_pem(k, NULL, &csr, &n), 0);
	assert_int_equal(pn_cred_issue(ca, csr, &in, 3600, NOW, &pem, &issued), 0);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW, 60, &out), 0);
	assert_int_equal(out.type, PN_CRED_CLIENT);
	assert_memory_equal(out.id, in.id, PN_ID_LEN);
	assert_string_equal(out.name, "alice-laptop");
	assert_string_equal(out.user, "alice@corp.example");
	assert_int_equal(out.ngroups, 2);
	assert_string_equal(out.groups[1], "db-admins");
	assert_true(out.policy_version == 42);
	/* backdated start, lifetime from now */
	assert_true(out.not_before == NOW - PN_TRUST_BACKDATE_S && out.not_after == NOW + 3600);
	assert_true(issued.not_before == out.not_before && issued.not_after == out.not_after);
	assert_true(pn_cred_issued_at(&out) == NOW);
	pn_key_fingerprint(k, fpr);
	assert_memory_equal(out.key_fpr, fpr, PN_FPR_LEN);
	assert_memory_equal(issued.key_fpr, fpr, PN_FPR_LEN);
	assert_int_equal(out.serial_len, issued.serial_len);
	assert_memory_equal(out.serial, issued.serial, out.serial_len);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_ANY, NOW, 0, &out), 0);
	assert_int_equal(pn_cred_check_id(&out, PN_CRED_CLIENT, in.id), 0);
	assert_int_equal(pn_cred_check_id(&out, PN_CRED_CONNECTOR, in.id), PN_E_WRONG_TYPE);
	in.id[7] ^= 1;
	assert_int_equal(pn_cred_check_id(&out, PN_CRED_CLIENT, in.id), PN_E_WRONG_ID);
	in.id[7] ^= 1;

	/* DER works as well (what a TLS peer presents). */
	{
		gnutls_x509_crt_t c;
		gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)}, der;
		assert_int_equal(gnutls_x509_crt_init(&c), 0);
		assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
		assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der), 0);
		assert_int_equal(pn_cred_verify_peer(a, &der, 1, PN_CRED_CLIENT, NOW, 0, &out), 0);
		assert_int_equal(pn_cred_verify_peer(a, &der, 0, PN_CRED_CLIENT, NOW, 0, &out),
				 PN_E_UNTRUSTED);
		/* a certificate of ours is a TLS server/client leaf for its id */
		assert_true(gnutls_x509_crt_check_key_purpose(c, GNUTLS_KP_TLS_WWW_SERVER, 0));
		assert_true(gnutls_x509_crt_check_key_purpose(c, GNUTLS_KP_TLS_WWW_CLIENT, 0));
		{
			char host[PN_ID_HEX_LEN + 32];
			pn_id_hex(in.id, host);
			strcat(host, PN_CRED_SAN_SUFFIX);
			assert_true(gnutls_x509_crt_check_hostname(c, host));
			host[0] = host[0] == '0' ? '1' : '0';
			assert_false(gnutls_x509_crt_check_hostname(c, host));
		}
		gnutls_free(der.data);
		gnutls_x509_crt_deinit(c);
	}
	pn_key_free(k);
	free(csr);
	free(pem);
	pn_anchor_free(a);
	pn_ca_free(ca);
}

/* A DER credential is never mistaken for PEM, whatever its names say. */
static void test_der_with_pem_marker(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_anchor *a = NULL;
	struct pn_cred_info in, out;
	gnutls_x509_crt_t c;
	gnutls_datum_t d, der;
	char *pem;

	(void)state;
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	client_info(&in);
	strcpy(in.name, "-----BEGIN CERTIFICATE-----");
	pem = issue(ca, NULL, &in, 600, NOW);
	d.data = (unsigned char *)pem;
	d.size = (unsigned)strlen(pem);
	assert_int_equal(gnutls_x509_crt_init(&c), 0);
	assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der), 0);
	assert_int_equal(pn_cred_verify(a, der.data, der.size, PN_CRED_CLIENT, NOW, 0, &out), 0);
	assert_int_equal(pn_cred_verify_peer(a, &der, 1, PN_CRED_CLIENT, NOW, 0, &out), 0);
	assert_string_equal(out.name, "-----BEGIN CERTIFICATE-----");
	/* and a PEM handed over as a TLS peer certificate is refused */
	assert_int_equal(pn_cred_verify_peer(a, &d, 1, PN_CRED_CLIENT, NOW, 0, &out),
			 PN_E_MALFORMED);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(c);
	free(pem);
	pn_anchor_free(a);
	pn_ca_free(ca);
}

static void test_time_window_and_type(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_anchor *a = NULL;
	struct pn_cred_info in, out;
	char *pem;

	(void)state;
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	client_info(&in);
	pem = issue(ca, NULL, &in, 600, NOW);
	/* edges of [not_before - skew, not_after + skew]; not_before is
	   backdated by PN_TRUST_BACKDATE_S */
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT,
					NOW - PN_TRUST_BACKDATE_S - 30, 30, &out),
			 0);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT,
					NOW - PN_TRUST_BACKDATE_S - 31, 30, &out),
			 PN_E_NOT_YET_VALID);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW + 630, 30, &out),
			 0);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW + 631, 30, &out),
			 PN_E_EXPIRED);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW + 601, 0, &out),
			 PN_E_EXPIRED);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CONNECTOR, NOW, 0, &out),
			 PN_E_WRONG_TYPE);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_RELAY, NOW, 0, &out),
			 PN_E_WRONG_TYPE);
	free(pem);
	pn_anchor_free(a);
	pn_ca_free(ca);
}

/* Issue 10 item 6: clock skew.  A credential issued at NOW by a
 * controller is accepted by a verifier whose clock is behind by up to
 * PN_TRUST_BACKDATE_S + PN_TRUST_DEFAULT_SKEW (it used to be refused as
 * soon as the verifier was more than the 60 s tolerance behind), and the
 * default tolerance is applied at both ends of the window. */
static void test_skew_tolerance(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_anchor *a = NULL;
	struct pn_cred_info in, out;
	const uint64_t SKEW = PN_TRUST_DEFAULT_SKEW, BACK = PN_TRUST_BACKDATE_S;
	char *pem;

	(void)state;
	assert_true(BACK >= 2 * SKEW); /* backdating covers minutes, not seconds */
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	client_info(&in);
	pem = issue(ca, NULL, &in, 600, NOW);
	/* verifier 2 minutes behind the issuer: fresh credential accepted */
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW - 120, SKEW, &out),
			 0);
	/* ... 5 minutes behind too */
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW - 300, SKEW, &out),
			 0);
	/* the exact edges */
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW - BACK - SKEW,
					SKEW, &out),
			 0);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW - BACK - SKEW - 1,
					SKEW, &out),
			 PN_E_NOT_YET_VALID);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW + 600 + SKEW, SKEW,
					&out),
			 0);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW + 601 + SKEW,
					SKEW, &out),
			 PN_E_EXPIRED);
	/* a refusal for its time still says what the certificate holds, for
	   the log (both clocks); *info stays all zero */
	{
		struct pn_cred_info seen;
		assert_int_equal(pn_cred_verify_seen(a, pem, strlen(pem), PN_CRED_CLIENT,
						     NOW - BACK - SKEW - 1, SKEW, &out, &seen),
				 PN_E_NOT_YET_VALID);
		assert_int_equal(out.type, 0);
		assert_true(seen.not_before == NOW - BACK && seen.not_after == NOW + 600);
		assert_string_equal(seen.user, in.user);
		assert_int_equal(pn_cred_verify_seen(a, pem, strlen(pem), PN_CRED_CLIENT, NOW, SKEW,
						     &out, &seen),
				 0);
		assert_true(seen.not_before == 0); /* nothing refused */
	}
	free(pem);
	/* issued_at: undoes the backdating; short old-style credentials count
	   from not_before */
	memset(&out, 0, sizeof(out));
	out.not_before = NOW - BACK;
	out.not_after = NOW + 10;
	assert_true(pn_cred_issued_at(&out) == NOW);
	out.not_before = NOW;
	out.not_after = NOW + 10;
	assert_true(pn_cred_issued_at(&out) == NOW);
	pn_anchor_free(a);
	pn_ca_free(ca);
}

static void test_other_ca_refused(void **state)
{
	struct pn_ca *ca = NULL, *evil = NULL;
	struct pn_anchor *a = NULL;
	struct pn_cred_info in, out;
	char *pem;

	(void)state;
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_ca_new(NOW - 100, &evil), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	client_info(&in);
	pem = issue(evil, NULL, &in, 600, NOW);
	assert_int_equal(pn_cred_verify(a, pem, strlen(pem), PN_CRED_CLIENT, NOW, 60, &out),
			 PN_E_UNTRUSTED);
	/* all-zero info on failure: nothing half-filled to misuse */
	assert_int_equal(out.type, 0);
	free(pem);
	/* The CA certificate itself is not a credential. */
	assert_int_equal(pn_cred_verify(a, pn_ca_cert_pem(ca), strlen(pn_ca_cert_pem(ca)),
					PN_CRED_ANY, NOW, 60, &out),
			 PN_E_UNTRUSTED);
	assert_int_equal(pn_cred_verify(a, "junk", 4, PN_CRED_ANY, NOW, 60, &out), PN_E_MALFORMED);
	pn_anchor_free(a);
	pn_ca_free(evil);
	pn_ca_free(ca);
}

static void test_tampered_cert(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_anchor *a = NULL;
	struct pn_cred_info in, out;
	gnutls_x509_crt_t c;
	gnutls_datum_t d, der;
	char *pem;
	unsigned ok = 0;

	(void)state;
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	client_info(&in);
	pem = issue(ca, NULL, &in, 600, NOW);
	d.data = (unsigned char *)pem;
	d.size = (unsigned)strlen(pem);
	assert_int_equal(gnutls_x509_crt_init(&c), 0);
	assert_int_equal(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der), 0);
	/* Flip one bit at every byte of the DER: never accepted. */
	for (unsigned i = 0; i < der.size; i++) {
		int r;
		der.data[i] ^= 0x04;
		r = pn_cred_verify(a, der.data, der.size, PN_CRED_CLIENT, NOW, 60, &out);
		assert_true(r == PN_E_MALFORMED || r == PN_E_UNTRUSTED);
		ok += r < 0;
		der.data[i] ^= 0x04;
	}
	assert_int_equal(ok, der.size);
	/* Truncated at every length. */
	for (unsigned i = 0; i < der.size; i++)
		assert_int_equal(pn_cred_verify(a, der.data, i, PN_CRED_CLIENT, NOW, 60, &out),
				 PN_E_MALFORMED);
	assert_int_equal(pn_cred_verify(a, der.data, der.size, PN_CRED_CLIENT, NOW, 60, &out), 0);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(c);
	free(pem);
	pn_anchor_free(a);
	pn_ca_free(ca);
}

static void test_issue_refusals(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_cred_info in;
	struct pn_key *k = NULL;
	char *csr = NULL, *pem = NULL;
	size_t n;

	(void)state;
	assert_int_equal(pn_ca_new(NOW, &ca), 0);
	assert_int_equal(pn_key_generate(&k), 0);
	assert_int_equal(pn_key_csr_pem(k, "x", &csr, &n), 0);
	client_info(&in);
	assert_int_equal(pn_cred_issue(ca, csr, &in, 0, NOW, &pem, NULL), PN_E_INVAL);
	assert_int_equal(pn_cred_issue(ca, csr, &in, PN_CRED_LIFETIME_MAX + 1, NOW, &pem, NULL),
			 PN_E_INVAL);
	in.type = PN_CRED_CONNECTOR; /* user/groups only on clients */
	assert_int_equal(pn_cred_issue(ca, csr, &in, 60, NOW, &pem, NULL), PN_E_INVAL);
	client_info(&in);
	in.name[0] = '\0';
	assert_int_equal(pn_cred_issue(ca, csr, &in, 60, NOW, &pem, NULL), PN_E_INVAL);
	client_info(&in);
	in.ngroups = PN_GROUPS_MAX + 1;
	assert_int_equal(pn_cred_issue(ca, csr, &in, 60, NOW, &pem, NULL), PN_E_INVAL);
	client_info(&in);
	in.name[3] = '\n'; /* control characters never reach logs */
	assert_int_equal(pn_cred_issue(ca, csr, &in, 60, NOW, &pem, NULL), PN_E_INVAL);
	client_info(&in);
	assert_int_equal(pn_cred_issue(ca, "not a csr", &in, 60, NOW, &pem, NULL), PN_E_MALFORMED);
	/* A CSR whose self-signature is broken: flip a base64 char near the end. */
	{
		char *bad = strdup(csr);
		char *end = strstr(bad, "-----END");
		assert_non_null(end);
		end[-6] = end[-6] == 'A' ? 'B' : 'A';
		int r = pn_cred_issue(ca, bad, &in, 60, NOW, &pem, NULL);
		assert_true(r == PN_E_SIGNATURE || r == PN_E_MALFORMED);
		free(bad);
	}
	assert_null(pem);
	free(csr);
	pn_key_free(k);
	pn_ca_free(ca);
}

static void test_ext_codec(void **state)
{
	struct pn_cred_info in, out;
	uint8_t buf[PN_CRED_EXT_MAX + 8];
	size_t n = 0;

	(void)state;
	client_info(&in);
	/* the maximal record fits PN_CRED_EXT_MAX exactly */
	memset(in.name, 'n', PN_NAME_MAX);
	memset(in.user, 'u', PN_USER_MAX);
	in.ngroups = PN_GROUPS_MAX;
	for (unsigned i = 0; i < PN_GROUPS_MAX; i++)
		memset(in.groups[i], 'g', PN_GROUP_MAX);
	assert_int_equal(pn_cred_ext_encode(&in, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, PN_CRED_EXT_MAX);
	memset(&out, 0, sizeof(out));
	assert_int_equal(pn_cred_ext_decode(buf, n, &out), 0);
	assert_string_equal(out.groups[31], in.groups[31]);
	assert_int_equal(pn_cred_ext_encode(&in, buf, n - 1, &n), PN_E_NOSPACE);

	client_info(&in);
	assert_int_equal(pn_cred_ext_encode(&in, buf, sizeof(buf), &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(pn_cred_ext_decode(buf, i, &out), PN_E_TRUNCATED);
	buf[n] = 0;
	assert_int_equal(pn_cred_ext_decode(buf, n + 1, &out), PN_E_MALFORMED); /* trailing */
	buf[0] = 2;
	assert_int_equal(pn_cred_ext_decode(buf, n, &out), PN_E_UNSUPPORTED);
	buf[0] = 1;
	buf[1] = 9;
	assert_int_equal(pn_cred_ext_decode(buf, n, &out), PN_E_MALFORMED);
	buf[1] = PN_CRED_CONNECTOR; /* a connector with a user */
	assert_int_equal(pn_cred_ext_decode(buf, n, &out), PN_E_MALFORMED);
	buf[1] = PN_CRED_CLIENT;
	buf[26] = PN_NAME_MAX + 1; /* name length over its limit */
	assert_int_equal(pn_cred_ext_decode(buf, n, &out), PN_E_TOOBIG);
	buf[26] = 0; /* empty name */
	assert_int_equal(pn_cred_ext_decode(buf, n, &out), PN_E_MALFORMED);
}

/* --- one CA and one anchor shared by threads (the controller's HTTP
 * threads issue concurrently; relays verify from workers) --- */

struct thr {
	const struct pn_ca *ca;
	const struct pn_anchor *a;
	const char *csr;
	int failures;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct pn_cred_info in, out;
	uint8_t sig[PN_SIG_LEN];

	for (int i = 0; i < 40; i++) {
		char *pem = NULL;
		memset(&in, 0, sizeof(in));
		in.type = PN_CRED_CONNECTOR;
		strcpy(in.name, "c");
		in.id[0] = (uint8_t)i;
		if (pn_cred_issue(t->ca, t->csr, &in, 60, NOW, &pem, NULL) != 0 ||
		    pn_cred_verify(t->a, pem, strlen(pem), PN_CRED_CONNECTOR, NOW, 0, &out) != 0 ||
		    out.id[0] != (uint8_t)i || pn_ca_sign(t->ca, "x", 1, sig) != 0 ||
		    pn_anchor_verify_sig(t->a, "x", 1, sig) != 0)
			t->failures++;
		free(pem);
	}
	return NULL;
}

static void test_shared_across_threads(void **state)
{
	struct pn_ca *ca = NULL;
	struct pn_anchor *a = NULL;
	struct pn_key *k = NULL;
	char *csr = NULL;
	size_t n;
	pthread_t th[4];
	struct thr t[4];

	(void)state;
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	assert_int_equal(pn_key_generate(&k), 0);
	assert_int_equal(pn_key_csr_pem(k, NULL, &csr, &n), 0);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ca, a, csr, 0};
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(t[i].failures, 0);
	}
	free(csr);
	pn_key_free(k);
	pn_anchor_free(a);
	pn_ca_free(ca);
}

/* --- TLS 1.3 handshake with our credentials, over a socketpair --- */

struct side {
	const struct pn_anchor *a;
	enum pn_cred_type expect;
	struct pn_cred_info peer;
	int verified;
};

static int verify_cb(gnutls_session_t s)
{
	struct side *sd = gnutls_session_get_ptr(s);

	if (pn_cred_verify_session(sd->a, s, sd->expect, NOW, 60, &sd->peer) < 0)
		return GNUTLS_E_CERTIFICATE_ERROR;
	sd->verified = 1;
	return 0;
}

static int handshake_pair(gnutls_certificate_credentials_t cc, gnutls_certificate_credentials_t sc,
			  struct side *cs, struct side *ss)
{
	gnutls_session_t c, s;
	int sv[2], rc = 1, rs = 1;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	assert_int_equal(gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
	assert_int_equal(gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK), 0);
	assert_int_equal(gnutls_priority_set_direct(c, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL), 0);
	assert_int_equal(gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL), 0);
	gnutls_credentials_set(c, GNUTLS_CRD_CERTIFICATE, cc);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, sc);
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_ptr(c, cs);
	gnutls_session_set_ptr(s, ss);
	gnutls_session_set_verify_function(c, verify_cb);
	gnutls_session_set_verify_function(s, verify_cb);
	gnutls_transport_set_int(c, sv[0]);
	gnutls_transport_set_int(s, sv[1]);
	for (int i = 0; i < 1000 && (rc != 0 || rs != 0); i++) {
		if (rc != 0) {
			rc = gnutls_handshake(c);
			if (rc < 0 && gnutls_error_is_fatal(rc))
				break;
		}
		if (rs != 0) {
			rs = gnutls_handshake(s);
			if (rs < 0 && gnutls_error_is_fatal(rs))
				break;
		}
	}
	if (rc == 0)
		assert_int_equal(gnutls_protocol_get_version(c), GNUTLS_TLS1_3);
	gnutls_deinit(c);
	gnutls_deinit(s);
	close(sv[0]);
	close(sv[1]);
	return rc == 0 && rs == 0 ? 0 : -1;
}

static void test_tls13_handshake(void **state)
{
	struct pn_ca *ca = NULL, *evil = NULL;
	struct pn_anchor *a = NULL;
	struct pn_cred_info ci, ni;
	struct pn_key *ck = NULL, *nk = NULL;
	char *cpem, *npem;
	gnutls_certificate_credentials_t cc, sc;
	struct side cs = {0}, ss = {0};

	(void)state;
	assert_int_equal(pn_ca_new(NOW - 100, &ca), 0);
	assert_int_equal(pn_ca_new(NOW - 100, &evil), 0);
	assert_int_equal(pn_anchor_from_ca(ca, &a), 0);
	client_info(&ci);
	memset(&ni, 0, sizeof(ni));
	ni.type = PN_CRED_CONNECTOR;
	assert_int_equal(pn_id_random(ni.id), 0);
	strcpy(ni.name, "connector-1");
	cpem = issue(ca, &ck, &ci, 600, NOW);
	npem = issue(ca, &nk, &ni, 600, NOW);
	assert_int_equal(pn_cred_tls_credentials(ck, cpem, a, &cc), 0);
	assert_int_equal(pn_cred_tls_credentials(nk, npem, a, &sc), 0);
	cs.a = ss.a = a;
	cs.expect = PN_CRED_CONNECTOR; /* the client checks it reached a connector */
	ss.expect = PN_CRED_CLIENT;
	assert_int_equal(handshake_pair(cc, sc, &cs, &ss), 0);
	assert_true(cs.verified && ss.verified);
	assert_memory_equal(cs.peer.id, ni.id, PN_ID_LEN);
	assert_memory_equal(ss.peer.id, ci.id, PN_ID_LEN);
	assert_string_equal(ss.peer.user, "alice@corp.example");

	/* A server expecting a connector refuses a client credential. */
	memset(&cs, 0, sizeof(cs));
	memset(&ss, 0, sizeof(ss));
	cs.a = ss.a = a;
	cs.expect = PN_CRED_CONNECTOR;
	ss.expect = PN_CRED_CONNECTOR;
	assert_int_not_equal(handshake_pair(cc, sc, &cs, &ss), 0);
	gnutls_certificate_free_credentials(cc);

	/* A client holding a credential from another CA is refused. */
	{
		struct pn_key *ek = NULL;
		char *epem = issue(evil, &ek, &ci, 600, NOW);
		gnutls_certificate_credentials_t ec;
		struct pn_anchor *ea = NULL;
		assert_int_equal(pn_anchor_from_ca(evil, &ea), 0);
		assert_int_equal(pn_cred_tls_credentials(ek, epem, ea, &ec), 0);
		memset(&cs, 0, sizeof(cs));
		memset(&ss, 0, sizeof(ss));
		cs.a = a;
		ss.a = a;
		cs.expect = PN_CRED_CONNECTOR;
		ss.expect = PN_CRED_CLIENT;
		assert_int_not_equal(handshake_pair(ec, sc, &cs, &ss), 0);
		assert_false(ss.verified);
		gnutls_certificate_free_credentials(ec);
		pn_anchor_free(ea);
		pn_key_free(ek);
		free(epem);
	}
	gnutls_certificate_free_credentials(sc);
	pn_key_free(ck);
	pn_key_free(nk);
	free(cpem);
	free(npem);
	pn_anchor_free(a);
	pn_ca_free(evil);
	pn_ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_roundtrip),
	    cmocka_unit_test(test_ca_dir),
	    cmocka_unit_test(test_issue_verify),
	    cmocka_unit_test(test_der_with_pem_marker),
	    cmocka_unit_test(test_time_window_and_type),
	    cmocka_unit_test(test_skew_tolerance),
	    cmocka_unit_test(test_other_ca_refused),
	    cmocka_unit_test(test_tampered_cert),
	    cmocka_unit_test(test_issue_refusals),
	    cmocka_unit_test(test_ext_codec),
	    cmocka_unit_test(test_shared_across_threads),
	    cmocka_unit_test(test_tls13_handshake),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
