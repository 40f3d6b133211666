/*
 * Enrollment and issuance.
 *
 *   POST /v1/enroll {token, csr}        PUBLIC: a one-time token (see
 *        ctlapi.h for its text form) + a CSR -> credential, CA, state
 *   POST /v1/client/login {csr}          service-account key -> client
 *        credential (new device id per login) + client access list
 *   POST /v1/ctl/renew {csr}             mutual TLS: a fresh credential
 *        for the same holder (same id), current state
 *   GET  /v1/ctl/state                   mutual TLS: current state
 *   POST /v1/ctl/flows {events: [...]}   mutual TLS (connectors): flow records
 *   GET  /v1/ctl/stream?since=V          mutual TLS: push channel (push.c)
 *
 * The token is consumed with a conditional UPDATE inside the same write
 * transaction that records the credential: if issuance fails (bad CSR) the
 * transaction rolls back and the token stays usable; of concurrent
 * enrollments exactly one sees its UPDATE change a row.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/api.h"
#include "controller/push.h"
#include "controller/signer.h"
#include "controller/state.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#define FLOW_BATCH_MAX PN_CTLAPI_FLOW_BATCH_MAX

int pn_enroll_new_token(struct pn_req *r, const char *kind, const char *target_id, uint32_t ttl,
			char **text)
{
	char secret[65], hash[65], a[33], b[33];
	json_t *row;
	int rc;

	if ((rc = pn_store_new_id(a)) || (rc = pn_store_new_id(b)))
		return rc;
	snprintf(secret, sizeof(secret), "%s%s", a, b);
	pn_wipe(a, sizeof(a));
	pn_wipe(b, sizeof(b));
	if ((rc = pn_store_hash_hex(secret, 64, hash)))
		goto out;
	row = json_pack("{s:s,s:s,s:s,s:I,s:i,s:I}", "hash", hash, "kind", kind, "target_id",
			target_id, "expires", (json_int_t)(pn_now() + ttl), "used",
			0, "created", (json_int_t)pn_now());
	rc = row ? pn_store_insert(r->ctl->store, PN_OBJ_ENROLL_TOKEN, row) : -ENOMEM;
	json_decref(row);
	if (rc)
		goto out;
	if (asprintf(text, "pnt1.%s.%s.%s", pn_ca_fingerprint_hex(r->ctl->ca), secret,
		     r->ctl->url) < 0)
		rc = -ENOMEM;
out:
	pn_wipe(secret, sizeof(secret));
	return rc;
}

/* The secret of a token text "pnt1.<fp>.<secret>.<url>" (or a bare secret),
 * checking that the fingerprint is ours.  0 or -1 (401 set). */
static int token_secret(struct pn_req *r, const char *tok, char secret[65])
{
	const char *p = tok;
	size_t i;

	if (!strncmp(p, "pnt1.", 5)) {
		const char *fp = p + 5;

		if (strlen(fp) < 64 + 1 + 64 || fp[64] != '.' ||
		    strncmp(fp, pn_ca_fingerprint_hex(r->ctl->ca), 64))
			goto bad;
		p = fp + 65;
	}
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			goto bad;
	if (p[64] != '\0' && p[64] != '.')
		goto bad;
	memcpy(secret, p, 64);
	secret[64] = '\0';
	return 0;
bad:
	return pn_api_error(r, 401, "invalid_token", "enrollment token unknown, used or expired");
}

/* Record an issued credential (inside the write transaction). */
static int record_cred(struct pn_req *r, const struct pn_cred_info *ci, const char *holder_kind,
		       const char *holder_id)
{
	char serial[64], id[PN_ID_HEX_LEN + 1], fpr[PN_FPR_HEX_LEN + 1];
	json_t *row;
	int rc;

	pn_cred_serial_hex(ci, serial);
	pn_id_hex(ci->id, id);
	pn_fpr_hex(ci->key_fpr, fpr);
	row = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:I}", "serial", serial, "cred_id",
			id, "type", pn_cred_type_name(ci->type), "holder_kind", holder_kind,
			"holder_id", holder_id, "name", ci->name, "key_fp", fpr, "not_after",
			(json_int_t)ci->not_after, "revoked", 0, "issued", (json_int_t)pn_now());
	rc = row ? pn_store_insert(r->ctl->store, PN_OBJ_CREDENTIAL, row) : -ENOMEM;
	json_decref(row);
	return rc;
}

/* Issue; on failure sets the response.  *pem heap. */
static int issue(struct pn_req *r, const char *csr, struct pn_cred_info *info, uint32_t ttl,
		 char **pem)
{
	uint64_t v = 0;
	int rc;

	r->ctl->store->ops->version_get(r->ctl->store->be, &v);
	info->policy_version = v;
	rc = pn_signer_issue(r->ctl->signer, csr, info, ttl, pem, info);
	if (rc == PN_E_MALFORMED || rc == PN_E_SIGNATURE || rc == PN_E_UNSUPPORTED ||
	    rc == PN_E_INVAL)
		return pn_api_error(r, 400, "invalid_csr", "CSR refused: %s", pn_strerror(rc));
	if (rc == PN_E_SIGNER || rc == PN_E_SIGNER_RATE)
		return pn_api_error(r, 503, "signer_unavailable", "issuance failed: %s",
				    pn_strerror(rc));
	if (rc)
		return pn_api_error(r, 500, "internal", "issuance failed: %s", pn_strerror(rc));
	atomic_fetch_add(&r->ctl->stats.creds_issued, 1);
	return 0;
}

/* After commit: the response with credential + state. */
static int respond_issued(struct pn_req *r, unsigned status, const char *pem,
			  const struct pn_cred_info *ci, const char *holder_kind,
			  const char *holder_id)
{
	char id[PN_ID_HEX_LEN + 1], fpr[PN_FPR_HEX_LEN + 1];
	json_t *state = NULL;
	int rc;

	pn_id_hex(ci->id, id);
	pn_fpr_hex(ci->key_fpr, fpr);
	rc = pn_state_build(r->ctl, holder_kind, holder_id, id, fpr, &state);
	if (rc)
		return pn_api_store_error(r, rc);
	json_object_set_new(state, "cert_pem", json_string(pem));
	json_object_set_new(state, "ca_pem", json_string(pn_ca_cert_pem(r->ctl->ca)));
	json_object_set_new(state, "id", json_string(id));
	json_object_set_new(state, "type", json_string(pn_cred_type_name(ci->type)));
	json_object_set_new(state, "name", json_string(ci->name));
	json_object_set_new(state, "not_after", json_integer((json_int_t)ci->not_after));
	return pn_api_ok(r, status, state);
}

static int h_enroll(struct pn_req *r)
{
	static const char *const allowed[] = {"token", "csr", NULL};
	struct pn_store *s = r->ctl->store;
	const char *tok, *csr, *kind, *target;
	char secret[65], hash[65];
	struct pn_cred_info info;
	json_t *trow = NULL, *target_row = NULL, *set = NULL;
	char *pem = NULL;
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "token", 1, 1024, 0, &tok) ||
	    pn_api_str(r, "csr", 1, PN_CRED_PEM_MAX, 2, &csr) || token_secret(r, tok, secret))
		return PN_E_API_ANSWERED;
	rc = pn_store_hash_hex(secret, 64, hash);
	pn_wipe(secret, sizeof(secret));
	if (rc || (rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	rc = s->ops->token_consume(s->be, hash, pn_now(), &trow);
	if (rc == PN_E_TOKEN) {
		pn_api_error(r, 401, "invalid_token", "enrollment token unknown, used or expired");
		goto fail;
	} else if (rc) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	kind = json_string_value(json_object_get(trow, "kind"));
	target = json_string_value(json_object_get(trow, "target_id"));
	rc = pn_store_get(s, strcmp(kind, "relay") ? PN_OBJ_CONNECTOR : PN_OBJ_RELAY, target,
			  &target_row);
	if (rc || json_integer_value(json_object_get(target_row, "revoked"))) {
		pn_api_error(r, 401, "invalid_token", "the token's %s was deleted or revoked", kind);
		goto fail;
	}
	memset(&info, 0, sizeof(info));
	info.type = strcmp(kind, "relay") ? PN_CRED_CONNECTOR : PN_CRED_RELAY;
	if (pn_id_parse(target, info.id)) {
		pn_api_error(r, 500, "internal", "bad stored id");
		goto fail;
	}
	snprintf(info.name, sizeof(info.name), "%s",
		 json_string_value(json_object_get(target_row, "name")));
	if (issue(r, csr, &info, r->ctl->cred_ttl, &pem))
		goto fail;
	set = json_pack("{s:i}", "enrolled", 1);
	snprintf(r->actor, sizeof(r->actor), "%s:%s", kind, target);
	/* A new enrollment replaces the previous instance: whatever key it
	 * held (lost or stolen machine) stops being accepted now. */
	if (pn_api_revoke_holder(r, target))
		goto fail;
	if ((rc = record_cred(r, &info, kind, target)) ||
	    (rc = pn_store_update(s, info.type == PN_CRED_RELAY ? PN_OBJ_RELAY : PN_OBJ_CONNECTOR,
				  target, set)) ||
	    (rc = pn_api_changed(r, "enroll", kind, target, NULL, NULL))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if ((rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	PN_LOG_INFO("controller", "enrolled", "kind=%s id=%s", kind, target);
	respond_issued(r, 201, pem, &info, kind, target);
	goto out;
fail:
	pn_store_rollback(s);
out:
	free(pem);
	json_decref(trow);
	json_decref(target_row);
	json_decref(set);
	return pn_api_done(r);
}

static int h_login(struct pn_req *r)
{
	static const char *const allowed[] = {"csr", NULL};
	struct pn_store *s = r->ctl->store;
	const char *csr;
	struct pn_cred_info info;
	json_t *sa = NULL, *mems = NULL, *m;
	char *pem = NULL;
	size_t i;
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "csr", 1, PN_CRED_PEM_MAX, 2, &csr))
		return PN_E_API_ANSWERED;
	memset(&info, 0, sizeof(info));
	info.type = PN_CRED_CLIENT;
	if (pn_id_random(info.id))
		return pn_api_error(r, 500, "internal", "no randomness");
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	if ((rc = pn_store_get(s, PN_OBJ_SERVICE_ACCOUNT, r->principal_id, &sa))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	snprintf(info.name, sizeof(info.name), "%s", json_string_value(json_object_get(sa, "name")));
	snprintf(info.user, sizeof(info.user), "%s", info.name);
	{
		struct pn_filter f = {.col = "service_account_id", .text = r->principal_id};

		if ((rc = pn_store_list(s, PN_OBJ_MEMBERSHIP, &f, 1, PN_GROUPS_MAX, &mems))) {
			pn_api_store_error(r, rc);
			goto fail;
		}
	}
	json_array_foreach(mems, i, m) {
		json_t *g = NULL;

		if (pn_store_get(s, PN_OBJ_GROUP, json_string_value(json_object_get(m, "group_id")),
				 &g) == 0 && info.ngroups < PN_GROUPS_MAX) {
			snprintf(info.groups[info.ngroups++], sizeof(info.groups[0]), "%s",
				 json_string_value(json_object_get(g, "name")));
		}
		json_decref(g);
	}
	if (issue(r, csr, &info, r->ctl->cred_ttl, &pem))
		goto fail;
	{
		char id[PN_ID_HEX_LEN + 1];

		pn_id_hex(info.id, id);
		if ((rc = record_cred(r, &info, "service_account", r->principal_id)) ||
		    (rc = pn_api_changed(r, "login", "client", id, NULL, NULL))) {
			pn_api_store_error(r, rc);
			goto fail;
		}
	}
	if ((rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	respond_issued(r, 201, pem, &info, "service_account", r->principal_id);
	goto out;
fail:
	pn_store_rollback(s);
out:
	free(pem);
	json_decref(sa);
	json_decref(mems);
	return pn_api_done(r);
}

static int h_renew(struct pn_req *r)
{
	static const char *const allowed[] = {"csr", NULL};
	struct pn_store *s = r->ctl->store;
	struct pn_cred_info info = r->peer;
	const char *csr;
	char *pem = NULL, id[PN_ID_HEX_LEN + 1];
	int rc;

	if (pn_api_only_fields(r, allowed) || pn_api_str(r, "csr", 1, PN_CRED_PEM_MAX, 2, &csr))
		return PN_E_API_ANSWERED;
	/* A person's credential is renewed only if their identity provider
	 * still vouches for them (refresh token; groups re-synchronised). */
	if (!strcmp(r->holder_kind, "user") && pn_oidc_renew(r, &info))
		return 0;
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	if (issue(r, csr, &info, r->ctl->cred_ttl, &pem))
		goto fail;
	pn_id_hex(info.id, id);
	if ((rc = record_cred(r, &info, r->holder_kind, r->principal_id)) ||
	    (rc = pn_api_changed(r, "renew", pn_cred_type_name(info.type), id, NULL, NULL))) {
		pn_api_store_error(r, rc);
		goto fail;
	}
	if ((rc = pn_api_commit(r))) {
		pn_api_store_error(r, rc);
		goto out;
	}
	respond_issued(r, 200, pem, &info, r->holder_kind, r->principal_id);
	goto out;
fail:
	pn_store_rollback(s);
out:
	free(pem);
	return pn_api_done(r);
}

static int h_state(struct pn_req *r)
{
	char id[PN_ID_HEX_LEN + 1], fpr[PN_FPR_HEX_LEN + 1];
	json_t *st = NULL;
	int rc;

	pn_id_hex(r->peer.id, id);
	pn_fpr_hex(r->peer.key_fpr, fpr);
	rc = pn_state_build(r->ctl, r->holder_kind, r->principal_id, id, fpr, &st);
	if (rc)
		return pn_api_store_error(r, rc);
	return pn_api_ok(r, 200, st);
}

static int flow_str(const json_t *ev, const char *k, size_t max, int required)
{
	json_t *v = json_object_get(ev, k);

	if (!v)
		return !required;
	return json_is_string(v) && json_string_length(v) <= max;
}

static int flow_int(const json_t *ev, const char *k, json_int_t max)
{
	json_t *v = json_object_get(ev, k);

	return !v || (json_is_integer(v) && json_integer_value(v) >= 0 &&
		      json_integer_value(v) <= max);
}

static int h_flows(struct pn_req *r)
{
	static const char *const allowed[] = {"events", NULL};
	static const char *const ev_keys[] = {"event",	     "flow_id", "client_id", "user",
					      "resource_id", "dest",	"proto",     "path",
					      "verdict",     "reason",	"port",	     "bytes_up",
					      "bytes_down",  "ts_ms",	NULL};
	struct pn_store *s = r->ctl->store;
	json_t *evs, *ev;
	size_t i;
	int rc;

	if (pn_api_only_fields(r, allowed))
		return PN_E_API_ANSWERED;
	if (strcmp(r->holder_kind, "connector"))
		return pn_api_error(r, 403, "forbidden", "only connectors report flows");
	evs = json_object_get(r->body, "events");
	if (!json_is_array(evs) || json_array_size(evs) == 0 ||
	    json_array_size(evs) > FLOW_BATCH_MAX)
		return pn_api_error(r, 400, "invalid_events", "'events' must hold 1..%d records",
				    FLOW_BATCH_MAX);
	json_array_foreach(evs, i, ev) {
		const char *key;
		json_t *v;

		if (!json_is_object(ev))
			return pn_api_error(r, 400, "invalid_events", "event %zu is not an object", i);
		json_object_foreach(ev, key, v) {
			size_t k;

			for (k = 0; ev_keys[k] && strcmp(ev_keys[k], key); k++)
				;
			if (!ev_keys[k])
				return pn_api_error(r, 400, "unknown_field",
						    "event %zu: unknown field '%.64s'", i, key);
		}
		if (!flow_str(ev, "event", 8, 1) || !flow_str(ev, "flow_id", 64, 1) ||
		    !flow_str(ev, "client_id", 64, 0) ||
		    !flow_str(ev, "user", PN_CTLAPI_FLOW_USER_MAX, 0) ||
		    !flow_str(ev, "resource_id", 64, 0) ||
		    !flow_str(ev, "dest", PN_CTLAPI_FLOW_DEST_MAX, 0) ||
		    !flow_str(ev, "proto", 8, 0) || !flow_str(ev, "path", 16, 0) ||
		    !flow_str(ev, "verdict", 8, 1) ||
		    !flow_str(ev, "reason", PN_CTLAPI_FLOW_REASON_MAX, 0) ||
		    !flow_int(ev, "port", 65535) || !flow_int(ev, "bytes_up", INT64_MAX) ||
		    !flow_int(ev, "bytes_down", INT64_MAX) || !flow_int(ev, "ts_ms", INT64_MAX))
			return pn_api_error(r, 400, "invalid_events",
					    "event %zu: bad type or length", i);
	}
	if ((rc = pn_store_begin(s)))
		return pn_api_store_error(r, rc);
	json_array_foreach(evs, i, ev)
		if ((rc = s->ops->flow_insert(s->be, r->principal_id, ev))) {
			pn_store_rollback(s);
			return pn_api_store_error(r, rc);
		}
	if ((rc = pn_store_commit(s)))
		return pn_api_store_error(r, rc);
	return pn_api_ok(r, 200, json_pack("{s:I}", "stored", (json_int_t)json_array_size(evs)));
}

int pn_enroll_issue(struct pn_req *r, const char *csr, struct pn_cred_info *info, char **pem)
{
	return issue(r, csr, info, r->ctl->cred_ttl, pem);
}

int pn_enroll_record(struct pn_req *r, const struct pn_cred_info *ci, const char *holder_kind,
		     const char *holder_id)
{
	return record_cred(r, ci, holder_kind, holder_id);
}

int pn_enroll_respond(struct pn_req *r, unsigned status, const char *pem,
		      const struct pn_cred_info *ci, const char *holder_kind, const char *holder_id)
{
	return respond_issued(r, status, pem, ci, holder_kind, holder_id);
}

const struct pn_route pn_enroll_routes[] = {
	{"POST", "enroll", PN_A_PUBLIC, h_enroll, NULL},
	{"POST", "client/login", PN_A_SERVICE, h_login, NULL},
	{"POST", "ctl/renew", PN_A_COMPONENT, h_renew, NULL},
	{"GET", "ctl/state", PN_A_COMPONENT, h_state, NULL},
	{"POST", "ctl/flows", PN_A_COMPONENT, h_flows, NULL},
	{"GET", "ctl/stream", PN_A_COMPONENT, pn_push_handle_stream, NULL},
	{NULL, NULL, 0, NULL, NULL},
};
