#ifndef PN_CLIENT_DNS_RESOLVE_H
#define PN_CLIENT_DNS_RESOLVE_H
/*
 * The decision for one DNS query reaching the client's local responder
 * (transparent mode), sans I/O:
 *
 *   - not a parseable query (shorter than a header, a response, bad
 *     structure)                    -> DROP (no header) or a FORMERR reply;
 *   - a standard query (opcode 0, one question, class IN) for a name that
 *     is protected (`is_protected`: it matches a name or wildcard resource
 *     of the access list):
 *       A / AAAA / ANY -> answered here with the name's synthetic
 *                         address(es) (client/dns_pool.h), TTL `ttl`;
 *       any other type -> NOERROR with no records (NODATA): the connector
 *                         resolves the real name when a flow is opened;
 *       pool full      -> SERVFAIL;
 *   - anything else                 -> FORWARD: the caller sends the query
 *     bytes untouched (EDNS and all) to the host's original resolvers and
 *     relays their reply untouched.
 */
#include <stddef.h>
#include <stdint.h>

#include "client/dns_msg.h"

struct pn_pool;

enum pn_dnsr_action {
	PN_DNSR_DROP = 0,
	PN_DNSR_ANSWER = 1,  /* out[*outlen] is the reply */
	PN_DNSR_FORWARD = 2, /* send the query upstream untouched */
};

struct pn_dnsr {
	struct pn_pool *pool;
	/* 1 when the (canonical) name is protected, else 0. */
	int (*is_protected)(void *user, const char *name);
	void *user;
	uint32_t ttl;
};

#define PN_DNSR_TTL_DEFAULT 5

/*
 * Decide for query q[len].  `max` is the largest reply the requester takes
 * (UDP: see pn_dns_udp_limit, decided here when max is 0; TCP: 65535).
 * out must hold at least PN_DNS_EDNS_UDP + 512 bytes.  m receives the
 * parsed query (m->qname for logs; zeroed when unparseable).
 */
enum pn_dnsr_action pn_dnsr_decide(const struct pn_dnsr *r, const uint8_t *q, size_t len,
				   size_t max, struct pn_dns_msg *m, uint8_t *out, size_t outsz,
				   size_t *outlen);
#endif
