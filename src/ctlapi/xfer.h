#ifndef PN_CTLAPI_XFER_H
#define PN_CTLAPI_XFER_H
/* Internal to ctlapi: one HTTPS request to the controller, and state files. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctlapi/curl_dl.h"

#define PN_CTLAPI_REPLY_MAX (32u << 20) /* refuse larger replies */

struct pn_xfer {
	const char *url;      /* full URL */
	const char *method;   /* "GET" / "POST" */
	const json_t *body;   /* JSON body or NULL */
	const char *body_text; /* or an encoded JSON body of body_len bytes */
	size_t body_len;
	const char *ca_file;  /* pinned CA (PEM file); NULL = do not verify (CA fetch only) */
	const char *bearer;   /* API key or NULL */
	const char *cert_file, *key_file; /* client credential or NULL */
	long timeout_s;
};

/* Common TLS options on an easy handle (TLS 1.3, pinned CA, client cert). */
void pn_xfer_setup_tls(CURL *h, const struct pn_xfer *x);

/*
 * Perform the request.  On HTTP 2xx, *reply = parsed JSON object (new ref).
 * Errors: PN_E_CTL_CONNECT, PN_E_CTL_AUTH (401/403), PN_E_CTL_NOTFOUND (404),
 * PN_E_CTL_REJECTED (other 4xx), PN_E_CTL_SERVER (5xx / bad JSON), -ENOMEM.
 * The controller's error message is logged.
 */
int pn_xfer_json(const struct pn_xfer *x, json_t **reply);
/* Map an HTTP status to an error code (0 for 2xx). */
int pn_xfer_status_err(long status);

/* Base64 decode via nettle; *out heap. 0 or PN_E_MALFORMED / -ENOMEM. */
int pn_ctlapi_b64_decode(const char *in, uint8_t **out, size_t *outlen);
/* Save acl (base64 field) and relays of a state object. */
int pn_ctlapi_save_state(const char *dir, const json_t *state);
#endif
