/*
 * The CA signer's request handling: arbitrary frames into the decision
 * core with an in-memory CA (what a compromised front could send), and the
 * response decoder (what the front reads back).  Refusals are the
 * expected outcome; crashes, leaks and signatures outside the limits are
 * bugs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/signer_core.h"
#include "controller/signer_wire.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pn_ca *ca;
	static struct pn_signer_core core;
	static uint64_t ms;
	struct pn_signer_limits lim = {3600, 3600, 1000000};
	struct pn_signer_resp resp;
	struct pn_buf out;
	uint8_t *frame;

	if (!ca) {
		pn_log_setup(PN_LOG_ERROR, PN_LOG_TEXT, 2);
		if (pn_ca_new(1700000000, &ca) || pn_signer_core_init(&core, ca, &lim, 0))
			abort();
	}
	if (pn_buf_init_dyn(&out, 256, PN_SIGNER_HDR_LEN + PN_SIGNER_BODY_MAX))
		return 0;
	frame = malloc(size ? size : 1);
	if (!frame)
		return 0;
	memcpy(frame, data, size);
	/* A list must name this run's CA: write its fingerprint into ACL frames
	 * (header 12 + magic/version/kind/length 10) so inputs get past that
	 * check to the decoder, the canonical re-encoding and the signature. */
	if (size >= PN_SIGNER_HDR_LEN + 10 + PN_FPR_LEN && frame[3] == PN_SIGNER_OP_ACL)
		memcpy(frame + PN_SIGNER_HDR_LEN + 10, core.ca_fpr, PN_FPR_LEN);
	if (pn_signer_core_handle(&core, frame, size, 1700000000, ++ms, &out) == 0 &&
	    pn_signer_resp_decode(pn_buf_ptr(&out), pn_buf_len(&out), &resp) != 0)
		abort(); /* every answer the core writes must decode */
	pn_buf_fini(&out);
	free(frame);
	pn_signer_resp_decode(data, size, &resp);
	return 0;
}
