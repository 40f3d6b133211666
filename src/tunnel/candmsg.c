/* The candidate message codec; see candmsg.h. */
#include <netinet/in.h>
#include <string.h>

#include "core/err.h"
#include "tunnel/candmsg.h"

int pn_candmsg_encode(struct pn_buf *b, const struct pn_candmsg *m)
{
	int r;

	if (m->n > PN_P2P_MAX_CANDS)
		return PN_E_INVAL;
	if ((r = pn_buf_put_u8(b, PN_CANDMSG_VERSION)) || (r = pn_buf_put_u8(b, m->nat)) ||
	    (r = pn_buf_put_u8(b, 0)) || (r = pn_buf_put_u8(b, (uint8_t)m->n)) ||
	    (r = pn_buf_put_u32(b, m->gen)) || (r = pn_buf_put_u64(b, m->token)) ||
	    (r = pn_buf_put_bytes(b, m->key, sizeof(m->key))))
		return r;
	for (size_t i = 0; i < m->n; i++) {
		const struct pn_cand *c = &m->c[i];
		if (c->type != PN_CAND_HOST && c->type != PN_CAND_SRFLX)
			return PN_E_INVAL;
		if (c->addr.ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)&c->addr;
			if ((r = pn_buf_put_u8(b, c->type)) || (r = pn_buf_put_u8(b, 4)) ||
			    (r = pn_buf_put_bytes(b, &a->sin_addr, 4)) ||
			    (r = pn_buf_put_u16(b, ntohs(a->sin_port))))
				return r;
		} else if (c->addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)&c->addr;
			if ((r = pn_buf_put_u8(b, c->type)) || (r = pn_buf_put_u8(b, 6)) ||
			    (r = pn_buf_put_bytes(b, &a->sin6_addr, 16)) ||
			    (r = pn_buf_put_u16(b, ntohs(a->sin6_port))))
				return r;
		} else {
			return PN_E_INVAL;
		}
	}
	return 0;
}

int pn_candmsg_decode(const uint8_t *p, size_t n, struct pn_candmsg *m)
{
	struct pn_buf b;
	uint8_t ver, flags, count;
	int r;

	memset(m, 0, sizeof(*m));
	pn_buf_init_ro(&b, p, n);
	if ((r = pn_buf_get_u8(&b, &ver)))
		return r;
	if (ver != PN_CANDMSG_VERSION)
		return PN_E_UNSUPPORTED;
	if ((r = pn_buf_get_u8(&b, &m->nat)) || (r = pn_buf_get_u8(&b, &flags)) ||
	    (r = pn_buf_get_u8(&b, &count)) || (r = pn_buf_get_u32(&b, &m->gen)) ||
	    (r = pn_buf_get_u64(&b, &m->token)) || (r = pn_buf_get_bytes(&b, m->key, sizeof(m->key))))
		return r;
	/* count bounds the loop and the array: at most PN_P2P_MAX_CANDS */
	if (flags != 0 || count > PN_P2P_MAX_CANDS || m->nat > PN_NAT_BLOCKED)
		return PN_E_MALFORMED;
	for (uint8_t i = 0; i < count; i++) {
		struct pn_cand *c = &m->c[i];
		uint8_t type, fam;
		uint16_t port;

		if ((r = pn_buf_get_u8(&b, &type)) || (r = pn_buf_get_u8(&b, &fam)))
			return r;
		if (type != PN_CAND_HOST && type != PN_CAND_SRFLX)
			return PN_E_MALFORMED;
		c->type = type;
		if (fam == 4) {
			struct sockaddr_in *a = (void *)&c->addr;
			a->sin_family = AF_INET;
			if ((r = pn_buf_get_bytes(&b, &a->sin_addr, 4)) || (r = pn_buf_get_u16(&b, &port)))
				return r;
			a->sin_port = htons(port);
		} else if (fam == 6) {
			struct sockaddr_in6 *a = (void *)&c->addr;
			a->sin6_family = AF_INET6;
			if ((r = pn_buf_get_bytes(&b, &a->sin6_addr, 16)) ||
			    (r = pn_buf_get_u16(&b, &port)))
				return r;
			a->sin6_port = htons(port);
		} else {
			return PN_E_MALFORMED;
		}
	}
	if (pn_buf_len(&b) != 0)
		return PN_E_MALFORMED; /* the body is exactly the message */
	m->n = count;
	return 0;
}
