/*
 * The API's TLS server certificate, signed by the network CA, naming the
 * host names and addresses clients use to reach the controller (SAN).
 * Built with GnuTLS' X.509 API on the trust library's CA key; components
 * verify it against the pinned CA and check the host name (libcurl).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "controller/apicert.h"
#include "core/err.h"
#include "core/secret.h"

int pn_apicert_add_san(gnutls_x509_crt_t crt, const char *name)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, name, a) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 4,
							    GNUTLS_FSAN_APPEND);
	if (inet_pton(AF_INET6, name, a) == 1)
		return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 16,
							    GNUTLS_FSAN_APPEND);
	return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
						    (unsigned)strlen(name), GNUTLS_FSAN_APPEND);
}

int pn_apicert_issue(const struct pn_ca *ca, const struct pn_key *key, const char *const *names,
		     unsigned nnames, uint64_t now, uint64_t lifetime_s, char **out_pem)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t pem = {NULL, 0};
	uint8_t serial[16], kid[64];
	size_t kidlen = sizeof(kid);
	int rc = PN_E_CRYPTO;

	*out_pem = NULL;
	if (!nnames || pn_random(serial, sizeof(serial)))
		return PN_E_INVAL;
	serial[0] &= 0x7f; /* positive INTEGER */
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_pubkey_import_privkey(pub, pn_key_gnutls(key), 0, 0) < 0 ||
	    gnutls_x509_crt_set_pubkey(crt, pub) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, (time_t)now - 60) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, (time_t)(now + lifetime_s)) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, names[0],
					  (unsigned)strlen(names[0])) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
		goto out;
	for (unsigned i = 0; i < nnames; i++)
		if (pn_apicert_add_san(crt, names[i]) < 0) {
			rc = PN_E_INVAL;
			goto out;
		}
	if (gnutls_x509_crt_get_subject_key_id(pn_ca_crt(ca), kid, &kidlen, NULL) >= 0)
		gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen);
	kidlen = sizeof(kid);
	if (gnutls_pubkey_get_key_id(pub, 0, kid, &kidlen) >= 0)
		gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
	if (gnutls_x509_crt_privkey_sign(crt, pn_ca_crt(ca), pn_ca_privkey(ca), GNUTLS_DIG_SHA512,
					 0) < 0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem) < 0)
		goto out;
	*out_pem = malloc(pem.size + 1);
	if (!*out_pem) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*out_pem, pem.data, pem.size);
	(*out_pem)[pem.size] = '\0';
	rc = 0;
out:
	gnutls_free(pem.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return rc;
}
