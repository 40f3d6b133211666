/*
 * Administrative endpoints:
 *
 *   GET    /v1/ca                     CA certificate + fingerprint (PUBLIC:
 *                                     enrollment pins it by fingerprint)
 *   GET    /v1/status                 policy version, schema version (READ)
 *   GET    /v1/admin-keys             list (ADMIN)
 *   POST   /v1/admin-keys {name, role: admin|readonly} -> "api_key" once (ADMIN)
 *   DELETE /v1/admin-keys/<id>        revoke (ADMIN; never the last admin key)
 *   GET    /v1/audit?after=&limit=    admin change log (READ)
 *   GET    /v1/flow-events?since=&until=&resource=&client=&verdict=&after=&limit=
 *                                     flow records (READ); &format=jsonl for
 *                                     JSON lines export
 */
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/objects.h"
#include "core/err.h"
#include "core/secret.h"

static int parse_i64(struct pn_req *r, const char *name, int64_t min, int64_t max, int64_t *v)
{
	const char *q = pn_api_query(r, name);
	char *end;
	long long x;

	if (!q)
		return 0;
	x = strtoll(q, &end, 10);
	if (!*q || *end || x < min || x > max)
		return pn_api_error(r, 400, "invalid_query",
				    "query '%s' must be an integer in %lld..%lld", name,
				    (long long)min, (long long)max);
	*v = x;
	return 0;
}

static int h_ca(struct pn_req *r)
{
	return pn_api_ok(r, 200, json_pack("{s:s,s:s}", "ca_pem", pn_ca_cert_pem(r->ctl->ca),
					   "fingerprint", pn_ca_fingerprint_hex(r->ctl->ca)));
}

static int h_status(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	uint64_t v = 0;
	int rc;

	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	rc = s->ops->version_get(s->be, &v);
	pn_store_rollback(s);
	if (rc)
		return pn_api_store_error(r, rc);
	return pn_api_ok(r, 200, json_pack("{s:I,s:i,s:s,s:s}", "policy_version", (json_int_t)v,
					   "schema_version", pn_store_schema_version(),
					   "store", s->ops->name, "principal", r->actor));
}

static int h_keys_list(struct pn_req *r)
{
	json_t *rows = NULL, *out, *row;
	size_t i;
	int rc;

	if ((rc = pn_store_read(r->ctl->store)))
		return pn_api_store_error(r, rc);
	rc = pn_store_list(r->ctl->store, PN_OBJ_ADMIN_KEY, NULL, 0, PN_API_LIST_MAX, &rows);
	pn_store_rollback(r->ctl->store);
	if (rc)
		return pn_api_store_error(r, rc);
	out = json_array();
	json_array_foreach(rows, i, row)
		json_array_append_new(out, pn_coll_present(PN_OBJ_ADMIN_KEY, row));
	json_decref(rows);
	return pn_api_ok(r, 200, json_pack("{s:o}", "admin_keys", out));
}

static int h_keys_create(struct pn_req *r)
{
	static const char *const allowed[] = {"name", "role", NULL};
	struct pn_store *s = r->ctl->store;
	const char *name, *role;
	char key[80], hash[65], id[33];
	json_t *row = NULL, *pub = NULL;
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "name", 1, PN_API_NAME_MAX, 1, &name) ||
	    pn_api_str(r, "role", 1, 16, 1, &role))
		return PN_E_API_ANSWERED;
	if (strcmp(role, "admin") && strcmp(role, "readonly"))
		return pn_api_error(r, 400, "invalid_role", "role must be 'admin' or 'readonly'");
	if ((rc = pn_api_new_key("pnak_", key, hash)) || (rc = pn_store_new_id(id)))
		return pn_api_store_error(r, rc);
	row = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "id", id, "name", name, "role", role, "hash",
			hash, "revoked", 0, "created", (json_int_t)pn_now());
	pub = row ? pn_coll_present(PN_OBJ_ADMIN_KEY, row) : NULL;
	if (!pub) {
		json_decref(row);
		return pn_api_error(r, 500, "internal", "out of memory");
	}
	if ((rc = pn_store_begin(s)))
		goto fail_nt;
	if ((rc = pn_store_insert(s, PN_OBJ_ADMIN_KEY, row)) ||
	    (rc = pn_api_changed(r, "create", "admin_key", id, pub, NULL))) {
		pn_store_rollback(s);
		goto fail_nt;
	}
	if ((rc = pn_api_commit(r)))
		goto fail_nt;
	json_object_set_new(pub, "api_key", json_string(key));
	pn_wipe(key, sizeof(key)); /* the response holds the one copy shown */
	json_decref(row);
	return pn_api_ok(r, 201, pub);
fail_nt:
	pn_wipe(key, sizeof(key));
	json_decref(row);
	json_decref(pub);
	return pn_api_store_error(r, rc);
}

static int h_keys_delete(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	struct pn_filter f[2] = {{.col = "role", .text = "admin"}, {.col = "revoked", .integer = 0}};
	json_t *row = NULL, *admins = NULL, *set = json_pack("{s:i}", "revoked", 1);
	int rc;

	if ((rc = pn_store_begin(s)))
		return json_decref(set), pn_api_store_error(r, rc);
	rc = pn_store_get(s, PN_OBJ_ADMIN_KEY, r->seg[1], &row);
	if (rc) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if ((rc = pn_store_list(s, PN_OBJ_ADMIN_KEY, f, 2, 0, &admins))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if (!json_integer_value(json_object_get(row, "revoked")) &&
	    !strcmp(json_string_value(json_object_get(row, "role")), "admin") &&
	    json_array_size(admins) <= 1) {
		pn_api_error(r, 409, "last_admin_key", "refusing to revoke the last admin key");
		goto fail;
	}
	if ((rc = pn_store_update(s, PN_OBJ_ADMIN_KEY, r->seg[1], set)) ||
	    (rc = pn_api_changed(r, "revoke", "admin_key", r->seg[1], NULL, NULL))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if ((rc = pn_api_commit(r)))
		pn_api_store_error(r, rc);
	else
		pn_api_ok(r, 200, json_pack("{s:s}", "revoked", r->seg[1]));
	goto out;
fail:
	pn_store_rollback(s);
out:
	json_decref(row);
	json_decref(admins);
	json_decref(set);
	return pn_api_done(r);
}

static int h_audit(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	int64_t after = 0, limit = 100;
	json_t *rows = NULL;
	int rc;

	if (parse_i64(r, "after", 0, INT64_MAX, &after) ||
	    parse_i64(r, "limit", 1, PN_API_LIST_MAX, &limit))
		return 0;
	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	rc = s->ops->audit_list(s->be, after, (unsigned)limit, &rows);
	pn_store_rollback(s);
	if (rc)
		return pn_api_store_error(r, rc);
	{
		size_t i;
		json_t *row;

		/* detail is stored as JSON text: hand it back as JSON */
		json_array_foreach(rows, i, row) {
			json_t *d = json_loads(json_string_value(json_object_get(row, "detail")),
					       JSON_DECODE_ANY, NULL);

			json_object_set_new(row, "detail", d ? d : json_null());
		}
	}
	return pn_api_ok(r, 200, json_pack("{s:o}", "audit", rows));
}

static int h_flows(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	struct pn_flow_query q = {0};
	int64_t limit = 100, after = 0;
	const char *fmt = pn_api_query(r, "format");
	json_t *rows = NULL;
	int rc;

	if (parse_i64(r, "since", 0, INT64_MAX, &q.since_ms) ||
	    parse_i64(r, "until", 0, INT64_MAX, &q.until_ms) ||
	    parse_i64(r, "after", 0, INT64_MAX, &after) ||
	    parse_i64(r, "limit", 1, PN_API_LIST_MAX, &limit))
		return 0;
	if (fmt && strcmp(fmt, "json") && strcmp(fmt, "jsonl"))
		return pn_api_error(r, 400, "invalid_query", "format must be json or jsonl");
	q.after_seq = after;
	q.limit = (unsigned)limit;
	q.resource_id = pn_api_query(r, "resource");
	q.client_id = pn_api_query(r, "client");
	q.verdict = pn_api_query(r, "verdict");
	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	rc = s->ops->flow_list(s->be, &q, &rows);
	pn_store_rollback(s);
	if (rc)
		return pn_api_store_error(r, rc);
	if (fmt && !strcmp(fmt, "jsonl")) {
		size_t i, cap = 1, len = 0;
		json_t *row;
		char *out = malloc(cap);

		json_array_foreach(rows, i, row) {
			char *line = json_dumps(row, JSON_COMPACT);
			size_t n = line ? strlen(line) : 0;
			char *nb = line ? realloc(out, cap + n + 1) : NULL;

			if (!nb) {
				free(line);
				free(out);
				json_decref(rows);
				return pn_api_error(r, 500, "internal", "out of memory");
			}
			out = nb;
			cap += n + 1;
			memcpy(out + len, line, n);
			out[len + n] = '\n';
			len += n + 1;
			free(line);
		}
		if (!out)
			return json_decref(rows), pn_api_error(r, 500, "internal", "out of memory");
		out[len] = '\0';
		json_decref(rows);
		r->raw = out;
		r->raw_type = "application/x-ndjson";
		r->status = 200;
		return 0;
	}
	return pn_api_ok(r, 200, json_pack("{s:o}", "flow_events", rows));
}

const struct pn_route pn_admin_routes[] = {
	{"GET", "ca", PN_A_PUBLIC, h_ca, NULL},
	{"GET", "status", PN_A_READ, h_status, NULL},
	{"GET", "admin-keys", PN_A_ADMIN, h_keys_list, NULL},
	{"POST", "admin-keys", PN_A_ADMIN, h_keys_create, NULL},
	{"DELETE", "admin-keys/{id}", PN_A_ADMIN, h_keys_delete, NULL},
	{"GET", "audit", PN_A_READ, h_audit, NULL},
	{"GET", "flow-events", PN_A_READ, h_flows, NULL},
	{NULL, NULL, 0, NULL, NULL},
};
