#ifndef PN_TUNNEL_PATH_H
#define PN_TUNNEL_PATH_H
/*
 * In-memory path pairs (tests): the path interface itself is core/path.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/path.h"

/* ---- in-memory pair, for tests: a packet sent on one end is queued on
 * the other, with seeded pseudo-random loss, reordering and duplication. */

struct pn_mempath;

struct pn_mempath_faults {
	unsigned loss_pct;    /* 0..100: packets dropped */
	unsigned reorder_pct; /* packets delivered after a later one */
	unsigned dup_pct;     /* packets delivered twice */
	size_t max_len;	      /* longer packets are dropped (a Path MTU black hole); 0: none */
	uint64_t seed;
};

#define PN_MEMPATH_QUEUE 4096 /* packets queued per direction, then drops */

/* A connected pair (a, b).  0 or -ENOMEM. */
int pn_mempath_pair(const struct pn_mempath_faults *f, struct pn_mempath **a,
		    struct pn_mempath **b);
void pn_mempath_free(struct pn_mempath *m); /* one end; NULL-safe */
struct pn_path *pn_mempath_path(struct pn_mempath *m);
/*
 * Take the next packet queued for this end: copies it into out[cap] and
 * returns its length, or 0 if none is queued.
 */
size_t pn_mempath_recv(struct pn_mempath *m, uint8_t *out, size_t cap);
/* Packets sent / dropped by fault injection on this end. */
void pn_mempath_stats(const struct pn_mempath *m, uint64_t *sent, uint64_t *dropped);
/* Change the fault profile of packets sent from this end. */
void pn_mempath_set_faults(struct pn_mempath *m, const struct pn_mempath_faults *f);
/* Simulate a dead path: everything sent from either end is dropped. */
void pn_mempath_set_down(struct pn_mempath *m, int down);
#endif
