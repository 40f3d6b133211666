/* Heap trimming after bursts; see memtrim.h. */
#include <malloc.h>

#include "core/memtrim.h"

void pn_memtrim_setup(void)
{
#ifdef __GLIBC__
	(void)mallopt(M_TRIM_THRESHOLD, (int)PN_MEMTRIM_KEEP);
#endif
}

void pn_memtrim_count(struct pn_memtrim *m, size_t n)
{
	if (n > m->peak) {
		m->peak = n;
		return;
	}
	if (m->peak < PN_MEMTRIM_MIN_PEAK || n > m->peak / 2)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	m->trims++;
	m->peak = n;
}
