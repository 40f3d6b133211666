/* ICMP echo packets for transparent mode; see icmp_pkt.h. */
#include <string.h>

#include "client/icmp_pkt.h"
#include "core/buf.h"
#include "core/err.h"

#define IP4_HDR 20
#define IP6_HDR 40
#define ICMP_HDR 8
#define PROTO_ICMP 1
#define PROTO_ICMP6 58
#define IP6_MIN_MTU 1280

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n >= 2; p += 2, n -= 2)
		s += pn_load_be16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

int pn_icmp_parse_request(const uint8_t *pkt, size_t len, struct pn_icmp_echo *e)
{
	const uint8_t *icmp;
	size_t ilen;

	memset(e, 0, sizeof(*e));
	if (len < 1)
		return PN_E_MALFORMED;
	if ((pkt[0] >> 4) == 4) {
		size_t ihl = (size_t)(pkt[0] & 0xf) * 4, tot;
		if (len < IP4_HDR || ihl < IP4_HDR || ihl > len)
			return PN_E_MALFORMED;
		tot = pn_load_be16(pkt + 2);
		/* the total length must cover the header and fit what we got */
		if (tot < ihl || tot > len)
			return PN_E_MALFORMED;
		if (pkt[9] != PROTO_ICMP)
			return PN_E_UNSUPPORTED;
		if (pn_load_be16(pkt + 6) & 0x3fff) /* MF or an offset: a fragment */
			return PN_E_UNSUPPORTED;
		e->family = 4;
		memcpy(e->src, pkt + 12, 4);
		memcpy(e->dst, pkt + 16, 4);
		icmp = pkt + ihl;
		ilen = tot - ihl;
		if (ilen < ICMP_HDR)
			return PN_E_MALFORMED;
		if (icmp[0] != 8 || icmp[1] != 0)
			return PN_E_UNSUPPORTED;
	} else if ((pkt[0] >> 4) == 6) {
		size_t plen;
		if (len < IP6_HDR)
			return PN_E_MALFORMED;
		plen = pn_load_be16(pkt + 4);
		if (plen > len - IP6_HDR)
			return PN_E_MALFORMED;
		if (pkt[6] != PROTO_ICMP6)
			return PN_E_UNSUPPORTED; /* extension headers too */
		e->family = 6;
		memcpy(e->src, pkt + 8, 16);
		memcpy(e->dst, pkt + 24, 16);
		icmp = pkt + IP6_HDR;
		ilen = plen;
		if (ilen < ICMP_HDR)
			return PN_E_MALFORMED;
		if (icmp[0] != 128 || icmp[1] != 0)
			return PN_E_UNSUPPORTED;
	} else {
		return PN_E_MALFORMED;
	}
	e->id = pn_load_be16(icmp + 4);
	e->seq = pn_load_be16(icmp + 6);
	e->data = icmp + ICMP_HDR;
	e->dlen = ilen - ICMP_HDR;
	return 0;
}

/* IP header from e->dst to e->src for an ICMP body of blen bytes at
 * out + hdr; then the ICMP checksum over the body (pseudo-header for v6). */
static int finish(const struct pn_icmp_echo *e, uint8_t *out, size_t blen, size_t *outlen)
{
	if (e->family == 4) {
		memset(out, 0, IP4_HDR);
		out[0] = 0x45;
		pn_store_be16(out + 2, (uint16_t)(IP4_HDR + blen));
		out[8] = 64;
		out[9] = PROTO_ICMP;
		memcpy(out + 12, e->dst, 4);
		memcpy(out + 16, e->src, 4);
		pn_store_be16(out + 10, fold(sum16(out, IP4_HDR, 0)));
		pn_store_be16(out + IP4_HDR + 2, 0);
		pn_store_be16(out + IP4_HDR + 2, fold(sum16(out + IP4_HDR, blen, 0)));
		*outlen = IP4_HDR + blen;
	} else {
		uint32_t s;
		memset(out, 0, IP6_HDR);
		out[0] = 0x60;
		pn_store_be16(out + 4, (uint16_t)blen);
		out[6] = PROTO_ICMP6;
		out[7] = 64;
		memcpy(out + 8, e->dst, 16);
		memcpy(out + 24, e->src, 16);
		/* pseudo-header: addresses, upper-layer length, next header */
		s = sum16(out + 8, 32, 0) + (uint32_t)blen + PROTO_ICMP6;
		pn_store_be16(out + IP6_HDR + 2, 0);
		pn_store_be16(out + IP6_HDR + 2, fold(sum16(out + IP6_HDR, blen, s)));
		*outlen = IP6_HDR + blen;
	}
	return 0;
}

int pn_icmp_build_reply(const struct pn_icmp_echo *e, uint16_t seq, const uint8_t *data,
			size_t dlen, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t hdr = e->family == 4 ? IP4_HDR : IP6_HDR;
	uint8_t *icmp = out + hdr;

	if (outsz < hdr + ICMP_HDR || dlen > outsz - hdr - ICMP_HDR ||
	    hdr + ICMP_HDR + dlen > 0xffff)
		return PN_E_NOSPACE;
	icmp[0] = e->family == 4 ? 0 : 129;
	icmp[1] = 0;
	pn_store_be16(icmp + 4, e->id);
	pn_store_be16(icmp + 6, seq);
	memcpy(icmp + ICMP_HDR, data, dlen);
	return finish(e, out, ICMP_HDR + dlen, outlen);
}

int pn_icmp_build_prohibited(const struct pn_icmp_echo *e, const uint8_t *pkt, size_t len,
			     uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t hdr = e->family == 4 ? IP4_HDR : IP6_HDR, q;
	uint8_t *icmp = out + hdr;

	if (e->family == 4) /* RFC 792: the header + 64 bits of data */
		q = len < (size_t)(pkt[0] & 0xf) * 4 + 8 ? len : (size_t)(pkt[0] & 0xf) * 4 + 8;
	else /* RFC 4443 2.4: as much as fits the minimum MTU */
		q = len < IP6_MIN_MTU - IP6_HDR - ICMP_HDR ? len : IP6_MIN_MTU - IP6_HDR - ICMP_HDR;
	if (outsz < hdr + ICMP_HDR || q > outsz - hdr - ICMP_HDR)
		return PN_E_NOSPACE;
	memset(icmp, 0, ICMP_HDR);
	icmp[0] = e->family == 4 ? 3 : 1;
	icmp[1] = e->family == 4 ? 13 : 1;
	memcpy(icmp + ICMP_HDR, pkt, q);
	return finish(e, out, ICMP_HDR + q, outlen);
}
