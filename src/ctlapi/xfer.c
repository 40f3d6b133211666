/* HTTPS requests to the controller (libcurl, GnuTLS) and state-dir files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/base64.h>

#include "core/err.h"
#include "core/file.h"
#include "core/log.h"
#include "ctlapi/body.h"
#include "ctlapi/xfer.h"

void pn_xfer_setup_tls(CURL *h, const struct pn_xfer *x)
{
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (x->ca_file) {
		/* Pin: the Postern CA only, never the system store. */
		curl_easy_setopt(h, CURLOPT_CAINFO, x->ca_file);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	} else {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (x->cert_file && x->key_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, x->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY, x->key_file);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

int pn_xfer_status_err(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	if (status == 401 || status == 403)
		return PN_E_CTL_AUTH;
	if (status == 404)
		return PN_E_CTL_NOTFOUND;
	if (status >= 400 && status < 500)
		return PN_E_CTL_REJECTED;
	return PN_E_CTL_SERVER;
}

int pn_xfer_json(const struct pn_xfer *x, json_t **reply)
{
	CURL *h;
	struct curl_slist *hdrs = NULL;
	struct pn_body s = {.max = PN_CTLAPI_REPLY_MAX};
	char *body = NULL, auth[160];
	long status = 0;
	CURLcode cc;
	int rc;

	*reply = NULL;
	if ((rc = pn_curl_easy_open("ctlapi", &h)) != 0)
		return rc;
	pn_xfer_setup_tls(h, x);
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, x->timeout_s ? x->timeout_s : 30L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, pn_body_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (x->bearer) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", x->bearer);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (x->body) {
		body = json_dumps(x->body, JSON_COMPACT);
		if (!body) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	} else if (x->body_text) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body_text);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		PN_LOG_WARN("ctlapi", "request_failed", "url=%s curl=\"%s\"", x->url,
			    curl_easy_strerror(cc));
		rc = s.too_big ? PN_E_TOOBIG : PN_E_CTL_CONNECT;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	rc = pn_xfer_status_err(status);
	if (rc) {
		json_t *e = s.data ? json_loads(s.data, 0, NULL) : NULL;
		const char *msg = json_string_value(
			json_object_get(json_object_get(e, "error"), "message"));

		PN_LOG_WARN("ctlapi", "request_refused", "url=%s status=%ld msg=\"%s\"", x->url,
			    status, msg ? msg : "");
		json_decref(e);
		goto out;
	}
	*reply = s.data ? json_loads(s.data, 0, NULL) : NULL;
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		rc = PN_E_CTL_SERVER;
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(body);
	free(s.data);
	return rc;
}

int pn_ctlapi_b64_decode(const char *in, uint8_t **out, size_t *outlen)
{
	struct base64_decode_ctx ctx;
	size_t n = strlen(in), dlen = BASE64_DECODE_LENGTH(n);
	uint8_t *buf = malloc(dlen ? dlen : 1);

	if (!buf)
		return -ENOMEM;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &dlen, buf, n, in) || !base64_decode_final(&ctx)) {
		free(buf);
		return PN_E_MALFORMED;
	}
	*out = buf;
	*outlen = dlen;
	return 0;
}

int pn_ctlapi_save_state(const char *dir, const json_t *state)
{
	const char *acl = json_string_value(json_object_get(state, "acl"));
	json_t *relays = json_object_get(state, "relays");
	char *text;
	int rc = 0;

	if (acl) {
		uint8_t *bytes = NULL;
		size_t n = 0;

		if ((rc = pn_ctlapi_b64_decode(acl, &bytes, &n)))
			return rc;
		rc = pn_file_write_at(dir, "acl.bin", bytes, n, 0644, 0);
		free(bytes);
		if (rc)
			return rc;
	}
	if (relays) {
		text = json_dumps(relays, JSON_INDENT(1));
		if (!text)
			return -ENOMEM;
		rc = pn_file_write_at(dir, "relays.json", text, strlen(text), 0644, 0);
		free(text);
	}
	return rc;
}
