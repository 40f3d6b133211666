/*
 * libFuzzer: the issuance bodies components send, through the real
 * handlers in memory (fuzzctl.h): byte 0 selects
 *   0  POST /v1/enroll {token, csr}   anonymous (one valid token seeded:
 *                                     the bare secret FZ_TOKEN_SECRET)
 *   1  POST /v1/client/login {csr}    as the service account
 *   2  POST /v1/ctl/renew {csr}       as connector c1 (mutual TLS)
 *   3  POST /v1/ctl/renew {csr}       as relay r1
 *   4  POST /v1/ctl/renew {csr}       as a service account's client
 *   5  POST /v1/ctl/flows {events}    as connector c1
 *   6  POST /v1/ctl/flows {events}    as relay r1 (refused: 403)
 * the rest is the body.  A response must be well formed; an issued
 * credential must verify under the CA for the caller's id; the store must
 * stay consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzctl.h"
#include "trust/cred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void as_component(struct fz *f, struct pn_req *r, const struct pn_cred_info *ci,
			 const char *kind, const char *holder)
{
	r->who = PN_P_COMPONENT;
	r->peer = *ci;
	pn_cred_serial_hex(ci, r->peer_serial);
	snprintf(r->holder_kind, sizeof(r->holder_kind), "%s", kind);
	snprintf(r->principal_id, sizeof(r->principal_id), "%s", holder);
	snprintf(r->actor, sizeof(r->actor), "%s:%s", kind, holder);
	(void)f;
}

/* An issued credential must be one the CA vouches for, for the right id. */
static void check_issued(struct fz *f, const struct pn_req *r, const uint8_t *want_id)
{
	const char *pem = json_string_value(json_object_get(r->resp, "cert_pem"));
	struct pn_cred_info got;

	if (r->status != 200 && r->status != 201)
		return;
	if (!pem || pn_cred_verify(f->ctl.anchor, pem, strlen(pem), PN_CRED_ANY, (uint64_t)pn_now(),
				   60, &got))
		abort();
	if (want_id && memcmp(got.id, want_id, PN_ID_LEN))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = fz_get();
	struct pn_req r;
	const uint8_t *want = NULL;
	json_error_t e;
	int sel, ok;

	if (size < 1)
		return 0;
	sel = data[0] % 7;
	fz_begin(f);
	fz_req(f, &r, "POST");
	switch (sel) {
	case 0:
		r.seg[r.nseg++] = "enroll";
		want = f->conn_cred.id;
		break;
	case 1:
		r.seg[r.nseg++] = "client";
		r.seg[r.nseg++] = "login";
		r.who = PN_P_SERVICE;
		snprintf(r.principal_id, sizeof(r.principal_id), "%s", f->sa_id);
		break;
	default:
		r.seg[r.nseg++] = "ctl";
		r.seg[r.nseg++] = sel <= 4 ? "renew" : "flows";
		if (sel == 2 || sel == 5)
			as_component(f, &r, &f->conn_cred, "connector", f->connector_id);
		else if (sel == 3 || sel == 6)
			as_component(f, &r, &f->relay_cred, "relay", f->relay_id);
		else
			as_component(f, &r, &f->client_cred, "service_account", f->sa_id);
		if (sel <= 4)
			want = r.peer.id;
	}
	r.body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &e);
	ok = r.body && json_is_object(r.body);
	if (ok) {
		pn_router_dispatch(&r);
		if (sel <= 4)
			check_issued(f, &r, want);
		/* fz_dispatch's shape checks, on the already answered request */
		if (r.status < 200 || r.status > 599 || !r.resp)
			abort();
		if (r.status >= 400 && !json_is_object(json_object_get(r.resp, "error")))
			abort();
	}
	json_decref(r.body);
	json_decref(r.resp);
	free(r.raw);
	fz_end(f, ok && r.status >= 200 && r.status < 300);
	return 0;
}
