/* ctlapi: enrollment, service-account login, renewal, flow reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/x509.h>

#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/ctlapi.h"
#include "ctlapi/ctlapi_int.h"
#include "ctlapi/curl_dl.h"
#include "ctlapi/xfer.h"
#include "trust/cred.h"
#include "trust/key.h"

int pn_ctlapi_global_init(void)
{
	return pn_curl_ready("ctlapi");
}

static int is_lhex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int pn_ctlapi_token_parse(const char *text, struct pn_ctlapi_token *out)
{
	const char *p = text, *end;
	size_t n;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	n = (size_t)(end - p);
	/* "pnt1." + 64 + "." + 64 + "." + url ("https://x" at least) */
	if (n < 5 + 64 + 1 + 64 + 1 + 9 || strncmp(p, "pnt1.", 5))
		return PN_E_MALFORMED;
	p += 5;
	if (!is_lhex(p, 64) || p[64] != '.' || !is_lhex(p + 65, 64) || p[129] != '.')
		return PN_E_MALFORMED;
	memcpy(out->ca_fp_hex, p, 64);
	out->ca_fp_hex[64] = '\0';
	memcpy(out->secret_hex, p + 65, 64);
	out->secret_hex[64] = '\0';
	p += 130;
	n = (size_t)(end - p);
	if (n >= sizeof(out->url) || strncmp(p, "https://", 8))
		return PN_E_MALFORMED;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return PN_E_MALFORMED;
	memcpy(out->url, p, n);
	out->url[n] = '\0';
	return 0;
}

static int ensure_dir(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void path_of(char *out, size_t sz, const char *dir, const char *name)
{
	snprintf(out, sz, "%s/%s", dir, name);
}

/* Load key.pem or create it (0600). */
static int load_or_make_key(const char *dir, struct pn_key **key)
{
	char path[4096];
	int rc;

	path_of(path, sizeof(path), dir, "key.pem");
	rc = pn_key_load_pem_file(path, key);
	if (rc != -ENOENT)
		return rc;
	if ((rc = pn_key_generate(key)))
		return rc;
	if ((rc = pn_key_save_pem_file(*key, path))) {
		pn_key_free(*key);
		*key = NULL;
	}
	return rc;
}

static int make_csr(struct pn_key *key, json_t **body)
{
	char *csr = NULL;
	size_t n = 0;
	int rc = pn_key_csr_pem(key, NULL, &csr, &n);

	if (rc)
		return rc;
	*body = json_pack("{s:s}", "csr", csr);
	free(csr);
	return *body ? 0 : -ENOMEM;
}

int pn_ctlapi_enroll(const char *state_dir, const char *token_text)
{
	struct pn_ctlapi_token tok;
	struct pn_xfer x = {0};
	struct pn_anchor *anchor = NULL;
	json_t *ca = NULL, *body = NULL, *reply = NULL;
	char url[PN_CTLAPI_URL_MAX + 32], ca_path[4096];
	uint8_t fp[PN_FPR_LEN], want[PN_FPR_LEN];
	const char *pem;
	int rc;

	if ((rc = pn_ctlapi_token_parse(token_text, &tok)) || (rc = ensure_dir(state_dir)))
		goto out;
	/* 1. Fetch the CA without trusting anyone, then pin it by the token's
	 *    fingerprint (kubeadm-style discovery). */
	snprintf(url, sizeof(url), "%s/v1/ca", tok.url);
	x.url = url;
	x.method = "GET";
	if ((rc = pn_xfer_json(&x, &ca)))
		goto out;
	pem = json_string_value(json_object_get(ca, "ca_pem"));
	if (!pem || pn_anchor_new(pem, strlen(pem), &anchor) || pn_fpr_parse(tok.ca_fp_hex, want)) {
		rc = PN_E_CTL_PIN;
		goto out;
	}
	pn_anchor_fingerprint(anchor, fp);
	if (pn_ct_memcmp(fp, want, PN_FPR_LEN)) {
		PN_LOG_ERROR("ctlapi", "ca_pin_mismatch", "url=%s", tok.url);
		rc = PN_E_CTL_PIN;
		goto out;
	}
	if ((rc = pn_file_write_at(state_dir, "ca.crt", pem, strlen(pem), 0644, 0)))
		goto out;
	/* 2. From here on the controller is verified against the pinned CA. */
	if ((rc = pn_ctlapi_csr_body(state_dir, &body)))
		goto out;
	json_object_set_new(body, "token", json_string(token_text));
	path_of(ca_path, sizeof(ca_path), state_dir, "ca.crt");
	snprintf(url, sizeof(url), "%s/v1/enroll", tok.url);
	x.method = "POST";
	x.ca_file = ca_path;
	x.body = body;
	if ((rc = pn_xfer_json(&x, &reply)))
		goto out;
	rc = pn_ctlapi_enroll_finish(state_dir, tok.url, reply);
	if (!rc)
		PN_LOG_INFO("ctlapi", "enrolled", "type=%s id=%s",
			    json_string_value(json_object_get(reply, "type")),
			    json_string_value(json_object_get(reply, "id")));
out:
	pn_wipe(&tok, sizeof(tok));
	if (body) {
		json_t *t = json_object_get(body, "token");

		if (t) /* the token text is a secret: wipe our copy */
			pn_wipe((char *)json_string_value(t), json_string_length(t));
	}
	pn_anchor_free(anchor);
	json_decref(ca);
	json_decref(body);
	json_decref(reply);
	return rc;
}

int pn_ctlapi_login(const char *state_dir, const char *url, const char *ca_file,
		    const char *api_key)
{
	struct pn_xfer x = {0};
	json_t *body = NULL, *reply = NULL;
	char full[PN_CTLAPI_URL_MAX + 32];
	int rc;

	if (!url || strlen(url) >= PN_CTLAPI_URL_MAX || strncmp(url, "https://", 8) || !ca_file ||
	    !api_key)
		return -EINVAL;
	if ((rc = pn_ctlapi_csr_body(state_dir, &body)))
		goto out;
	snprintf(full, sizeof(full), "%s/v1/client/login", url);
	x.url = full;
	x.method = "POST";
	x.ca_file = ca_file;
	x.bearer = api_key;
	x.body = body;
	if ((rc = pn_xfer_json(&x, &reply)))
		goto out;
	rc = pn_ctlapi_enroll_finish(state_dir, url, reply);
out:
	json_decref(body);
	json_decref(reply);
	return rc;
}

int pn_ctlapi_post(const char *url, const char *ca_file, const char *path, const json_t *body,
		   json_t **reply)
{
	struct pn_xfer x = {0};
	char full[PN_CTLAPI_URL_MAX + 64];

	*reply = NULL;
	if (!url || strlen(url) >= PN_CTLAPI_URL_MAX || strncmp(url, "https://", 8) || !ca_file ||
	    strlen(path) > 60)
		return -EINVAL;
	snprintf(full, sizeof(full), "%s%s", url, path);
	x.url = full;
	x.method = "POST";
	x.ca_file = ca_file;
	x.body = body;
	x.timeout_s = 60; /* the controller may wait on the identity provider */
	return pn_xfer_json(&x, reply);
}

int pn_ctlapi_csr_body(const char *state_dir, json_t **body)
{
	struct pn_key *key = NULL;
	int rc;

	*body = NULL;
	if ((rc = ensure_dir(state_dir)) || (rc = load_or_make_key(state_dir, &key)))
		return rc;
	rc = make_csr(key, body);
	pn_key_free(key);
	return rc;
}

int pn_ctlapi_enroll_finish(const char *dir, const char *url, const json_t *reply)
{
	const char *ca = json_string_value(json_object_get(reply, "ca_pem"));
	const char *cert = json_string_value(json_object_get(reply, "cert_pem"));
	json_t *meta;
	char *text;
	int rc;

	if (!ca || !cert)
		return PN_E_CTL_SERVER;
	if ((rc = pn_file_write_at(dir, "ca.crt", ca, strlen(ca), 0644, 0)) ||
	    (rc = pn_file_write_at(dir, "cert.pem", cert, strlen(cert), 0644, 0)) ||
	    (rc = pn_ctlapi_save_state(dir, reply)))
		return rc;
	meta =
	    json_pack("{s:s,s:O,s:O,s:O}", "url", url, "type", json_object_get(reply, "type"), "id",
		      json_object_get(reply, "id"), "name", json_object_get(reply, "name"));
	text = meta ? json_dumps(meta, JSON_INDENT(1)) : NULL;
	json_decref(meta);
	if (!text)
		return -ENOMEM;
	rc = pn_file_write_at(dir, "controller.json", text, strlen(text), 0644, 0);
	free(text);
	return rc;
}

int pn_ctlapi_open(const char *state_dir, struct pn_ctlapi **out)
{
	struct pn_ctlapi *c = calloc(1, sizeof(*c));
	char *text = NULL;
	json_t *meta = NULL;
	const char *url, *type, *id;
	int rc;

	if (!c)
		return -ENOMEM;
	if ((rc = pn_file_read_at(state_dir, "controller.json", 64 * 1024, &text, NULL)))
		goto fail;
	meta = json_loads(text, 0, NULL);
	url = json_string_value(json_object_get(meta, "url"));
	type = json_string_value(json_object_get(meta, "type"));
	id = json_string_value(json_object_get(meta, "id"));
	if (!url || !type || !id || strlen(url) >= sizeof(c->url) ||
	    strlen(type) >= sizeof(c->type) || strlen(id) >= sizeof(c->id) ||
	    strlen(state_dir) >= sizeof(c->dir) - 16) {
		rc = PN_E_MALFORMED;
		goto fail;
	}
	snprintf(c->dir, sizeof(c->dir), "%s", state_dir);
	snprintf(c->url, sizeof(c->url), "%s", url);
	snprintf(c->type, sizeof(c->type), "%s", type);
	snprintf(c->id, sizeof(c->id), "%s", id);
	path_of(c->ca_file, sizeof(c->ca_file), state_dir, "ca.crt");
	path_of(c->cert_file, sizeof(c->cert_file), state_dir, "cert.pem");
	path_of(c->key_file, sizeof(c->key_file), state_dir, "key.pem");
	if ((rc = pn_key_load_pem_file(c->key_file, &c->key)))
		goto fail;
	free(text);
	json_decref(meta);
	*out = c;
	return 0;
fail:
	free(text);
	json_decref(meta);
	pn_ctlapi_free(c);
	return rc;
}

void pn_ctlapi_free(struct pn_ctlapi *c)
{
	if (!c)
		return;
	pn_key_free(c->key);
	free(c);
}

const char *pn_ctlapi_type(const struct pn_ctlapi *c)
{
	return c->type;
}

const char *pn_ctlapi_id(const struct pn_ctlapi *c)
{
	return c->id;
}

void pn_ctlapi_xfer_init(const struct pn_ctlapi *c, struct pn_xfer *x, const char *url,
			 const char *method)
{
	memset(x, 0, sizeof(*x));
	x->url = url;
	x->method = method;
	x->ca_file = c->ca_file;
	x->cert_file = c->cert_file;
	x->key_file = c->key_file;
}

int pn_ctlapi_renew(struct pn_ctlapi *c)
{
	struct pn_xfer x;
	json_t *body = NULL, *reply = NULL;
	char url[PN_CTLAPI_URL_MAX + 32];
	int rc;

	if ((rc = make_csr(c->key, &body)))
		return rc;
	snprintf(url, sizeof(url), "%s/v1/ctl/renew", c->url);
	pn_ctlapi_xfer_init(c, &x, url, "POST");
	x.body = body;
	if (!(rc = pn_xfer_json(&x, &reply)))
		rc = pn_ctlapi_enroll_finish(c->dir, c->url, reply);
	json_decref(body);
	json_decref(reply);
	return rc;
}

int pn_ctlapi_fetch(struct pn_ctlapi *c)
{
	struct pn_xfer x;
	json_t *reply = NULL;
	char url[PN_CTLAPI_URL_MAX + 32];
	int rc;

	snprintf(url, sizeof(url), "%s/v1/ctl/state", c->url);
	pn_ctlapi_xfer_init(c, &x, url, "GET");
	if (!(rc = pn_xfer_json(&x, &reply)))
		rc = pn_ctlapi_save_state(c->dir, reply);
	json_decref(reply);
	return rc;
}

static int post_text(struct pn_ctlapi *c, const char *path, const char *body, size_t len)
{
	struct pn_xfer x;
	json_t *reply = NULL;
	char url[PN_CTLAPI_URL_MAX + 32];
	int rc;

	if (!body || len == 0 || len > PN_CTLAPI_BODY_MAX)
		return -EINVAL;
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	pn_ctlapi_xfer_init(c, &x, url, "POST");
	x.body_text = body;
	x.body_len = len;
	x.timeout_s = 10; /* the caller retries; a stop waits for this request */
	rc = pn_xfer_json(&x, &reply);
	json_decref(reply);
	return rc;
}

int pn_ctlapi_post_flows(struct pn_ctlapi *c, const char *body, size_t len)
{
	return post_text(c, "/v1/ctl/flows", body, len);
}

int pn_ctlapi_post_status(struct pn_ctlapi *c, const char *body, size_t len)
{
	return post_text(c, "/v1/ctl/status", body, len);
}

int pn_ctlapi_report_flows(struct pn_ctlapi *c, const struct pn_ctlapi_flow *ev, size_t n)
{
	struct pn_xfer x;
	json_t *body, *arr = json_array(), *reply = NULL;
	char url[PN_CTLAPI_URL_MAX + 32];
	int rc;

	if (!arr || n == 0 || n > PN_CTLAPI_FLOW_BATCH_MAX) {
		json_decref(arr);
		return arr ? -EINVAL : -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pn_ctlapi_flow *f = &ev[i];
		json_t *o = json_pack(
			"{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I}", "event",
			f->event, "flow_id", f->flow_id, "client_id", f->client_id, "user", f->user,
			"resource_id", f->resource_id, "dest", f->dest, "proto", f->proto, "path",
			f->path, "verdict", f->verdict, "reason", f->reason, "port", (int)f->port,
			"bytes_up", (json_int_t)f->bytes_up, "bytes_down", (json_int_t)f->bytes_down,
			"ts_ms", (json_int_t)f->ts_ms);

		if (!o || json_array_append_new(arr, o)) {
			json_decref(arr);
			return -ENOMEM;
		}
	}
	body = json_pack("{s:o}", "events", arr);
	if (!body)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s/v1/ctl/flows", c->url);
	pn_ctlapi_xfer_init(c, &x, url, "POST");
	x.body = body;
	rc = pn_xfer_json(&x, &reply);
	json_decref(body);
	json_decref(reply);
	return rc;
}
