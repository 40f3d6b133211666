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

struct pn_memtrim {
	size_t peak;   /* most open since the last trim */
	size_t trims;  /* how many were done (for tests and metrics) */
};

/* n: open flows now.  Trims when n <= peak / 2 and peak >= PN_MEMTRIM_MIN_PEAK. */
void pn_memtrim_count(struct pn_memtrim *m, size_t n);
#endif
