#ifndef PN_CORE_FDLIMIT_H
#define PN_CORE_FDLIMIT_H
/*
 * File descriptor limits.  Every role serves thousands of sockets (one per
 * flow, per tunnel or per push subscriber) through epoll, which has no
 * FD_SETSIZE ceiling, while the usual soft RLIMIT_NOFILE is 1024.  Each
 * role raises its soft limit to the hard limit at start (src/app/main.c),
 * as the administrator already allowed that much.
 */
#include <stdint.h>

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit.  Returns 0 and the
 * limits now in force (either pointer may be NULL), or -errno (the limits
 * are then unchanged).  RLIM_INFINITY is reported as UINT64_MAX.
 */
int pn_fdlimit_raise(uint64_t *soft, uint64_t *hard);

/*
 * Servers that hold one descriptor per subscriber want more than a usual
 * hard limit (often 4096..20000): raise the hard limit too, up to want
 * (only with CAP_SYS_RESOURCE, and never past fs.nr_open), then the soft
 * limit to the hard one.  Never lowers anything.  0 and the limits now in
 * force, or -errno if even the soft limit could not be raised.
 */
#define PN_FDLIMIT_SERVER_WANT 1048576u
int pn_fdlimit_raise_to(uint64_t want, uint64_t *soft, uint64_t *hard);

/* The current soft limit (UINT64_MAX: unlimited), or 0 if unknown. */
uint64_t pn_fdlimit_soft(void);

/* How many descriptors this process has open (entries of /proc/self/fd),
 * or -errno.  For logs on exhaustion; not cheap (reads a directory). */
int pn_fdlimit_open_count(void);
#endif
