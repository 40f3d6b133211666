/* Component identity: CA pin, key, credential.  See ident.h. */
#include "node/ident.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/file.h"
#include "core/secret.h"
#include "trust/ca.h"

static int path_of(char *dst, const char *given, const char *dir, const char *name)
{
	int n;

	if (given)
		n = snprintf(dst, PN_NODE_PATH_MAX, "%s", given);
	else if (dir)
		n = snprintf(dst, PN_NODE_PATH_MAX, "%s/%s", dir, name);
	else
		return PN_E_INVAL;
	return n < 0 || n >= PN_NODE_PATH_MAX ? PN_E_TOOBIG : 0;
}

/* Free what was loaded; the paths stay (for the caller's messages). */
static void release(struct pn_node_ident *id)
{
	pn_anchor_free(id->anchor);
	pn_key_free(id->key);
	free(id->ca_pem);
	free(id->cert_pem);
	pn_wipe_free_str(id->key_pem);
	id->anchor = NULL;
	id->key = NULL;
	id->ca_pem = id->cert_pem = id->key_pem = NULL;
}

void pn_node_ident_free(struct pn_node_ident *id)
{
	if (!id)
		return;
	release(id);
	memset(id, 0, sizeof(*id));
}

int pn_node_ident_load(struct pn_node_ident *id, enum pn_cred_type type, const char *state_dir,
		       const char *ca, const char *cert, const char *key, uint64_t now,
		       const char **failed)
{
	size_t len;
	int r;

	memset(id, 0, sizeof(*id));
	id->type = type;
	*failed = NULL;
	if ((r = path_of(id->ca_path, ca, state_dir, "ca.crt")) ||
	    (r = path_of(id->cert_path, cert, state_dir, "cert.pem")) ||
	    (r = path_of(id->key_path, key, state_dir, "key.pem")))
		goto out;
	*failed = id->ca_path;
	if ((r = pn_file_read(id->ca_path, PN_CA_CERT_PEM_MAX, &id->ca_pem, &len)) ||
	    (r = pn_anchor_new(id->ca_pem, len, &id->anchor)))
		goto out;
	*failed = id->key_path;
	if ((r = pn_file_read(id->key_path, PN_KEY_PEM_MAX, &id->key_pem, &len)) ||
	    (r = pn_key_load_pem_mem(id->key_pem, len, &id->key)) ||
	    (r = pn_key_fingerprint(id->key, id->key_fpr)))
		goto out;
	*failed = id->cert_path;
	if ((r = pn_file_read(id->cert_path, PN_CRED_PEM_MAX, &id->cert_pem, &len)))
		goto out;
	/* Any other problem with the credential (expiry, CA, type) is the
	 * role's to report; one that certifies another key is refused here,
	 * or every handshake would fail later. */
	id->verify_err = pn_cred_verify(id->anchor, id->cert_pem, len, type, now,
					PN_TRUST_DEFAULT_SKEW, &id->ci);
	id->ci_valid = id->verify_err == 0;
	if (id->ci_valid && memcmp(id->ci.key_fpr, id->key_fpr, PN_FPR_LEN) != 0) {
		r = PN_E_WRONG_HOLDER;
		goto out;
	}
	if (!id->ci_valid)
		memset(&id->ci, 0, sizeof(id->ci));
	else
		pn_node_ident_set_id(id, id->ci.id);
	*failed = NULL;
	r = 0;
out:
	if (r)
		release(id);
	return r;
}

int pn_node_ident_check_new(const struct pn_node_ident *id, const char *cert_pem, uint64_t now,
			    struct pn_cred_info *ci)
{
	int r = pn_cred_verify(id->anchor, cert_pem, strlen(cert_pem), id->type, now,
			       PN_TRUST_DEFAULT_SKEW, ci);

	if (r)
		return r;
	if (memcmp(ci->key_fpr, id->key_fpr, PN_FPR_LEN) != 0 || !id->id_known ||
	    memcmp(ci->id, id->self_id, PN_ID_LEN) != 0)
		return PN_E_WRONG_HOLDER;
	if (id->ci_valid && ci->not_after <= id->ci.not_after)
		return PN_E_NODE_NOT_NEWER;
	return 0;
}

void pn_node_ident_set_id(struct pn_node_ident *id, const uint8_t self_id[PN_ID_LEN])
{
	memcpy(id->self_id, self_id, PN_ID_LEN);
	id->id_known = 1;
}

void pn_node_ident_adopt(struct pn_node_ident *id, char *cert_pem, const struct pn_cred_info *ci)
{
	free(id->cert_pem);
	id->cert_pem = cert_pem;
	id->ci = *ci;
	id->ci_valid = 1;
	id->verify_err = 0;
}
