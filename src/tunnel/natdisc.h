#ifndef PN_TUNNEL_NATDISC_H
#define PN_TUNNEL_NATDISC_H
/*
 * Server-reflexive discovery (sans-I/O): STUN Binding requests
 * (core/stun.h) from the direct UDP socket to every relay's STUN service,
 * retransmitted at 0, 250, 500 and 1000 ms, finished when every relay has
 * answered or after PN_NATDISC_TIMEOUT_MS.  The mappings then classify
 * the NAT (tunnel/p2p.h): our own address seen -> none; two or more
 * relays saw the same mapping -> endpoint-independent; different ones ->
 * endpoint-dependent; one answer -> unknown (its mapping is still a
 * candidate); none -> udp-blocked.  Times in nanoseconds.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/stun.h"
#include "tunnel/p2p.h"

#define PN_NATDISC_MAX_SERVERS 4
#define PN_NATDISC_TRIES       4
#define PN_NATDISC_TIMEOUT_MS  2000

struct pn_natdisc_srv {
	struct sockaddr_storage addr;
	uint8_t txid[PN_STUN_TXID_LEN];
	unsigned tries;
	uint64_t next;
	int answered;
	struct sockaddr_storage mapped;
};

struct pn_natdisc {
	size_t n;
	int running;
	uint64_t deadline;
	struct pn_natdisc_srv s[PN_NATDISC_MAX_SERVERS];
};

/* Start (or restart) against n servers (capped at PN_NATDISC_MAX_SERVERS);
 * txids are drawn from pn_random.  0 or PN_E_CRYPTO. */
int pn_natdisc_start(struct pn_natdisc *d, const struct sockaddr_storage *servers, size_t n,
		     uint64_t now);
/* A request due now: 1 with *to and out (PN_STUN_REQUEST_LEN bytes), or 0. */
int pn_natdisc_next(struct pn_natdisc *d, uint64_t now, struct sockaddr_storage *to,
		    uint8_t out[PN_STUN_REQUEST_LEN]);
uint64_t pn_natdisc_expiry(const struct pn_natdisc *d);
/* A datagram from `from`: 1 if it was the answer to one of our requests
 * (consumed), 0 otherwise (not ours: leave it to others). */
int pn_natdisc_input(struct pn_natdisc *d, const struct sockaddr *from, const uint8_t *p,
		     size_t n, uint64_t now);
int pn_natdisc_done(const struct pn_natdisc *d);
/*
 * The result so far: the NAT kind given our host candidates (`local`,
 * with the socket's port) and the distinct mappings seen (at most max,
 * in *nmapped).
 */
int pn_natdisc_result(const struct pn_natdisc *d, const struct pn_cand *local, size_t nlocal,
		      struct sockaddr_storage *mapped, size_t max, size_t *nmapped);
#endif
