/*
 * The console's TLS certificate (docs/console.md): browsers cannot use the
 * API's Ed25519 chain, so the listener also holds an ECDSA chain for them
 * (tlscert.h).  DATA/console.key + DATA/console.crt are the operator's to
 * replace (a chain from their own PKI, or ACME); when absent, `run` makes
 * a self-signed ECDSA P-256 certificate for the API host names, which the
 * admin trusts in the browser once (its SHA-256 fingerprint is logged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "controller/apicert.h"
#include "controller/console.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/secret.h"
#include "trust/util.h"

#define CONSOLE_CERT_DAYS 397

static int make(const char *const *names, unsigned nnames, char **key_pem, char **cert_pem)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kd = {NULL, 0}, cd = {NULL, 0};
	uint8_t serial[16], kid[64];
	size_t kidlen = sizeof(kid);
	time_t now = time(NULL);
	int rc = PN_E_CRYPTO;

	if (!nnames || pn_trust_random_serial(serial))
		return PN_E_INVAL;
	if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_crt_init(&crt) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - 300) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, now + CONSOLE_CERT_DAYS * 86400) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, names[0],
					  (unsigned)strlen(names[0])) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
		goto out;
	for (unsigned i = 0; i < nnames; i++)
		if (pn_apicert_add_san(crt, names[i]) < 0)
			goto out;
	if (gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen) >= 0)
		gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
	if (gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &kd) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cd) < 0)
		goto out;
	if ((rc = pn_trust_datum_to_str(&kd, key_pem, NULL)))
		goto out;
	if ((rc = pn_trust_datum_to_str(&cd, cert_pem, NULL))) {
		pn_wipe(*key_pem, strlen(*key_pem));
		free(*key_pem);
		*key_pem = NULL;
	}
out:
	if (kd.data) {
		pn_wipe(kd.data, kd.size);
		gnutls_free(kd.data);
	}
	gnutls_free(cd.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return rc;
}

static void log_fingerprint(const char *cert_pem)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = {(unsigned char *)(uintptr_t)cert_pem, (unsigned)strlen(cert_pem)};
	uint8_t fp[32];
	size_t n = sizeof(fp);
	char hex[3 * 32 + 1] = "";

	if (gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &n) >= 0)
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", fp[i]);
	gnutls_x509_crt_deinit(crt);
	PN_LOG_INFO("controller", "console_certificate", "sha256=%s", hex);
}

int pn_console_cert_load(const char *data_dir, const char *const *names, unsigned nnames,
			 char **key_pem, char **cert_pem)
{
	char kpath[4096], cpath[4096];
	size_t len;
	int rc;

	*key_pem = *cert_pem = NULL;
	if ((size_t)snprintf(kpath, sizeof(kpath), "%s/console.key", data_dir) >= sizeof(kpath) ||
	    (size_t)snprintf(cpath, sizeof(cpath), "%s/console.crt", data_dir) >= sizeof(cpath))
		return PN_E_TOOBIG;
	rc = pn_file_read(kpath, 64 * 1024, key_pem, &len);
	if (rc == 0 && (rc = pn_file_read(cpath, 256 * 1024, cert_pem, &len)) == 0)
		goto done;
	if (*key_pem) {
		pn_wipe(*key_pem, strlen(*key_pem));
		free(*key_pem);
		*key_pem = NULL;
	}
	if (rc != -ENOENT)
		return rc;
	/* neither or only one of them: make both (a lone file is replaced) */
	if ((rc = make(names, nnames, key_pem, cert_pem)) ||
	    (rc = pn_file_write(kpath, *key_pem, strlen(*key_pem), 0600, 0)) ||
	    (rc = pn_file_write(cpath, *cert_pem, strlen(*cert_pem), 0644, 0))) {
		if (*key_pem)
			pn_wipe(*key_pem, strlen(*key_pem));
		free(*key_pem);
		free(*cert_pem);
		*key_pem = *cert_pem = NULL;
		return rc;
	}
	PN_LOG_INFO("controller", "console_certificate_created", "file=%s", cpath);
done:
	log_fingerprint(*cert_pem);
	return 0;
}
