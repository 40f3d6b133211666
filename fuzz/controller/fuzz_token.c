/*
 * libFuzzer: enrollment token text (pasted by operators, carried in
 * scripts) and base64 fields of controller replies, as ctlapi parses them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlapi/ctlapi.h"
#include "ctlapi/xfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
	return 0;
}
