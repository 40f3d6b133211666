/* Response helpers and small pieces shared by every handler group. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "controller/api.h"
#include "controller/mhd_dl.h"
#include "controller/push.h"
#include "core/err.h"
#include "core/log.h"

int64_t pn_now(void)
{
	return (int64_t)time(NULL);
}

int64_t pn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pn_api_error(struct pn_req *r, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(r->resp);
	r->status = status;
	r->resp = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	if (!r->resp) {
		/* The message quotes input that is not UTF-8 (a percent-encoded
		 * path byte, a cut multi-byte name): JSON cannot carry it, so
		 * say '?' instead of losing the answer (the HTTP layer would
		 * turn a missing response into a 500). */
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		r->resp = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	}
	return PN_E_API_ANSWERED;
}

int pn_api_ok(struct pn_req *r, unsigned status, json_t *body)
{
	json_decref(r->resp);
	r->status = status;
	r->resp = body;
	if (!body)
		return pn_api_error(r, 500, "internal", "out of memory");
	return 0;
}

int pn_api_done(const struct pn_req *r)
{
	return r->resp && r->status < 400 ? 0 : PN_E_API_ANSWERED;
}

int pn_api_store_error(struct pn_req *r, int err)
{
	switch (err) {
	case PN_E_API_ANSWERED: /* a helper answered already: keep its response */ return err;
	case PN_E_STORE_NOTFOUND:
		return pn_api_error(r, 404, "not_found", "no such object");
	case PN_E_STORE_CONFLICT:
		return pn_api_error(r, 409, "conflict",
				    "conflicts with an existing object (duplicate name, or "
				    "the object is still referenced)");
	case PN_E_STORE_BUSY:
		return pn_api_error(r, 503, "busy", "database busy, retry");
	case PN_E_STORE_DOWN:
		return pn_api_error(r, 503, "store_unavailable",
				    "the controller's database is unreachable, retry later");
	case PN_E_STORE_FULL:
		return pn_api_error(r, 503, "store_full",
				    "the controller's database has no space left: changes are "
				    "refused until space is freed");
	case PN_E_INVAL:
		return pn_api_error(r, 400, "invalid", "invalid value");
	default:
		PN_LOG_ERROR("controller", "store_failed", "path=%s err=%s", r->path,
			     pn_errname(err));
		return pn_api_error(r, 500, "internal", "%s", pn_strerror(err));
	}
}

const char *pn_api_query(struct pn_req *r, const char *key)
{
	if (!r->conn) /* a request driven in memory (fuzz/controller) has no query */
		return NULL;
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static int is_hex_id(const char *s)
{
	if (strlen(s) != 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

int pn_api_resolve(struct pn_req *r, enum pn_obj kind, const char *ref, json_t **row)
{
	struct pn_store *s = r->ctl->store;
	int rc = PN_E_STORE_NOTFOUND;

	*row = NULL;
	if (!ref || !*ref || strlen(ref) > 128)
		return pn_api_error(r, 400, "invalid_reference", "empty or overlong reference");
	if (is_hex_id(ref))
		rc = pn_store_get(s, kind, ref, row);
	if (rc == PN_E_STORE_NOTFOUND && kind != PN_OBJ_MEMBERSHIP && kind != PN_OBJ_POLICY &&
	    kind != PN_OBJ_ADMIN_KEY)
		rc = pn_store_get_by(s, kind, "name", ref, row);
	if (rc == PN_E_STORE_NOTFOUND)
		return pn_api_error(r, 404, "not_found", "no %s '%s'", pn_store_desc(kind)->table,
				    ref);
	if (rc)
		return pn_api_store_error(r, rc);
	return 0;
}

int pn_api_changed(struct pn_req *r, const char *action, const char *kind, const char *id,
		   const json_t *detail, uint64_t *version)
{
	struct pn_store *s = r->ctl->store;
	uint64_t v = 0;
	int rc;

	if ((rc = s->ops->version_bump(s->be, &v)))
		return rc;
	if ((rc = s->ops->audit_append(s->be, pn_now(), r->actor[0] ? r->actor : "system",
				       action, kind, id, detail)))
		return rc;
	if (version)
		*version = v;
	return 0;
}

int pn_api_commit(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	uint64_t v = 0;
	int rc;

	rc = pn_store_commit(s);
	if (rc)
		return rc;
	/* The version read here may already include later commits: that is
	 * fine, subscribers always fetch the latest state. */
	if (pn_store_read(s) == 0) {
		s->ops->version_get(s->be, &v);
		pn_store_rollback(s);
	}
	pn_push_notify(r->ctl->push, v);
	return 0;
}

int pn_api_new_key(const char *prefix, char key[80], char hash[65])
{
	char id[33], id2[33];
	int rc;

	if ((rc = pn_store_new_id(id)) || (rc = pn_store_new_id(id2)))
		return rc;
	snprintf(key, 80, "%s%s%s", prefix, id, id2);
	return pn_store_hash_hex(key, strlen(key), hash);
}

int pn_api_revoke_holder(struct pn_req *r, const char *holder_id)
{
	struct pn_store *s = r->ctl->store;
	int n = 0, rc = s->ops->revoke_where(s->be, "holder_id", holder_id, &n);

	if (rc)
		return pn_api_store_error(r, rc);
	return 0;
}
