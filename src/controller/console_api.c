/*
 * The console's own endpoints: sign-in/out (console_session.c), the
 * presence of connectors and relays for the overview, and the status they
 * report (POST /v1/ctl/status: version, and a connector's tunnels by path).
 *
 * Presence is written when a component's client certificate checks out
 * (auth.c: any request), while its push stream is open (push.c, at each
 * wake-up: at least every keepalive) and with each status report (every
 * PN_NODE_STATUS_EVERY_MS), at most every PN_CONSOLE_SEEN_EVERY_S per
 * component unless a report carries news; "online" means seen within
 * PN_CONSOLE_ONLINE_S.
 */
#include <errno.h>
#include <string.h>

#include "controller/api.h"
#include "controller/console.h"
#include "controller/oidc.h"
#include "core/err.h"
#include "core/log.h"

int pn_api_header(struct pn_req *r, const char *name, const char *value)
{
	if (r->nhdr >= PN_REQ_HDR_MAX)
		return -ENOSPC;
	r->hdr_name[r->nhdr] = name;
	r->hdr_value[r->nhdr] = value;
	r->nhdr++;
	return 0;
}

/* Record that a component was seen, with its status report (may be NULL).
 * A plain sighting is written at most every PN_CONSOLE_SEEN_EVERY_S. */
static int presence_write(struct pn_ctl *ctl, const char *kind, const char *id,
			  const json_t *status)
{
	struct pn_store *s = ctl->store;
	int64_t now = pn_now(), last = 0;
	json_t *row = NULL, *set = NULL;
	int have, rc;

	if (!status) {
		if ((rc = pn_store_read(s)))
			return rc;
		have = pn_store_get(s, PN_OBJ_PRESENCE, id, &row) == 0;
		if (have)
			last = json_integer_value(json_object_get(row, "last_seen"));
		pn_store_rollback(s);
		json_decref(row);
		row = NULL;
		if (have && now - last < PN_CONSOLE_SEEN_EVERY_S)
			return 0;
	}
	if ((rc = pn_store_begin(s)))
		return rc;
	have = pn_store_get(s, PN_OBJ_PRESENCE, id, &row) == 0;
	json_decref(row);
	set = status ? json_deep_copy(status) : json_object();
	if (!set) {
		rc = -ENOMEM;
	} else {
		json_object_set_new(set, "last_seen", json_integer(now));
		if (have) {
			rc = pn_store_update(s, PN_OBJ_PRESENCE, id, set);
		} else {
			json_object_set_new(set, "holder_id", json_string(id));
			json_object_set_new(set, "kind", json_string(kind));
			json_object_set_new(set, "created", json_integer(now));
			rc = pn_store_insert(s, PN_OBJ_PRESENCE, set);
		}
	}
	/* a lost race on the insert is harmless: the other one wrote it */
	if (rc || (rc = pn_store_commit(s)))
		pn_store_rollback(s);
	json_decref(set);
	return rc;
}

void pn_console_seen_holder(struct pn_ctl *ctl, const char *kind, const char *id)
{
	if (!strcmp(kind, "connector") || !strcmp(kind, "relay"))
		presence_write(ctl, kind, id, NULL);
}

void pn_console_seen(struct pn_req *r)
{
	pn_console_seen_holder(r->ctl, r->holder_kind, r->principal_id);
}

/* A count in a status report: an integer 0..PN_CONSOLE_COUNT_MAX. */
static int count_field(struct pn_req *r, const json_t *obj, const char *field, json_int_t *out)
{
	const json_t *v = json_object_get(obj, field);

	if (!v)
		return pn_api_error(r, 400, "missing_field", "paths.%s is required", field);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > PN_CONSOLE_COUNT_MAX)
		return pn_api_error(r, 400, "invalid_type", "paths.%s must be an integer 0..%d",
				    field, PN_CONSOLE_COUNT_MAX);
	*out = json_integer_value(v);
	return 0;
}

/* POST /v1/ctl/status (connectors, relays):
 *   {"version": "0.1.0", "paths": {"direct": 2, "relay": 1}}
 * paths: the connector's open tunnels by path (relays send none). */
static int h_ctl_status(struct pn_req *r)
{
	static const char *const fields[] = {"version", "paths", NULL};
	static const char *const path_fields[] = {"direct", "relay"};
	const char *version;
	const json_t *paths;
	json_int_t n[2] = {0, 0};
	json_t *st;
	int rc;

	if (strcmp(r->holder_kind, "connector") && strcmp(r->holder_kind, "relay"))
		return pn_api_error(r, 403, "forbidden", "only connectors and relays report status");
	if (!r->body)
		return pn_api_error(r, 400, "missing_body", "a JSON object is required");
	if (pn_api_only_fields(r, fields) ||
	    pn_api_str(r, "version", 1, PN_CONSOLE_VERSION_MAX, 1, &version))
		return PN_E_API_ANSWERED;
	paths = json_object_get(r->body, "paths");
	if (paths) {
		void *it;

		if (!json_is_object(paths))
			return pn_api_error(r, 400, "invalid_type", "paths must be an object");
		for (it = json_object_iter((json_t *)paths); it;
		     it = json_object_iter_next((json_t *)paths, it)) {
			const char *k = json_object_iter_key(it);

			if (strcmp(k, "direct") && strcmp(k, "relay"))
				return pn_api_error(r, 400, "unknown_field",
						    "unknown field paths.%.40s", k);
		}
		for (int i = 0; i < 2; i++)
			if (count_field(r, paths, path_fields[i], &n[i]))
				return PN_E_API_ANSWERED;
	}
	st = paths ? json_pack("{s:s,s:I,s:I,s:I}", "version", version, "paths_direct", n[0],
			       "paths_relay", n[1], "reported", (json_int_t)pn_now())
		   : json_pack("{s:s,s:n,s:n,s:I}", "version", version, "paths_direct",
			       "paths_relay", "reported", (json_int_t)pn_now());
	if (!st)
		return pn_api_error(r, 500, "internal", "out of memory");
	rc = presence_write(r->ctl, r->holder_kind, r->principal_id, st);
	json_decref(st);
	if (rc)
		return pn_api_store_error(r, rc);
	return pn_api_ok(r, 200, json_pack("{s:b}", "stored", 1));
}

/* GET /v1/presence: [{holder_id, kind, last_seen, online, version,
 * paths_direct, paths_relay, reported}] */
static int h_presence(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	int64_t horizon = pn_now() - PN_CONSOLE_ONLINE_S;
	json_t *rows = NULL, *v;
	size_t i;
	int rc;

	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	rc = pn_store_list(s, PN_OBJ_PRESENCE, NULL, 0, PN_API_LIST_MAX, &rows);
	pn_store_rollback(s);
	if (rc)
		return pn_api_store_error(r, rc);
	json_array_foreach(rows, i, v) json_object_set_new(
	    v, "online",
	    json_boolean(json_integer_value(json_object_get(v, "last_seen")) >= horizon));
	return pn_api_ok(r, 200,
			 json_pack("{s:o,s:I}", "presence", rows, "now", (json_int_t)pn_now()));
}

int pn_console_redirect_ok(struct pn_req *r, const char *uri)
{
	size_t n = strlen(r->ctl->url);

	return n && !strncmp(uri, r->ctl->url, n) && !strcmp(uri + n, "/console/");
}

/* GET /v1/console/providers (public): the identity providers an admin can
 * sign in with (those with an admin group). */
static int h_providers(struct pn_req *r)
{
	json_t *list = json_array();

	for (unsigned i = 0; list && r->ctl->oidc && i < r->ctl->oidc->n; i++)
		if (r->ctl->oidc->p[i].admin_group[0])
			json_array_append_new(list,
					      json_pack("{s:s}", "name", r->ctl->oidc->p[i].name));
	return pn_api_ok(r, 200, list ? json_pack("{s:o}", "providers", list) : NULL);
}

const struct pn_route pn_console_routes[] = {
	{"GET", "presence", PN_A_READ, h_presence, NULL},
	{"POST", "ctl/status", PN_A_COMPONENT, h_ctl_status, NULL},
	{"GET", "console/providers", PN_A_PUBLIC, h_providers, NULL},
	{"POST", "console/session", PN_A_PUBLIC, pn_console_h_signin, NULL},
	{"GET", "console/session", PN_A_READ, pn_console_h_whoami, NULL},
	{"DELETE", "console/session", PN_A_READ, pn_console_h_signout, NULL},
	{NULL, NULL, 0, NULL, NULL},
};
