/* A diagnostic request to the controller (ctlapi/probe.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/err.h"
#include "ctlapi/ctlapi.h"
#include "ctlapi/curl_dl.h"
#include "ctlapi/probe.h"
#include "ctlapi/xfer.h"

#define BODY_MAX (64u << 10) /* /v1/ca is one certificate */

struct probe_io {
	struct pn_ctlapi_probe *out;
	size_t body;
};

/* Header lines arrive one by one; the Date of the final answer wins. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct probe_io *io = arg;
	size_t len = size * n;
	char line[128];

	io->out->recv_ms = pn_wall_ms();
	if (len > 5 && len < sizeof(line) && !strncasecmp(p, "date:", 5)) {
		time_t t;

		memcpy(line, p + 5, len - 5);
		line[len - 5] = '\0';
		t = curl_getdate(line, NULL);
		io->out->date_s = t > 0 ? (int64_t)t : 0;
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct probe_io *io = arg;

	(void)p;
	io->body += size * n;
	return io->body > BODY_MAX ? 0 : size * n;
}

static int curl_err(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT: return PN_E_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
		return PN_E_CTL_PIN;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	default: return PN_E_CTL_CONNECT;
	}
}

int pn_ctlapi_probe(const char *url, const char *ca_file, const char *cert_file,
		    const char *key_file, unsigned timeout_ms, struct pn_ctlapi_probe *out)
{
	struct pn_xfer x = {.ca_file = ca_file, .cert_file = cert_file, .key_file = key_file};
	struct probe_io io = {.out = out};
	char full[PN_CTLAPI_URL_MAX + 16];
	double t;
	CURLcode cc;
	CURL *h;

	memset(out, 0, sizeof(*out));
	snprintf(full, sizeof(full), "%s/v1/ca", url);
	if ((out->err = pn_curl_easy_open("ctlapi", &h)) != 0) {
		if (out->err == PN_E_LIBRARY)
			snprintf(out->detail, sizeof(out->detail), PN_CURL_MISSING_MSG);
		return out->err;
	}
	pn_xfer_setup_tls(h, &x);
	curl_easy_setopt(h, CURLOPT_URL, full);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &io);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &io);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	out->sent_ms = pn_wall_ms();
	cc = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &t) == CURLE_OK)
		out->connect_ms = (unsigned)(t * 1000);
	if (curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &t) == CURLE_OK)
		out->tls_ms = (unsigned)(t * 1000);
	if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &t) == CURLE_OK)
		out->total_ms = (unsigned)(t * 1000);
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && io.body > BODY_MAX)) {
		snprintf(out->detail, sizeof(out->detail), "%s", curl_easy_strerror(cc));
		out->err = curl_err(cc);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	out->err = pn_xfer_status_err(out->status);
out:
	curl_easy_cleanup(h);
	return out->err;
}
