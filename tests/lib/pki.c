/* The one test PKI (see pki.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "pki.h"
#include "trust/key.h"

static int issue_key(struct pn_ca *ca, const struct pn_key *k, struct pn_cred_info *info,
		     uint64_t now, uint64_t lifetime, struct tpki_cred *out)
{
	char *csr = NULL;
	size_t n;
	int r;

	if ((r = pn_key_csr_pem(k, info->name, &csr, &n)) ||
	    (r = pn_cred_issue(ca, csr, info, lifetime, now, &out->cert_pem, &out->info)) ||
	    (r = pn_key_export_pem(k, &out->key_pem, &n)))
		tpki_cred_free(out);
	free(csr);
	return r;
}

int tpki_issue_key(struct pn_ca *ca, const struct pn_key *key, enum pn_cred_type type,
		   const char *name, const uint8_t *id, uint64_t now, uint64_t lifetime,
		   struct tpki_cred *out)
{
	struct pn_cred_info info;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&info, 0, sizeof(info));
	info.type = type;
	snprintf(info.name, sizeof(info.name), "%s", name);
	if (type == PN_CRED_CLIENT) {
		snprintf(info.user, sizeof(info.user), "%s@test", name);
		info.ngroups = 1;
		snprintf(info.groups[0], sizeof(info.groups[0]), "eng");
	}
	info.policy_version = 1;
	if (id)
		memcpy(info.id, id, PN_ID_LEN);
	else if ((r = pn_id_random(info.id)))
		return r;
	return issue_key(ca, key, &info, now, lifetime, out);
}

int tpki_issue_id(struct pn_ca *ca, enum pn_cred_type type, const char *name, const uint8_t *id,
		  uint64_t now, uint64_t lifetime, struct tpki_cred *out)
{
	struct pn_key *k = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = pn_key_generate(&k)))
		return r;
	r = tpki_issue_key(ca, k, type, name, id, now, lifetime, out);
	pn_key_free(k);
	return r;
}

int tpki_issue(struct pn_ca *ca, enum pn_cred_type type, const char *name, uint64_t now,
	       uint64_t lifetime, struct tpki_cred *out)
{
	return tpki_issue_id(ca, type, name, NULL, now, lifetime, out);
}

int tpki_reissue(struct pn_ca *ca, const struct tpki_cred *old, int new_key, uint64_t now,
		 uint64_t lifetime, struct tpki_cred *out)
{
	struct pn_cred_info info = old->info;
	struct pn_key *k = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = new_key ? pn_key_generate(&k)
			 : pn_key_load_pem_mem(old->key_pem, strlen(old->key_pem), &k)))
		return r;
	r = issue_key(ca, k, &info, now, lifetime, out);
	pn_key_free(k);
	return r;
}

void tpki_cred_free(struct tpki_cred *c)
{
	free(c->cert_pem);
	if (c->key_pem)
		pn_key_pem_free(c->key_pem, strlen(c->key_pem));
	memset(c, 0, sizeof(*c));
}

int tpki_key(const struct tpki_cred *c, struct pn_key **out)
{
	return pn_key_load_pem_mem(c->key_pem, strlen(c->key_pem), out);
}

int tpki_tls(const struct tpki_cred *c, const struct pn_anchor *a,
	     gnutls_certificate_credentials_t *out)
{
	struct pn_key *k = NULL;
	int r;

	if ((r = tpki_key(c, &k)))
		return r;
	r = pn_cred_tls_credentials(k, c->cert_pem, a, out);
	pn_key_free(k);
	return r;
}

int tpki_sign_acl(struct pn_ca *ca, struct pn_acl *acl, const struct pn_cred_info *holder,
		  uint64_t version, uint64_t issued, uint64_t expires, uint8_t **out, size_t *len)
{
	memcpy(acl->holder_id, holder->id, PN_ID_LEN);
	memcpy(acl->holder_fpr, holder->key_fpr, PN_FPR_LEN);
	acl->version = version;
	acl->issued_at = issued;
	acl->expires_at = expires;
	return pn_acl_sign(ca, acl, out, len);
}

int tpki_client_acl(struct pn_ca *ca, const struct pn_cred_info *holder,
		    const uint8_t connector[PN_ID_LEN], uint64_t issued, uint64_t expires,
		    uint8_t **out, size_t *len)
{
	uint8_t res[PN_ID_LEN], net[PN_ID_LEN];
	struct pn_acl acl;
	int r;

	pn_acl_init(&acl, PN_ACL_CLIENT);
	if ((r = pn_id_random(res)) || (r = pn_id_random(net)) ||
	    (r = pn_acl_add_text(&acl, res, net, "10.0.0.0/24", "tcp", "22,443")) ||
	    (r = pn_acl_add_network(&acl, net, (const uint8_t(*)[PN_ID_LEN])connector, 1)) ||
	    (r = tpki_sign_acl(ca, &acl, holder, 1, issued, expires, out, len)))
		goto out;
out:
	pn_acl_fini(&acl);
	return r;
}

static int mkdirs(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		int r = mkdir(path, 0700) && errno != EEXIST ? -errno : 0;
		*p = '/';
		if (r)
			return r;
	}
	return 0;
}

int tpki_put(const char *path, const void *p, size_t n)
{
	char tmp[4096];
	FILE *f;
	int r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	if ((r = mkdirs(tmp)))
		return r;
	if (!(f = fopen(path, "wb")))
		return -errno;
	r = fwrite(p, 1, n, f) == n ? 0 : -EIO;
	if (fclose(f) && !r)
		r = -errno;
	if (!r && chmod(path, 0600))
		r = -errno;
	return r;
}

static int put_in(const char *dir, const char *name, const char *text)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	return tpki_put(path, text, strlen(text));
}

int tpki_put_cred_dir(const char *dir, const struct tpki_cred *c, const struct pn_ca *ca)
{
	char hex[PN_ID_HEX_LEN + 2];
	int r;

	pn_id_hex(c->info.id, hex);
	strcat(hex, "\n");
	if ((r = put_in(dir, "key.pem", c->key_pem)) ||
	    (r = put_in(dir, "cert.pem", c->cert_pem)) || (r = put_in(dir, "id", hex)))
		return r;
	return ca ? put_in(dir, "ca.crt", pn_ca_cert_pem(ca)) : 0;
}
