/*
 * libFuzzer harness for the DNS codec and the local resolver's decision:
 * the input is parsed as a message, then handed to pn_dnsr_decide with a
 * resolver that protects every name.  Invariants: a parsed name is at most
 * 253 bytes, lower case; a local answer parses again, echoes the id and
 * fits the requester's limit.  Then the input is split (u16 length, a
 * query, the rest as the connector's reply to it) for the tunnel path:
 * a reply pn_dnsr_tunnel_reply accepts parses again, carries the query's
 * id and fits the requester's limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dns_msg.h"
#include "client/dns_pool.h"
#include "client/dns_resolve.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all(void *user, const char *name)
{
	(void)user;
	return name[0] != 'p'; /* names starting with 'p' are "public" */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pn_pool *pool;
	struct pn_dns_msg m, a;
	uint8_t out[PN_DNS_EDNS_UDP + 512];
	size_t olen;
	struct pn_dnsr r = {.is_protected = all, .ttl = 5};

	if (!pool && pn_pool_new(NULL, PN_POOL_V6_DEFAULT, 4096, &pool) != 0)
		abort();
	r.pool = pool;
	if (pn_dns_parse(data, size, &m) == 0) {
		if (strlen(m.qname) > PN_DNS_PNAME_MAX)
			abort();
		for (const char *c = m.qname; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
	}
	if (pn_dnsr_decide(&r, data, size, 0, &m, out, sizeof(out), &olen) == PN_DNSR_ANSWER) {
		if (olen < PN_DNS_HDR_LEN || memcmp(out, data, 2) != 0)
			abort();
		if (olen > PN_DNS_HDR_LEN &&
		    (pn_dns_parse(out, olen, &a) != 0 || olen > pn_dns_udp_limit(&m)))
			abort();
	}
	r.tunnel = 1;
	if (size >= 2 && (size_t)pn_load_be16(data) <= size - 2) {
		size_t ql = pn_load_be16(data), alen = size - 2 - ql, max;
		const uint8_t *q = data + 2;
		static uint8_t ans[PN_DNS_MSG_MAX + 1024];
		if (pn_dnsr_decide(&r, q, ql, 0, &m, out, sizeof(out), &olen) != PN_DNSR_TUNNEL)
			return 0;
		max = pn_dns_udp_limit(&m);
		memcpy(ans, q + ql, alen);
		if (pn_dnsr_tunnel_reply(&m, q, ql, ans, &alen, sizeof(ans), max) == 0 &&
		    (alen > max || pn_dns_parse(ans, alen, &a) != 0 || a.id != m.id ||
		     !(a.flags & PN_DNS_F_QR)))
			abort();
	}
	return 0;
}
