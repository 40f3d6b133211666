#ifndef PN_CORE_ACCEPT_H
#define PN_CORE_ACCEPT_H
/*
 * A TCP listener that survives running out of resources.
 *
 * libuv's own listener, when accept(2) fails with EMFILE/ENFILE, accepts
 * and closes every pending connection (its "emfile trick") without telling
 * the application: connections are dropped and nothing is logged.  This
 * one accepts by itself (uv_poll on the listening socket) and on EMFILE,
 * ENFILE, ENOMEM or ENOBUFS stops accepting for a short, growing pause
 * (PN_ACCEPT_PAUSE_MIN_MS .. PN_ACCEPT_PAUSE_MAX_MS) instead of spinning
 * or dropping: pending connections wait in the kernel's backlog and are
 * accepted once descriptors or memory are free again.
 *
 * Logging, once per burst (not per failure): the first failure of a burst
 * logs `resource_exhausted` (warn) with its cause (EMFILE: this process's
 * descriptor limit; ENFILE: the system's; ENOMEM/ENOBUFS: memory) and the
 * limit (a different cause within the burst logs again).  A burst ends
 * after PN_ACCEPT_BURST_QUIET_MS without a failure: `resource_recovered`
 * (info) then says how long it lasted, how long accepting was paused, how
 * many attempts failed and how many connections were accepted meanwhile.
 *
 * The glue owns accepted descriptors (e.g. uv_tcp_init + uv_tcp_open).
 * Everything runs on the loop thread.
 */
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#define PN_ACCEPT_PAUSE_MIN_MS	 10
#define PN_ACCEPT_PAUSE_MAX_MS	 1000
#define PN_ACCEPT_BATCH		 64   /* accepts per readiness event (fairness) */
#define PN_ACCEPT_BURST_QUIET_MS 2000 /* a burst ends after this long without failure */

struct pn_acceptor;

/* A connection: fd is non-blocking and close-on-exec, and now the glue's.
 * The glue may call pn_acceptor_exhausted() or pn_acceptor_close() here. */
typedef void (*pn_accept_cb)(struct pn_acceptor *a, int fd, void *user);

struct pn_acceptor_config {
	uv_loop_t *loop;
	const struct sockaddr *addr; /* numeric address to bind */
	int backlog;		     /* listen(2) backlog; 0: 4096 (the kernel caps it) */
	const char *module;	     /* log module, e.g. "client" */
	const char *label;	     /* log field listener=, e.g. "socks:127.0.0.1:1080" */
	pn_accept_cb cb;
	void *user;
	int ip_transparent;	     /* IP_TRANSPARENT / IPV6_TRANSPARENT (TPROXY; needs CAP_NET_ADMIN) */
};

/* Bind, listen and start accepting.  0 and *out, PN_E_INVAL, -ENOMEM or
 * -errno of socket/bind/listen (e.g. -EADDRINUSE). */
int pn_acceptor_new(const struct pn_acceptor_config *cfg, struct pn_acceptor **out);

/* The glue could not take a connection it accepted, for want of `err`
 * (-ENOMEM, -EMFILE, ...): counted, logged once per burst like accept's
 * own failures, and accepting pauses. */
void pn_acceptor_exhausted(struct pn_acceptor *a, int err);

/* The bound address (e.g. after binding port 0).  0 or -errno. */
int pn_acceptor_addr(const struct pn_acceptor *a, struct sockaddr_storage *ss);

struct pn_acceptor_stats {
	uint64_t accepted;  /* connections handed to the glue */
	uint64_t exhausted; /* failed attempts for want of resources */
	uint64_t bursts;    /* resource_exhausted log lines */
	int paused;	    /* accepting is paused right now */
};
void pn_acceptor_stats(const struct pn_acceptor *a, struct pn_acceptor_stats *st);

/* Stop, close the listening socket, and free a once libuv let go of it;
 * cb(arg) then (may be NULL).  NULL-safe.  No accept callback afterwards. */
void pn_acceptor_close(struct pn_acceptor *a, void (*cb)(void *arg), void *arg);
#endif
