#ifndef PN_CONTROLLER_SIGNER_CORE_H
#define PN_CONTROLLER_SIGNER_CORE_H
/*
 * The CA signer's decision core: one request frame in, one response frame
 * out, no I/O (signer.h runs it in its own process).  It signs only
 *   - credentials of a known type for a raw Ed25519 key, with a lifetime
 *     in 1..cred_lifetime_max_s and fields within trust/cred.h's limits;
 *   - access lists that decode (trust/acl_wire.h), re-encode to the very
 *     same bytes, name this CA as signer, were issued within the last
 *     PN_SIGNER_ACL_ISSUED_SLACK_S (+ backdate) and expire within
 *     acl_lifetime_max_s;
 * and at most rate_per_s signatures a second (a token bucket holding one
 * second's worth).  Every signature and every refusal is logged ("signer"
 * module); a refused request gets a response with a negative status.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "trust/ca.h"

#define PN_SIGNER_RATE_DEFAULT	    10000u /* signatures per second */
#define PN_SIGNER_ACL_ISSUED_SLACK_S 120u  /* request latency + clock steps */

struct pn_signer_limits {
	uint32_t cred_lifetime_max_s; /* 1..PN_CRED_LIFETIME_MAX */
	uint32_t acl_lifetime_max_s;  /* >= 1 */
	uint32_t rate_per_s;	      /* >= 1 */
};

struct pn_signer_core {
	const struct pn_ca *ca;
	struct pn_signer_limits lim;
	uint8_t ca_fpr[PN_FPR_LEN];
	uint64_t tokens_milli, last_ms; /* the rate cap's bucket */
	uint64_t nsigned, nrefused, nrate;
};

/* 0, or PN_E_INVAL for limits out of range.  ca: owned by the caller. */
int pn_signer_core_init(struct pn_signer_core *c, const struct pn_ca *ca,
			const struct pn_signer_limits *lim, uint64_t now_ms);

/*
 * Handle one whole frame (header + body, exactly len bytes) at wall time
 * now_s / monotonic now_ms.  Appends the response frame to resp (a
 * dynamic pn_buf) and returns 0 when the request was answered (signed or
 * refused: see the response's status); a negative code when no answer is
 * possible (the header itself is malformed: the caller drops the
 * connection).
 */
int pn_signer_core_handle(struct pn_signer_core *c, const uint8_t *frame, size_t len,
			  uint64_t now_s, uint64_t now_ms, struct pn_buf *resp);
#endif
