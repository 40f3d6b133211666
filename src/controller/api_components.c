/*
 * Component endpoints: connectors, relays, service accounts and their API
 * keys, issued credentials.
 *
 *   POST   /v1/connectors {name, network}         -> row + "enrollment_token"
 *   POST   /v1/connectors/<ref>/tokens            -> new one-time token (ADMIN)
 *   POST   /v1/connectors/<ref>/revoke            -> revoke connector + credentials
 *   POST   /v1/relays {name, udp, tls, ws}        -> row + "enrollment_token"
 *   POST   /v1/relays/<ref>/tokens | /revoke
 *   POST   /v1/service-accounts {name, groups[]}  -> row + "api_key" (shown once)
 *   GET    /v1/service-accounts/<ref>/keys        list keys (READ)
 *   POST   /v1/service-accounts/<ref>/keys        -> new "api_key" (ADMIN)
 *   DELETE /v1/service-accounts/<ref>/keys/<id>   revoke one key (ADMIN)
 *   POST   /v1/service-accounts/<ref>/revoke      revoke its client credentials
 *   GET    /v1/credentials[?holder=<id>]          issued credentials (READ)
 *   POST   /v1/credentials/<serial>/revoke        revoke one credential (ADMIN)
 * plus the generic list/get/patch/delete of coll.c.  Deleting or disabling
 * a holder revokes its credentials in the same transaction.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/objects.h"
#include "core/err.h"
#include "core/secret.h"

static void defaults_component(json_t *row)
{
	json_object_set_new(row, "enrolled", json_integer(0));
	json_object_set_new(row, "revoked", json_integer(0));
}

static void defaults_sa(json_t *row)
{
	json_object_set_new(row, "disabled", json_integer(0));
}

static int revoke_holder(struct pn_req *r, const char *holder_id)
{
	return pn_api_revoke_holder(r, holder_id);
}

static int before_delete_holder(struct pn_req *r, const json_t *row)
{
	return revoke_holder(r, json_string_value(json_object_get(row, "id")));
}

static int build_connector(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed_c[] = {"name", "network", NULL};
	static const char *const allowed_u[] = {"name", NULL};
	const char *name, *network = NULL;

	if (pn_api_only_fields(r, create ? allowed_c : allowed_u) ||
	    pn_api_str(r, "name", create, PN_API_NAME_MAX, 1, &name) ||
	    (create && pn_api_str(r, "network", 1, 128, 1, &network)))
		return PN_E_API_ANSWERED;
	if (network) {
		json_t *net = NULL;

		if (pn_api_resolve(r, PN_OBJ_NETWORK, network, &net))
			return PN_E_API_ANSWERED;
		json_object_set(row, "network_id", json_object_get(net, "id"));
		json_decref(net);
	}
	if (name)
		json_object_set_new(row, "name", json_string(name));
	return 0;
}

static int build_relay(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed[] = {"name", "udp", "tls", "ws", NULL};
	const char *name, *udp, *tls, *ws;

	if (pn_api_only_fields(r, allowed) ||
	    pn_api_str(r, "name", create, PN_API_NAME_MAX, 1, &name) ||
	    pn_api_str(r, "udp", 0, 300, 0, &udp) || pn_api_str(r, "tls", 0, 300, 0, &tls) ||
	    pn_api_str(r, "ws", 0, 400, 0, &ws))
		return PN_E_API_ANSWERED;
	if ((udp && pn_api_hostport(r, "udp", udp)) || (tls && pn_api_hostport(r, "tls", tls)) ||
	    (ws && pn_api_wsurl(r, "ws", ws)))
		return PN_E_API_ANSWERED;
	if (create && !udp && !tls && !ws)
		return pn_api_error(r, 400, "missing_field",
				    "a relay needs at least one of 'udp', 'tls', 'ws'");
	if (name)
		json_object_set_new(row, "name", json_string(name));
	if (udp)
		json_object_set_new(row, "udp", json_string(udp));
	if (tls)
		json_object_set_new(row, "tls", json_string(tls));
	if (ws)
		json_object_set_new(row, "ws", json_string(ws));
	return 0;
}

static int build_sa(struct pn_req *r, int create, json_t *row)
{
	static const char *const allowed_c[] = {"name", "groups", NULL};
	static const char *const allowed_u[] = {"name", "disabled", NULL};
	const char *name;
	json_t *groups = json_object_get(r->body, "groups"), *ids, *g;
	size_t i;

	if (pn_api_only_fields(r, create ? allowed_c : allowed_u) ||
	    pn_api_str(r, "name", create, PN_API_NAME_MAX, 1, &name))
		return PN_E_API_ANSWERED;
	if (!create) {
		json_t *d = json_object_get(r->body, "disabled");

		if (d && !json_is_boolean(d))
			return pn_api_error(r, 400, "invalid_type",
					    "field 'disabled' must be a boolean");
		if (d)
			json_object_set_new(row, "disabled", json_integer(json_is_true(d)));
	}
	if (name)
		json_object_set_new(row, "name", json_string(name));
	if (!groups)
		return 0;
	if (!json_is_array(groups) || json_array_size(groups) > 64)
		return pn_api_error(r, 400, "invalid_type",
				    "field 'groups' must be a list of up to 64 groups");
	ids = json_array();
	json_array_foreach(groups, i, g) {
		json_t *grp = NULL;

		if (!json_is_string(g)) {
			json_decref(ids);
			return pn_api_error(r, 400, "invalid_type", "groups must be strings");
		}
		if (pn_api_resolve(r, PN_OBJ_GROUP, json_string_value(g), &grp)) {
			json_decref(ids);
			return PN_E_API_ANSWERED;
		}
		json_array_append(ids, json_object_get(grp, "id"));
		json_decref(grp);
	}
	/* not a column: read by sa_after_create, ignored by the store */
	json_object_set_new(row, "groups", ids);
	return 0;
}

static int issue_token(struct pn_req *r, const char *kind, const char *id, json_t *resp,
		       uint32_t ttl)
{
	char *text = NULL;
	int rc = pn_enroll_new_token(r, kind, id, ttl, &text);

	if (rc)
		return pn_api_store_error(r, rc);
	json_object_set_new(resp, "enrollment_token", json_string(text));
	json_object_set_new(resp, "token_expires", json_integer(pn_now() + (int64_t)ttl));
	free(text);
	return 0;
}

static int connector_after_create(struct pn_req *r, const json_t *row, json_t *resp)
{
	return issue_token(r, "connector", json_string_value(json_object_get(row, "id")), resp,
			   r->ctl->token_ttl);
}

static int relay_after_create(struct pn_req *r, const json_t *row, json_t *resp)
{
	return issue_token(r, "relay", json_string_value(json_object_get(row, "id")), resp,
			   r->ctl->token_ttl);
}

static int new_sa_key(struct pn_req *r, const char *sa_id, json_t *resp)
{
	char key[80], hash[65], kid[33];
	json_t *k;
	int rc;

	if ((rc = pn_api_new_key("pnsk_", key, hash)) || (rc = pn_store_new_id(kid)))
		return pn_api_store_error(r, rc);
	k = json_pack("{s:s,s:s,s:s,s:i,s:I}", "id", kid, "service_account_id", sa_id, "hash",
		      hash, "revoked", 0, "created", (json_int_t)pn_now());
	rc = k ? pn_store_insert(r->ctl->store, PN_OBJ_SA_KEY, k) : -ENOMEM;
	json_decref(k);
	if (rc == 0)
		json_object_set_new(resp, "api_key", json_string(key));
	pn_wipe(key, sizeof(key)); /* the response holds the one copy shown */
	if (rc)
		return pn_api_store_error(r, rc);
	json_object_set_new(resp, "key_id", json_string(kid));
	return 0;
}

static int sa_after_create(struct pn_req *r, const json_t *row, json_t *resp)
{
	const char *said = json_string_value(json_object_get(row, "id"));
	json_t *g;
	size_t i;

	json_array_foreach(json_object_get(row, "groups"), i, g) {
		char mid[33];
		json_t *m;
		int rc = pn_store_new_id(mid);

		m = rc ? NULL : json_pack("{s:s,s:O,s:s,s:I}", "id", mid, "group_id", g,
					  "service_account_id", said, "created",
					  (json_int_t)pn_now());
		rc = m ? pn_store_insert(r->ctl->store, PN_OBJ_MEMBERSHIP, m) : -ENOMEM;
		json_decref(m);
		if (rc)
			return pn_api_store_error(r, rc);
	}
	return new_sa_key(r, said, resp);
}

static int sa_after_update(struct pn_req *r, const json_t *row, const json_t *set)
{
	if (json_integer_value(json_object_get(row, "disabled")))
		return revoke_holder(r, json_string_value(json_object_get(row, "id")));
	return 0;
}

/* ---- sub-resources ---- */

/* Open a write transaction and resolve seg[1] of the route's kind. */
static int begin_ref(struct pn_req *r, json_t **row)
{
	const struct pn_coll *c = r->route_ctx;
	int rc = pn_store_begin(r->ctl->store);

	if (rc)
		return pn_api_store_error(r, rc);
	if (pn_api_resolve(r, c->kind, r->seg[1], row)) {
		pn_store_rollback(r->ctl->store);
		return PN_E_API_ANSWERED;
	}
	return 0;
}

static int finish_change(struct pn_req *r, const char *action, const char *kind,
			 const char *id, json_t *resp)
{
	int rc = pn_api_changed(r, action, kind, id, NULL, NULL);

	if (rc || (rc = pn_api_commit(r))) {
		pn_store_rollback(r->ctl->store);
		json_decref(resp);
		return pn_api_store_error(r, rc);
	}
	return pn_api_ok(r, 200, resp);
}

static int h_new_token(struct pn_req *r)
{
	const struct pn_coll *c = r->route_ctx;
	static const char *const allowed[] = {"ttl", NULL};
	json_t *row = NULL, *resp = json_object(), *ttlv;
	uint32_t ttl = r->ctl->token_ttl;
	const char *id;

	if (r->body) {
		if (pn_api_only_fields(r, allowed))
			return json_decref(resp), 0;
		ttlv = json_object_get(r->body, "ttl");
		if (ttlv && (!json_is_integer(ttlv) || json_integer_value(ttlv) < 1 ||
			     json_integer_value(ttlv) > PN_TOKEN_TTL_MAX))
			return json_decref(resp), pn_api_error(r, 400, "invalid_ttl",
								"ttl must be 1..%d seconds",
								PN_TOKEN_TTL_MAX);
		if (ttlv)
			ttl = (uint32_t)json_integer_value(ttlv);
	}
	if (begin_ref(r, &row))
		return json_decref(resp), 0;
	id = json_string_value(json_object_get(row, "id"));
	if (json_integer_value(json_object_get(row, "revoked"))) {
		pn_store_rollback(r->ctl->store);
		pn_api_error(r, 409, "revoked", "this %s is revoked", c->singular);
	} else if (issue_token(r, c->singular, id, resp, ttl)) {
		pn_store_rollback(r->ctl->store);
	} else {
		json_object_set_new(resp, "id", json_string(id));
		finish_change(r, "token", c->singular, id, resp);
		resp = NULL;
	}
	json_decref(resp);
	json_decref(row);
	return 0;
}

static int h_revoke_component(struct pn_req *r)
{
	const struct pn_coll *c = r->route_ctx;
	json_t *row = NULL, *set = json_pack("{s:i}", "revoked", 1);
	const char *id;
	int rc;

	if (begin_ref(r, &row))
		return json_decref(set), 0;
	id = json_string_value(json_object_get(row, "id"));
	if ((rc = pn_store_update(r->ctl->store, c->kind, id, set))) {
		pn_store_rollback(r->ctl->store);
		pn_api_store_error(r, rc);
	} else if (!revoke_holder(r, id)) {
		finish_change(r, "revoke", c->singular, id, json_pack("{s:s}", "revoked", id));
	} else {
		pn_store_rollback(r->ctl->store);
	}
	json_decref(set);
	json_decref(row);
	return 0;
}

static int h_revoke_sa_creds(struct pn_req *r)
{
	json_t *row = NULL;
	const char *id;

	if (begin_ref(r, &row))
		return 0;
	id = json_string_value(json_object_get(row, "id"));
	if (!revoke_holder(r, id))
		finish_change(r, "revoke", "service_account", id, json_pack("{s:s}", "revoked", id));
	else
		pn_store_rollback(r->ctl->store);
	json_decref(row);
	return 0;
}

static int h_sa_keys(struct pn_req *r)
{
	json_t *row = NULL, *rows = NULL, *resp;
	const char *id;
	int rc;

	if (!strcmp(r->method, "POST")) {
		if (r->body && json_object_size(r->body))
			return pn_api_error(r, 400, "unknown_field", "no body expected");
		if (begin_ref(r, &row))
			return 0;
		id = json_string_value(json_object_get(row, "id"));
		resp = json_object();
		if (new_sa_key(r, id, resp)) {
			pn_store_rollback(r->ctl->store);
			json_decref(resp);
		} else {
			finish_change(r, "create", "service_account_key", id, resp);
			if (r->status == 200)
				r->status = 201; /* a key was created */
		}
		json_decref(row);
		return 0;
	}
	if ((rc = pn_store_read(r->ctl->store)))
		return pn_api_store_error(r, rc);
	if (!pn_api_resolve(r, PN_OBJ_SERVICE_ACCOUNT, r->seg[1], &row)) {
		struct pn_filter f = {.col = "service_account_id",
				      .text = json_string_value(json_object_get(row, "id"))};

		rc = pn_store_list(r->ctl->store, PN_OBJ_SA_KEY, &f, 1, 0, &rows);
		if (rc) {
			pn_api_store_error(r, rc);
		} else {
			json_t *out = json_array(), *k;
			size_t i;

			json_array_foreach(rows, i, k)
				json_array_append_new(out, pn_coll_present(PN_OBJ_SA_KEY, k));
			pn_api_ok(r, 200, json_pack("{s:o}", "keys", out));
		}
	}
	pn_store_rollback(r->ctl->store);
	json_decref(row);
	json_decref(rows);
	return 0;
}

static int h_sa_key_delete(struct pn_req *r)
{
	json_t *row = NULL, *key = NULL, *set = json_pack("{s:i}", "revoked", 1);
	int rc;

	if (begin_ref(r, &row))
		return json_decref(set), 0;
	rc = pn_store_get(r->ctl->store, PN_OBJ_SA_KEY, r->seg[3], &key);
	if (rc || strcmp(json_string_value(json_object_get(key, "service_account_id")),
			 json_string_value(json_object_get(row, "id")))) {
		pn_store_rollback(r->ctl->store);
		pn_api_error(r, 404, "not_found", "no such key for this service account");
	} else if ((rc = pn_store_update(r->ctl->store, PN_OBJ_SA_KEY, r->seg[3], set))) {
		pn_store_rollback(r->ctl->store);
		pn_api_store_error(r, rc);
	} else {
		finish_change(r, "revoke", "service_account_key", r->seg[3],
			      json_pack("{s:s}", "revoked", r->seg[3]));
	}
	json_decref(set);
	json_decref(row);
	json_decref(key);
	return 0;
}

static const struct pn_coll_hooks connector_hooks = {
	.defaults = defaults_component,
	.after_create = connector_after_create,
	.before_delete = before_delete_holder,
};
static const struct pn_coll_hooks relay_hooks = {
	.defaults = defaults_component,
	.after_create = relay_after_create,
	.before_delete = before_delete_holder,
};
static const struct pn_coll_hooks sa_hooks = {
	.defaults = defaults_sa,
	.after_create = sa_after_create,
	.after_update = sa_after_update,
	.before_delete = before_delete_holder,
};
static const struct pn_filter_spec net_filter[] = {{"network", "network_id", PN_OBJ_NETWORK},
						   {NULL, NULL, 0}};

static const struct pn_coll colls[] = {
	{"connectors", PN_OBJ_CONNECTOR, "connector", build_connector, net_filter,
	 &connector_hooks},
	{"relays", PN_OBJ_RELAY, "relay", build_relay, NULL, &relay_hooks},
	{"service-accounts", PN_OBJ_SERVICE_ACCOUNT, "service_account", build_sa, NULL,
	 &sa_hooks},
};

/* ---- credentials (issued by enroll.c; listed and revoked here) ---- */

static int h_cred_list(struct pn_req *r)
{
	const char *holder = pn_api_query(r, "holder");
	struct pn_filter f = {.col = "holder_id", .text = holder};
	json_t *rows = NULL;
	int rc;

	if ((rc = pn_store_read(r->ctl->store)))
		return pn_api_store_error(r, rc);
	rc = pn_store_list(r->ctl->store, PN_OBJ_CREDENTIAL, &f, holder ? 1 : 0, PN_API_LIST_MAX,
			   &rows);
	pn_store_rollback(r->ctl->store);
	if (rc)
		return pn_api_store_error(r, rc);
	{
		json_t *out = json_array(), *row;
		size_t i;

		json_array_foreach(rows, i, row)
			json_array_append_new(out, pn_coll_present(PN_OBJ_CREDENTIAL, row));
		json_decref(rows);
		return pn_api_ok(r, 200, json_pack("{s:o}", "credentials", out));
	}
}

static int h_cred_revoke(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	int n = 0, rc;

	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	rc = s->ops->revoke_where(s->be, "serial", r->seg[1], &n);
	if (!rc && n != 1) {
		json_t *row = NULL;

		rc = pn_store_get(s, PN_OBJ_CREDENTIAL, r->seg[1], &row);
		json_decref(row);
		if (!rc) { /* already revoked: idempotent */
			pn_store_rollback(s);
			return pn_api_ok(r, 200, json_pack("{s:s}", "revoked", r->seg[1]));
		}
	}
	if (rc) {
		pn_store_rollback(s);
		return pn_api_store_error(r, rc);
	}
	return finish_change(r, "revoke", "credential", r->seg[1],
			     json_pack("{s:s}", "revoked", r->seg[1]));
}

const struct pn_route pn_components_routes[] = {
	PN_COLL_ROUTES_PATCH("connectors", "connectors/{ref}", &colls[0]),
	{"POST", "connectors/{ref}/tokens", PN_A_ADMIN, h_new_token, &colls[0]},
	{"POST", "connectors/{ref}/revoke", PN_A_ADMIN, h_revoke_component, &colls[0]},
	PN_COLL_ROUTES_PATCH("relays", "relays/{ref}", &colls[1]),
	{"POST", "relays/{ref}/tokens", PN_A_ADMIN, h_new_token, &colls[1]},
	{"POST", "relays/{ref}/revoke", PN_A_ADMIN, h_revoke_component, &colls[1]},
	PN_COLL_ROUTES_PATCH("service-accounts", "service-accounts/{ref}", &colls[2]),
	{"GET", "service-accounts/{ref}/keys", PN_A_READ, h_sa_keys, &colls[2]},
	{"POST", "service-accounts/{ref}/keys", PN_A_ADMIN, h_sa_keys, &colls[2]},
	{"DELETE", "service-accounts/{ref}/keys/{key}", PN_A_ADMIN, h_sa_key_delete, &colls[2]},
	{"POST", "service-accounts/{ref}/revoke", PN_A_ADMIN, h_revoke_sa_creds, &colls[2]},
	{"GET", "credentials", PN_A_READ, h_cred_list, NULL},
	{"POST", "credentials/{serial}/revoke", PN_A_ADMIN, h_cred_revoke, NULL},
	{NULL, NULL, 0, NULL, NULL},
};
