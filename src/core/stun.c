#include <netinet/in.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/secret.h"
#include "core/stun.h"

#define FPR_XOR	 0x5354554eu
#define ATTR_HDR 4

/* CRC-32 (ISO-HDLC), bitwise: STUN messages are tiny and this is off the data path. */
static uint32_t crc32_iso(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

/* Header checks shared by request and response parsing. */
static int check_header(const uint8_t *p, size_t n, uint16_t *type)
{
	if (n > PN_STUN_MAX_MESSAGE)
		return PN_E_TOOBIG;
	if (n < PN_STUN_HDR || (p[0] & 0xc0) || pn_load_be32(p + 4) != PN_STUN_MAGIC)
		return PN_E_MALFORMED;
	/* The declared length must cover exactly the rest, in 4-byte units. */
	if (pn_load_be16(p + 2) != n - PN_STUN_HDR || (n & 3))
		return PN_E_MALFORMED;
	*type = pn_load_be16(p);
	return 0;
}

/*
 * Walk attributes; for each, call back with (type, value, len, offset of
 * the attribute header).  FINGERPRINT must be last and correct.
 */
struct attr_walk {
	const uint8_t *xma, *ma;
	size_t xma_len, ma_len;
	int has_fpr;
};

static int walk_attrs(const uint8_t *p, size_t n, struct attr_walk *w)
{
	size_t off = PN_STUN_HDR;

	memset(w, 0, sizeof(*w));
	while (off < n) {
		uint16_t t, len;
		size_t padded;

		if (w->has_fpr)
			return PN_E_MALFORMED; /* nothing may follow FINGERPRINT */
		if (n - off < ATTR_HDR)
			return PN_E_MALFORMED;
		t = pn_load_be16(p + off);
		len = pn_load_be16(p + off + 2);
		padded = ((size_t)len + 3) & ~(size_t)3;
		/* The value plus its padding must lie inside the message. */
		if (padded > n - off - ATTR_HDR)
			return PN_E_MALFORMED;
		if (t == PN_STUN_ATTR_FINGERPRINT) {
			if (len != 4)
				return PN_E_MALFORMED;
			/* CRC over the message before this attribute; the header's
			 * length already counts the FINGERPRINT (RFC 8489 §14.7). */
			if ((crc32_iso(p, off) ^ FPR_XOR) != pn_load_be32(p + off + ATTR_HDR))
				return PN_E_MALFORMED;
			w->has_fpr = 1;
		} else if (t == PN_STUN_ATTR_XOR_MAPPED_ADDRESS) {
			w->xma = p + off + ATTR_HDR;
			w->xma_len = len;
		} else if (t == PN_STUN_ATTR_MAPPED_ADDRESS) {
			w->ma = p + off + ATTR_HDR;
			w->ma_len = len;
		}
		off += ATTR_HDR + padded;
	}
	return 0;
}

int pn_stun_parse_request(const uint8_t *p, size_t n, uint8_t txid[PN_STUN_TXID_LEN], int *has_fpr)
{
	struct attr_walk w;
	uint16_t type;
	int r;

	if ((r = check_header(p, n, &type)))
		return r;
	if (type != PN_STUN_BINDING_REQUEST)
		return PN_E_UNSUPPORTED;
	if ((r = walk_attrs(p, n, &w)))
		return r;
	memcpy(txid, p + 8, PN_STUN_TXID_LEN);
	if (has_fpr)
		*has_fpr = w.has_fpr;
	return 0;
}

static void put_fpr(uint8_t *out, size_t off)
{
	pn_store_be16(out + off, PN_STUN_ATTR_FINGERPRINT);
	pn_store_be16(out + off + 2, 4);
	pn_store_be32(out + off + 4, crc32_iso(out, off) ^ FPR_XOR);
}

int pn_stun_build_response(const uint8_t txid[PN_STUN_TXID_LEN], const struct sockaddr *from,
			   int with_fpr, uint8_t *out, size_t limit, size_t *len)
{
	size_t alen, total;
	uint8_t *a;

	if (from->sa_family == AF_INET)
		alen = 8;
	else if (from->sa_family == AF_INET6)
		alen = 20;
	else
		return PN_E_INVAL;
	total = PN_STUN_HDR + ATTR_HDR + alen;
	/* No amplification: FINGERPRINT only when it still fits in the request's size. */
	if (with_fpr && total + 8 > limit)
		with_fpr = 0;
	if (with_fpr)
		total += 8;
	if (total > limit)
		return PN_E_NOSPACE;
	pn_store_be16(out, PN_STUN_BINDING_RESPONSE);
	pn_store_be16(out + 2, (uint16_t)(total - PN_STUN_HDR));
	pn_store_be32(out + 4, PN_STUN_MAGIC);
	memcpy(out + 8, txid, PN_STUN_TXID_LEN);
	pn_store_be16(out + 20, PN_STUN_ATTR_XOR_MAPPED_ADDRESS);
	pn_store_be16(out + 22, (uint16_t)alen);
	a = out + 24;
	a[0] = 0;
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;
		uint32_t ip = ntohl(s4->sin_addr.s_addr);
		a[1] = 0x01;
		pn_store_be16(a + 2, (uint16_t)(ntohs(s4->sin_port) ^ (PN_STUN_MAGIC >> 16)));
		pn_store_be32(a + 4, ip ^ PN_STUN_MAGIC);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		a[1] = 0x02;
		pn_store_be16(a + 2, (uint16_t)(ntohs(s6->sin6_port) ^ (PN_STUN_MAGIC >> 16)));
		/* XOR with cookie || transaction id (RFC 8489 §14.2). */
		for (int i = 0; i < 16; i++)
			a[4 + i] = s6->sin6_addr.s6_addr[i] ^ out[4 + i];
	}
	if (with_fpr)
		put_fpr(out, PN_STUN_HDR + ATTR_HDR + alen);
	*len = total;
	return 0;
}

void pn_stun_build_request(const uint8_t txid[PN_STUN_TXID_LEN], uint8_t out[PN_STUN_REQUEST_LEN])
{
	/* header 20 + PADDING (4 + 32) + FINGERPRINT 8 = 64 */
	const size_t pad = PN_STUN_REQUEST_LEN - PN_STUN_HDR - ATTR_HDR - 8;

	memset(out, 0, PN_STUN_REQUEST_LEN);
	pn_store_be16(out, PN_STUN_BINDING_REQUEST);
	pn_store_be16(out + 2, PN_STUN_REQUEST_LEN - PN_STUN_HDR);
	pn_store_be32(out + 4, PN_STUN_MAGIC);
	memcpy(out + 8, txid, PN_STUN_TXID_LEN);
	pn_store_be16(out + 20, PN_STUN_ATTR_PADDING);
	pn_store_be16(out + 22, (uint16_t)pad);
	put_fpr(out, PN_STUN_REQUEST_LEN - 8);
}

int pn_stun_build_probe(const uint8_t txid[PN_STUN_TXID_LEN], uint8_t *out, size_t len)
{
	/* header 20 + PADDING (4 + the rest); no FINGERPRINT: a CRC over a
	 * full-size datagram is work the relay need not do for a probe */
	if (len < PN_STUN_REQUEST_LEN || len > PN_STUN_MAX_MESSAGE || (len & 3))
		return PN_E_INVAL;
	memset(out, 0, len);
	pn_store_be16(out, PN_STUN_BINDING_REQUEST);
	pn_store_be16(out + 2, (uint16_t)(len - PN_STUN_HDR));
	pn_store_be32(out + 4, PN_STUN_MAGIC);
	memcpy(out + 8, txid, PN_STUN_TXID_LEN);
	pn_store_be16(out + 20, PN_STUN_ATTR_PADDING);
	pn_store_be16(out + 22, (uint16_t)(len - PN_STUN_HDR - ATTR_HDR));
	return 0;
}

static int read_addr(const uint8_t *a, size_t len, int xored, const uint8_t *hdr,
		     struct sockaddr_storage *ss)
{
	uint16_t port;

	if (len < 4)
		return PN_E_MALFORMED;
	port = pn_load_be16(a + 2);
	if (xored)
		port ^= (uint16_t)(PN_STUN_MAGIC >> 16);
	memset(ss, 0, sizeof(*ss));
	if (a[1] == 0x01 && len == 8) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		uint32_t ip = pn_load_be32(a + 4);
		if (xored)
			ip ^= PN_STUN_MAGIC;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(ip);
		return 0;
	}
	if (a[1] == 0x02 && len == 20) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		for (int i = 0; i < 16; i++)
			s6->sin6_addr.s6_addr[i] = (uint8_t)(a[4 + i] ^ (xored ? hdr[4 + i] : 0));
		return 0;
	}
	return PN_E_MALFORMED;
}

int pn_stun_parse_response(const uint8_t *p, size_t n, const uint8_t txid[PN_STUN_TXID_LEN],
			   struct sockaddr_storage *mapped)
{
	struct attr_walk w;
	uint16_t type;
	int r;

	if ((r = check_header(p, n, &type)))
		return r;
	if (type != PN_STUN_BINDING_RESPONSE)
		return PN_E_UNSUPPORTED;
	/* the transaction id is our unguessable nonce: no timing hints */
	if (pn_ct_memcmp(p + 8, txid, PN_STUN_TXID_LEN))
		return PN_E_INVAL;
	if ((r = walk_attrs(p, n, &w)))
		return r;
	if (w.xma)
		return read_addr(w.xma, w.xma_len, 1, p, mapped);
	if (w.ma)
		return read_addr(w.ma, w.ma_len, 0, p, mapped);
	return PN_E_TRUNCATED;
}
