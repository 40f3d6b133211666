/*
 * Copy one store into another (migrate-store): every object kind in
 * dependency order (the enum order), then the audit and flow logs with
 * their sequence numbers, then the policy version, all in one write
 * transaction on the target over one read snapshot of the source, so the
 * target ends up with all of it or none.  The target must be empty (no
 * admin key) and support restore_log/version_set (PostgreSQL).  Rows are
 * inserted in the source's list order, which the target keeps for ties.
 */
#include <errno.h>

#include "controller/store.h"
#include "core/err.h"
#include "core/log.h"

#define COPY_MAX 100000u /* = the list limit: a bigger table is refused, not cut */
#define LOG_PAGE 1000u

static int copy_objects(struct pn_store *from, struct pn_store *to, unsigned *total)
{
	for (int k = 0; k < PN_OBJ_COUNT_; k++) {
		json_t *rows = NULL, *row;
		size_t i;
		int rc;

		if ((rc = pn_store_list(from, (enum pn_obj)k, NULL, 0, COPY_MAX, &rows)))
			return rc;
		if (json_array_size(rows) >= COPY_MAX) {
			PN_LOG_ERROR("store", "copy_too_big", "table=%s", pn_store_desc(k)->table);
			json_decref(rows);
			return PN_E_STORE;
		}
		json_array_foreach(rows, i, row)
		{
			if ((rc = pn_store_insert(to, (enum pn_obj)k, row))) {
				json_decref(rows);
				return rc;
			}
		}
		*total += (unsigned)json_array_size(rows);
		json_decref(rows);
	}
	return 0;
}

static int copy_log(struct pn_store *from, struct pn_store *to, int flows, unsigned *total)
{
	int64_t after = 0;

	for (;;) {
		struct pn_flow_query q = {.after_seq = after, .limit = LOG_PAGE};
		json_t *rows = NULL;
		size_t n;
		int rc;

		rc = flows ? from->ops->flow_list(from->be, &q, &rows)
			   : from->ops->audit_list(from->be, after, LOG_PAGE, &rows);
		if (rc)
			return rc;
		n = json_array_size(rows);
		if (n)
			rc = to->ops->restore_log(to->be, flows, rows);
		if (!rc && n)
			after =
			    json_integer_value(json_object_get(json_array_get(rows, n - 1), "seq"));
		json_decref(rows);
		if (rc)
			return rc;
		*total += (unsigned)n;
		if (n < LOG_PAGE)
			return 0;
	}
}

int pn_store_copy(struct pn_store *from, struct pn_store *to)
{
	unsigned objs = 0, audit = 0, flows = 0;
	json_t *keys = NULL;
	uint64_t v = 0;
	int rc;

	if (!to->ops->restore_log || !to->ops->version_set)
		return PN_E_INVAL;
	if ((rc = pn_store_read(from)))
		return rc;
	if ((rc = pn_store_begin(to))) {
		pn_store_rollback(from);
		return rc;
	}
	if ((rc = pn_store_list(to, PN_OBJ_ADMIN_KEY, NULL, 0, 1, &keys)))
		goto out;
	if (json_array_size(keys)) {
		PN_LOG_ERROR("store", "copy_target_not_empty",
			     "msg=\"the target holds a network\"");
		rc = -EEXIST;
		goto out;
	}
	if ((rc = copy_objects(from, to, &objs)) || (rc = copy_log(from, to, 0, &audit)) ||
	    (rc = copy_log(from, to, 1, &flows)) || (rc = from->ops->version_get(from->be, &v)) ||
	    (rc = to->ops->version_set(to->be, v)))
		goto out;
	rc = pn_store_commit(to);
	if (!rc)
		PN_LOG_INFO("store", "copied",
			    "from=%s to=%s objects=%u audit=%u flows=%u"
			    " policy_version=%llu",
			    from->ops->name, to->ops->name, objs, audit, flows,
			    (unsigned long long)v);
out:
	json_decref(keys);
	if (rc)
		pn_store_rollback(to);
	pn_store_rollback(from);
	return rc;
}
