/*
 * The Postern certificate extension decoder, raw record and DER-wrapped.
 * Property: whatever decodes re-encodes to exactly the input bytes (one
 * byte string, one meaning).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "trust/ext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_cred_info info;
	uint8_t out[PN_CRED_EXT_MAX];
	size_t n = 0;

	memset(&info, 0, sizeof(info));
	if (pn_cred_ext_decode(data, size, &info) == 0) {
		if (pn_cred_ext_encode(&info, out, sizeof(out), &n) != 0 || n != size ||
		    memcmp(out, data, size) != 0)
			abort();
	}
	memset(&info, 0, sizeof(info));
	(void)pn_cred_ext_decode_der(data, size, &info);
	return 0;
}
