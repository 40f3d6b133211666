/*
 * Console sessions: a browser signs in once with an admin API key (pnak_)
 * or an admin session key (pnas_, `postern ctl login` / OIDC) and gets a
 * session cookie instead; the key itself is never kept by the browser.
 *
 *   Set-Cookie: __Host-pn_console=pncs_<64 hex>; Path=/; Secure; HttpOnly;
 *               SameSite=Strict; Max-Age=28800
 *
 * The store keeps SHA-256 of the cookie text (console_sessions), the role
 * and the principal it was made from; sign-out deletes the row, and each
 * sign-in first deletes the expired ones.  On every request the principal is
 * checked again: revoking the admin key, or disabling the person, ends the
 * browser's session at once.  A cookie session has exactly the rights of
 * the key it came from; requests go through the same router and handlers
 * as `postern ctl`.
 *
 * CSRF: every request that is not GET/HEAD and was authenticated by the
 * cookie must carry X-CSRF-Token = hex(SHA-256("postern-console-csrf:" ||
 * cookie)).  The browser learns it only from GET /v1/console/session (a
 * same-origin read: no CORS), so another site can neither read nor forge
 * it; SameSite=Strict is a second, independent barrier.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "controller/api.h"
#include "controller/console.h"
#include "controller/mhd_dl.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#define CSRF_LABEL "postern-console-csrf:"

static int token_syntax(const char *k)
{
	size_t pl = strlen(PN_CONSOLE_TOKEN_PREFIX);

	if (!k || strncmp(k, PN_CONSOLE_TOKEN_PREFIX, pl) || strlen(k) != pl + 64)
		return 0;
	for (const char *p = k + pl; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

const char *pn_console_cookie(struct pn_req *r)
{
	const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, PN_CONSOLE_COOKIE);

	return token_syntax(c) ? c : NULL;
}

int pn_console_csrf(const char *token, char out[65])
{
	char buf[sizeof(CSRF_LABEL) + 80];
	int n = snprintf(buf, sizeof(buf), "%s%s", CSRF_LABEL, token);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return PN_E_INVAL;
	rc = pn_store_hash_hex(buf, (size_t)n, out);
	pn_wipe(buf, sizeof(buf));
	return rc;
}

/* Is the key the session was made from still good?  (inside a read tx) */
static int principal_active(struct pn_store *s, const json_t *sess)
{
	const char *kind = json_string_value(json_object_get(sess, "principal_kind"));
	const char *id = json_string_value(json_object_get(sess, "principal_id"));
	json_t *row = NULL, *user = NULL;
	int ok = 0;

	if (!kind || !id)
		return 0;
	if (!strcmp(kind, "admin-key")) {
		ok = pn_store_get(s, PN_OBJ_ADMIN_KEY, id, &row) == 0 &&
		     !json_integer_value(json_object_get(row, "revoked"));
	} else if (!strcmp(kind, "admin-session")) {
		const char *uid;

		ok = pn_store_get(s, PN_OBJ_ADMIN_SESSION, id, &row) == 0 &&
		     !json_integer_value(json_object_get(row, "revoked")) &&
		     json_integer_value(json_object_get(row, "expires")) > pn_now() &&
		     (uid = json_string_value(json_object_get(row, "user_id"))) &&
		     pn_store_get(s, PN_OBJ_USER, uid, &user) == 0 &&
		     !json_integer_value(json_object_get(user, "disabled"));
	}
	json_decref(row);
	json_decref(user);
	return ok;
}

void pn_console_identify(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	const char *tok = pn_console_cookie(r);
	const char *hdr, *role;
	char hash[65], csrf[65];
	json_t *row = NULL;

	if (!tok || pn_store_hash_hex(tok, strlen(tok), hash))
		return; /* a stale or odd cookie is no credential: anonymous */
	if (pn_store_read(s)) {
		snprintf(r->actor, sizeof(r->actor), "%s", PN_ACTOR_STORE_DOWN);
		return;
	}
	if (pn_store_get_by(s, PN_OBJ_CONSOLE_SESSION, "hash", hash, &row) == 0 &&
	    !json_integer_value(json_object_get(row, "revoked")) &&
	    json_integer_value(json_object_get(row, "expires")) > pn_now() &&
	    principal_active(s, row) && (role = json_string_value(json_object_get(row, "role")))) {
		r->who = !strcmp(role, "admin") ? PN_P_ADMIN : PN_P_READONLY;
		r->via_cookie = 1;
		snprintf(r->principal_id, sizeof(r->principal_id), "%s",
			 json_string_value(json_object_get(row, "principal_id")));
		snprintf(r->actor, sizeof(r->actor), "%s",
			 json_string_value(json_object_get(row, "actor")));
		hdr = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, PN_CONSOLE_CSRF_HEADER);
		r->csrf_ok = hdr && strlen(hdr) == 64 && pn_console_csrf(tok, csrf) == 0 &&
			     pn_ct_memcmp(hdr, csrf, 64) == 0;
	}
	pn_store_rollback(s);
	json_decref(row);
}

int pn_console_csrf_check(struct pn_req *r)
{
	if (!r->via_cookie || r->csrf_ok || !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"))
		return 0;
	PN_LOG_INFO("controller", "csrf_refused", "actor=%s method=%s", r->actor, r->method);
	return pn_api_error(
	    r, 403, "csrf_token_required",
	    "a change from the console must carry the session's " PN_CONSOLE_CSRF_HEADER " header");
}

/* Resolve a presented key into (principal kind, id, role, actor, expiry);
 * inside a read transaction.  0, or -1 if it is not a usable admin key. */
static int key_principal(struct pn_store *s, const char *key, json_t *sess)
{
	char hash[65];
	json_t *row = NULL, *user = NULL;
	int rc = -1;
	int64_t exp = pn_now() + PN_CONSOLE_SESSION_TTL;

	if (pn_store_hash_hex(key, strlen(key), hash))
		return -1;
	if (!strncmp(key, "pnak_", 5)) {
		const char *role, *id;

		if (pn_store_get_by(s, PN_OBJ_ADMIN_KEY, "hash", hash, &row) ||
		    json_integer_value(json_object_get(row, "revoked")) ||
		    !(role = json_string_value(json_object_get(row, "role"))) ||
		    !(id = json_string_value(json_object_get(row, "id"))))
			goto out;
		char actor[96];

		snprintf(actor, sizeof(actor), "admin-key:%s", id);
		json_object_set_new(sess, "principal_kind", json_string("admin-key"));
		json_object_set_new(sess, "principal_id", json_string(id));
		json_object_set_new(sess, "role",
				    json_string(!strcmp(role, "admin") ? "admin" : "readonly"));
		json_object_set_new(sess, "actor", json_string(actor));
	} else if (!strncmp(key, "pnas_", 5)) {
		const char *uid, *id;
		int64_t sexp;
		char actor[96];

		if (pn_store_get_by(s, PN_OBJ_ADMIN_SESSION, "hash", hash, &row) ||
		    json_integer_value(json_object_get(row, "revoked")) ||
		    (sexp = json_integer_value(json_object_get(row, "expires"))) <= pn_now() ||
		    !(uid = json_string_value(json_object_get(row, "user_id"))) ||
		    !(id = json_string_value(json_object_get(row, "id"))) ||
		    pn_store_get(s, PN_OBJ_USER, uid, &user) ||
		    json_integer_value(json_object_get(user, "disabled")))
			goto out;
		if (sexp < exp)
			exp = sexp; /* never outlive the admin session it came from */
		snprintf(actor, sizeof(actor), "user:%s:%.57s", uid,
			 json_string_value(json_object_get(user, "name")));
		json_object_set_new(sess, "principal_kind", json_string("admin-session"));
		json_object_set_new(sess, "principal_id", json_string(id));
		json_object_set_new(sess, "role", json_string("admin"));
		json_object_set_new(sess, "actor", json_string(actor));
	} else {
		goto out;
	}
	json_object_set_new(sess, "expires", json_integer(exp));
	rc = 0;
out:
	json_decref(row);
	json_decref(user);
	return rc;
}

static int set_cookie(struct pn_req *r, const char *tok, int64_t max_age)
{
	int n = snprintf(r->hdr_buf, sizeof(r->hdr_buf),
			 "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%lld",
			 PN_CONSOLE_COOKIE, tok, (long long)max_age);

	if (n < 0 || (size_t)n >= sizeof(r->hdr_buf))
		return -ENOSPC;
	return pn_api_header(r, "Set-Cookie", r->hdr_buf);
}

static json_t *session_view(const char *role, const char *actor, int64_t expires, const char *csrf)
{
	return json_pack("{s:s,s:s,s:I,s:s?}", "role", role, "actor", actor, "expires",
			 (json_int_t)expires, "csrf", csrf);
}

/* POST /v1/console/session {api_key} (public): sign in. */
int pn_console_h_signin(struct pn_req *r)
{
	static const char *const fields[] = {"api_key", NULL};
	struct pn_store *s = r->ctl->store;
	const char *key;
	char tok[80], hash[65], csrf[65], id[33];
	json_t *sess = NULL;
	int rc;

	if (pn_api_only_fields(r, fields) || pn_api_str(r, "api_key", 1, 80, 0, &key))
		return 0;
	if (!(sess = json_object()))
		return pn_api_error(r, 500, "internal", "out of memory");
	if ((rc = pn_store_read(s))) {
		json_decref(sess);
		return pn_api_store_error(r, rc);
	}
	rc = key_principal(s, key, sess);
	pn_store_rollback(s);
	if (rc) {
		json_decref(sess);
		PN_LOG_INFO("controller", "console_signin_refused", "reason=key");
		return pn_api_error(r, 401, "invalid_token",
				    "not a valid admin API key or admin session key");
	}
	if (pn_api_new_key(PN_CONSOLE_TOKEN_PREFIX, tok, hash) || pn_store_new_id(id) ||
	    pn_console_csrf(tok, csrf)) {
		json_decref(sess);
		pn_wipe(tok, sizeof(tok));
		return pn_api_error(r, 500, "internal", "cannot make a session");
	}
	json_object_set_new(sess, "id", json_string(id));
	json_object_set_new(sess, "hash", json_string(hash));
	json_object_set_new(sess, "revoked", json_integer(0));
	json_object_set_new(sess, "created", json_integer(pn_now()));
	if ((rc = pn_store_begin(s)) == 0) {
		snprintf(r->actor, sizeof(r->actor), "%s",
			 json_string_value(json_object_get(sess, "actor")));
		int purged = 0;

		/* Sessions are only made here: dropping the expired ones on
		 * the way bounds the table to those of the last TTL. */
		if ((rc = s->ops->purge_before(s->be, PN_OBJ_CONSOLE_SESSION, "expires", pn_now(),
					       &purged)) ||
		    (rc = pn_store_insert(s, PN_OBJ_CONSOLE_SESSION, sess)) ||
		    (rc = s->ops->audit_append(s->be, pn_now(), r->actor, "sign_in",
					       "console_session", id, NULL)) ||
		    (rc = pn_store_commit(s)))
			pn_store_rollback(s);
		else if (purged)
			PN_LOG_INFO("controller", "console_sessions_purged", "expired=%d", purged);
	}
	if (rc) {
		json_decref(sess);
		pn_wipe(tok, sizeof(tok));
		return pn_api_store_error(r, rc);
	}
	{
		int64_t exp = json_integer_value(json_object_get(sess, "expires"));

		PN_LOG_INFO("controller", "console_signin", "actor=%s role=%s session=%s", r->actor,
			    json_string_value(json_object_get(sess, "role")), id);
		if (set_cookie(r, tok, exp - pn_now()))
			rc = -ENOSPC;
		else
			pn_api_ok(r, 201,
				  session_view(json_string_value(json_object_get(sess, "role")),
					       r->actor, exp, csrf));
	}
	pn_wipe(tok, sizeof(tok));
	json_decref(sess);
	return rc ? pn_api_error(r, 500, "internal", "cannot set the cookie") : 0;
}

/* GET /v1/console/session (READ): who am I, and the CSRF token. */
int pn_console_h_whoami(struct pn_req *r)
{
	const char *tok = r->via_cookie ? pn_console_cookie(r) : NULL;
	char csrf[65];

	if (tok && pn_console_csrf(tok, csrf))
		return pn_api_error(r, 500, "internal", "cannot derive the CSRF token");
	return pn_api_ok(r, 200,
			 session_view(r->who == PN_P_ADMIN ? "admin" : "readonly", r->actor, 0,
				      tok ? csrf : NULL));
}

/* DELETE /v1/console/session (READ, CSRF checked by the router): sign out
 * (the row is deleted: nothing is kept of an ended session but the audit). */
int pn_console_h_signout(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	const char *tok = r->via_cookie ? pn_console_cookie(r) : NULL;
	char hash[65], id[33];
	json_t *row = NULL;
	int rc;

	if (!tok)
		return pn_api_error(r, 400, "invalid_request", "no console session to end");
	if (pn_store_hash_hex(tok, strlen(tok), hash))
		return pn_api_error(r, 500, "internal", "hash failed");
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	if ((rc = pn_store_get_by(s, PN_OBJ_CONSOLE_SESSION, "hash", hash, &row)) == 0) {
		snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(row, "id")));
		if (!(rc = pn_store_remove(s, PN_OBJ_CONSOLE_SESSION, id)))
			rc = s->ops->audit_append(s->be, pn_now(), r->actor, "sign_out",
						  "console_session", id, NULL);
	}
	json_decref(row);
	if (rc || (rc = pn_store_commit(s))) {
		pn_store_rollback(s);
		return pn_api_store_error(r, rc);
	}
	if (set_cookie(r, "", 0))
		return pn_api_error(r, 500, "internal", "cannot clear the cookie");
	return pn_api_ok(r, 200, json_pack("{s:b}", "signed_out", 1));
}
