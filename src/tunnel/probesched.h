#ifndef PN_TUNNEL_PROBESCHED_H
#define PN_TUNNEL_PROBESCHED_H
/*
 * Probe pacing (sans-I/O): one probe per remote candidate at once, then
 * at most one per candidate per PN_P2P_PROBE_GAP_MS, and nothing after
 * PN_P2P_PROBE_WINDOW_MS from the start (both sides start when they have
 * each other's candidates: hole punching needs both to send at once).
 * At most PN_P2P_MAX_CANDS candidates.  Times in nanoseconds.
 */
#include <stddef.h>
#include <stdint.h>

#include "tunnel/p2p.h"

struct pn_probesched {
	size_t n;
	int active;
	uint64_t stop_at;
	uint64_t next[PN_P2P_MAX_CANDS];
	unsigned sent[PN_P2P_MAX_CANDS];
};

/* Start probing n candidates (n is capped at PN_P2P_MAX_CANDS). */
void pn_probesched_start(struct pn_probesched *s, size_t n, uint64_t now);
/* The candidate to probe now (and account for it), or -1: none is due,
 * or the window is over (then the schedule stops itself). */
int pn_probesched_next(struct pn_probesched *s, uint64_t now);
/* When pn_probesched_next has something next: a time, or UINT64_MAX. */
uint64_t pn_probesched_expiry(const struct pn_probesched *s);
void pn_probesched_stop(struct pn_probesched *s);
#endif
