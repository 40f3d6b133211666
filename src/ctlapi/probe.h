#ifndef PN_CTLAPI_PROBE_H
#define PN_CTLAPI_PROBE_H
/*
 * One diagnostic request to the controller (`postern doctor`): GET
 * /v1/ca over TLS 1.3 verified against the pinned CA, optionally with the
 * component's credential (mutual TLS), bounded by a deadline, telling
 * apart what failed (no answer at all, TCP refused, TLS verification
 * against the pin, the credential refused) and reading the controller's
 * clock from its HTTP Date header.  Blocking: for command-line tools.
 */
#include <stdint.h>

struct pn_ctlapi_probe {
	/* 0: answered 2xx.  PN_E_CTL_CONNECT (resolution failed, TCP refused
	 * or unreachable, TLS handshake failed for another reason),
	 * PN_E_TIMEOUT (no answer before the deadline), PN_E_CTL_PIN (the
	 * controller's certificate does not verify under the pinned CA),
	 * PN_E_CTL_AUTH (401/403: the credential was refused),
	 * PN_E_CTL_REJECTED / PN_E_CTL_NOTFOUND / PN_E_CTL_SERVER, -ENOMEM. */
	int err;
	long status;	  /* HTTP status, 0 without an answer */
	char detail[256]; /* curl's message on a transport error, else "" */
	/* The controller's clock: its Date header (unix seconds, 1 s
	 * resolution), 0 if it sent none; and our wall clock (ms) when the
	 * request started and when the answer's headers were in. */
	int64_t date_s;
	int64_t sent_ms, recv_ms;
	unsigned connect_ms, tls_ms, total_ms; /* from the start: TCP up, TLS up, done */
};

/*
 * GET url + "/v1/ca", the controller verified against ca_file (PEM; the
 * pin); cert_file/key_file: present this credential (both or neither).
 * At most timeout_ms in all.  Fills *out (out->err as above) and returns
 * out->err.
 */
int pn_ctlapi_probe(const char *url, const char *ca_file, const char *cert_file,
		    const char *key_file, unsigned timeout_ms, struct pn_ctlapi_probe *out);
#endif
