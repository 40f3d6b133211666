/*
 * libFuzzer: the push channel as a component receives it (the bytes of the
 * server-sent-event stream from the controller): SSE framing
 * (pn_sse_feed), then each "policy" event decoded as the subscription
 * does (pn_ctlapi_policy_decode) and consumed as the roles do: the relay
 * list through pn_relays_parse_json, every access list through
 * pn_acl_verify (under a CA whose key is gone: nothing may verify), the
 * revocations as strings.  The decoded event must be self-consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ctlapi/ctlapi_int.h"
#include "ctlapi/relays.h"
#include "ctlapi/sse.h"
#include "trust/acl.h"
#include "trust/ca.h"
#include "trust/cred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pn_anchor *anchor; /* set once */

static void check_acl(const uint8_t *p, size_t n, enum pn_acl_kind kind)
{
	struct pn_acl acl;

	pn_acl_init(&acl, kind);
	if (pn_acl_verify(anchor, p, n, 1800000000ull, &acl) == 0)
		abort(); /* signed by a key nobody holds */
	pn_acl_fini(&acl);
}

static void on_policy(const struct pn_ctlapi_event *ev, void *arg)
{
	struct pn_relay_entry rel[PN_RELAYS_MAX];
	size_t n = 0;

	(void)arg;
	if (ev->kind != PN_CTLAPI_EV_POLICY || !ev->relays_json || (ev->acl_len && !ev->acl))
		abort();
	if (ev->acl)
		check_acl(ev->acl, ev->acl_len, PN_ACL_CONNECTOR);
	for (size_t i = 0; i < ev->n_client_acls; i++) {
		if (strlen(ev->client_acls[i].client_id) > PN_CTLAPI_ID_HEX)
			abort();
		check_acl(ev->client_acls[i].acl, ev->client_acls[i].acl_len, PN_ACL_CLIENT);
	}
	for (size_t i = 0; i < ev->n_revoked; i++)
		if (strlen(ev->revoked[i].serial) >= sizeof(ev->revoked[i].serial) ||
		    strlen(ev->revoked[i].holder_id) > PN_CTLAPI_ID_HEX)
			abort();
	pn_relays_parse_json(ev->relays_json, strlen(ev->relays_json), rel, PN_RELAYS_MAX, &n, NULL,
			     NULL);
	if (n > PN_RELAYS_MAX)
		abort();
}

static int on_event(const char *event, const char *p, size_t len, void *arg)
{
	(void)arg;
	if (!strcmp(event, "revoked"))
		return 1; /* the subscription stops there */
	if (!strcmp(event, "policy"))
		pn_ctlapi_policy_decode(p, len, on_policy, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_sse sse;

	if (!anchor) {
		struct pn_ca *ca = NULL;

		if (pn_ca_new(1800000000ull - 100, &ca) || pn_anchor_from_ca(ca, &anchor))
			abort();
		pn_ca_free(ca);
	}
	pn_sse_init(&sse, 1u << 20);
	pn_sse_feed(&sse, (const char *)data, size, on_event, NULL);
	pn_sse_fini(&sse);
	return 0;
}
