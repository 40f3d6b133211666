/*
 * A person's identity after login: renewal of a user's credential (POST
 * /v1/ctl/renew, enroll.c, calls pn_oidc_renew: the sealed refresh token is
 * used at the IdP; a refusal -- user removed or disabled there, consent
 * revoked -- refuses the renewal) and GET /v1/identities.  The login
 * flows are in oidc_api.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/oidc.h"
#include "controller/oidc_user.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

static int reauth(struct pn_req *r, const char *why)
{
	PN_LOG_INFO("oidc", "renewal_refused", "user=%s reason=\"%s\"", r->principal_id, why);
	return pn_api_error(r, 401, "reauthentication_required",
			    "sign in again (postern client login): %s", why);
}

int pn_oidc_renew(struct pn_req *r, struct pn_cred_info *info)
{
	struct pn_store *s = r->ctl->store;
	struct pn_filter f = {.col = "user_id", .text = r->principal_id};
	json_t *ids = NULL, *ident, *reply = NULL, *set = NULL, *groups = NULL, *cur = NULL;
	char *refresh = NULL, identity_id[33], subject[256];
	int locked = 0;
	const char *sealed, *newrt, *idt;
	struct pn_oidc_provider *p;
	struct pn_oidc_claims c;
	long st = 0;
	int rc, ret = PN_E_API_ANSWERED, changed = 0;

	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	rc = pn_store_list(s, PN_OBJ_IDENTITY, &f, 1, 1, &ids);
	pn_store_rollback(s);
	if (rc)
		return pn_api_store_error(r, rc);
	if (!(ident = json_array_get(ids, 0))) {
		json_decref(ids);
		return 0; /* not an OIDC user: nothing to ask */
	}
	snprintf(identity_id, sizeof(identity_id), "%s",
		 json_string_value(json_object_get(ident, "id")));
	snprintf(subject, sizeof(subject), "%s",
		 json_string_value(json_object_get(ident, "subject")));
	p = pn_oidc_find(r->ctl->oidc, json_string_value(json_object_get(ident, "provider")));
	if (!p) {
		reauth(r, "identity provider no longer configured");
		goto out;
	}
	/* One refresh at a time per provider, reading the token under the
	 * lock: with rotation, two devices of one person renewing at once
	 * would otherwise both spend the same refresh token (and providers
	 * that detect reuse revoke the whole grant). */
	pthread_mutex_lock(&p->refresh_lock);
	locked = 1;
	if ((rc = pn_store_read(s))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	rc = pn_store_get(s, PN_OBJ_IDENTITY, identity_id, &cur);
	pn_store_rollback(s);
	if (rc) {
		reauth(r, "identity gone");
		goto out;
	}
	sealed = json_string_value(json_object_get(cur, "refresh_token"));
	if (!sealed || pn_oidc_unseal(r->ctl->oidc, identity_id, sealed, &refresh)) {
		reauth(r, "no refresh token held for this user");
		goto out;
	}
	if (pn_oidc_discover(p)) {
		pn_api_error(r, 502, "idp_unreachable", "identity provider unreachable");
		goto out;
	}
	{
		const char *params[] = {
		    "grant_type", "refresh_token", "refresh_token", refresh, NULL, NULL};

		if (pn_oidc_post(p, p->token_ep, params, &st, &reply)) {
			pn_api_error(r, 502, "idp_unreachable", "identity provider unreachable");
			goto out;
		}
	}
	if (st != 200) {
		reauth(r, pn_oidc_idp_error(reply));
		goto out;
	}
	newrt = json_string_value(json_object_get(reply, "refresh_token"));
	idt = json_string_value(json_object_get(reply, "id_token"));
	memset(&c, 0, sizeof(c));
	if (idt && (rc = pn_oidc_verify(p, idt, NULL, subject, pn_now(), &c))) {
		reauth(r, pn_strerror(rc));
		goto out;
	}
	if ((rc = pn_store_begin(s))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	set = json_pack("{s:I,s:I}", "last_login", (json_int_t)pn_now(), "reauth_due",
			(json_int_t)(pn_now() + r->ctl->cred_ttl));
	if (set && newrt) {
		char *ns = NULL;

		if (pn_oidc_seal(r->ctl->oidc, identity_id, newrt, &ns) == 0)
			json_object_set_new(set, "refresh_token", json_string(ns));
		free(ns);
	}
	if (set && idt) {
		char *gt;

		groups = json_array();
		for (unsigned i = 0; groups && i < c.ngroups; i++)
			json_array_append_new(groups, json_string(c.groups[i]));
		if (groups && (gt = json_dumps(groups, JSON_COMPACT))) {
			json_object_set_new(set, "idp_groups", json_string(gt));
			free(gt);
		}
	}
	rc = set ? pn_store_update(s, PN_OBJ_IDENTITY, identity_id, set) : -ENOMEM;
	if (!rc && idt)
		rc = pn_oidc_sync_groups(r, identity_id, r->principal_id, &c, &changed);
	if (!rc && changed)
		rc = pn_api_changed(r, "sync_groups", "user", r->principal_id, NULL, NULL);
	if (!rc)
		rc = pn_oidc_user_groups(r, r->principal_id, info);
	if (rc) {
		pn_store_rollback(s);
		pn_api_store_error(r, rc);
		goto out;
	}
	if ((rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	PN_LOG_INFO("oidc", "renewed", "provider=%s user=%s groups=%u changed=%d", p->name,
		    r->principal_id, info->ngroups, changed);
	ret = 0;
out:
	if (locked)
		pthread_mutex_unlock(&p->refresh_lock);
	json_decref(cur);
	if (refresh)
		pn_wipe(refresh, strlen(refresh));
	free(refresh);
	if (reply)
		json_object_clear(reply);
	json_decref(reply);
	json_decref(ids);
	json_decref(set);
	json_decref(groups);
	return ret;
}

/* GET /v1/identities[?user=ID]: who signed in through which provider, the
 * groups the IdP sent, last login, and until when the IdP last vouched
 * (reauth_due: the expiry of the latest credential; later access needs a
 * successful refresh at the IdP or a new login). */
int pn_oidc_identities(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	const char *user = pn_api_query(r, "user");
	struct pn_filter f = {.col = "user_id", .text = user};
	json_t *rows = NULL, *out = json_array(), *row;
	size_t i;
	int rc;

	if (!out)
		return pn_api_error(r, 500, "internal", "out of memory");
	if (user && strlen(user) > 64) {
		json_decref(out);
		return pn_api_error(r, 400, "invalid_query", "user: an id");
	}
	if ((rc = pn_store_read(s))) {
		json_decref(out);
		return pn_api_store_error(r, rc);
	}
	rc = pn_store_list(s, PN_OBJ_IDENTITY, user ? &f : NULL, user ? 1 : 0, PN_API_LIST_MAX,
			   &rows);
	json_array_foreach(rows, i, row)
	{
		json_t *pub = pn_store_public_row(PN_OBJ_IDENTITY, row), *u = NULL;
		json_t *g =
		    json_loads(json_string_value(json_object_get(row, "idp_groups")), 0, NULL);

		if (!pub) {
			json_decref(g);
			continue;
		}
		json_object_set_new(pub, "idp_groups", g ? g : json_array());
		if (pn_store_get(s, PN_OBJ_USER, json_string_value(json_object_get(row, "user_id")),
				 &u) == 0) {
			json_object_set(pub, "user_name", json_object_get(u, "name"));
			json_object_set(pub, "disabled", json_object_get(u, "disabled"));
		}
		json_decref(u);
		json_array_append_new(out, pub);
	}
	pn_store_rollback(s);
	json_decref(rows);
	if (rc) {
		json_decref(out);
		return pn_api_store_error(r, rc);
	}
	return pn_api_ok(r, 200, json_pack("{s:o}", "identities", out));
}
