#ifndef PN_CONTROLLER_OIDC_USER_H
#define PN_CONTROLLER_OIDC_USER_H
/* Users behind OIDC logins (oidc_user.c); all inside a write transaction. */
#include "controller/api.h"
#include "controller/oidc.h"

struct pn_oidc_user {
	char user_id[33], identity_id[33];
	char name[PN_API_NAME_MAX + 1];
	int created, disabled, groups_changed;
};

/*
 * Find or create the user for (p->issuer, c->sub); refresh email, display
 * name and idp_groups; seal and store refresh_token when not NULL;
 * synchronise group memberships from c->groups.  Store errors, -ENOMEM,
 * PN_E_STORE_CONFLICT (no free user name).
 */
int pn_oidc_user_upsert(struct pn_req *r, const struct pn_oidc_provider *p,
			const struct pn_oidc_claims *c, const char *refresh_token,
			struct pn_oidc_user *u);

/* Memberships of identity_id/user_id follow c->groups; *changed = 1 if any
 * membership was added or removed. */
int pn_oidc_sync_groups(struct pn_req *r, const char *identity_id, const char *user_id,
			const struct pn_oidc_claims *c, int *changed);

/* info->groups = the user's group names (at most PN_GROUPS_MAX). */
int pn_oidc_user_groups(struct pn_req *r, const char *user_id, struct pn_cred_info *info);
#endif
