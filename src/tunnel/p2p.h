#ifndef PN_TUNNEL_P2P_H
#define PN_TUNNEL_P2P_H
/*
 * NAT traversal (docs/tunnel.md, "Direct paths"): every limit and timing
 * in one place, and the types shared by its sans-I/O cores:
 *
 *   tunnel/cand.h       candidates: host addresses (getifaddrs), the
 *                       address filter for our own and the peer's
 *   tunnel/natdisc.h    server-reflexive address by STUN from the relays,
 *                       NAT classification (endpoint-independent or not)
 *   tunnel/candmsg.h    the PN_CTL_CANDIDATES control message
 *   tunnel/probe.h      keyed probe packets (hole punching, liveness)
 *   tunnel/probesched.h paced, bounded probing
 *   tunnel/natka.h      the keepalive interval, adapted to NAT mappings
 *
 * and the driver that runs them per tunnel on the endpoint's direct UDP
 * socket (tunnel/ep_p2p.c).
 */
#include <stdint.h>
#include <sys/socket.h>

#define PN_P2P_MAX_CANDS	 16    /* per side, in a candidate message */
#define PN_P2P_PROBE_GAP_MS	 200   /* at most one probe per pair per this */
#define PN_P2P_PROBE_WINDOW_MS	 5000  /* probing stops this long after it began */
#define PN_P2P_KEEPALIVE_MS	 25000 /* idle direct path: keepalive after this silence, */
#define PN_P2P_KEEPALIVE_MIN_MS	 2000  /* adapted down to this at least (natka.h) */
#define PN_P2P_IDLE_GAP_MS	 2000  /* a loss after this much silence may be an expiry */
#define PN_P2P_EXPIRY_CONFIRM_MS 30000 /* ... if direct again within this */
#define PN_P2P_LIVENESS_MS	 1000  /* direct path with flows: probe when silent this long */
#define PN_P2P_DEAD_MS		 2500  /* silent this long (and probed): dead, back to the relay */
#define PN_P2P_LAST_DEAD_MS	 10000 /* ... with no relay to go back to: dead only after this */
#define PN_P2P_RETRY_MIN_MS	 5000  /* new probing after a failure or a fallback, */
#define PN_P2P_RETRY_MAX_MS	 60000 /* doubling up to this */
#define PN_P2P_TICK_MS		 50    /* the driver's timer */
#define PN_P2P_ANSWERS_PER_SEC	 50    /* probe answers per tunnel (reflection bound) */

enum pn_cand_type {
	PN_CAND_HOST = 1,  /* an address of one of our interfaces */
	PN_CAND_SRFLX = 2, /* our direct socket as a relay's STUN service saw it */
	PN_CAND_PRFLX = 3, /* learned from a valid probe's source (not sent) */
};

enum pn_nat_kind {
	PN_NAT_UNKNOWN = 0, /* not (yet) known: fewer than two relays answered */
	PN_NAT_NONE = 1,    /* the relays saw our own address: no NAT */
	PN_NAT_EIM = 2,     /* endpoint-independent mapping: same mapping to every relay */
	PN_NAT_EDM = 3,     /* endpoint-dependent ("symmetric"): mappings differ */
	PN_NAT_BLOCKED = 4, /* no relay answered over UDP */
};
/* "unknown", "none", "eim", "edm", "udp-blocked". */
const char *pn_nat_kind_name(int k);

struct pn_cand {
	uint8_t type; /* enum pn_cand_type */
	struct sockaddr_storage addr;
};
#endif
