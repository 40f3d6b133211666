/*
 * libFuzzer: what ctlapi parses: enrollment token text (pasted by
 * operators, carried in scripts), base64 fields of controller replies, and
 * the push channel's server-sent-event framing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlapi/ctlapi.h"
#include "ctlapi/sse.h"
#include "ctlapi/xfer.h"

static int on_event(const char *event, const char *data, size_t len, void *arg)
{
	json_t *j = json_loadb(data, len, 0, NULL);

	if (strlen(event) > 31)
		abort();
	json_decref(j);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_sse sse;
	size_t half = size / 2;
	char *s = malloc(size + 1);
	struct pn_ctlapi_token t;
	uint8_t *out = NULL;
	size_t n = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (pn_ctlapi_token_parse(s, &t) == 0) {
		/* accepted tokens are exactly what the grammar allows */
		if (strlen(t.ca_fp_hex) != 64 || strlen(t.secret_hex) != 64 ||
		    strncmp(t.url, "https://", 8))
			abort();
	}
	if (pn_ctlapi_b64_decode(s, &out, &n) == 0 && n > size)
		abort();
	free(out);
	free(s);
	/* the push channel's event framing, fed in two arbitrary chunks */
	pn_sse_init(&sse, 4096);
	if (pn_sse_feed(&sse, (const char *)data, half, on_event, NULL) == 0)
		pn_sse_feed(&sse, (const char *)data + half, size - half, on_event, NULL);
	pn_sse_fini(&sse);
	return 0;
}
