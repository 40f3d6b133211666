#ifndef PN_RELAY_RESOLVE_H
#define PN_RELAY_RESOLVE_H
/*
 * Asynchronous name resolution for relay endpoints (libuv glue): the
 * resolver runs on libuv's thread pool, never on the loop.  A name may
 * give several addresses (AAAA and A): callers try them in order.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define PN_RESOLVE_MAX 4 /* addresses kept from one answer */

struct pn_resolve {
	uv_getaddrinfo_t req;
	void (*cb)(struct pn_resolve *rs, int status, void *arg);
	void *arg;
	int busy; /* a request is in flight: rs must stay valid */
	char host[256];
	size_t n;
	struct sockaddr_storage addr[PN_RESOLVE_MAX];
};

/*
 * Resolve `host` (a DNS name) for `port` and `socktype` (SOCK_STREAM /
 * SOCK_DGRAM).  cb(rs, status, arg) follows from the loop: status 0 with
 * rs->n >= 1 addresses, or PN_E_RELAY_UNREACHABLE (no answer; the
 * resolver's reason is logged), or PN_E_CLOSED after pn_resolve_cancel.
 * Returns 0, or -errno (no callback follows).  rs must not be busy.
 */
int pn_resolve_start(uv_loop_t *loop, struct pn_resolve *rs, const char *host, uint16_t port,
		     int socktype, void (*cb)(struct pn_resolve *, int, void *), void *arg);
/* Ask a busy request to stop; its callback still runs (PN_E_CLOSED unless
 * the answer was already there). */
void pn_resolve_cancel(struct pn_resolve *rs);
#endif
