/* File descriptor limits; see fdlimit.h. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <sys/resource.h>

#include "core/fdlimit.h"

static uint64_t lim64(rlim_t v)
{
	return v == RLIM_INFINITY ? UINT64_MAX : (uint64_t)v;
}

int pn_fdlimit_raise(uint64_t *soft, uint64_t *hard)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	if (rl.rlim_cur != rl.rlim_max) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};
		/* Linux refuses more than fs.nr_open even when the hard limit
		   is RLIM_INFINITY: keep what we have then. */
		if (setrlimit(RLIMIT_NOFILE, &want) != 0)
			return -errno;
		rl = want;
	}
	if (soft)
		*soft = lim64(rl.rlim_cur);
	if (hard)
		*hard = lim64(rl.rlim_max);
	return 0;
}

int pn_fdlimit_raise_to(uint64_t want, uint64_t *soft, uint64_t *hard)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    (uint64_t)rl.rlim_max < want) {
		/* halve until the kernel takes it (fs.nr_open caps it) */
		for (uint64_t w = want; w > (uint64_t)rl.rlim_max; w /= 2) {
			struct rlimit up = {(rlim_t)w, (rlim_t)w};

			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				break;
			if (errno == EPERM) /* not privileged: keep the hard limit */
				break;
		}
	}
	return pn_fdlimit_raise(soft, hard);
}

uint64_t pn_fdlimit_soft(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? lim64(rl.rlim_cur) : 0;
}

int pn_fdlimit_open_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* not counting the directory's own fd */
}
