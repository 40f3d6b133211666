/*
 * Fuzz the STUN decoders: requests as the relay parses them (and the
 * response built for them, which must never exceed the request), and
 * responses as a client parses them.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t txid[PN_STUN_TXID_LEN], resp[PN_STUN_RESPONSE_MAX];
	struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = 0x3412};
	struct sockaddr_storage m;
	size_t len, lim;
	int fpr;

	if (pn_stun_parse_request(data, size, txid, &fpr) == 0) {
		lim = size < sizeof(resp) ? size : sizeof(resp);
		if (pn_stun_build_response(txid, (struct sockaddr *)&from, fpr, resp, lim, &len) ==
		    0) {
			if (len > size)
				abort();
			if (pn_stun_parse_response(resp, len, txid, &m))
				abort(); /* our own answers must parse */
		}
	}
	if (size >= PN_STUN_HDR)
		(void)pn_stun_parse_response(data, size, data + 8, &m);
	return 0;
}
