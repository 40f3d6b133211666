#ifndef PN_TUNNEL_PMTU_H
#define PN_TUNNEL_PMTU_H
/*
 * Packetization Layer Path MTU Discovery (RFC 8899) for one QUIC path:
 * which UDP payload size the connection may use, when to send a probe of
 * what size, and what acknowledgements and losses of probes mean.
 * Sans-I/O: events and a clock (ns) in, a size, probes and a deadline out.
 *
 * Why our own: ngtcp2 0.12.1's PMTUD probes four fixed sizes only (1406,
 * 1342, 1232, 1444: 1,500-byte paths end at 1,444), cannot be restarted
 * through its API, and never lowers the size again (no black hole
 * detection).  Here a probe is a QUIC packet holding one DATAGRAM frame of
 * padding (conn_tx.c), whose fate ngtcp2 reports exactly (ack_datagram /
 * lost_datagram), with our own deadline as a backstop.
 *
 * Search: the path's ceiling first (a 1,500-byte path answers at once),
 * then a binary search between the largest size known to work and the
 * smallest known to fail, down to PN_PMTU_STEP bytes.  A size fails after
 * PN_PMTU_TRIES lost probes.  A size that works is used at once.
 *
 * Black holes (RFC 8899 4.3): while above the base size, a loss episode
 * reported by the connection (congestion event or PTO: pn_pmtu_suspect)
 * starts a check: a probe of the current size followed by one of the base
 * size.  "The large one lost while the small one got through" is a strike;
 * PN_PMTU_STRIKES strikes in a row drop the size to the base at once.
 * When nothing gets through at all (PN_PMTU_STALL_PTOS probe timeouts in
 * a row: every packet, ACKs included, rides a large packet once both
 * directions are busy, and ngtcp2 fills its PTO probes with retransmitted
 * data, so no probe of ours can go out) the size drops to the base at
 * once too (pn_pmtu_stalled), and the path is searched again
 * PN_PMTU_STALL_RESEARCH_MS later: an outage gets its size back with one
 * probe, a black hole is found again and searched down to its real size.
 * A send refused by the socket as too big (EMSGSIZE) drops it at once.
 * After a black hole or a search that stopped below the ceiling the path
 * is searched again after PN_PMTU_RAISE_MS, doubling to
 * PN_PMTU_RAISE_MAX_MS (RFC 8899 5.1.1's raise timer, shorter: a tunnel's
 * path changes when the user roams).
 */
#include <stddef.h>
#include <stdint.h>

#define PN_PMTU_BASE 1200	       /* QUIC's minimum: always works */
#define PN_PMTU_STEP 16		       /* search granularity (bytes) */
#define PN_PMTU_TRIES 2		       /* lost probes before a size fails */
#define PN_PMTU_STRIKES 2	       /* failed checks before a black hole */
#define PN_PMTU_PROBE_MIN_MS 100       /* a probe unanswered this long is lost ... */
#define PN_PMTU_PROBE_MAX_MS 2000      /* ... (3 PTO, clamped to these) */
#define PN_PMTU_CHECK_GAP_MS 500       /* at most one check per this, strikes aside */
#define PN_PMTU_STALL_PTOS 2	       /* PTOs in a row above the base: fall back */
#define PN_PMTU_STALL_RESEARCH_MS 1000 /* ... and search again this much later */
#define PN_PMTU_RAISE_MS 30000	       /* search again after a black hole ... */
#define PN_PMTU_RAISE_MAX_MS 600000    /* ... doubling to this (RFC 8899's 600 s) */
#define PN_PMTU_ID_TAG (1ull << 63)    /* DATAGRAM ids of probes carry this bit */

enum pn_pmtu_state {
	PN_PMTU_SEARCH = 1, /* probing upwards */
	PN_PMTU_DONE = 2,   /* size found; watching for black holes */
};

enum pn_pmtu_probe_kind { PN_PMTU_P_SEARCH = 1, PN_PMTU_P_BIG = 2, PN_PMTU_P_SMALL = 3 };

struct pn_pmtu_probe {
	uint64_t id;	   /* 0: free slot */
	size_t size;	   /* requested; the packet's real length once sent */
	uint64_t deadline; /* 0: not sent yet */
	int kind;	   /* pn_pmtu_probe_kind */
	int result;	   /* 0 pending, 1 acknowledged, -1 lost */
};

struct pn_pmtu {
	enum pn_pmtu_state state;
	size_t ceiling;	 /* the path's largest possible size */
	size_t cur;	 /* the size packets use now (validated) */
	size_t lo, hi;	 /* known to work / smallest known to fail (ceiling + 1) */
	unsigned tries;	 /* lost probes of the size being searched */
	unsigned strikes;
	struct pn_pmtu_probe probe[2]; /* search: [0]; check: big [0], small [1] */
	int checking;
	uint64_t check_after; /* no new check before (ns) */
	uint64_t raise_at;    /* search again then (0: never) */
	uint64_t raise_ms;
	uint64_t next_id;
	/* counters */
	uint64_t probes_sent, probes_lost, black_holes, searches;
};

/* Start on a new path whose largest packet is `ceiling` bytes (>= base). */
void pn_pmtu_init(struct pn_pmtu *m, size_t ceiling, uint64_t now);
/* The UDP payload size to build packets with now. */
size_t pn_pmtu_size(const struct pn_pmtu *m);
/*
 * A probe to send now?  1 and its size and DATAGRAM id, or 0.  The caller
 * builds one packet of at most *size bytes and reports it with
 * pn_pmtu_sent (its real length), or pn_pmtu_unsent if it could not.
 */
int pn_pmtu_want(struct pn_pmtu *m, uint64_t now, size_t *size, uint64_t *id);
/* pto_ns: the connection's current probe timeout (deadline = 3 PTO). */
void pn_pmtu_sent(struct pn_pmtu *m, uint64_t id, size_t len, uint64_t pto_ns, uint64_t now);
/* A probe could not be built this time (the peer's limits): size fails. */
void pn_pmtu_unsent(struct pn_pmtu *m, uint64_t id, uint64_t now);
/* The fate of the probe `id` (other ids are ignored). */
void pn_pmtu_acked(struct pn_pmtu *m, uint64_t id, uint64_t now);
void pn_pmtu_lost(struct pn_pmtu *m, uint64_t id, uint64_t now);
/* A loss episode on the path (congestion event, PTO): check for a black hole. */
void pn_pmtu_suspect(struct pn_pmtu *m, uint64_t now);
/* PN_PMTU_STALL_PTOS probe timeouts in a row: nothing gets through. */
void pn_pmtu_stalled(struct pn_pmtu *m, uint64_t now);
/* The socket refused a datagram of `len` bytes as too big (EMSGSIZE). */
void pn_pmtu_toobig(struct pn_pmtu *m, size_t len, uint64_t now);
/* Next deadline (UINT64_MAX: none); call pn_pmtu_timeout once due. */
uint64_t pn_pmtu_expiry(const struct pn_pmtu *m);
void pn_pmtu_timeout(struct pn_pmtu *m, uint64_t now);
#endif
