/*
 * Who is calling.  Two mechanisms, checked on every request:
 *
 *   Authorization: Bearer pnak_<64 hex>   admin API key (role admin|readonly)
 *   Authorization: Bearer pnsk_<64 hex>   service-account API key
 *   Authorization: Bearer pnas_<64 hex>   admin session of a person (OIDC,
 *                                         `postern ctl login`): role admin
 *                                         until it expires or the user is
 *                                         disabled; audited as the person
 *   TLS client certificate                component credential (mutual TLS)
 *
 * Keys are 32 random bytes; the store keeps only SHA-256 of the key text,
 * looked up by that hash (the hash of a high-entropy secret reveals nothing
 * useful through lookup timing).  A presented but unknown/revoked key never
 * falls back to anonymous: the request gets 401 from the router.
 *
 * A client certificate must verify under the pinned CA (trust lib: type,
 * extension, validity with skew), be known to the store and not revoked,
 * and its holder (connector, relay, service account) must still exist and
 * be enabled.
 *
 * Without either, the console's session cookie (console_session.c) may
 * identify an admin or read-only admin; such a request must also carry the
 * session's CSRF token to change anything (checked by the router).
 */
#include <string.h>

#include <gnutls/gnutls.h>

#include "controller/api.h"
#include "controller/mhd_dl.h"
#include "core/err.h"
#include "core/log.h"

#define KEY_HEX 64

/* Check the key syntax: prefix + exactly 64 lowercase hex digits. */
static int key_syntax(const char *k, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (strncmp(k, prefix, pl) || strlen(k) != pl + KEY_HEX)
		return 0;
	for (const char *p = k + pl; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* The credential could not be checked: the router answers 503, not 401. */
static void store_down(struct pn_req *r)
{
	snprintf(r->actor, sizeof(r->actor), "%s", PN_ACTOR_STORE_DOWN);
}

static void identify_key(struct pn_req *r, const char *key)
{
	struct pn_store *s = r->ctl->store;
	char hash[65];
	json_t *row = NULL, *sa = NULL;
	int admin = key_syntax(key, "pnak_"), service = key_syntax(key, "pnsk_");
	int session = key_syntax(key, "pnas_");

	if ((!admin && !service && !session) || pn_store_hash_hex(key, strlen(key), hash))
		return;
	if (pn_store_read(s)) {
		store_down(r);
		return;
	}
	if (session) {
		const char *uid;

		if (pn_store_get_by(s, PN_OBJ_ADMIN_SESSION, "hash", hash, &row) == 0 &&
		    json_integer_value(json_object_get(row, "revoked")) == 0 &&
		    json_integer_value(json_object_get(row, "expires")) > pn_now() &&
		    (uid = json_string_value(json_object_get(row, "user_id"))) &&
		    pn_store_get(s, PN_OBJ_USER, uid, &sa) == 0 &&
		    json_integer_value(json_object_get(sa, "disabled")) == 0) {
			r->who = PN_P_ADMIN;
			snprintf(r->principal_id, sizeof(r->principal_id), "%s",
				 json_string_value(json_object_get(row, "id")));
			snprintf(r->actor, sizeof(r->actor), "user:%s:%.57s", uid,
				 json_string_value(json_object_get(sa, "name")));
		}
	} else if (admin) {
		if (pn_store_get_by(s, PN_OBJ_ADMIN_KEY, "hash", hash, &row) == 0 &&
		    json_integer_value(json_object_get(row, "revoked")) == 0) {
			const char *role = json_string_value(json_object_get(row, "role"));
			const char *id = json_string_value(json_object_get(row, "id"));

			r->who = role && !strcmp(role, "admin") ? PN_P_ADMIN : PN_P_READONLY;
			snprintf(r->principal_id, sizeof(r->principal_id), "%s", id);
			snprintf(r->actor, sizeof(r->actor), "admin-key:%s", id);
		}
	} else if (pn_store_get_by(s, PN_OBJ_SA_KEY, "hash", hash, &row) == 0 &&
		   json_integer_value(json_object_get(row, "revoked")) == 0) {
		const char *said = json_string_value(json_object_get(row, "service_account_id"));

		if (pn_store_get(s, PN_OBJ_SERVICE_ACCOUNT, said, &sa) == 0 &&
		    json_integer_value(json_object_get(sa, "disabled")) == 0) {
			r->who = PN_P_SERVICE;
			snprintf(r->principal_id, sizeof(r->principal_id), "%s", said);
			snprintf(r->actor, sizeof(r->actor), "service-account:%s", said);
		}
	}
	pn_store_rollback(s);
	json_decref(row);
	json_decref(sa);
}

/* Is the holder of a verified credential still allowed to exist? */
static int holder_active(struct pn_store *s, const json_t *cred)
{
	const char *kind = json_string_value(json_object_get(cred, "holder_kind"));
	const char *id = json_string_value(json_object_get(cred, "holder_id"));
	json_t *row = NULL;
	int ok = 0;

	if (!kind || !id)
		return 0;
	if (!strcmp(kind, "connector")) {
		ok = pn_store_get(s, PN_OBJ_CONNECTOR, id, &row) == 0 &&
		     !json_integer_value(json_object_get(row, "revoked"));
	} else if (!strcmp(kind, "relay")) {
		ok = pn_store_get(s, PN_OBJ_RELAY, id, &row) == 0 &&
		     !json_integer_value(json_object_get(row, "revoked"));
	} else if (!strcmp(kind, "service_account")) {
		ok = pn_store_get(s, PN_OBJ_SERVICE_ACCOUNT, id, &row) == 0 &&
		     !json_integer_value(json_object_get(row, "disabled"));
	} else if (!strcmp(kind, "user")) {
		ok = pn_store_get(s, PN_OBJ_USER, id, &row) == 0 &&
		     !json_integer_value(json_object_get(row, "disabled"));
	}
	json_decref(row);
	return ok;
}

static void identify_cert(struct pn_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	struct pn_store *s = r->ctl->store;
	unsigned ncerts = 0;
	json_t *cred = NULL;
	int rc;

	if (!ci || !ci->tls_session)
		return;
	if (!gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &ncerts) ||
	    !ncerts)
		return;
	rc = pn_cred_verify_session(r->ctl->anchor, (gnutls_session_t)ci->tls_session,
				    PN_CRED_ANY, (uint64_t)pn_now(), PN_TRUST_DEFAULT_SKEW,
				    &r->peer);
	if (rc) {
		PN_LOG_INFO("controller", "client_cert_refused", "err=%s", pn_errname(rc));
		snprintf(r->actor, sizeof(r->actor), "refused:%s", pn_errname(rc));
		return;
	}
	pn_cred_serial_hex(&r->peer, r->peer_serial);
	if (pn_store_read(s)) {
		store_down(r);
		return;
	}
	if (pn_store_get(s, PN_OBJ_CREDENTIAL, r->peer_serial, &cred) == 0 &&
	    !json_integer_value(json_object_get(cred, "revoked")) && holder_active(s, cred)) {
		r->who = PN_P_COMPONENT;
		snprintf(r->holder_kind, sizeof(r->holder_kind), "%s",
			 json_string_value(json_object_get(cred, "holder_kind")));
		snprintf(r->principal_id, sizeof(r->principal_id), "%s",
			 json_string_value(json_object_get(cred, "holder_id")));
		snprintf(r->actor, sizeof(r->actor), "%s:%s",
			 json_string_value(json_object_get(cred, "holder_kind")),
			 r->principal_id);
	} else {
		snprintf(r->actor, sizeof(r->actor), "refused:revoked");
	}
	pn_store_rollback(s);
	json_decref(cred);
	if (r->who == PN_P_COMPONENT)
		pn_console_seen(r);
}

void pn_auth_identify_header(struct pn_req *r, const char *h)
{
	r->who = PN_P_NONE;
	if (!strncmp(h, "Bearer ", 7))
		identify_key(r, h + 7);
	if (r->who == PN_P_NONE && strcmp(r->actor, PN_ACTOR_STORE_DOWN))
		snprintf(r->actor, sizeof(r->actor), "refused:key");
}

int pn_auth_identify(struct pn_req *r)
{
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");

	r->who = PN_P_NONE;
	if (h) {
		pn_auth_identify_header(r, h);
		return 0; /* a presented credential is never ignored */
	}
	identify_cert(r);
	/* No key, no certificate: a browser of the console (cookie). */
	if (r->who == PN_P_NONE && !r->actor[0])
		pn_console_identify(r);
	return 0;
}
