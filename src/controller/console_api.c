/*
 * The console's own endpoints: sign-in/out (console_session.c) and the
 * presence of connectors and relays for the overview.  Presence is written
 * when a component's client certificate checks out (auth.c), at most every
 * PN_CONSOLE_SEEN_EVERY_S per component; a component holds its push stream
 * open and reopens it at least every push_stream_max_s, so "online" means
 * seen within that plus PN_CONSOLE_ONLINE_SLACK_S.
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

void pn_console_seen(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	const char *kind = r->holder_kind;
	int64_t now = pn_now(), last = 0;
	json_t *row = NULL, *set = NULL;
	int have, rc;

	if (strcmp(kind, "connector") && strcmp(kind, "relay"))
		return;
	if (pn_store_read(s))
		return;
	have = pn_store_get(s, PN_OBJ_PRESENCE, r->principal_id, &row) == 0;
	if (have)
		last = json_integer_value(json_object_get(row, "last_seen"));
	pn_store_rollback(s);
	json_decref(row);
	if (have && now - last < PN_CONSOLE_SEEN_EVERY_S)
		return;
	if (pn_store_begin(s))
		return;
	if (have) {
		set = json_pack("{s:I}", "last_seen", (json_int_t)now);
		rc = set ? pn_store_update(s, PN_OBJ_PRESENCE, r->principal_id, set) : -ENOMEM;
	} else {
		set = json_pack("{s:s,s:s,s:I,s:I}", "holder_id", r->principal_id, "kind", kind,
				"last_seen", (json_int_t)now, "created", (json_int_t)now);
		rc = set ? pn_store_insert(s, PN_OBJ_PRESENCE, set) : -ENOMEM;
	}
	if (rc || pn_store_commit(s)) /* a lost race is harmless: the other one wrote it */
		pn_store_rollback(s);
	json_decref(set);
}

/* GET /v1/presence: [{holder_id, kind, last_seen, online}] */
static int h_presence(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	int64_t horizon = pn_now() - (int64_t)r->ctl->stream_max_s - PN_CONSOLE_ONLINE_SLACK_S;
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

int pn_console_route(struct pn_req *r, pn_handler_fn *fn, enum pn_access *acc)
{
	const char *m = r->method;

	if (r->nseg == 1 && !strcmp(r->seg[0], "presence") && !strcmp(m, "GET")) {
		*fn = h_presence, *acc = PN_A_READ;
		return 0;
	}
	if (r->nseg == 2 && !strcmp(r->seg[0], "console") && !strcmp(r->seg[1], "providers") &&
	    !strcmp(m, "GET")) {
		*fn = h_providers, *acc = PN_A_PUBLIC;
		return 0;
	}
	if (r->nseg != 2 || strcmp(r->seg[0], "console") || strcmp(r->seg[1], "session"))
		return 1;
	if (!strcmp(m, "POST"))
		*fn = pn_console_h_signin, *acc = PN_A_PUBLIC;
	else if (!strcmp(m, "GET"))
		*fn = pn_console_h_whoami, *acc = PN_A_READ;
	else if (!strcmp(m, "DELETE"))
		*fn = pn_console_h_signout, *acc = PN_A_READ;
	else {
		return pn_api_error(r, 405, "method_not_allowed", "POST, GET or DELETE");
	}
	return 0;
}
