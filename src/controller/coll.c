/* Generic collection handlers shared by every stored object kind. */
#include <stdlib.h>
#include <string.h>

#include "controller/objects.h"
#include "core/err.h"

json_t *pn_coll_present(enum pn_obj kind, const json_t *row)
{
	json_t *o = pn_store_public_row(kind, row);
	const char *p;

	if (o && kind == PN_OBJ_RESOURCE &&
	    (p = json_string_value(json_object_get(o, "protocols")))) {
		json_t *arr = json_loads(p, 0, NULL);

		if (arr)
			json_object_set_new(o, "protocols", arr);
	}
	/* integer flags read better as booleans */
	static const char *const flags[] = {"disabled", "revoked", "enrolled", "used"};
	for (size_t i = 0; o && i < sizeof(flags) / sizeof(flags[0]); i++) {
		json_t *v = json_object_get(o, flags[i]);

		if (json_is_integer(v))
			json_object_set_new(o, flags[i], json_boolean(json_integer_value(v)));
	}
	return o;
}

static json_t *present_list(enum pn_obj kind, json_t *rows)
{
	json_t *out = json_array();
	size_t i;
	json_t *row;

	if (!out)
		return NULL;
	json_array_foreach(rows, i, row)
		json_array_append_new(out, pn_coll_present(kind, row));
	return out;
}

int pn_coll_list(struct pn_req *r)
{
	const struct pn_coll *c = r->route_ctx;
	struct pn_store *s = r->ctl->store;
	struct pn_filter f[4];
	json_t *ids[4] = {NULL}, *rows = NULL;
	unsigned nf = 0, limit = PN_API_LIST_MAX;
	const char *lim = pn_api_query(r, "limit");
	int rc;

	if (lim) {
		char *end;
		unsigned long v = strtoul(lim, &end, 10);

		if (*end || v < 1 || v > PN_API_LIST_MAX)
			return pn_api_error(r, 400, "invalid_limit", "limit must be 1..%d",
					    PN_API_LIST_MAX);
		limit = (unsigned)v;
	}
	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	for (size_t i = 0; c->filters && c->filters[i].param && nf < 4; i++) {
		const char *q = pn_api_query(r, c->filters[i].param);

		if (!q)
			continue;
		if (pn_api_resolve(r, c->filters[i].kind, q, &ids[nf]))
			goto out;
		f[nf].col = c->filters[i].col;
		f[nf].text = json_string_value(json_object_get(ids[nf], "id"));
		nf++;
	}
	rc = pn_store_list(s, c->kind, f, nf, limit, &rows);
	if (rc)
		pn_api_store_error(r, rc);
	else
		pn_api_ok(r, 200, json_pack("{s:o}", c->path, present_list(c->kind, rows)));
out:
	pn_store_rollback(s);
	for (unsigned i = 0; i < 4; i++)
		json_decref(ids[i]);
	json_decref(rows);
	return pn_api_done(r);
}

int pn_coll_get(struct pn_req *r)
{
	const struct pn_coll *c = r->route_ctx;
	struct pn_store *s = r->ctl->store;
	json_t *row = NULL;
	int rc;

	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	if (!pn_api_resolve(r, c->kind, r->seg[1], &row))
		pn_api_ok(r, 200, pn_coll_present(c->kind, row));
	pn_store_rollback(s);
	json_decref(row);
	return 0;
}

int pn_coll_create(struct pn_req *r)
{
	const struct pn_coll *c = r->route_ctx;
	struct pn_store *s = r->ctl->store;
	json_t *row = json_object(), *resp = NULL, *pub = NULL;
	char id[33];
	int rc;

	if (!row || pn_store_new_id(id))
		return json_decref(row), pn_api_error(r, 500, "internal", "out of memory");
	json_object_set_new(row, "id", json_string(id));
	json_object_set_new(row, "created", json_integer(pn_now()));
	if (c->hooks && c->hooks->defaults)
		c->hooks->defaults(row);
	if ((rc = pn_store_begin(s))) {
		json_decref(row);
		return pn_api_store_error(r, rc);
	}
	if (c->build(r, 1, row))
		goto fail;
	if ((rc = pn_store_insert(s, c->kind, row))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	resp = pn_coll_present(c->kind, row);
	pub = pn_coll_present(c->kind, row);
	if (!resp || !pub) {
		pn_api_error(r, 500, "internal", "out of memory");
		goto fail;
	}
	if (c->hooks && c->hooks->after_create && c->hooks->after_create(r, row, resp))
		goto fail;
	if ((rc = pn_api_changed(r, "create", c->singular, id, pub, NULL)) ||
	    (rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto fail_committed;
	}
	pn_api_ok(r, 201, resp);
	json_decref(row);
	json_decref(pub);
	return 0;
fail:
	pn_store_rollback(s);
fail_committed:
	json_decref(row);
	json_decref(resp);
	json_decref(pub);
	return pn_api_done(r);
}

int pn_coll_update(struct pn_req *r)
{
	const struct pn_coll *c = r->route_ctx;
	struct pn_store *s = r->ctl->store;
	json_t *row = NULL, *set = json_object(), *after = NULL;
	const char *id;
	int rc;

	if (!set)
		return pn_api_error(r, 500, "internal", "out of memory");
	if ((rc = pn_store_begin(s))) {
		json_decref(set);
		return pn_api_store_error(r, rc);
	}
	if (pn_api_resolve(r, c->kind, r->seg[1], &row) || c->build(r, 0, set))
		goto fail;
	if (json_object_size(set) == 0) {
		pn_api_error(r, 400, "nothing_to_change", "the body names no changeable field");
		goto fail;
	}
	id = json_string_value(json_object_get(row, "id"));
	if ((rc = pn_store_update(s, c->kind, id, set)) ||
	    (rc = pn_store_get(s, c->kind, id, &after))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if (c->hooks && c->hooks->after_update && c->hooks->after_update(r, after, set))
		goto fail;
	if ((rc = pn_api_changed(r, "update", c->singular, id, set, NULL)) ||
	    (rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	pn_api_ok(r, 200, pn_coll_present(c->kind, after));
	goto out;
fail:
	pn_store_rollback(s);
out:
	json_decref(row);
	json_decref(set);
	json_decref(after);
	return pn_api_done(r);
}

int pn_coll_delete(struct pn_req *r)
{
	const struct pn_coll *c = r->route_ctx;
	struct pn_store *s = r->ctl->store;
	json_t *row = NULL, *pub = NULL;
	const char *id;
	int rc;

	if (r->body && json_object_size(r->body))
		return pn_api_error(r, 400, "unknown_field", "DELETE takes no body");
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	if (pn_api_resolve(r, c->kind, r->seg[1], &row))
		goto fail;
	id = json_string_value(json_object_get(row, "id"));
	if (c->hooks && c->hooks->before_delete && c->hooks->before_delete(r, row))
		goto fail;
	pub = pn_coll_present(c->kind, row);
	if ((rc = pn_store_remove(s, c->kind, id))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if ((rc = pn_api_changed(r, "delete", c->singular, id, pub, NULL)) ||
	    (rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	pn_api_ok(r, 200, json_pack("{s:s}", "deleted", id));
	goto out;
fail:
	pn_store_rollback(s);
out:
	json_decref(row);
	json_decref(pub);
	return pn_api_done(r);
}
