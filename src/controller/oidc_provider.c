/*
 * OpenID Providers: configuration, discovery, JWKS cache, token endpoint
 * calls (see oidc.h).  HTTP is libcurl (GnuTLS build): HTTPS only, no
 * redirects followed, the provider's CA file (or the system store),
 * replies capped at PN_OIDC_REPLY_MAX, 10 s per request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller/oidc.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "core/secret.h"
#include "ctlapi/body.h"
#include "ctlapi/curl_dl.h"

/* One HTTPS request; form != NULL makes it a POST.  *reply: JSON object. */
static int http_json(const struct pn_oidc_provider *p, const char *url, const char *form, int auth,
		     long *status, json_t **reply)
{
	struct pn_body s = {.max = PN_OIDC_REPLY_MAX};
	struct curl_slist *hdr = NULL;
	char *user = NULL, *pass = NULL;
	CURL *h;
	CURLcode cc;
	int rc;

	*reply = NULL;
	*status = 0;
	if ((rc = pn_curl_easy_open("oidc", &h)) != 0)
		return rc;
	rc = PN_E_OIDC_IDP;
	if (strncmp(url, "https://", 8))
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)PN_OIDC_HTTP_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, pn_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	hdr = curl_slist_append(hdr, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (form) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
		if (auth) {
			/* RFC 6749 2.3.1: form-encode id and secret, then Basic. */
			user = curl_easy_escape(h, p->client_id, 0);
			pass = curl_easy_escape(h, p->client_secret, 0);
			if (!user || !pass) {
				rc = -ENOMEM;
				goto out;
			}
			curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(h, CURLOPT_USERNAME, user);
			curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
		}
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		PN_LOG_WARN("oidc", "idp_unreachable", "provider=%s curl=\"%s\"%s", p->name,
			    curl_easy_strerror(cc), s.too_big ? " oversized=1" : "");
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	*reply = s.data ? json_loadb(s.data, s.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!json_is_object(*reply)) {
		PN_LOG_WARN("oidc", "idp_bad_reply", "provider=%s status=%ld", p->name, *status);
		json_decref(*reply);
		*reply = NULL;
		goto out;
	}
	rc = 0;
out:
	if (pass)
		pn_wipe(pass, strlen(pass));
	curl_free(user);
	curl_free(pass);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(s.data);
	return rc;
}

int pn_oidc_post(struct pn_oidc_provider *p, const char *url, const char *const *params,
		 long *status, json_t **reply)
{
	CURL *h;
	char *form = NULL;
	size_t len = 0;
	int rc;

	if ((rc = pn_curl_easy_open("oidc", &h)) != 0)
		return rc;
	rc = -ENOMEM;
	for (size_t i = 0; params[i] && params[i + 1]; i += 2) {
		char *v = curl_easy_escape(h, params[i + 1], 0);
		char *nf;

		if (!v)
			goto out;
		nf = realloc(form, len + strlen(params[i]) + strlen(v) + 3);
		if (!nf) {
			pn_wipe(v, strlen(v));
			curl_free(v);
			goto out;
		}
		form = nf;
		len += (size_t)sprintf(form + len, "%s%s=%s", len ? "&" : "", params[i], v);
		pn_wipe(v, strlen(v));
		curl_free(v);
	}
	rc = http_json(p, url, form ? form : "", 1, status, reply);
out:
	if (form)
		pn_wipe(form, len);
	free(form);
	curl_easy_cleanup(h);
	return rc;
}

static int copy_url(char *dst, size_t sz, const json_t *doc, const char *k, int required)
{
	const char *v = json_string_value(json_object_get(doc, k));

	dst[0] = '\0';
	if (!v)
		return required ? PN_E_CONFIG : 0;
	if (strncmp(v, "https://", 8) || strlen(v) >= sz)
		return PN_E_CONFIG;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int pn_oidc_discover(struct pn_oidc_provider *p)
{
	char url[PN_OIDC_URL_MAX + 64];
	json_t *doc = NULL;
	long st = 0;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->discovered)
		goto out;
	/* a provider that just failed is not asked again for 5 s: logins are
	 * unauthenticated and must not queue behind its timeouts */
	if (p->discovery_failed && time(NULL) - p->discovery_failed < 5) {
		rc = PN_E_OIDC_IDP;
		goto out;
	}
	snprintf(url, sizeof(url), "%s%s.well-known/openid-configuration", p->issuer,
		 p->issuer[strlen(p->issuer) - 1] == '/' ? "" : "/");
	rc = http_json(p, url, NULL, 0, &st, &doc);
	if (rc)
		goto out;
	rc = PN_E_OIDC_IDP;
	/* OIDC Discovery 4.3: the document must name exactly our issuer
	 * (mix-up defence: a provider cannot speak for another). */
	if (st != 200 || !json_string_value(json_object_get(doc, "issuer")) ||
	    strcmp(json_string_value(json_object_get(doc, "issuer")), p->issuer)) {
		PN_LOG_WARN("oidc", "discovery_refused", "provider=%s status=%ld", p->name, st);
		goto out;
	}
	if (copy_url(p->auth_ep, sizeof(p->auth_ep), doc, "authorization_endpoint", 1) ||
	    copy_url(p->token_ep, sizeof(p->token_ep), doc, "token_endpoint", 1) ||
	    copy_url(p->jwks_uri, sizeof(p->jwks_uri), doc, "jwks_uri", 1) ||
	    copy_url(p->device_ep, sizeof(p->device_ep), doc, "device_authorization_endpoint", 0)) {
		PN_LOG_WARN("oidc", "discovery_refused", "provider=%s reason=endpoints", p->name);
		goto out;
	}
	p->discovered = 1;
	p->discovery_failed = 0;
	rc = 0;
	PN_LOG_INFO("oidc", "discovered", "provider=%s issuer=%s device=%d", p->name, p->issuer,
		    p->device_ep[0] != '\0');
out:
	if (rc && !p->discovered)
		p->discovery_failed = time(NULL);
	pthread_mutex_unlock(&p->lock);
	json_decref(doc);
	return rc;
}

/* Fetch the JWKS into p->jwks (lock held). */
static int fetch_jwks(struct pn_oidc_provider *p)
{
	json_t *doc = NULL;
	long st = 0;
	int rc = http_json(p, p->jwks_uri, NULL, 0, &st, &doc);

	if (rc)
		return rc;
	if (st != 200 || !json_is_array(json_object_get(doc, "keys"))) {
		json_decref(doc);
		PN_LOG_WARN("oidc", "jwks_refused", "provider=%s status=%ld", p->name, st);
		return PN_E_OIDC_IDP;
	}
	json_decref(p->jwks);
	p->jwks = doc;
	PN_LOG_INFO("oidc", "jwks_fetched", "provider=%s keys=%zu", p->name,
		    json_array_size(json_object_get(doc, "keys")));
	return 0;
}

int pn_oidc_verify(struct pn_oidc_provider *p, const char *id_token, const char *nonce,
		   const char *subject, int64_t now, struct pn_oidc_claims *out)
{
	struct pn_oidc_expect e = {.issuer = p->issuer,
				   .client_id = p->client_id,
				   .nonce = nonce,
				   .subject = subject,
				   .groups_claim = p->groups_claim,
				   .now = now};
	int rc;

	if ((rc = pn_oidc_discover(p)))
		return rc;
	pthread_mutex_lock(&p->lock);
	if (!p->jwks && (rc = fetch_jwks(p)))
		goto out;
	rc = pn_oidc_jwt_verify(id_token, p->jwks, &e, out);
	/* A kid we do not know: the provider may have rotated its keys.  One
	 * refetch, and not more often than refetch_min_s, so tokens with
	 * made-up kids cannot make us hammer the provider. */
	if (rc == PN_E_OIDC_KID &&
	    (p->jwks_refetched == 0 || now - p->jwks_refetched >= (int64_t)p->refetch_min_s)) {
		p->jwks_refetched = now;
		if (fetch_jwks(p) == 0)
			rc = pn_oidc_jwt_verify(id_token, p->jwks, &e, out);
	}
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

struct pn_oidc_provider *pn_oidc_find(struct pn_oidc *o, const char *name)
{
	if (!o || o->n == 0)
		return NULL;
	if (!name)
		return o->n == 1 ? &o->p[0] : NULL;
	for (unsigned i = 0; i < o->n; i++)
		if (!strcmp(o->p[i].name, name))
			return &o->p[i];
	return NULL;
}

/* A secret file (at most sz - 1 bytes) into buf; trailing newlines cut. */
static int read_secret(const char *path, char *buf, size_t sz, size_t *len)
{
	char *text;
	size_t n, all;
	int rc;

	if ((rc = pn_file_read(path, sz - 1, &text, &all)))
		return rc;
	n = all;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	memcpy(buf, text, n);
	buf[n] = '\0';
	*len = n;
	pn_wipe_free(text, all);
	return 0;
}

static int str_field(const json_t *o, const char *k, char *dst, size_t sz, const char *def)
{
	const json_t *v = json_object_get(o, k);

	if (!v) {
		if (!def)
			return PN_E_CONFIG;
		snprintf(dst, sz, "%s", def);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= sz)
		return PN_E_CONFIG;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int load_provider(const json_t *c, unsigned refetch, struct pn_oidc_provider *p)
{
	char secret_file[1024];
	size_t n = 0;
	int rc;

	if (!json_is_object(c) || str_field(c, "name", p->name, sizeof(p->name), NULL) ||
	    str_field(c, "issuer", p->issuer, sizeof(p->issuer), NULL) ||
	    strncmp(p->issuer, "https://", 8) ||
	    str_field(c, "client_id", p->client_id, sizeof(p->client_id), NULL) ||
	    str_field(c, "client_secret_file", secret_file, sizeof(secret_file), NULL) ||
	    str_field(c, "scopes", p->scopes, sizeof(p->scopes),
		      "openid email profile offline_access") ||
	    str_field(c, "groups_claim", p->groups_claim, sizeof(p->groups_claim), "groups") ||
	    str_field(c, "admin_group", p->admin_group, sizeof(p->admin_group), "-") ||
	    str_field(c, "ca_file", p->ca_file, sizeof(p->ca_file), "-"))
		return PN_E_CONFIG;
	if (!strcmp(p->ca_file, "-"))
		p->ca_file[0] = '\0';
	if (!strcmp(p->admin_group, "-"))
		p->admin_group[0] = '\0';
	if ((rc = read_secret(secret_file, p->client_secret, sizeof(p->client_secret), &n)) ||
	    n == 0) {
		PN_LOG_ERROR("oidc", "secret_unreadable", "provider=%s file=%s", p->name,
			     secret_file);
		return PN_E_CONFIG;
	}
	p->refetch_min_s = refetch;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->refresh_lock, NULL);
	return 0;
}

/* DATA/oidc.key: 32 random bytes, created 0600 on first use. */
static int load_seal_key(const char *data_dir, uint8_t key[32])
{
	char *text = NULL;
	size_t n = 0;
	int rc = pn_file_read_at(data_dir, "oidc.key", 32, &text, &n);

	if (rc == 0) {
		rc = n == 32 ? 0 : PN_E_CONFIG;
		if (!rc)
			memcpy(key, text, 32);
		pn_wipe_free(text, n);
		return rc;
	}
	if (rc != -ENOENT)
		return rc == PN_E_TOOBIG ? PN_E_CONFIG : rc;
	if ((rc = pn_random(key, 32)))
		return rc;
	return pn_file_write_at(data_dir, "oidc.key", key, 32, 0600, PN_FILE_NOCLOBBER);
}

int pn_oidc_load(const char *data_dir, struct pn_oidc **out)
{
	char path[4096];
	json_error_t err;
	json_t *doc = NULL, *list, *refetch;
	struct pn_oidc *o = NULL;
	size_t i;
	int rc = PN_E_CONFIG;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/oidc.json", data_dir);
	if (access(path, F_OK))
		return 0;
	if (!(doc = json_load_file(path, JSON_REJECT_DUPLICATES, &err))) {
		PN_LOG_ERROR("oidc", "config_error", "file=%s line=%d msg=\"%s\"", path, err.line,
			     err.text);
		return PN_E_CONFIG;
	}
	list = json_object_get(doc, "providers");
	refetch = json_object_get(doc, "jwks_refetch_min_s");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > PN_OIDC_PROVIDERS_MAX ||
	    (refetch && (!json_is_integer(refetch) || json_integer_value(refetch) < 0 ||
			 json_integer_value(refetch) > 3600))) {
		PN_LOG_ERROR("oidc", "config_error", "file=%s msg=\"providers: 1..%d\"", path,
			     PN_OIDC_PROVIDERS_MAX);
		goto out;
	}
	if (!(o = calloc(1, sizeof(*o)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(list); i++) {
		if (load_provider(json_array_get(list, i),
				  refetch ? (unsigned)json_integer_value(refetch) : 10u,
				  &o->p[i])) {
			PN_LOG_ERROR("oidc", "config_error", "file=%s provider=%zu", path, i);
			goto out;
		}
		o->n++;
	}
	if ((rc = load_seal_key(data_dir, o->seal_key)))
		goto out;
	*out = o;
	o = NULL;
	PN_LOG_INFO("oidc", "configured", "providers=%zu", json_array_size(list));
out:
	pn_oidc_free(o);
	json_decref(doc);
	return rc;
}

void pn_oidc_free(struct pn_oidc *o)
{
	if (!o)
		return;
	for (unsigned i = 0; i < o->n; i++) {
		json_decref(o->p[i].jwks);
		pthread_mutex_destroy(&o->p[i].lock);
		pthread_mutex_destroy(&o->p[i].refresh_lock);
	}
	pn_wipe(o, sizeof(*o));
	free(o);
}
