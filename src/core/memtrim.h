#ifndef PN_CORE_MEMTRIM_H
#define PN_CORE_MEMTRIM_H
/*
 * Giving freed heap memory back to the system after a burst.  glibc keeps
 * what a burst of flows freed (small chunks scattered through the heap)
 * resident for reuse; malloc_trim(0) returns the free pages.  A role counts
 * its open flows here; when the count falls to half its peak since the
 * last trim (or to zero), the heap is trimmed: a handful of trims per
 * burst, none while the count holds or grows.
 */
#include <stddef.h>

#define PN_MEMTRIM_MIN_PEAK 64 /* below this many flows a burst is not worth a trim */
#define PN_MEMTRIM_KEEP (8u << 20) /* free heap top kept between trims */

struct pn_memtrim {
	size_t peak;   /* most open since the last trim */
	size_t trims;  /* how many were done (for tests and metrics) */
};

/* Once per process, before its data path runs.  By default glibc gives
 * the top of the heap back to the system whenever 128 KiB of it are free
 * (brk, then a TLB shootdown on every core) and faults the pages in again
 * at the next allocation: a flow's send and write queues allocate and
 * free at the rate of the transfer, so a bulk flow paid that every few
 * packets (brk and page faults 10-25% of the connector's CPU).  Up to
 * PN_MEMTRIM_KEEP of free top is kept instead; bursts are still given
 * back by pn_memtrim_count. */
void pn_memtrim_setup(void);

/* n: open flows now.  Trims when n <= peak / 2 and peak >= PN_MEMTRIM_MIN_PEAK. */
void pn_memtrim_count(struct pn_memtrim *m, size_t n);
#endif
