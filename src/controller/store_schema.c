/*
 * The static shape of every stored object kind.  Generic CRUD in the back
 * ends builds SQL only from these tables, never from request input.  The
 * SQL DDL lives with each back end's migrations (store_migrate_sqlite.c);
 * keep both in step.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "controller/store.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/secret.h"

#define R PN_COL_REQUIRED
#define S PN_COL_SECRET
#define M PN_COL_MUTABLE
#define T PN_COL_TEXT
#define I PN_COL_INT
#define N(a) (unsigned)(sizeof(a) / sizeof(a[0]))

static const struct pn_col network_cols[] = {
	{"id", T, R}, {"name", T, R | M}, {"created", I, R},
};
static const struct pn_col resource_cols[] = {
	{"id", T, R},	   {"name", T, R | M},	    {"network_id", T, R},
	{"address", T, R | M}, {"protocols", T, R | M}, {"created", I, R},
};
static const struct pn_col group_cols[] = {
	{"id", T, R}, {"name", T, R | M}, {"created", I, R},
};
static const struct pn_col user_cols[] = {
	{"id", T, R}, {"name", T, R | M}, {"email", T, M}, {"disabled", I, R | M}, {"created", I, R},
};
static const struct pn_col sa_cols[] = {
	{"id", T, R}, {"name", T, R | M}, {"disabled", I, R | M}, {"created", I, R},
};
static const struct pn_col membership_cols[] = {
	{"id", T, R},
	{"group_id", T, R},
	{"user_id", T, 0},
	{"service_account_id", T, 0},
	{"created", I, R},
};
static const struct pn_col policy_cols[] = {
	{"id", T, R}, {"group_id", T, R}, {"resource_id", T, R}, {"created", I, R},
};
static const struct pn_col connector_cols[] = {
	{"id", T, R},	    {"name", T, R | M}, {"network_id", T, R},
	{"enrolled", I, R | M}, {"revoked", I, R | M}, {"created", I, R},
};
static const struct pn_col relay_cols[] = {
	{"id", T, R},	  {"name", T, R | M},	  {"udp", T, M},     {"tls", T, M},
	{"ws", T, M},	  {"enrolled", I, R | M}, {"revoked", I, R | M}, {"created", I, R},
};
static const struct pn_col admin_key_cols[] = {
	{"id", T, R},	    {"name", T, R},	 {"role", T, R},
	{"hash", T, R | S}, {"revoked", I, R | M}, {"created", I, R},
};
static const struct pn_col sa_key_cols[] = {
	{"id", T, R},	    {"service_account_id", T, R}, {"hash", T, R | S},
	{"revoked", I, R | M}, {"created", I, R},
};
static const struct pn_col credential_cols[] = {
	{"serial", T, R},     {"cred_id", T, R},   {"type", T, R},	  {"holder_kind", T, R},
	{"holder_id", T, R},  {"name", T, R},	   {"key_fp", T, R},	  {"not_after", I, R},
	{"revoked", I, R | M}, {"issued", I, R},
};
static const struct pn_col token_cols[] = {
	{"hash", T, R | S}, {"kind", T, R},    {"target_id", T, R},
	{"expires", I, R},  {"used", I, R | M}, {"created", I, R},
};
/* OIDC (migration 2).  refresh_token: AES-256-GCM sealed (oidc_seal.c). */
static const struct pn_col identity_cols[] = {
	{"id", T, R},	       {"user_id", T, R},	  {"provider", T, R | M},
	{"issuer", T, R},      {"subject", T, R},	  {"email", T, M},
	{"display_name", T, M}, {"idp_groups", T, R | M}, {"refresh_token", T, S | M},
	{"reauth_due", I, R | M}, {"last_login", I, R | M}, {"created", I, R},
};
static const struct pn_col oidc_flow_cols[] = {
	{"id", T, R},	     {"kind", T, R},	     {"purpose", T, R},
	{"provider", T, R},   {"nonce", T, S},	     {"challenge", T, S},
	{"redirect_uri", T, 0}, {"device_code", T, S}, {"expires", I, R},
	{"used", I, R | M},   {"created", I, R},
};
static const struct pn_col idp_membership_cols[] = {
	{"membership_id", T, R}, {"identity_id", T, R}, {"created", I, R},
};
static const struct pn_col admin_session_cols[] = {
	{"id", T, R},	    {"hash", T, R | S},	 {"user_id", T, R},
	{"expires", I, R}, {"revoked", I, R | M}, {"created", I, R},
};
/* Console (migration 3).  principal: the admin key or admin session the
 * browser signed in with, checked again on every request. */
static const struct pn_col console_session_cols[] = {
	{"id", T, R},	   {"hash", T, R | S},	 {"principal_kind", T, R}, {"principal_id", T, R},
	{"role", T, R},	   {"actor", T, R},	 {"expires", I, R},	   {"revoked", I, R | M},
	{"created", I, R},
};
/* version .. reported: the component's last status report (migration 4). */
static const struct pn_col presence_cols[] = {
	{"holder_id", T, R},   {"kind", T, R},	      {"last_seen", I, R | M},
	{"created", I, R},     {"version", T, M},     {"paths_direct", I, M},
	{"paths_relay", I, M}, {"reported", I, M},
};

static const struct pn_objdesc descs[PN_OBJ_COUNT_] = {
	[PN_OBJ_NETWORK] = {"networks", "id", "name", network_cols, N(network_cols)},
	[PN_OBJ_RESOURCE] = {"resources", "id", "name", resource_cols, N(resource_cols)},
	[PN_OBJ_GROUP] = {"groups", "id", "name", group_cols, N(group_cols)},
	[PN_OBJ_USER] = {"users", "id", "name", user_cols, N(user_cols)},
	[PN_OBJ_SERVICE_ACCOUNT] = {"service_accounts", "id", "name", sa_cols, N(sa_cols)},
	[PN_OBJ_MEMBERSHIP] = {"memberships", "id", "created", membership_cols,
			       N(membership_cols)},
	[PN_OBJ_POLICY] = {"policies", "id", "created", policy_cols, N(policy_cols)},
	[PN_OBJ_CONNECTOR] = {"connectors", "id", "name", connector_cols, N(connector_cols)},
	[PN_OBJ_RELAY] = {"relays", "id", "name", relay_cols, N(relay_cols)},
	[PN_OBJ_ADMIN_KEY] = {"admin_keys", "id", "created", admin_key_cols, N(admin_key_cols)},
	[PN_OBJ_SA_KEY] = {"sa_keys", "id", "created", sa_key_cols, N(sa_key_cols)},
	[PN_OBJ_CREDENTIAL] = {"credentials", "serial", "issued", credential_cols,
			       N(credential_cols)},
	[PN_OBJ_ENROLL_TOKEN] = {"enroll_tokens", "hash", "created", token_cols, N(token_cols)},
	[PN_OBJ_IDENTITY] = {"user_identities", "id", "created", identity_cols,
			     N(identity_cols)},
	[PN_OBJ_OIDC_FLOW] = {"oidc_flows", "id", "created", oidc_flow_cols, N(oidc_flow_cols)},
	[PN_OBJ_IDP_MEMBERSHIP] = {"idp_memberships", "membership_id", "created",
				   idp_membership_cols, N(idp_membership_cols)},
	[PN_OBJ_ADMIN_SESSION] = {"admin_sessions", "id", "created", admin_session_cols,
				  N(admin_session_cols)},
	[PN_OBJ_CONSOLE_SESSION] = {"console_sessions", "id", "created", console_session_cols,
				    N(console_session_cols)},
	[PN_OBJ_PRESENCE] = {"presence", "holder_id", "created", presence_cols,
			     N(presence_cols)},
};

const struct pn_objdesc *pn_store_desc(enum pn_obj kind)
{
	if ((unsigned)kind >= PN_OBJ_COUNT_)
		return NULL;
	return &descs[kind];
}

int pn_store_int_col(const struct pn_objdesc *d, const char *col)
{
	for (unsigned i = 0; d && col && i < d->ncols; i++)
		if (d->cols[i].type == PN_COL_INT && !strcmp(d->cols[i].name, col))
			return 1;
	return 0;
}

json_t *pn_store_public_row(enum pn_obj kind, const json_t *row)
{
	const struct pn_objdesc *d = pn_store_desc(kind);
	json_t *out = json_deep_copy(row);

	if (!out || !d)
		return out;
	for (unsigned i = 0; i < d->ncols; i++)
		if (d->cols[i].flags & PN_COL_SECRET)
			json_object_del(out, d->cols[i].name);
	return out;
}

int pn_store_new_id(char out[33])
{
	uint8_t b[16];
	int r = pn_random(b, sizeof(b));

	if (r)
		return r;
	pn_hex_encode(b, sizeof(b), out);
	return 0;
}

int pn_store_hash_hex(const void *data, size_t len, char out[65])
{
	uint8_t h[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, h) < 0)
		return PN_E_CRYPTO;
	pn_hex_encode(h, sizeof(h), out);
	return 0;
}
