#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "testpki.h"
#include "trust/key.h"

int tpki_issue(struct pn_ca *ca, enum pn_cred_type type, const char *name, uint64_t now,
	       uint64_t lifetime, struct tpki_cred *out)
{
	struct pn_cred_info info;
	struct pn_key *k = NULL;
	char *csr = NULL;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&info, 0, sizeof(info));
	info.type = type;
	snprintf(info.name, sizeof(info.name), "%s", name);
	if (type == PN_CRED_CLIENT) {
		snprintf(info.user, sizeof(info.user), "alice@example.test");
		info.ngroups = 1;
		snprintf(info.groups[0], sizeof(info.groups[0]), "eng");
	}
	info.policy_version = 1;
	if ((r = pn_id_random(info.id)) || (r = pn_key_generate(&k)) ||
	    (r = pn_key_csr_pem(k, name, &csr, &n)) ||
	    (r = pn_cred_issue(ca, csr, &info, lifetime, now, &out->cert_pem, &out->info)) ||
	    (r = pn_key_export_pem(k, &out->key_pem, &n)))
		goto out;
out:
	free(csr);
	pn_key_free(k);
	if (r)
		tpki_cred_free(out);
	return r;
}

int tpki_reissue(struct pn_ca *ca, const struct tpki_cred *old, int new_key, uint64_t now,
		 uint64_t lifetime, struct tpki_cred *out)
{
	struct pn_cred_info info = old->info;
	struct pn_key *k = NULL;
	char *csr = NULL;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = new_key ? pn_key_generate(&k)
			 : pn_key_load_pem_mem(old->key_pem, strlen(old->key_pem), &k)) ||
	    (r = pn_key_csr_pem(k, info.name, &csr, &n)) ||
	    (r = pn_cred_issue(ca, csr, &info, lifetime, now, &out->cert_pem, &out->info)) ||
	    (r = pn_key_export_pem(k, &out->key_pem, &n)))
		goto out;
out:
	free(csr);
	pn_key_free(k);
	if (r)
		tpki_cred_free(out);
	return r;
}

void tpki_cred_free(struct tpki_cred *c)
{
	free(c->cert_pem);
	if (c->key_pem)
		pn_key_pem_free(c->key_pem, strlen(c->key_pem));
	memset(c, 0, sizeof(*c));
}

int tpki_client_acl(struct pn_ca *ca, const struct pn_cred_info *holder,
		    const uint8_t connector[PN_ID_LEN], uint64_t issued, uint64_t expires,
		    uint8_t **out, size_t *len)
{
	uint8_t res[PN_ID_LEN], net[PN_ID_LEN];
	struct pn_acl acl;
	int r;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	memcpy(acl.holder_id, holder->id, PN_ID_LEN);
	memcpy(acl.holder_fpr, holder->key_fpr, PN_FPR_LEN);
	acl.version = 1;
	acl.issued_at = issued;
	acl.expires_at = expires;
	if ((r = pn_id_random(res)) || (r = pn_id_random(net)) ||
	    (r = pn_acl_add_text(&acl, res, net, "10.0.0.0/24", "tcp", "22,443")) ||
	    (r = pn_acl_add_network(&acl, net, (const uint8_t(*)[PN_ID_LEN])connector, 1)) ||
	    (r = pn_acl_sign(ca, &acl, out, len)))
		goto out;
out:
	pn_acl_fini(&acl);
	return r;
}
