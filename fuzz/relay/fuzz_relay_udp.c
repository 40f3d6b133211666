/*
 * Fuzz the UDP path: classification, the session header, BIND and STUN
 * as the relay core routes them, against a core holding one live session
 * whose both sides are bound.  Invariant: no reply larger than the input.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "relay/core.h"
#include "relay/udpmsg.h"

static int send_frame(void *c, const uint8_t *p, size_t n, void *u)
{
	struct pn_relay_frame f;
	struct pn_relay_msg m;
	size_t used;
	static uint8_t sid[PN_RELAY_SID_LEN], sec[2][PN_RELAY_SECRET_LEN];

	(void)u;
	if (!pn_relay_frame_next(p, n, &f, &used) && !pn_relay_msg_decode(&f, &m)) {
		if (m.type == PN_RELAY_F_OPENED || m.type == PN_RELAY_F_SESSION) {
			memcpy(sid, m.sid, sizeof(sid));
			memcpy(sec[m.type == PN_RELAY_F_SESSION], m.secret, PN_RELAY_SECRET_LEN);
		}
	}
	*(uint8_t **)c = sid; /* hand the sid back through the conn cookie */
	((uint8_t **)c)[1] = sec[0];
	((uint8_t **)c)[2] = sec[1];
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
	return 0;
}
static const struct pn_relay_core_ops ops = {send_frame, send_data, send_udp, kick, authorize};

static struct pn_relay_core *core;
static uint8_t *cookie[2][3];
static struct pn_relay_addr addr[2];
static struct sockaddr_in sa[2];

static void init(void)
{
	struct pn_relay_limits lim;
	struct pn_relay_peer *cl, *co;
	uint8_t id[PN_RELAY_ID_LEN] = {1}, acl[1] = {0}, tmp[256], bind[PN_RELAY_BIND_LEN],
		reply[PN_RELAY_REPLY_MAX];
	struct pn_relay_msg m = {.type = PN_RELAY_F_REGISTER};
	struct pn_relay_frame f;
	struct pn_relay_route rt;
	struct pn_buf b;
	size_t used;

	pn_relay_limits_default(&lim);
	if (pn_relay_core_new(&lim, &ops, NULL, &core))
		abort();
	co = pn_relay_core_attach(core, cookie[1], PN_RELAY_ROLE_CONNECTOR, id);
	cl = pn_relay_core_attach(core, cookie[0], PN_RELAY_ROLE_CLIENT,
				  (uint8_t[PN_RELAY_ID_LEN]){2});
	pn_buf_init_wr(&b, tmp, sizeof(tmp));
	pn_relay_msg_encode(&m, &b);
	pn_relay_frame_next(tmp, pn_buf_len(&b), &f, &used);
	pn_relay_core_frame(core, co, &f, 1);
	m.type = PN_RELAY_F_OPEN;
	memcpy(m.id, id, sizeof(id));
	m.acl = acl;
	m.acl_len = 1;
	pn_buf_init_wr(&b, tmp, sizeof(tmp));
	pn_relay_msg_encode(&m, &b);
	pn_relay_frame_next(tmp, pn_buf_len(&b), &f, &used);
	pn_relay_core_frame(core, cl, &f, 1);
	for (int k = 0; k < 2; k++) {
		sa[k].sin_family = AF_INET;
		sa[k].sin_port = htons((uint16_t)(1000 + k));
		sa[k].sin_addr.s_addr = htonl(0x0ac90102u + (uint32_t)k);
		pn_relay_addr_from_sa(&addr[k], (struct sockaddr *)&sa[k]);
		pn_relay_bind_encode(bind, cookie[k][0], (enum pn_relay_side)k, 1,
				     cookie[k][k == 0 ? 1 : 2]);
		pn_relay_core_udp(core, &addr[k], (struct sockaddr *)&sa[k], bind, sizeof(bind), 1,
				  reply, &rt);
		/* New address: answer the CHALLENGE so both sides end up bound. */
		uint8_t cf[PN_RELAY_CONFIRM_LEN];
		pn_relay_confirm_encode(cf, cookie[k][0], (enum pn_relay_side)k, 1,
					pn_relay_challenge_cookie(reply),
					cookie[k][k == 0 ? 1 : 2]);
		pn_relay_core_udp(core, &addr[k], (struct sockaddr *)&sa[k], cf, sizeof(cf), 1,
				  reply, &rt);
		if (rt.kind != PN_RELAY_ROUTE_REPLY || rt.reply_len != PN_RELAY_BIND_OK_LEN)
			abort(); /* the harness must start from a bound session */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t reply[PN_RELAY_REPLY_MAX], *copy;
	struct pn_relay_route rt;
	int k;

	if (!core)
		init();
	if (size < 1)
		return 0;
	/* First byte picks the source; the rest is the datagram.  Byte 1..8
	 * are overwritten with the live session id when bit 1 is set, so the
	 * fuzzer reaches the forwarding and BIND paths, not only "no session". */
	k = data[0] & 1;
	copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	if ((data[0] & 2) && size - 1 >= 1 + PN_RELAY_SID_LEN)
		memcpy(copy + 1, cookie[0][0], PN_RELAY_SID_LEN);
	pn_relay_core_udp(core, &addr[k], (struct sockaddr *)&sa[k], copy, size - 1, 2, reply, &rt);
	if (rt.kind == PN_RELAY_ROUTE_REPLY && rt.reply_len > size - 1)
		abort(); /* amplification */
	free(copy);
	return 0;
}
