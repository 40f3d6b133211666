/*
 * People sign in through the organisation's OpenID Provider.  The
 * controller is the OAuth client (confidential: the client secret never
 * leaves it); the Postern client only carries the browser redirect and
 * keeps its own key.  All routes are PUBLIC: the login itself is the
 * authentication.
 *
 *   POST /v1/login/oidc/start  {provider?, redirect_uri, code_challenge,
 *        code_challenge_method?: "S256"}
 *        -> {authorization_url, state, expires_in}
 *        The controller makes state and nonce (32 random bytes each) and
 *        remembers (sha256(state) -> nonce, client's PKCE challenge,
 *        redirect_uri, provider, expiry); the client's challenge goes to
 *        the IdP as is, so only the holder of the verifier can redeem the
 *        code.  redirect_uri must be a loopback http URI (RFC 8252 7.3).
 *   POST /v1/login/oidc/finish {state, code, code_verifier, csr}
 *        The flow is consumed first (deleted: single use, whatever
 *        follows), the verifier checked against the challenge, then the
 *        code exchanged at the IdP's token endpoint (with the verifier and
 *        the client secret), the ID token verified (oidc_jwt.h) with the
 *        flow's nonce, the user created/updated and a client credential +
 *        access list issued for csr: the same answer as client/login.
 *   POST /v1/login/oidc/device {provider?}
 *        -> {flow, user_code, verification_uri, verification_uri_complete?,
 *            interval, expires_in}   (RFC 8628; device_code sealed at rest)
 *   POST /v1/login/oidc/device/poll {flow, csr}
 *        -> 202 {status: "pending", interval} until the user approved,
 *           then as finish.
 *
 * purpose "admin" (start, device): instead of a credential, members of the
 * provider's admin_group (by this login's groups claim) get an admin
 * session key "pnas_<64 hex>" valid 1 h (auth.c), audited as the person.
 *
 * Renewal of a user's credential and GET /v1/identities: oidc_identity.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "controller/api.h"
#include "controller/console.h"
#include "controller/oidc.h"
#include "controller/oidc_user.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/curl_dl.h"

#define B64_32 43 /* base64url length of 32 bytes */

static int rand_b64(char out[B64_32 + 1])
{
	uint8_t b[32];
	int rc = pn_random(b, sizeof(b));

	if (rc)
		return rc;
	pn_oidc_b64url_encode(b, sizeof(b), out, B64_32 + 1 + 8);
	pn_wipe(b, sizeof(b));
	return 0;
}

static int is_b64url(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

/* RFC 7636 4.1: 43..128 of [A-Za-z0-9-._~] */
static int is_verifier(const char *s)
{
	size_t n = strlen(s);

	if (n < 43 || n > 128)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' || *s == '~'))
			return 0;
	return 1;
}

/* RFC 8252 7.3: http://127.0.0.1:PORT/..., http://[::1]:PORT/..., localhost. */
static int loopback_uri(const char *u)
{
	static const char *const pre[] = {
	    "http://127.0.0.1:", "http://[::1]:", "http://localhost:"};
	size_t i;

	if (strlen(u) > 200)
		return 0;
	for (i = 0; i < 3 && strncmp(u, pre[i], strlen(pre[i])); i++)
		;
	if (i == 3)
		return 0;
	/* then a port of 1..5 digits and a path (or nothing) */
	{
		const char *d = u + strlen(pre[i]), *e = d;

		while (*e >= '0' && *e <= '9' && e - d < 6)
			e++;
		if (e == d || e - d > 5 || (*e && *e != '/'))
			return 0;
	}
	for (const char *p = u; *p; p++)
		if (*p <= ' ' || *p >= 127 || *p == '"' || *p == '<' || *p == '>' || *p == '#' ||
		    *p == '\\')
			return 0;
	return 1;
}

static int flow_hash(const char *secret, char out[65])
{
	return pn_store_hash_hex(secret, strlen(secret), out);
}

static struct pn_oidc_provider *provider_arg(struct pn_req *r)
{
	const char *name = NULL;
	struct pn_oidc_provider *p;

	if (!r->ctl->oidc) {
		pn_api_error(r, 404, "oidc_not_configured", "no identity provider is configured");
		return NULL;
	}
	if (pn_api_str(r, "provider", 0, 63, 1, &name))
		return NULL;
	if (!(p = pn_oidc_find(r->ctl->oidc, name))) {
		pn_api_error(r, 400, "unknown_provider",
			     name ? "no identity provider called '%s'"
				  : "several identity providers: name one ('provider')%s",
			     name ? name : "");
		return NULL;
	}
	if (pn_oidc_discover(p)) {
		pn_api_error(r, 502, "idp_unreachable", "identity provider '%s' unreachable",
			     p->name);
		return NULL;
	}
	return p;
}

/* Drop expired flows and refuse new ones past the global cap (inside the
 * write transaction).  Pending logins are the only state unauthenticated
 * callers can create, so it is bounded. */
static int flows_room(struct pn_req *r)
{
	struct pn_store *s = r->ctl->store;
	json_t *all = NULL, *f;
	size_t i, live = 0;
	int rc = pn_store_list(s, PN_OBJ_OIDC_FLOW, NULL, 0, PN_OIDC_FLOWS_MAX * 2, &all);

	if (rc)
		return pn_api_store_error(r, rc);
	json_array_foreach(all, i, f)
	{
		if (json_integer_value(json_object_get(f, "expires")) < pn_now())
			pn_store_remove(s, PN_OBJ_OIDC_FLOW,
					json_string_value(json_object_get(f, "id")));
		else
			live++;
	}
	json_decref(all);
	if (live >= PN_OIDC_FLOWS_MAX)
		return pn_api_error(r, 503, "busy", "too many logins in progress");
	return 0;
}

static void add_param(CURL *h, char **url, const char *k, const char *v)
{
	char *e = curl_easy_escape(h, v, 0), *n = NULL;

	if (*url && e && asprintf(&n, "%s&%s=%s", *url, k, e) > 0) {
		free(*url);
		*url = n;
	} else {
		free(*url);
		*url = NULL;
	}
	curl_free(e);
}

static int h_start(struct pn_req *r)
{
	static const char *const allowed[] = {
	    "provider", "redirect_uri", "code_challenge", "code_challenge_method", "purpose", NULL};
	struct pn_store *s = r->ctl->store;
	const char *redirect, *challenge, *method = NULL, *purpose = NULL;
	char state[B64_32 + 9], nonce[B64_32 + 9], hash[65];
	struct pn_oidc_provider *p;
	json_t *row = NULL;
	char *url = NULL;
	CURL *h = NULL;
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "redirect_uri", 1, 200, 0, &redirect) ||
	    pn_api_str(r, "code_challenge", 1, 128, 0, &challenge) ||
	    pn_api_str(r, "code_challenge_method", 0, 8, 0, &method) ||
	    pn_api_str(r, "purpose", 0, 8, 0, &purpose))
		return PN_E_API_ANSWERED;
	/* The admin console signs in as its own client: the IdP sends the
	 * browser back to this controller's /console/ (docs/console.md). */
	if (!loopback_uri(redirect) &&
	    !(purpose && !strcmp(purpose, "admin") && pn_console_redirect_ok(r, redirect)))
		return pn_api_error(r, 400, "invalid_redirect_uri",
				    "redirect_uri must be http://127.0.0.1:PORT/..., "
				    "http://[::1]:PORT/... or http://localhost:PORT/...");
	if ((method && strcmp(method, "S256")) || !is_b64url(challenge, 43, 43))
		return pn_api_error(r, 400, "invalid_pkce",
				    "PKCE: code_challenge must be S256 (43 base64url characters)");
	if (purpose && strcmp(purpose, "client") && strcmp(purpose, "admin"))
		return pn_api_error(r, 400, "invalid_purpose", "purpose: client or admin");
	if (!(p = provider_arg(r)))
		return 0;
	if (rand_b64(state) || rand_b64(nonce) || flow_hash(state, hash))
		return pn_api_error(r, 500, "internal", "no randomness");
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	if (flows_room(r))
		goto fail;
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:I}", "id", hash, "kind", "browser",
			"purpose", purpose ? purpose : "client", "provider", p->name, "nonce",
			nonce, "challenge", challenge, "redirect_uri", redirect, "expires",
			(json_int_t)(pn_now() + PN_OIDC_FLOW_TTL_S), "used", 0, "created",
			(json_int_t)pn_now());
	if (!row || (rc = pn_store_insert(s, PN_OBJ_OIDC_FLOW, row)) || (rc = pn_store_commit(s))) {
		pn_api_store_error(r, row ? rc : -ENOMEM);
		goto fail;
	}
	rc = pn_curl_easy_open("oidc", &h); /* for curl_easy_escape */
	if (!rc && asprintf(&url, "%s%cresponse_type=code", p->auth_ep,
			    strchr(p->auth_ep, '?') ? '&' : '?') > 0) {
		add_param(h, &url, "client_id", p->client_id);
		add_param(h, &url, "redirect_uri", redirect);
		add_param(h, &url, "scope", p->scopes);
		add_param(h, &url, "state", state);
		add_param(h, &url, "nonce", nonce);
		add_param(h, &url, "code_challenge", challenge);
		add_param(h, &url, "code_challenge_method", "S256");
	}
	if (!url)
		pn_api_error(r, 500, "internal",
			     rc == PN_E_LIBRARY ? PN_CURL_MISSING_MSG : "out of memory");
	else
		pn_api_ok(r, 201,
			  json_pack("{s:s,s:s,s:i,s:s}", "authorization_url", url, "state", state,
				    "expires_in", PN_OIDC_FLOW_TTL_S, "provider", p->name));
	goto out;
fail:
	pn_store_rollback(s);
out:
	pn_wipe(state, sizeof(state));
	pn_wipe(nonce, sizeof(nonce));
	if (h) /* libcurl may not be loaded (curl_dl.h) */
		curl_easy_cleanup(h);
	free(url);
	json_decref(row);
	return pn_api_done(r);
}

/* Consume (delete) the flow whose id is sha256(secret); *flow = its row.
 * -1 with a 401 invalid_state set when unknown, expired or of another kind. */
static int consume_flow(struct pn_req *r, const char *secret, const char *kind, json_t **flow)
{
	struct pn_store *s = r->ctl->store;
	char hash[65];
	int rc;

	*flow = NULL;
	if (flow_hash(secret, hash))
		return pn_api_error(r, 500, "internal", "hash");
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	rc = pn_store_get(s, PN_OBJ_OIDC_FLOW, hash, flow);
	if (rc == 0)
		rc = pn_store_remove(s, PN_OBJ_OIDC_FLOW, hash);
	if (rc == 0)
		rc = pn_store_commit(s);
	else
		pn_store_rollback(s);
	if (rc == 0 && (strcmp(json_string_value(json_object_get(*flow, "kind")), kind) ||
			json_integer_value(json_object_get(*flow, "expires")) < pn_now()))
		rc = PN_E_OIDC_STATE;
	if (rc) {
		json_decref(*flow);
		*flow = NULL;
		if (rc != PN_E_STORE_NOTFOUND && rc != PN_E_OIDC_STATE)
			return pn_api_store_error(r, rc);
		PN_LOG_INFO("oidc", "login_refused", "reason=invalid_state kind=%s", kind);
		return pn_api_error(r, 401, "invalid_state", "%s", pn_strerror(PN_E_OIDC_STATE));
	}
	return 0;
}

/* The IdP's error code, if it is a plain token (it ends up in our reply). */
const char *pn_oidc_idp_error(const json_t *reply)
{
	const char *e = json_string_value(json_object_get(reply, "error"));

	if (!e || !is_b64url(e, 1, 64))
		return "unknown";
	return e;
}

static void refuse_token(struct pn_req *r, const struct pn_oidc_provider *p, int rc)
{
	PN_LOG_INFO("oidc", "login_refused", "provider=%s reason=%s", p->name, pn_errname(rc));
	if (rc == PN_E_OIDC_IDP)
		pn_api_error(r, 502, "idp_unreachable", "identity provider '%s' unreachable",
			     p->name);
	else
		pn_api_error(r, 401, "invalid_id_token", "%s", pn_strerror(rc));
}

static int set_reauth_due(struct pn_req *r, const char *identity_id, int64_t when)
{
	json_t *set = json_pack("{s:I}", "reauth_due", (json_int_t)when);
	int rc = set ? pn_store_update(r->ctl->store, PN_OBJ_IDENTITY, identity_id, set) : -ENOMEM;

	json_decref(set);
	return rc;
}

/* Verified claims -> user, credential, response. */
static int complete_login(struct pn_req *r, struct pn_oidc_provider *p,
			  const struct pn_oidc_claims *c, const char *refresh, const char *csr)
{
	struct pn_store *s = r->ctl->store;
	struct pn_oidc_user u;
	struct pn_cred_info info;
	char *pem = NULL, id[PN_ID_HEX_LEN + 1];
	json_t *who;
	int rc;

	memset(&info, 0, sizeof(info));
	info.type = PN_CRED_CLIENT;
	if (pn_id_random(info.id))
		return pn_api_error(r, 500, "internal", "no randomness");
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	snprintf(r->actor, sizeof(r->actor), "oidc:%.20s:%.60s", p->name, c->sub);
	if ((rc = pn_oidc_user_upsert(r, p, c, refresh, &u))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	snprintf(r->actor, sizeof(r->actor), "user:%s", u.user_id);
	if (u.disabled) {
		pn_api_error(r, 403, "user_disabled", "this user is disabled in Postern");
		goto fail;
	}
	snprintf(info.name, sizeof(info.name), "%s", u.name);
	snprintf(info.user, sizeof(info.user), "%s", u.name);
	if ((rc = pn_oidc_user_groups(r, u.user_id, &info))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if (pn_enroll_issue(r, csr, &info, &pem))
		goto fail;
	pn_id_hex(info.id, id);
	if ((rc = set_reauth_due(r, u.identity_id, (int64_t)info.not_after)) ||
	    (u.created && (rc = pn_api_changed(r, "create", "user", u.user_id, NULL, NULL))) ||
	    (rc = pn_enroll_record(r, &info, "user", u.user_id)) ||
	    (rc = pn_api_changed(r, "login", "client", id, NULL, NULL))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if ((rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	PN_LOG_INFO("oidc", "login", "provider=%s user=%s name=%s groups=%u new=%d", p->name,
		    u.user_id, u.name, info.ngroups, u.created);
	pn_enroll_respond(r, 201, pem, &info, "user", u.user_id);
	if (r->status == 201 && json_is_object(r->resp)) {
		json_t *g = json_array();

		for (unsigned i = 0; g && i < info.ngroups; i++)
			json_array_append_new(g, json_string(info.groups[i]));
		who =
		    json_pack("{s:s,s:s,s:s,s:s?,s:o,s:I}", "id", u.user_id, "name", u.name,
			      "provider", p->name, "email", c->email[0] ? c->email : NULL, "groups",
			      g ? g : json_array(), "reauth_due", (json_int_t)info.not_after);
		if (who)
			json_object_set_new(r->resp, "user", who);
	}
	goto out;
fail:
	pn_store_rollback(s);
out:
	free(pem);
	return pn_api_done(r);
}

#define ADMIN_SESSION_S 3600

/* An admin session for a member of the provider's admin group (by the
 * claim of this very login): a "pnas_" key, shown once, stored hashed. */
static int complete_admin(struct pn_req *r, struct pn_oidc_provider *p,
			  const struct pn_oidc_claims *c, const char *refresh)
{
	struct pn_store *s = r->ctl->store;
	struct pn_oidc_user u;
	char key[80], hash[65], id[33];
	json_t *row = NULL, *g = NULL;
	unsigned i;
	int rc;

	for (i = 0; p->admin_group[0] && i < c->ngroups; i++)
		if (!strcmp(c->groups[i], p->admin_group))
			break;
	if (!p->admin_group[0] || i == c->ngroups) {
		PN_LOG_INFO("oidc", "login_refused", "provider=%s reason=not_admin", p->name);
		return pn_api_error(r, 403, "not_admin",
				    "not a member of the identity provider's admin group");
	}
	if ((rc = pn_api_new_key("pnas_", key, hash)) || (rc = pn_store_new_id(id)))
		return pn_api_error(r, 500, "internal", "no randomness");
	if ((rc = pn_store_begin(s)))
		goto out_err;
	snprintf(r->actor, sizeof(r->actor), "oidc:%.20s:%.60s", p->name, c->sub);
	if ((rc = pn_oidc_user_upsert(r, p, c, refresh, &u)))
		goto fail;
	snprintf(r->actor, sizeof(r->actor), "user:%s:%.57s", u.user_id, u.name);
	if (u.disabled) {
		pn_store_rollback(s);
		pn_api_error(r, 403, "user_disabled", "this user is disabled in Postern");
		goto out;
	}
	row = json_pack("{s:s,s:s,s:s,s:I,s:i,s:I}", "id", id, "hash", hash, "user_id", u.user_id,
			"expires", (json_int_t)(pn_now() + ADMIN_SESSION_S), "revoked", 0,
			"created", (json_int_t)pn_now());
	if (!row) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((u.created && (rc = pn_api_changed(r, "create", "user", u.user_id, NULL, NULL))) ||
	    (rc = pn_store_insert(s, PN_OBJ_ADMIN_SESSION, row)) ||
	    (rc = pn_api_changed(r, "admin_login", "admin_session", id, NULL, NULL)))
		goto fail;
	if ((rc = pn_api_commit(r)))
		goto out_err;
	PN_LOG_INFO("oidc", "admin_login", "provider=%s user=%s name=%s session=%s", p->name,
		    u.user_id, u.name, id);
	g = json_array();
	for (i = 0; g && i < c->ngroups; i++)
		json_array_append_new(g, json_string(c->groups[i]));
	pn_api_ok(r, 201,
		  json_pack("{s:s,s:s,s:I,s:{s:s,s:s,s:s,s:o}}", "admin_session", key, "id", id,
			    "expires", (json_int_t)(pn_now() + ADMIN_SESSION_S), "user", "id",
			    u.user_id, "name", u.name, "provider", p->name, "groups",
			    g ? g : json_array()));
	goto out;
fail:
	pn_store_rollback(s);
out_err:
	pn_api_store_error(r, rc);
out:
	pn_wipe(key, sizeof(key));
	json_decref(row);
	return pn_api_done(r);
}

/* After the ID token checked out: a client credential or an admin session. */
static int complete(struct pn_req *r, struct pn_oidc_provider *p, const json_t *flow,
		    const struct pn_oidc_claims *c, const char *refresh, const char *csr)
{
	if (!strcmp(json_string_value(json_object_get(flow, "purpose")), "admin"))
		return complete_admin(r, p, c, refresh);
	if (!csr)
		return pn_api_error(r, 400, "missing_field", "field 'csr' is required");
	return complete_login(r, p, c, refresh, csr);
}

/* Token endpoint reply -> verified claims; the response is set on error. */
static int take_tokens(struct pn_req *r, struct pn_oidc_provider *p, long st, json_t *reply,
		       const char *nonce, const char *subject, struct pn_oidc_claims *c)
{
	const char *idt = json_string_value(json_object_get(reply, "id_token"));
	int rc;

	if (st != 200) {
		PN_LOG_INFO("oidc", "login_refused", "provider=%s reason=idp_refused idp_error=%s",
			    p->name, pn_oidc_idp_error(reply));
		return pn_api_error(r, 401, "idp_refused", "identity provider refused: %s",
				    pn_oidc_idp_error(reply));
	}
	if (!idt)
		return pn_api_error(r, 401, "invalid_id_token",
				    "the identity provider sent no ID token");
	if ((rc = pn_oidc_verify(p, idt, nonce, subject, pn_now(), c))) {
		refuse_token(r, p, rc);
		return PN_E_API_ANSWERED;
	}
	return 0;
}

static int h_finish(struct pn_req *r)
{
	static const char *const allowed[] = {"state", "code", "code_verifier", "csr", NULL};
	const char *state, *code, *verifier = NULL, *csr = NULL, *challenge, *pname;
	struct pn_oidc_provider *p;
	struct pn_oidc_claims c;
	json_t *flow = NULL, *reply = NULL;
	char computed[B64_32 + 9];
	uint8_t digest[32];
	long st = 0;
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "state", 1, 128, 0, &state) ||
	    pn_api_str(r, "code", 1, 2048, 0, &code) ||
	    pn_api_str(r, "code_verifier", 0, 128, 0, &verifier) ||
	    pn_api_str(r, "csr", 0, PN_CRED_PEM_MAX, 2, &csr))
		return PN_E_API_ANSWERED;
	if (!r->ctl->oidc)
		return pn_api_error(r, 404, "oidc_not_configured", "no identity provider");
	if (!is_b64url(state, 43, 43)) {
		PN_LOG_INFO("oidc", "login_refused", "reason=invalid_state");
		return pn_api_error(r, 401, "invalid_state", "%s", pn_strerror(PN_E_OIDC_STATE));
	}
	if (consume_flow(r, state, "browser", &flow))
		return 0;
	/* PKCE (RFC 7636 4.6), checked here before the IdP is asked: the
	 * flow is already spent, so a wrong guess costs the attacker it. */
	challenge = json_string_value(json_object_get(flow, "challenge"));
	if (!verifier || !is_verifier(verifier) ||
	    gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), digest) < 0 ||
	    pn_oidc_b64url_encode(digest, 32, computed, sizeof(computed)) != B64_32 || !challenge ||
	    strlen(challenge) != B64_32 || pn_ct_memcmp(computed, challenge, B64_32)) {
		PN_LOG_INFO("oidc", "login_refused", "reason=pkce verifier=%s",
			    verifier ? "wrong" : "missing");
		pn_api_error(r, 401, verifier ? "pkce_mismatch" : "pkce_missing", "%s",
			     pn_strerror(PN_E_OIDC_PKCE));
		goto out;
	}
	pname = json_string_value(json_object_get(flow, "provider"));
	if (!(p = pn_oidc_find(r->ctl->oidc, pname))) {
		pn_api_error(r, 401, "invalid_state", "the login's provider is gone");
		goto out;
	}
	{
		const char *params[] = {"grant_type",
					"authorization_code",
					"code",
					code,
					"redirect_uri",
					json_string_value(json_object_get(flow, "redirect_uri")),
					"code_verifier",
					verifier,
					NULL,
					NULL};

		if ((rc = pn_oidc_post(p, p->token_ep, params, &st, &reply))) {
			refuse_token(r, p, rc);
			goto out;
		}
	}
	if (take_tokens(r, p, st, reply, json_string_value(json_object_get(flow, "nonce")), NULL,
			&c))
		goto out;
	complete(r, p, flow, &c, json_string_value(json_object_get(reply, "refresh_token")), csr);
out:
	json_decref(flow);
	if (reply)
		json_object_clear(reply);
	json_decref(reply);
	return pn_api_done(r);
}

static int h_device(struct pn_req *r)
{
	static const char *const allowed[] = {"provider", "purpose", NULL};
	struct pn_store *s = r->ctl->store;
	const char *purpose = NULL, *dc, *uc, *vu, *vuc;
	struct pn_oidc_provider *p;
	char handle[B64_32 + 9], hash[65], *sealed = NULL;
	json_t *reply = NULL, *row = NULL;
	json_int_t exp_in, interval;
	long st = 0;
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "purpose", 0, 8, 0, &purpose))
		return PN_E_API_ANSWERED;
	if (purpose && strcmp(purpose, "client") && strcmp(purpose, "admin"))
		return pn_api_error(r, 400, "invalid_purpose", "purpose: client or admin");
	if (!(p = provider_arg(r)))
		return 0;
	if (!p->device_ep[0])
		return pn_api_error(r, 400, "device_not_supported",
				    "identity provider '%s' has no device authorization endpoint",
				    p->name);
	/* the cap first: an unauthenticated caller must not make us call the
	 * IdP once there is no room to remember the answer */
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	if (flows_room(r)) {
		pn_store_rollback(s);
		return 0;
	}
	if ((rc = pn_store_commit(s)))
		return pn_api_store_error(r, rc);
	{
		const char *params[] = {"client_id", p->client_id, "scope", p->scopes, NULL, NULL};

		if ((rc = pn_oidc_post(p, p->device_ep, params, &st, &reply)))
			return pn_api_error(r, 502, "idp_unreachable",
					    "identity provider unreachable");
	}
	dc = json_string_value(json_object_get(reply, "device_code"));
	uc = json_string_value(json_object_get(reply, "user_code"));
	vu = json_string_value(json_object_get(reply, "verification_uri"));
	vuc = json_string_value(json_object_get(reply, "verification_uri_complete"));
	exp_in = json_integer_value(json_object_get(reply, "expires_in"));
	interval = json_integer_value(json_object_get(reply, "interval"));
	if (st != 200 || !dc || !uc || !vu || strlen(dc) > 1024 || strlen(uc) > 64 ||
	    strlen(vu) > 512 || (vuc && strlen(vuc) > 1024)) {
		pn_api_error(r, 502, "idp_refused", "device authorization refused: %s",
			     pn_oidc_idp_error(reply));
		goto out;
	}
	exp_in = exp_in <= 0 || exp_in > 1800 ? 1800 : exp_in;
	interval = interval <= 0 || interval > 60 ? 5 : interval;
	if (rand_b64(handle) || flow_hash(handle, hash) ||
	    pn_oidc_seal(r->ctl->oidc, hash, dc, &sealed)) {
		pn_api_error(r, 500, "internal", "no randomness");
		goto out;
	}
	if ((rc = pn_store_begin(s))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	if (flows_room(r)) {
		pn_store_rollback(s);
		goto out;
	}
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:I}", "id", hash, "kind", "device",
			"purpose", purpose ? purpose : "client", "provider", p->name, "device_code",
			sealed, "expires", (json_int_t)(pn_now() + exp_in), "used", 0, "created",
			(json_int_t)pn_now());
	if (!row || (rc = pn_store_insert(s, PN_OBJ_OIDC_FLOW, row)) || (rc = pn_store_commit(s))) {
		pn_store_rollback(s);
		pn_api_store_error(r, row ? rc : -ENOMEM);
		goto out;
	}
	pn_api_ok(r, 201,
		  json_pack("{s:s,s:s,s:s,s:s?,s:I,s:I,s:s}", "flow", handle, "user_code", uc,
			    "verification_uri", vu, "verification_uri_complete", vuc, "interval",
			    interval, "expires_in", exp_in, "provider", p->name));
out:
	pn_wipe(handle, sizeof(handle));
	if (sealed)
		pn_wipe(sealed, strlen(sealed));
	free(sealed);
	json_decref(row);
	if (reply)
		json_object_clear(reply);
	json_decref(reply);
	return pn_api_done(r);
}

static int h_poll(struct pn_req *r)
{
	static const char *const allowed[] = {"flow", "csr", NULL};
	struct pn_store *s = r->ctl->store;
	const char *handle, *csr = NULL, *err;
	struct pn_oidc_provider *p;
	struct pn_oidc_claims c;
	json_t *flow = NULL, *reply = NULL;
	char hash[65], *dc = NULL;
	long st = 0;
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "flow", 1, 128, 0, &handle) ||
	    pn_api_str(r, "csr", 0, PN_CRED_PEM_MAX, 2, &csr))
		return PN_E_API_ANSWERED;
	if (!r->ctl->oidc)
		return pn_api_error(r, 404, "oidc_not_configured", "no identity provider");
	if (!is_b64url(handle, 43, 43) || flow_hash(handle, hash))
		return pn_api_error(r, 401, "invalid_state", "%s", pn_strerror(PN_E_OIDC_STATE));
	if ((rc = pn_store_read(s)))
		return pn_api_store_error(r, rc);
	rc = pn_store_get(s, PN_OBJ_OIDC_FLOW, hash, &flow);
	pn_store_rollback(s);
	if (rc || strcmp(json_string_value(json_object_get(flow, "kind")), "device") ||
	    json_integer_value(json_object_get(flow, "expires")) < pn_now()) {
		pn_api_error(r, 401, "invalid_state", "%s", pn_strerror(PN_E_OIDC_STATE));
		goto out;
	}
	if (!(p = pn_oidc_find(r->ctl->oidc,
			       json_string_value(json_object_get(flow, "provider")))) ||
	    pn_oidc_unseal(r->ctl->oidc, hash,
			   json_string_value(json_object_get(flow, "device_code")), &dc)) {
		pn_api_error(r, 401, "invalid_state", "the login's provider or code is gone");
		goto out;
	}
	{
		const char *params[] = {
		    "grant_type",  "urn:ietf:params:oauth:grant-type:device_code",
		    "device_code", dc,
		    "client_id",   p->client_id,
		    NULL,	   NULL};

		if ((rc = pn_oidc_post(p, p->token_ep, params, &st, &reply))) {
			refuse_token(r, p, rc);
			goto out;
		}
	}
	err = json_string_value(json_object_get(reply, "error"));
	if (st != 200 && err &&
	    (!strcmp(err, "authorization_pending") || !strcmp(err, "slow_down"))) {
		pn_api_ok(r, 202,
			  json_pack("{s:s,s:i}", "status", "pending", "interval",
				    strcmp(err, "slow_down") ? 5 : 10));
		goto out;
	}
	json_decref(flow);
	flow = NULL;
	/* Final answer (tokens or refusal): the flow is spent either way. */
	if (consume_flow(r, handle, "device", &flow))
		goto out;
	if (take_tokens(r, p, st, reply, NULL, NULL, &c))
		goto out;
	complete(r, p, flow, &c, json_string_value(json_object_get(reply, "refresh_token")), csr);
out:
	if (dc)
		pn_wipe(dc, strlen(dc));
	free(dc);
	json_decref(flow);
	if (reply)
		json_object_clear(reply);
	json_decref(reply);
	return pn_api_done(r);
}

const struct pn_route pn_oidc_routes[] = {
	{"GET", "identities", PN_A_READ, pn_oidc_identities, NULL},
	{"POST", "login/oidc/start", PN_A_PUBLIC, h_start, NULL},
	{"POST", "login/oidc/finish", PN_A_PUBLIC, h_finish, NULL},
	{"POST", "login/oidc/device", PN_A_PUBLIC, h_device, NULL},
	{"POST", "login/oidc/device/poll", PN_A_PUBLIC, h_poll, NULL},
	{NULL, NULL, 0, NULL, NULL},
};
