#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "relay/auth.h"

int pn_relay_auth_open(const struct pn_anchor *a, const struct pn_cred_info *client,
		       const uint8_t connector_id[PN_RELAY_ID_LEN], const uint8_t *acl,
		       size_t acl_len, uint64_t now_s)
{
	struct pn_acl l;
	int r, found = 0;

	pn_acl_init(&l, PN_ACL_CLIENT);
	/* The TLS handshake checked the certificate once; it may have expired since. */
	if (client->type != PN_CRED_CLIENT) {
		r = PN_E_RELAY_BAD_ROLE;
		goto out;
	}
	if (now_s > client->not_after + PN_TRUST_DEFAULT_SKEW) {
		r = PN_E_EXPIRED;
		goto out;
	}
	if ((r = pn_acl_verify(a, acl, acl_len, now_s, &l)))
		goto out;
	if (l.kind != PN_ACL_CLIENT) {
		r = PN_E_WRONG_TYPE;
		goto out;
	}
	if ((r = pn_acl_check_holder(&l, client)))
		goto out;
	for (size_t i = 0; i < l.nnetworks && !found; i++)
		for (unsigned k = 0; k < l.networks[i].nconnectors && !found; k++)
			found = !memcmp(l.networks[i].connectors[k], connector_id, PN_RELAY_ID_LEN);
	r = found ? 0 : PN_E_RELAY_NOT_AUTHORIZED;
out:
	pn_acl_fini(&l);
	return r;
}

int pn_relay_auth_renew(const struct pn_anchor *a, const struct pn_cred_info *current,
			const uint8_t *cert, size_t len, uint64_t now_s, struct pn_cred_info *out)
{
	int r = pn_cred_verify(a, cert, len, current->type, now_s, PN_TRUST_DEFAULT_SKEW, out);

	if (r == 0 && memcmp(out->id, current->id, PN_ID_LEN))
		r = PN_E_WRONG_ID;
	if (r == 0 && pn_ct_memcmp(out->key_fpr, current->key_fpr, PN_FPR_LEN))
		r = PN_E_WRONG_HOLDER;
	if (r)
		memset(out, 0, sizeof(*out));
	return r;
}
