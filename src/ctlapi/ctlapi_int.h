#ifndef PN_CTLAPI_CTLAPI_INT_H
#define PN_CTLAPI_CTLAPI_INT_H
/* Internal to ctlapi: the handle's layout. */
#include "ctlapi/ctlapi.h"
#include "ctlapi/xfer.h"
#include "trust/key.h"

#include <stdint.h>

struct pn_ctlapi {
	char dir[4096];
	char url[PN_CTLAPI_URL_MAX];
	char type[16];
	char id[PN_CTLAPI_ID_HEX + 1];
	char ca_file[4200], cert_file[4200], key_file[4200];
	struct pn_key *key;
};

/* Decode one push-channel "policy" event's data (sub.c, as the
 * subscription does) and pass the event to cb (pointers valid during the
 * call).  0, or PN_E_MALFORMED (not JSON, bad base64, a bad client entry);
 * cb is not called then.  For the fuzzer. */
int pn_ctlapi_policy_decode(const char *data, size_t len, pn_ctlapi_event_cb cb, void *arg);

/* A request with the handle's pinned CA and client credential. */
void pn_ctlapi_xfer_init(const struct pn_ctlapi *c, struct pn_xfer *x, const char *url,
			 const char *method);
#endif
