/*
 * A CSR as the controller receives it in an enrollment, login or renewal
 * body (PEM PKCS#10): pn_cred_issue parses it, checks its self-signature
 * (proof of possession) and Ed25519 key, and signs a credential.  Whatever
 * it accepts must give a credential that verifies under the CA, of the
 * requested type and id, for the CSR's key.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "trust/ca.h"
#include "trust/cred.h"

#define NOW 1800000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pn_ca *ca; /* harness state: set once */
static struct pn_anchor *anchor;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_cred_info info, got, ver;
	char *csr, *pem = NULL;
	int rc;

	if (!ca && (pn_ca_new(NOW - 100, &ca) != 0 || pn_anchor_from_ca(ca, &anchor) != 0))
		abort();
	if (size > PN_CRED_PEM_MAX + 16 || !(csr = malloc(size + 1)))
		return 0;
	memcpy(csr, data, size);
	csr[size] = '\0';
	memset(&info, 0, sizeof(info));
	info.type = PN_CRED_CONNECTOR;
	info.id[0] = 0x42;
	strcpy(info.name, "conn-1");
	rc = pn_cred_issue(ca, csr, &info, 600, NOW, &pem, &got);
	if (rc == 0) {
		if (pn_cred_verify(anchor, pem, strlen(pem), PN_CRED_CONNECTOR, NOW, 60, &ver) !=
			0 ||
		    memcmp(ver.id, info.id, PN_ID_LEN) ||
		    memcmp(ver.key_fpr, got.key_fpr, PN_FPR_LEN))
			abort();
	} else if (rc != PN_E_MALFORMED && rc != PN_E_SIGNATURE && rc != PN_E_UNSUPPORTED &&
		   rc != PN_E_INVAL && rc != -ENOMEM) {
		abort(); /* the controller maps only these to 400 (enroll.c) */
	}
	free(pem);
	free(csr);
	return 0;
}
