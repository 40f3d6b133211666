/*
 * People behind OIDC logins: the user row for (issuer, sub), created on
 * first login, and group memberships synchronised from the groups claim.
 *
 * - A user is keyed by (issuer, subject) only, never by email or name, so
 *   an IdP account cannot take over a local user or another provider's.
 *   Its Postern name comes from preferred_username / email (restricted to
 *   the name charset); a clash gets a suffix derived from issuer + sub.
 * - Groups: the claim's names that match an existing Postern group become
 *   memberships, marked in idp_memberships; marked memberships whose group
 *   left the claim are removed.  Memberships an admin added are never
 *   touched.  Claim names without a Postern group are kept (idp_groups) for
 *   display only: the IdP cannot create groups.
 *
 * Everything here runs inside the caller's write transaction.
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

static int name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '@' || c == '-';
}

/* A Postern user name for these claims: free, or 409. */
static int pick_name(struct pn_store *s, const char *issuer, const struct pn_oidc_claims *c,
		     char out[PN_API_NAME_MAX + 1])
{
	const char *base = c->preferred_username[0] ? c->preferred_username
			   : c->email[0]	    ? c->email
						    : "user";
	char hash[65], id_text[1024];
	json_t *row = NULL;
	size_t n = 0;
	int rc;

	for (const char *p = base; *p && n < 40; p++)
		out[n++] = name_char(*p) ? *p : '-';
	out[n] = '\0';
	if (n == 0)
		snprintf(out, PN_API_NAME_MAX + 1, "user");
	rc = pn_store_get_by(s, PN_OBJ_USER, "name", out, &row);
	json_decref(row);
	if (rc == PN_E_STORE_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	snprintf(id_text, sizeof(id_text), "%s\n%s", issuer, c->sub);
	if ((rc = pn_store_hash_hex(id_text, strlen(id_text), hash)))
		return rc;
	n = strlen(out);
	snprintf(out + n, PN_API_NAME_MAX + 1 - n, "-%.8s", hash);
	row = NULL;
	rc = pn_store_get_by(s, PN_OBJ_USER, "name", out, &row);
	json_decref(row);
	return rc == PN_E_STORE_NOTFOUND ? 0 : rc ? rc : PN_E_STORE_CONFLICT;
}

static json_t *groups_json(const struct pn_oidc_claims *c)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < c->ngroups; i++)
		json_array_append_new(a, json_string(c->groups[i]));
	return a;
}

int pn_oidc_sync_groups(struct pn_req *r, const char *identity_id, const char *user_id,
			const struct pn_oidc_claims *c, int *changed)
{
	struct pn_store *s = r->ctl->store;
	struct pn_filter f = {.col = "identity_id", .text = identity_id};
	json_t *marks = NULL, *m, *want = json_object();
	const char *gid;
	size_t i;
	int rc = -ENOMEM;

	*changed = 0;
	if (!want)
		return -ENOMEM;
	/* want: Postern group id -> 1 for every claim group that exists */
	for (unsigned k = 0; k < c->ngroups; k++) {
		json_t *g = NULL;

		rc = pn_store_get_by(s, PN_OBJ_GROUP, "name", c->groups[k], &g);
		if (rc == 0 && (gid = json_string_value(json_object_get(g, "id"))))
			json_object_set_new(want, gid, json_true());
		json_decref(g);
		if (rc && rc != PN_E_STORE_NOTFOUND)
			goto out;
	}
	if ((rc = pn_store_list(s, PN_OBJ_IDP_MEMBERSHIP, &f, 1, 0, &marks)))
		goto out;
	json_array_foreach(marks, i, m)
	{
		const char *mid = json_string_value(json_object_get(m, "membership_id"));
		json_t *mem = NULL;

		if ((rc = pn_store_get(s, PN_OBJ_MEMBERSHIP, mid, &mem)))
			goto out;
		gid = json_string_value(json_object_get(mem, "group_id"));
		if (gid && json_object_get(want, gid)) {
			json_object_del(want, gid); /* still wanted, already there */
		} else if ((rc = pn_store_remove(s, PN_OBJ_MEMBERSHIP, mid))) {
			json_decref(mem);
			goto out;
		} else {
			*changed = 1;
		}
		json_decref(mem);
	}
	{
		void *tmp;
		const char *key;
		json_t *v;

		json_object_foreach_safe(want, tmp, key, v)
		{
			struct pn_filter mf[2] = {{.col = "group_id", .text = key},
						  {.col = "user_id", .text = user_id}};
			json_t *have = NULL, *row = NULL;
			char id[33];

			if ((rc = pn_store_list(s, PN_OBJ_MEMBERSHIP, mf, 2, 1, &have)))
				goto out;
			if (json_array_size(have)) { /* an admin's membership: leave it */
				json_decref(have);
				continue;
			}
			json_decref(have);
			if ((rc = pn_store_new_id(id)))
				goto out;
			row = json_pack("{s:s,s:s,s:s,s:I}", "id", id, "group_id", key, "user_id",
					user_id, "created", (json_int_t)pn_now());
			rc = row ? pn_store_insert(s, PN_OBJ_MEMBERSHIP, row) : -ENOMEM;
			json_decref(row);
			if (rc)
				goto out;
			row = json_pack("{s:s,s:s,s:I}", "membership_id", id, "identity_id",
					identity_id, "created", (json_int_t)pn_now());
			rc = row ? pn_store_insert(s, PN_OBJ_IDP_MEMBERSHIP, row) : -ENOMEM;
			json_decref(row);
			if (rc)
				goto out;
			*changed = 1;
		}
	}
	rc = 0;
out:
	json_decref(marks);
	json_decref(want);
	return rc;
}

int pn_oidc_user_upsert(struct pn_req *r, const struct pn_oidc_provider *p,
			const struct pn_oidc_claims *c, const char *refresh_token,
			struct pn_oidc_user *u)
{
	char prev_provider[sizeof(p->name)] = "";
	struct pn_store *s = r->ctl->store;
	struct pn_filter f[2] = {{.col = "issuer", .text = p->issuer},
				 {.col = "subject", .text = c->sub}};
	json_t *ids = NULL, *ident, *row = NULL, *set = NULL, *groups = groups_json(c);
	char *sealed = NULL, *gtext = NULL;
	int rc, changed = 0;

	memset(u, 0, sizeof(*u));
	if (!groups || !(gtext = json_dumps(groups, JSON_COMPACT))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = pn_store_list(s, PN_OBJ_IDENTITY, f, 2, 1, &ids)))
		goto out;
	ident = json_array_get(ids, 0);
	if (ident) {
		snprintf(prev_provider, sizeof(prev_provider), "%s",
			 json_string_value(json_object_get(ident, "provider")));
		snprintf(u->identity_id, sizeof(u->identity_id), "%s",
			 json_string_value(json_object_get(ident, "id")));
		snprintf(u->user_id, sizeof(u->user_id), "%s",
			 json_string_value(json_object_get(ident, "user_id")));
	} else {
		/* first login: a new user and its identity */
		if ((rc = pn_store_new_id(u->user_id)) || (rc = pn_store_new_id(u->identity_id)) ||
		    (rc = pick_name(s, p->issuer, c, u->name)))
			goto out;
		row = json_pack("{s:s,s:s,s:s?,s:i,s:I}", "id", u->user_id, "name", u->name,
				"email", c->email[0] ? c->email : NULL, "disabled", 0, "created",
				(json_int_t)pn_now());
		if (!row || (rc = pn_store_insert(s, PN_OBJ_USER, row)))
			goto out_nomem;
		json_decref(row);
		row = json_pack(
		    "{s:s,s:s,s:s,s:s,s:s,s:s?,s:s?,s:s,s:I,s:I,s:I}", "id", u->identity_id,
		    "user_id", u->user_id, "provider", p->name, "issuer", p->issuer, "subject",
		    c->sub, "email", c->email[0] ? c->email : NULL, "display_name",
		    c->name[0] ? c->name : NULL, "idp_groups", gtext, "reauth_due", (json_int_t)0,
		    "last_login", (json_int_t)pn_now(), "created", (json_int_t)pn_now());
		if (!row || (rc = pn_store_insert(s, PN_OBJ_IDENTITY, row)))
			goto out_nomem;
		json_decref(row);
		row = NULL;
		u->created = 1;
		PN_LOG_INFO("oidc", "user_created", "provider=%s user=%s name=%s", p->name,
			    u->user_id, u->name);
	}
	if ((rc = pn_store_get(s, PN_OBJ_USER, u->user_id, &row)))
		goto out;
	snprintf(u->name, sizeof(u->name), "%s", json_string_value(json_object_get(row, "name")));
	u->disabled = json_integer_value(json_object_get(row, "disabled")) != 0;
	set = json_pack("{s:s?,s:s?,s:s,s:I}", "email", c->email[0] ? c->email : NULL,
			"display_name", c->name[0] ? c->name : NULL, "idp_groups", gtext,
			"last_login", (json_int_t)pn_now());
	if (!set) {
		rc = -ENOMEM;
		goto out;
	}
	/* The refresh token belongs to the client registration it was issued
	 * to: several configured providers may share one issuer (one
	 * identity), so the identity follows the provider of its latest
	 * login, and the token without one is dropped. */
	json_object_set_new(set, "provider", json_string(p->name));
	if (refresh_token) {
		if ((rc = pn_oidc_seal(r->ctl->oidc, u->identity_id, refresh_token, &sealed)))
			goto out;
		json_object_set_new(set, "refresh_token", json_string(sealed));
	} else if (strcmp(prev_provider, p->name)) {
		json_object_set_new(set, "refresh_token", json_null());
	}
	if ((rc = pn_store_update(s, PN_OBJ_IDENTITY, u->identity_id, set)))
		goto out;
	if ((rc = pn_oidc_sync_groups(r, u->identity_id, u->user_id, c, &changed)))
		goto out;
	u->groups_changed = changed;
	goto out;
out_nomem:
	if (!rc)
		rc = -ENOMEM;
out:
	if (sealed)
		pn_wipe(sealed, strlen(sealed));
	free(sealed);
	free(gtext);
	json_decref(groups);
	json_decref(ids);
	json_decref(row);
	json_decref(set);
	return rc;
}

int pn_oidc_user_groups(struct pn_req *r, const char *user_id, struct pn_cred_info *info)
{
	struct pn_store *s = r->ctl->store;
	struct pn_filter f = {.col = "user_id", .text = user_id};
	json_t *mems = NULL, *m;
	size_t i;
	int rc;

	info->ngroups = 0;
	if ((rc = pn_store_list(s, PN_OBJ_MEMBERSHIP, &f, 1, PN_GROUPS_MAX, &mems)))
		return rc;
	json_array_foreach(mems, i, m)
	{
		json_t *g = NULL;

		if (pn_store_get(s, PN_OBJ_GROUP, json_string_value(json_object_get(m, "group_id")),
				 &g) == 0 &&
		    info->ngroups < PN_GROUPS_MAX)
			snprintf(info->groups[info->ngroups++], sizeof(info->groups[0]), "%s",
				 json_string_value(json_object_get(g, "name")));
		json_decref(g);
	}
	json_decref(mems);
	return 0;
}
