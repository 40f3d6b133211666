#ifndef PN_TUNNEL_NATKA_H
#define PN_TUNNEL_NATKA_H
/*
 * NAT keepalive interval of a direct path (tunnel/p2p.h), sans-I/O.
 *
 * On a direct path the client keeps the NAT mappings of both sides alive
 * with a keyed probe after `interval_ms` without an authenticated packet
 * or answer from the peer; the peer answers it (same size), so both NATs
 * see the pair used both ways.  (QUIC's own PING goes every
 * PN_P2P_KEEPALIVE_MS on a direct path, for the idle timeout.)  The
 * interval starts at PN_P2P_KEEPALIVE_MS (25 s) and only goes down, per
 * tunnel.
 *
 * A mapping is seen to expire when:
 *   1. the direct path is declared dead (PN_P2P_DEAD_MS of silence with
 *      a probe unanswered) after it had been idle: the keepalive that went
 *      unanswered left after gap >= PN_P2P_IDLE_GAP_MS of silence (a path
 *      with flows is probed every second: a loss then is a network cut,
 *      not an expiry), and
 *   2. the next probing rounds find a direct path again within
 *      PN_P2P_EXPIRY_CONFIRM_MS of that loss: the network is fine, the
 *      NATs had just forgotten the pair.
 * Then the interval becomes gap / 3 (not below PN_P2P_KEEPALIVE_MIN_MS,
 * never above the current one): the mapping lived less than `gap`, and a
 * third leaves room for timer slack and for NATs that count from their
 * own last packet rather than ours.
 */
#include <stdint.h>

#include "tunnel/p2p.h"

struct pn_natka {
	uint64_t interval_ms;
	uint64_t lost_at_ms; /* an idle loss waiting for confirmation (0: none) */
	uint64_t lost_gap_ms;
	unsigned expiries; /* mappings seen to expire */
};

void pn_natka_init(struct pn_natka *k);
/* The direct path was declared dead at now_ms; gap_ms: the silence before
 * the probe that went unanswered was sent. */
void pn_natka_lost(struct pn_natka *k, uint64_t gap_ms, uint64_t now_ms);
/* A direct path is up again at now_ms.  1 if that confirmed an expiry
 * (interval_ms adapted, expiries counted), else 0. */
int pn_natka_direct(struct pn_natka *k, uint64_t now_ms);
#endif
