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
