/* Fuzz the NAT traversal parsers of untrusted bytes: the candidate
 * message (re-encoded: same bytes) and the keyed probe layout + MAC. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/candmsg.h"
#include "tunnel/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[PN_PROBE_KEY_LEN];
	uint8_t out[PN_CANDMSG_MAX];
	struct pn_candmsg m;
	struct pn_buf w;
	uint64_t token, txid;
	int type;

	if (pn_candmsg_decode(data, size, &m) == 0) {
		if (m.n > PN_P2P_MAX_CANDS)
			abort();
		pn_buf_init_wr(&w, out, sizeof(out));
		if (pn_candmsg_encode(&w, &m) != 0 || pn_buf_len(&w) != size ||
		    memcmp(out, data, size) != 0)
			abort();
	}
	if (pn_probe_parse(data, size, &type, &token, &txid) == 0 && size != PN_PROBE_LEN)
		abort();
	(void)pn_probe_verify(data, size, key);
	return 0;
}
