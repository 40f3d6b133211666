/*
 * Policy model endpoints: remote networks, resources, groups, users,
 * memberships (group <- user | service account) and policies (group ->
 * resource grants).
 *
 *   GET    /v1/<coll>            list (READ)   ?network= ?group= ?resource= filters
 *   POST   /v1/<coll>            create (ADMIN)
 *   GET    /v1/<coll>/<ref>      one object by id or unique name (READ)
 *   PATCH  /v1/<coll>/<ref>      change mutable fields (ADMIN)
 *   DELETE /v1/<coll>/<ref>      delete (ADMIN)
 *
 * Every change is one store transaction: the row change, the audit entry
 * and the policy-version bump commit together or not at all.
 */
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/objects.h"
#include "core/err.h"
#include "trust/dest.h"

/* ---- per-kind body -> row builders ---- */

static int build_named(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed[] = {"name", NULL};
	const char *name;

	if (pn_api_only_fields(r, allowed) ||
	    pn_api_str(r, "name", create, PN_API_NAME_MAX, 1, &name))
		return PN_E_API_ANSWERED;
	if (name)
		json_object_set_new(row, "name", json_string(name));
	return 0;
}

static int set_bool(struct pn_req *r, json_t *row, const char *field)
{
	json_t *v = json_object_get(r->body, field);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return pn_api_error(r, 400, "invalid_type", "field '%s' must be a boolean", field);
	json_object_set_new(row, field, json_integer(json_is_true(v)));
	return 0;
}

static int build_user(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed[] = {"name", "email", "disabled", NULL};
	const char *name, *email;

	if (pn_api_only_fields(r, allowed) ||
	    pn_api_str(r, "name", create, PN_API_NAME_MAX, 1, &name) ||
	    pn_api_str(r, "email", 0, 254, 0, &email) || set_bool(r, row, "disabled"))
		return PN_E_API_ANSWERED;
	if (email && !strchr(email, '@'))
		return pn_api_error(r, 400, "invalid_email", "field 'email' must contain '@'");
	if (name)
		json_object_set_new(row, "name", json_string(name));
	if (email)
		json_object_set_new(row, "email", json_string(email));
	if (create && !json_object_get(row, "disabled"))
		json_object_set_new(row, "disabled", json_integer(0));
	return 0;
}

static int build_resource(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed_c[] = {"name", "network", "address", "protocols", NULL};
	static const char *const allowed_u[] = {"name", "address", "protocols", NULL};
	const char *name, *network = NULL, *address;
	json_t *protos = json_object_get(r->body, "protocols");
	char norm[PN_DEST_TEXT_MAX + 8];
	char *ptext = NULL;

	if (pn_api_only_fields(r, create ? allowed_c : allowed_u) ||
	    pn_api_str(r, "name", create, PN_API_NAME_MAX, 1, &name) ||
	    (create && pn_api_str(r, "network", 1, 128, 1, &network)) ||
	    pn_api_str(r, "address", create, PN_DEST_TEXT_MAX, 0, &address))
		return PN_E_API_ANSWERED;
	if (create && !protos)
		return pn_api_error(r, 400, "missing_field", "field 'protocols' is required");
	if (address && pn_api_address(r, address, norm, sizeof(norm)))
		return PN_E_API_ANSWERED;
	if (protos && pn_api_protocols(r, protos, &ptext))
		return PN_E_API_ANSWERED;
	if (network) {
		json_t *net = NULL;

		if (pn_api_resolve(r, PN_OBJ_NETWORK, network, &net)) {
			free(ptext);
			return PN_E_API_ANSWERED;
		}
		json_object_set(row, "network_id", json_object_get(net, "id"));
		json_decref(net);
	}
	if (name)
		json_object_set_new(row, "name", json_string(name));
	if (address)
		json_object_set_new(row, "address", json_string(norm));
	if (ptext)
		json_object_set_new(row, "protocols", json_string(ptext));
	free(ptext);
	return 0;
}

/* Set row[col] = id of the object named by body[field] (id or name). */
static int ref_field(struct pn_req *r, json_t *row, const char *field, enum pn_obj kind,
		     const char *col, int required)
{
	const char *ref;
	json_t *obj = NULL;

	if (pn_api_str(r, field, required, 128, 1, &ref))
		return PN_E_API_ANSWERED;
	if (!ref)
		return 0;
	if (pn_api_resolve(r, kind, ref, &obj))
		return PN_E_API_ANSWERED;
	json_object_set(row, col, json_object_get(obj, "id"));
	json_decref(obj);
	return 0;
}

static int build_membership(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed[] = {"group", "user", "service_account", NULL};

	if (pn_api_only_fields(r, allowed))
		return PN_E_API_ANSWERED;
	if (!!json_object_get(r->body, "user") == !!json_object_get(r->body, "service_account"))
		return pn_api_error(r, 400, "invalid_member",
				    "give exactly one of 'user' or 'service_account'");
	if (ref_field(r, row, "group", PN_OBJ_GROUP, "group_id", 1) ||
	    ref_field(r, row, "user", PN_OBJ_USER, "user_id", 0) ||
	    ref_field(r, row, "service_account", PN_OBJ_SERVICE_ACCOUNT, "service_account_id", 0))
		return PN_E_API_ANSWERED;
	return 0;
}

static int build_policy(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed[] = {"group", "resource", NULL};

	if (pn_api_only_fields(r, allowed) ||
	    ref_field(r, row, "group", PN_OBJ_GROUP, "group_id", 1) ||
	    ref_field(r, row, "resource", PN_OBJ_RESOURCE, "resource_id", 1))
		return PN_E_API_ANSWERED;
	return 0;
}

/* Disabling or deleting a user revokes its client credentials. */
static int user_after_update(struct pn_req *r, const json_t *row, const json_t *set)
{
	if (json_integer_value(json_object_get(row, "disabled")))
		return pn_api_revoke_holder(r, json_string_value(json_object_get(row, "id")));
	return 0;
}

static int user_before_delete(struct pn_req *r, const json_t *row)
{
	return pn_api_revoke_holder(r, json_string_value(json_object_get(row, "id")));
}

static const struct pn_coll_hooks user_hooks = {
	.after_update = user_after_update,
	.before_delete = user_before_delete,
};

static const struct pn_filter_spec net_filter[] = {{"network", "network_id", PN_OBJ_NETWORK},
						   {NULL, NULL, 0}};
static const struct pn_filter_spec mem_filter[] = {
	{"group", "group_id", PN_OBJ_GROUP},
	{"user", "user_id", PN_OBJ_USER},
	{"service_account", "service_account_id", PN_OBJ_SERVICE_ACCOUNT},
	{NULL, NULL, 0}};
static const struct pn_filter_spec pol_filter[] = {{"group", "group_id", PN_OBJ_GROUP},
						   {"resource", "resource_id", PN_OBJ_RESOURCE},
						   {NULL, NULL, 0}};

static const struct pn_coll colls[] = {
	{"networks", PN_OBJ_NETWORK, "network", build_named, NULL, NULL},
	{"resources", PN_OBJ_RESOURCE, "resource", build_resource, net_filter, NULL},
	{"groups", PN_OBJ_GROUP, "group", build_named, NULL, NULL},
	{"users", PN_OBJ_USER, "user", build_user, NULL, &user_hooks},
	{"memberships", PN_OBJ_MEMBERSHIP, "membership", build_membership, mem_filter, NULL},
	{"policies", PN_OBJ_POLICY, "policy", build_policy, pol_filter, NULL},
};

const struct pn_route pn_objects_routes[] = {
	PN_COLL_ROUTES_PATCH("networks", "networks/{ref}", &colls[0]),
	PN_COLL_ROUTES_PATCH("resources", "resources/{ref}", &colls[1]),
	PN_COLL_ROUTES_PATCH("groups", "groups/{ref}", &colls[2]),
	PN_COLL_ROUTES_PATCH("users", "users/{ref}", &colls[3]),
	PN_COLL_ROUTES("memberships", "memberships/{id}", &colls[4]),
	PN_COLL_ROUTES("policies", "policies/{id}", &colls[5]),
	{NULL, NULL, 0, NULL, NULL},
};
