/* Fuzz the DATAGRAM frame decoder and its round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/flowproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[PN_FLOW_DGRAM_HDR_LEN + PN_FLOW_DGRAM_PAYLOAD_MAX];
	const uint8_t *payload;
	uint64_t id;
	size_t plen, olen;

	if (pn_flow_dgram_decode(data, size, &id, &payload, &plen) != 0)
		return 0;
	if (payload < data || payload + plen != data + size)
		abort();
	if (pn_flow_dgram_encode(out, sizeof(out), id, payload, plen, &olen) != 0 ||
	    olen != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
