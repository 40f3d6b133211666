/*
 * Writes the committed seed corpora (fuzz/trust/corpus/TARGET/NAME):
 *   trust_gen_corpus <fuzz/trust/corpus>
 * Valid encodings produced by the real encoders, so the fuzzers start
 * from deep inside the formats.  Re-run after a format change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/x509.h>

#include "trust/acl.h"
#include "trust/acl_wire.h"
#include "trust/ca.h"
#include "trust/ext.h"
#include "trust/key.h"

static void put(const char *dir, const char *target, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct pn_ca *ca = NULL;
	struct pn_cred_info info;
	struct pn_acl acl;
	uint8_t ext[PN_CRED_EXT_MAX], id[PN_ID_LEN] = {1, 2, 3}, *buf = NULL, pin[PN_FPR_LEN];
	size_t n = 0;
	const char *dests[] = {
	    "db.corp.example", "*.corp.example",  "**.lab.corp.example", "10.0.0.0/8", "10.1.2.3",
	    "2001:db8::/32",   "::ffff:10.1.2.3", "XN--80A.Example.",	 "fe80::1",    "a..b"};

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
		return 2;
	}
	mkdir(argv[1], 0755);
	if (pn_ca_new(1800000000ull, &ca) != 0)
		return 1;
	pn_ca_fingerprint(ca, pin);

	memset(&info, 0, sizeof(info));
	info.type = PN_CRED_CLIENT;
	memcpy(info.id, id, sizeof(id));
	strcpy(info.name, "alice-laptop");
	strcpy(info.user, "alice@corp.example");
	info.ngroups = 2;
	strcpy(info.groups[0], "eng");
	strcpy(info.groups[1], "db");
	if (pn_cred_ext_encode(&info, ext, sizeof(ext), &n) != 0)
		return 1;
	put(argv[1], "fuzz_trust_ext", "client", ext, n);
	memset(&info, 0, sizeof(info));
	info.type = PN_CRED_CONNECTOR;
	strcpy(info.name, "conn-1");
	if (pn_cred_ext_encode(&info, ext, sizeof(ext), &n) != 0)
		return 1;
	put(argv[1], "fuzz_trust_ext", "connector", ext, n);

	pn_acl_init(&acl, PN_ACL_CLIENT);
	acl.version = 3;
	acl.issued_at = 1800000000ull;
	acl.expires_at = 1800003600ull;
	for (unsigned i = 0; i < 4; i++)
		if (pn_acl_add_text(&acl, id, id, dests[i], i ? "tcp,udp" : "icmp",
				    i ? "22,8000-8080" : NULL) != 0)
			return 1;
	if (pn_acl_add_network(&acl, id, (const uint8_t(*)[PN_ID_LEN])id, 1) != 0 ||
	    pn_acl_encode_unsigned(&acl, pin, &buf, &n) != 0)
		return 1;
	put(argv[1], "fuzz_trust_acl", "client_body", buf, n);
	free(buf);
	if (pn_acl_sign(ca, &acl, &buf, &n) != 0)
		return 1;
	put(argv[1], "fuzz_trust_acl", "client_signed", buf, n);
	free(buf);
	pn_acl_fini(&acl);
	pn_acl_init(&acl, PN_ACL_CONNECTOR);
	acl.issued_at = 1800000000ull;
	acl.expires_at = 1800003600ull;
	for (unsigned i = 4; i < 6; i++)
		if (pn_acl_add_text(&acl, id, NULL, dests[i], "all", NULL) != 0)
			return 1;
	if (pn_acl_encode_unsigned(&acl, pin, &buf, &n) != 0)
		return 1;
	put(argv[1], "fuzz_trust_acl", "connector_body", buf, n);
	free(buf);
	pn_acl_fini(&acl);

	for (unsigned i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "d%u", i);
		put(argv[1], "fuzz_trust_dest", name, dests[i], strlen(dests[i]));
	}
	/* a client credential, PEM and DER */
	{
		struct pn_key *k = NULL;
		char *csr = NULL, *pem = NULL;
		gnutls_x509_crt_t c;
		gnutls_datum_t d, der;

		memset(&info, 0, sizeof(info));
		info.type = PN_CRED_CLIENT;
		strcpy(info.name, "alice-laptop");
		strcpy(info.user, "alice@corp.example");
		if (pn_key_generate(&k) != 0 || pn_key_csr_pem(k, NULL, &csr, &n) != 0 ||
		    pn_cred_issue(ca, csr, &info, 600, 1800000000ull, &pem, NULL) != 0)
			return 1;
		put(argv[1], "fuzz_trust_cert", "client_pem", pem, strlen(pem));
		d.data = (unsigned char *)pem;
		d.size = (unsigned)strlen(pem);
		if (gnutls_x509_crt_init(&c) != 0 ||
		    gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM) != 0 ||
		    gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_DER, &der) != 0)
			return 1;
		put(argv[1], "fuzz_trust_cert", "client_der", der.data, der.size);
		/* CSRs as components send them (pn_key_csr_pem), with and without a CN */
		put(argv[1], "fuzz_trust_csr", "csr", csr, strlen(csr));
		free(csr);
		csr = NULL;
		if (pn_key_csr_pem(k, "edge-1", &csr, &n) != 0)
			return 1;
		put(argv[1], "fuzz_trust_csr", "csr_cn", csr, strlen(csr));
		gnutls_free(der.data);
		gnutls_x509_crt_deinit(c);
		free(pem);
		free(csr);
		pn_key_free(k);
	}
	pn_ca_free(ca);
	return 0;
}
