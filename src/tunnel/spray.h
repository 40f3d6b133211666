#ifndef PN_TUNNEL_SPRAY_H
#define PN_TUNNEL_SPRAY_H
/*
 * Direct paths through one endpoint-dependent ("symmetric") NAT
 * (sans-I/O; docs/tunnel.md, "One symmetric side").  The symmetric
 * side's NAT gives every destination a mapping of its own, on a port we
 * cannot know; the other side's NAT (endpoint-independent mapping, port-
 * dependent filtering) only lets in what comes from a port it has sent
 * to.  So, in the manner of a birthday attack:
 *
 *   hard side (ours is edm, the peer's eim or none): opens
 *     PN_SPRAY_SOCKETS extra UDP sockets and sends a keyed probe from each
 *     to the peer's mapped address(es), PN_SPRAY_HARD_ROUNDS times 1 s
 *     apart: that many mappings on its NAT, towards the peer.
 *   easy side (ours is eim, the peer's edm): sends keyed probes from its
 *     direct socket to PN_SPRAY_PORTS distinct ports of the peer's public
 *     address: first the PN_SPRAY_PREDICT ports after the highest mapping
 *     the relays saw (port prediction: NATs that allocate in sequence),
 *     then random ports in [PN_SPRAY_PORT_MIN, 65535], at most
 *     PN_SPRAY_RATE per second.
 *
 * A probe on a port that is one of the hard side's mappings passes its
 * NAT (or, sent before, opened ours for that mapping's probe): with 256
 * mappings and 2,048 ports out of 64,512 a window misses with
 * probability ~(1 - 256/64512)^2048 ~ 3e-4, and the next window (5 s
 * later, doubling) draws again.  Each port is probed once per window,
 * so the pair bound (one probe per pair per 200 ms) holds; the window is
 * the probing window (PN_P2P_PROBE_WINDOW_MS).
 */
#include <stddef.h>
#include <stdint.h>

#include "tunnel/p2p.h"

#define PN_SPRAY_SOCKETS     256  /* hard side: extra sockets (mappings) per window */
#define PN_SPRAY_EP_SOCKETS  1024 /* all tunnels of an endpoint together */
#define PN_SPRAY_HARD_ROUNDS 3	  /* hard side: probes per socket and target, 1 s apart */
#define PN_SPRAY_HARD_GAP_MS 1000
#define PN_SPRAY_PORTS	     2048 /* easy side: ports probed per window */
#define PN_SPRAY_PREDICT     512  /* of which after the highest mapping seen */
#define PN_SPRAY_RATE	     1000 /* easy side: probes per second */
#define PN_SPRAY_PORT_MIN    1024 /* what Linux NATs and most others allocate from */
#define PN_SPRAY_LINGER_MS   3000 /* unused hard-side sockets closed this long after the window */

/* Which part this side plays, from both NAT kinds (enum pn_nat_kind):
 * PN_SPRAY_NONE, PN_SPRAY_HARD or PN_SPRAY_EASY. */
enum { PN_SPRAY_NONE = 0, PN_SPRAY_HARD = 1, PN_SPRAY_EASY = 2 };
int pn_spray_role(int own_nat, int peer_nat);

/* The easy side's plan: distinct ports, in the order they are probed. */
struct pn_spray {
	uint16_t port[PN_SPRAY_PORTS];
	size_t n, next;
	uint64_t start; /* ns */
};

/*
 * Plan a window at `now` (ns): prediction from the hard side's mapped
 * ports `seen` (nseen of them, may be 0), then random ports (pn_random).
 * 0 or PN_E_CRYPTO.
 */
int pn_spray_plan(struct pn_spray *s, const uint16_t *seen, size_t nseen, uint64_t now);
/* The next port to probe now (paced at PN_SPRAY_RATE), or -1: none due
 * yet, or the plan is done. */
int pn_spray_next(struct pn_spray *s, uint64_t now);
int pn_spray_done(const struct pn_spray *s);
#endif
