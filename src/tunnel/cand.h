#ifndef PN_TUNNEL_CAND_H
#define PN_TUNNEL_CAND_H
/*
 * Candidates for a direct path (tunnel/p2p.h): our host addresses, and the
 * filter every address passes before it is offered to the peer or probed.
 * Sans-I/O: gathering walks a getifaddrs(3) list the caller obtained.
 */
#include <ifaddrs.h>
#include <stddef.h>
#include <sys/socket.h>

#include "tunnel/p2p.h"

/*
 * May `a` be a direct-path candidate at all?  1 if it is a unicast IPv4
 * or IPv6 address with a port; 0 for: port 0, unspecified, loopback
 * (127/8, ::1, ::ffff:127/104), multicast, IPv4 broadcast
 * (255.255.255.255), 0/8, and link-local (169.254/16, fe80::/10: a
 * link-local address means nothing without the interface it is on, which
 * the peer cannot name; peers on the same link also share a routable
 * address).
 */
int pn_cand_addr_ok(const struct sockaddr *a);

/*
 * A candidate from the peer: pn_cand_addr_ok, and not the address (any
 * port) of one of the relays (`relays`, n of them): probing a relay would
 * aim our probes at a third party's service.  1 usable, 0 ignore.
 */
int pn_cand_remote_ok(const struct sockaddr *a, const struct sockaddr_storage *relays, size_t n);

/*
 * Host candidates: the addresses of `ifa` (from getifaddrs) on interfaces
 * that are up and not loopback, of `family` (AF_INET, AF_INET6 or
 * AF_UNSPEC for both), with `port` (our direct socket's), that pass
 * pn_cand_addr_ok; duplicates once.  At most max are written to out.
 * Returns how many.
 */
size_t pn_cand_gather(const struct ifaddrs *ifa, int family, uint16_t port, struct pn_cand *out,
		      size_t max);

/* Append (type, a) to list[*n] unless present or full: 1 added, 0 not. */
int pn_cand_add(struct pn_cand *list, size_t *n, size_t max, int type, const struct sockaddr *a);

/* Same family, address and port (1) or not (0). */
int pn_sa_equal(const struct sockaddr *a, const struct sockaddr *b);
/* Same family and address, any port. */
int pn_sa_same_ip(const struct sockaddr *a, const struct sockaddr *b);
socklen_t pn_sa_len(const struct sockaddr *a);
/* "ip:port" / "[ip6]:port" into out (>= 64 bytes). */
void pn_sa_str(const struct sockaddr *a, char *out, size_t outsz);
#endif
