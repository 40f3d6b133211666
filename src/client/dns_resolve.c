/* Local DNS decisions for transparent mode; see dns_resolve.h. */
#include <string.h>

#include "client/dns_pool.h"
#include "client/dns_resolve.h"
#include "core/buf.h"
#include "core/err.h"

static enum pn_dnsr_action error_reply(const uint8_t *q, size_t len, int rcode, uint8_t *out,
				       size_t outsz, size_t *outlen)
{
	return pn_dns_error_reply(q, len, rcode, out, outsz, outlen) == 0 ? PN_DNSR_ANSWER
									  : PN_DNSR_DROP;
}

enum pn_dnsr_action pn_dnsr_decide(const struct pn_dnsr *r, const uint8_t *q, size_t len,
				   size_t max, struct pn_dns_msg *m, uint8_t *out, size_t outsz,
				   size_t *outlen)
{
	struct pn_dns_rr rr[2];
	unsigned n = 0;
	long idx;
	int rc;

	*outlen = 0;
	if (len < PN_DNS_HDR_LEN || (pn_load_be16(q + 2) & PN_DNS_F_QR)) {
		memset(m, 0, sizeof(*m));
		return PN_DNSR_DROP; /* not a query: never answer (no reflection) */
	}
	if ((rc = pn_dns_parse(q, len, m)) != 0) {
		memset(m, 0, sizeof(*m));
		return error_reply(q, len, PN_DNS_FORMERR, out, outsz, outlen);
	}
	if (PN_DNS_OPCODE(m->flags) != 0 || m->qdcount != 1 || m->name_odd ||
	    m->qclass != PN_DNS_CLASS_IN || m->qname[0] == '\0' ||
	    !r->is_protected(r->user, m->qname))
		return PN_DNSR_FORWARD;
	if (max == 0)
		max = pn_dns_udp_limit(m);
	if (r->tunnel && m->qtype != PN_DNS_T_A && m->qtype != PN_DNS_T_AAAA &&
	    m->qtype != PN_DNS_T_ANY && !(m->edns && m->edns_version != 0))
		return PN_DNSR_TUNNEL; /* the connector's resolver knows the records */
	idx = pn_pool_get(r->pool, m->qname);
	if (idx < 0)
		return error_reply(q, len, PN_DNS_SERVFAIL, out, outsz, outlen);
	if (m->qtype == PN_DNS_T_A || m->qtype == PN_DNS_T_ANY) {
		rr[n].type = PN_DNS_T_A;
		memset(rr[n].addr, 0, sizeof(rr[n].addr));
		if (pn_pool_addr4(r->pool, idx, rr[n].addr) == 0)
			n++;
	}
	if (m->qtype == PN_DNS_T_AAAA || m->qtype == PN_DNS_T_ANY) {
		rr[n].type = PN_DNS_T_AAAA;
		if (pn_pool_addr6(r->pool, idx, rr[n].addr) == 0)
			n++;
	}
	if (pn_dns_reply(m, PN_DNS_NOERROR, rr, n, r->ttl ? r->ttl : PN_DNSR_TTL_DEFAULT, max, out,
			 outsz, outlen) != 0)
		return error_reply(q, len, PN_DNS_SERVFAIL, out, outsz, outlen);
	return PN_DNSR_ANSWER;
}

/* Wire length of the name at off (no compression expected in a question
 * we wrote or parsed: pointers end it as well). */
static int qname_wire_len(const uint8_t *msg, size_t len, size_t off, size_t *out)
{
	size_t o = off;

	while (o < len) {
		uint8_t l = msg[o];
		if ((l & 0xc0) == 0xc0) { /* a pointer ends the name */
			if (o + 2 > len)
				return PN_E_MALFORMED;
			*out = o + 2 - off;
			return 0;
		}
		if (l & 0xc0)
			return PN_E_MALFORMED;
		o += 1u + l;
		if (l == 0) {
			*out = o - off;
			return 0;
		}
	}
	return PN_E_MALFORMED;
}

int pn_dnsr_tunnel_reply(const struct pn_dns_msg *q, const uint8_t *query, size_t qlen,
			 uint8_t *ans, size_t *alen, size_t anscap, size_t max)
{
	struct pn_dns_msg a;
	size_t qn, an, n;
	uint16_t flags;
	int r;

	if (pn_dns_parse(ans, *alen, &a) != 0 || !(a.flags & PN_DNS_F_QR) ||
	    PN_DNS_OPCODE(a.flags) != 0 || a.qdcount != 1 || a.name_odd ||
	    strcmp(a.qname, q->qname) != 0 || a.qtype != q->qtype || a.qclass != q->qclass)
		return PN_E_MALFORMED;
	if (qname_wire_len(query, qlen, PN_DNS_HDR_LEN, &qn) != 0 ||
	    qname_wire_len(ans, *alen, PN_DNS_HDR_LEN, &an) != 0)
		return PN_E_MALFORMED;
	pn_store_be16(ans, q->id);
	/* RD as the requester set it; the rest (AA, RA, rcode) the resolver's */
	flags = (uint16_t)((a.flags & (uint16_t)~PN_DNS_F_RD) | (q->flags & PN_DNS_F_RD));
	pn_store_be16(ans + 2, flags);
	if (qn == an) /* the requester's spelling (0x20 case randomisation) */
		memcpy(ans + PN_DNS_HDR_LEN, query + PN_DNS_HDR_LEN, qn);
	if (*alen <= max)
		return 0;
	/* Too large for the requester: TC, no records (it retries over TCP). */
	if ((r = pn_dns_reply(q, PN_DNS_RCODE(a.flags), NULL, 0, 0, max, ans, anscap, &n)) != 0)
		return r;
	pn_store_be16(ans + 2, (uint16_t)((pn_load_be16(ans + 2) | PN_DNS_F_TC) & ~PN_DNS_F_AA));
	*alen = n;
	return 0;
}

static int lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int pn_dnsr_reply_matches(const uint8_t *query, size_t qlen, uint16_t id, const uint8_t *reply,
			  size_t rlen)
{
	size_t o = PN_DNS_HDR_LEN;
	unsigned qd;

	if (qlen < PN_DNS_HDR_LEN || rlen < PN_DNS_HDR_LEN || pn_load_be16(reply) != id ||
	    !(pn_load_be16(reply + 2) & PN_DNS_F_QR) ||
	    PN_DNS_OPCODE(pn_load_be16(reply + 2)) != PN_DNS_OPCODE(pn_load_be16(query + 2)) ||
	    pn_load_be16(reply + 4) != pn_load_be16(query + 4))
		return 0;
	/* Walk the query's questions, comparing the reply's bytes as we go. */
	for (qd = pn_load_be16(query + 4); qd > 0; qd--) {
		for (;;) {
			uint8_t b;
			if (o >= qlen || o >= rlen || reply[o] != query[o])
				return 0;
			b = query[o];
			if (b == 0) {
				o++;
				break;
			}
			if ((b & 0xC0) == 0xC0) { /* a pointer ends the name */
				if (o + 2 > qlen || o + 2 > rlen || reply[o + 1] != query[o + 1])
					return 0;
				o += 2;
				break;
			}
			if (b & 0xC0 || o + 1 + b > qlen || o + 1 + b > rlen)
				return 0;
			for (size_t i = o + 1; i <= o + b; i++)
				if (lower(reply[i]) != lower(query[i]))
					return 0;
			o += 1u + b;
		}
		if (o + 4 > qlen || o + 4 > rlen || memcmp(reply + o, query + o, 4) != 0)
			return 0;
		o += 4;
	}
	return 1;
}
