#ifndef PN_RELAY_PEERFILTER_H
#define PN_RELAY_PEERFILTER_H
/*
 * Denied peer addresses (like coturn's denied-peer-ip).  The relay answers
 * unauthenticated UDP (STUN, BIND challenges) to the datagram's source
 * address, which anyone can spoof; so it never sends to, nor binds a
 * session side to, an address in a denied range:
 *
 *   loopback         127.0.0.0/8, ::1
 *   unspecified      0.0.0.0/8, ::, and port 0
 *   link-local       169.254.0.0/16, fe80::/10
 *   private          10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918)
 *   cgnat            100.64.0.0/10 (RFC 6598)
 *   unique-local     fc00::/7
 *   multicast        224.0.0.0/4, ff00::/8
 *   reserved         240.0.0.0/4 (includes 255.255.255.255)
 *   own              every address of this host's interfaces
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d, dual-stack sockets) is
 * judged as the IPv4 address.  Ranges given with allow (`--allow-peer
 * CIDR`, for labs and private deployments) override every denial; an
 * allowed range may be as wide as 0.0.0.0/0 or ::/0.
 *
 * Sans-I/O except pn_relay_peerfilter_load_own (getifaddrs).
 */
#include <stdint.h>

#include "relay/core.h"

#define PN_RELAY_ALLOW_MAX 32 /* --allow-peer ranges */
#define PN_RELAY_OWN_MAX   64 /* own interface addresses kept */

struct pn_relay_cidr {
	uint16_t family; /* AF_INET / AF_INET6 */
	uint8_t bits;	 /* prefix length */
	uint8_t ip[16];	 /* IPv4 in the first 4 bytes; host bits zero */
};

struct pn_relay_peerfilter {
	struct pn_relay_cidr allow[PN_RELAY_ALLOW_MAX];
	unsigned nallow;
	struct pn_relay_cidr own[PN_RELAY_OWN_MAX]; /* /32 and /128 entries */
	unsigned nown;
};

/* Why an address is denied (0: it is not). */
enum pn_relay_deny {
	PN_RELAY_PEER_OK = 0,
	PN_RELAY_DENY_UNSPECIFIED,
	PN_RELAY_DENY_LOOPBACK,
	PN_RELAY_DENY_LINKLOCAL,
	PN_RELAY_DENY_PRIVATE,
	PN_RELAY_DENY_CGNAT,
	PN_RELAY_DENY_UNIQUELOCAL,
	PN_RELAY_DENY_MULTICAST,
	PN_RELAY_DENY_RESERVED,
	PN_RELAY_DENY_OWN,
};
/* "loopback", "private", ... for logs; "ok" for 0. */
const char *pn_relay_deny_name(int why);

/* "a.b.c.d/n", "v6/n", or a bare address (a host: /32, /128).  Host bits
 * must be zero.  0 or PN_E_CONFIG. */
int pn_relay_cidr_parse(const char *s, struct pn_relay_cidr *out);
/* Write c as text ("10.0.0.0/8"); buf of at least 64 bytes. */
void pn_relay_cidr_format(const struct pn_relay_cidr *c, char *buf, size_t n);

/* Empty filter: the default denied ranges, nothing allowed, no own
 * addresses yet. */
void pn_relay_peerfilter_init(struct pn_relay_peerfilter *f);
/* Allow a range (text as pn_relay_cidr_parse).  0, PN_E_CONFIG, PN_E_TOOBIG. */
int pn_relay_peerfilter_allow(struct pn_relay_peerfilter *f, const char *cidr);
/* Add one own address (family, 4 or 16 bytes); beyond PN_RELAY_OWN_MAX it
 * is ignored and PN_E_TOOBIG returned. */
int pn_relay_peerfilter_add_own(struct pn_relay_peerfilter *f, int family, const void *ip);
/* Replace the own addresses with those of this host's interfaces
 * (getifaddrs).  0 or -errno (the previous list is kept then). */
int pn_relay_peerfilter_load_own(struct pn_relay_peerfilter *f);

/* May the relay send to / bind a session side to a?  PN_RELAY_PEER_OK or the
 * reason it may not (enum pn_relay_deny). */
int pn_relay_peer_denied(const struct pn_relay_peerfilter *f, const struct pn_relay_addr *a);
#endif
