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
 *       any other type -> TUNNEL when `tunnel` is set: the caller asks the
 *                         connector's resolver (a DNS_MSG flow) and
 *                         answers with pn_dnsr_tunnel_reply; else
 *                         NOERROR with no records (NODATA);
 *       pool full      -> SERVFAIL;
 *   - anything else                 -> FORWARD: the caller sends the query
 *     bytes untouched (EDNS and all) to the host's original resolvers and
 *     relays their reply untouched.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/dns_msg.h"

struct pn_pool;

enum pn_dnsr_action {
	PN_DNSR_DROP = 0,
	PN_DNSR_ANSWER = 1,  /* out[*outlen] is the reply */
	PN_DNSR_FORWARD = 2, /* send the query upstream untouched */
	PN_DNSR_TUNNEL = 3,  /* ask the connector (m holds the parsed query) */
};

struct pn_dnsr {
	struct pn_pool *pool;
	/* 1 when the (canonical) name is protected, else 0. */
	int (*is_protected)(void *user, const char *name);
	void *user;
	uint32_t ttl;
	int tunnel; /* other record types of protected names: PN_DNSR_TUNNEL */
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

/*
 * Turn the connector's reply `ans[*alen]` (capacity anscap) to the query
 * q (parsed, its bytes query[qlen]) into the reply for the requester, in
 * place: it must be a response (QR) to one question with q's name, type
 * and class; it gets q's id and q's question bytes (same name: only the
 * letter case can differ); a reply larger than `max` (see decide) becomes
 * header + question with TC set and no records, so the requester retries
 * over TCP.  0, or PN_E_MALFORMED (not a reply to this query: answer
 * SERVFAIL), PN_E_NOSPACE.
 */
/*
 * Is `reply[rlen]` the answer to the forwarded query `query[qlen]` that
 * went upstream with id `id`?  It must be a response (QR) with that id,
 * the query's opcode and the same question section: the same number of
 * questions, the same bytes (letters of names compared without case;
 * resolvers echo the question as sent).  1 or 0.  The query is one that
 * pn_dnsr_decide forwarded (it parsed).  Anything else a socket receives
 * while a query is out — a guessed id, another question — is ignored.
 */
int pn_dnsr_reply_matches(const uint8_t *query, size_t qlen, uint16_t id, const uint8_t *reply,
			  size_t rlen);

int pn_dnsr_tunnel_reply(const struct pn_dns_msg *q, const uint8_t *query, size_t qlen,
			 uint8_t *ans, size_t *alen, size_t anscap, size_t max);
#endif
