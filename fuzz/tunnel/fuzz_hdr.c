/*
 * Fuzz the stream-side decoders of the flow protocol: open header, status
 * reply and control messages, fed as a stream would deliver them.  Every
 * header that decodes must re-encode to the same bytes (what is checked is
 * what was sent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tunnel/flowproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_buf b, w;
	struct pn_flow_hdr h;
	struct pn_flow_status s;
	uint8_t out[PN_FLOW_HDR_MAX + PN_FLOW_STATUS_MAX];
	const uint8_t *body;
	size_t blen;
	uint8_t type;

	pn_buf_init_ro(&b, data, size);
	while (pn_buf_len(&b) > 0) {
		const uint8_t *start = pn_buf_ptr(&b);
		size_t before = pn_buf_len(&b);
		if (pn_flow_hdr_decode(&b, &h) != 0)
			break;
		pn_buf_init_wr(&w, out, sizeof(out));
		if (pn_flow_hdr_encode(&w, &h) != 0)
			abort();
		if (pn_buf_len(&w) != before - pn_buf_len(&b) ||
		    memcmp(pn_buf_ptr(&w), start, pn_buf_len(&w)) != 0)
			abort();
	}

	pn_buf_init_ro(&b, data, size);
	while (pn_flow_status_decode(&b, &s) == 0) {
		pn_buf_init_wr(&w, out, sizeof(out));
		if (pn_flow_status_encode(&w, &s) != 0)
			abort();
	}

	pn_buf_init_ro(&b, data, size);
	while (pn_ctl_decode(&b, &type, &body, &blen) == 0) {
		char text[PN_FLOW_TEXT_MAX + 1];
		int code;
		if (blen > PN_CTL_BODY_MAX)
			abort();
		/* a credential is bounded by its own limit, never empty */
		if (type == PN_CTL_CRED && (blen == 0 || blen > PN_CTL_CRED_MAX))
			abort();
		if (type == PN_CTL_ERROR)
			(void)pn_ctl_error_parse(body, blen, &code, text, sizeof(text));
	}
	return 0;
}
