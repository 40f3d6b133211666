/*
 * Fuzz stream framing: split the input into frames, decode each body,
 * re-encode what decoded and check it is byte-identical, and hand every
 * frame to the relay core as if it came from an authenticated client or
 * connector (the first byte picks which).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "relay/core.h"
#include "relay/frame.h"

static int send_frame(void *c, const uint8_t *p, size_t n, void *u)
{
	return 0;
}
static int send_data(void *c, const uint8_t *h, size_t hn, const uint8_t *p, size_t n, void *u)
{
	return 0;
}
static int send_udp(const struct pn_relay_addr *to, const struct iovec *iov, int cnt, void *u)
{
	return 0;
}
static void kick(void *c, int e, void *u)
{
}
static int authorize(void *c, const uint8_t *id, const uint8_t *acl, size_t n, uint64_t now,
		     void *u)
{
	return n & 1 ? 0 : -1101; /* both outcomes, decided by the input */
}
static int renew(void *c, const uint8_t *cert, size_t n, uint64_t *not_after, void *u)
{
	*not_after = n;
	return cert[0] & 1 ? 0 : -1105; /* accepted or refused (kick), by the input */
}
static int connector_valid(void *c, void *u)
{
	return 0;
}
static const struct pn_relay_core_ops ops = {send_frame, send_data, send_udp,	    kick,
					     authorize,	 renew,	    connector_valid};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PN_RELAY_FRAME_HDR + PN_RELAY_MAX_FRAME_BODY];
	struct pn_relay_limits lim;
	struct pn_relay_core *core;
	struct pn_relay_peer *peer[2];
	uint8_t id0[PN_RELAY_ID_LEN] = {1}, id1[PN_RELAY_ID_LEN] = {2};
	int c0, c1;
	size_t off = 1, used;

	if (size < 1)
		return 0;
	pn_relay_limits_default(&lim);
	if (pn_relay_core_new(&lim, &ops, NULL, &core))
		return 0;
	peer[0] = pn_relay_core_attach(core, &c0, PN_RELAY_ROLE_CLIENT, id0);
	peer[1] = pn_relay_core_attach(core, &c1, PN_RELAY_ROLE_CONNECTOR, id1);
	while (off < size) {
		struct pn_relay_frame f;
		struct pn_relay_msg m;
		struct pn_buf b;

		if (pn_relay_frame_next(data + off, size - off, &f, &used))
			break;
		if (pn_relay_msg_decode(&f, &m) == 0) {
			pn_buf_init_wr(&b, out, sizeof(out));
			if (pn_relay_msg_encode(&m, &b) || pn_buf_len(&b) != used ||
			    memcmp(out, data + off, used))
				abort(); /* decode/encode must be exact inverses */
		}
		if (pn_relay_core_frame(core, peer[(data[0] >> (off & 7)) & 1], &f, off))
			break; /* the glue would close the stream here */
		off += used;
	}
	pn_relay_core_tick(core, (uint64_t)1 << 40);
	pn_relay_core_detach(core, peer[0]);
	pn_relay_core_detach(core, peer[1]);
	pn_relay_core_free(core);
	return 0;
}
