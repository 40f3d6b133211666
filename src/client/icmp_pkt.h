#ifndef PN_CLIENT_ICMP_PKT_H
#define PN_CLIENT_ICMP_PKT_H
/*
 * ICMP echo packets of transparent mode, sans I/O: the IP packets the
 * kernel queues to the client (an application's echo request to a
 * protected address, IPv4 or IPv6, as NFQUEUE hands it over), and the
 * packets the client injects in answer (raw IPPROTO_RAW sockets: whole IP
 * packets, header included): the echo reply, or "administratively
 * prohibited" for an echo that is not granted.
 *
 * Parsing checks every length against the bytes present: IPv4 header
 * length and total length, no fragments; IPv6 with ICMPv6 as the next
 * header (no extension headers: such a packet is not one we answer).
 */
#include <stddef.h>
#include <stdint.h>

#define PN_ICMP_PKT_MAX 1500 /* what we inject at most */

struct pn_icmp_echo {
	int family; /* 4 or 6 */
	uint8_t src[16], dst[16]; /* first 4 bytes for IPv4 */
	uint16_t id, seq;
	const uint8_t *data; /* echo data, a view into the packet */
	size_t dlen;
};

/* An echo request?  0, PN_E_MALFORMED (bad lengths), PN_E_UNSUPPORTED
 * (another ICMP type, another protocol, a fragment, extension headers). */
int pn_icmp_parse_request(const uint8_t *pkt, size_t len, struct pn_icmp_echo *e);

/* The echo reply to request e (from e->dst to e->src, e->id) carrying seq
 * and data[dlen]: a whole IP packet into out.  0 or PN_E_NOSPACE. */
int pn_icmp_build_reply(const struct pn_icmp_echo *e, uint16_t seq, const uint8_t *data,
			size_t dlen, uint8_t *out, size_t outsz, size_t *outlen);

/* "Administratively prohibited" (ICMP 3/13, ICMPv6 1/1) from e->dst to
 * e->src about the packet pkt[len] (quoted as far as allowed: IPv4 header
 * + 8 bytes, IPv6 up to 1280 bytes in all).  0 or PN_E_NOSPACE. */
int pn_icmp_build_prohibited(const struct pn_icmp_echo *e, const uint8_t *pkt, size_t len,
			     uint8_t *out, size_t outsz, size_t *outlen);
#endif
