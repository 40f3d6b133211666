#ifndef PN_CLIENT_DNS_SERVER_H
#define PN_CLIENT_DNS_SERVER_H
/*
 * The client's local DNS responder (transparent mode; libuv glue over
 * client/dns_resolve.h).  Listens on UDP and TCP on one loopback address
 * (127.0.0.0/8 or ::1 only: it is never reachable from the network, and
 * queries whose source is not a loopback address are dropped).
 *
 * Queries the resolver core answers locally are answered at once; the
 * others are sent to the host's original resolvers unchanged but for the
 * id (a fresh random one per attempt: the requester's may be guessable),
 * over the transport they came on (UDP: a socket of their own per attempt,
 * connected, so on a random ephemeral port; the reply must come from the
 * resolver asked, carry that id and the query's question, anything else
 * is ignored and counted `mismatched`; TCP: one upstream connection per
 * attempt), trying each resolver in turn (PN_DNSSRV_TRY_MS each); the
 * reply goes back unchanged but for the requester's id put back.  When none
 * answers the requester gets SERVFAIL.  At most PN_DNSSRV_PENDING_MAX
 * forwarded queries at once (more are answered SERVFAIL), and at most
 * PN_DNSSRV_TCP_MAX TCP clients (a new one closes the oldest idle one).
 *
 * Queries the core sends through the tunnel (PN_DNSR_TUNNEL: other record
 * types of protected names) go to cfg->tunnel (at most PN_DNSSRV_TUNNEL_MS
 * each, then SERVFAIL); the reply is checked and rewritten for the
 * requester by pn_dnsr_tunnel_reply (SERVFAIL when it does not fit the
 * query).
 */
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "client/dns_resolve.h"

#define PN_DNSSRV_MAX_UPSTREAMS 4
#define PN_DNSSRV_TRY_MS	2000
#define PN_DNSSRV_PENDING_MAX	1024
#define PN_DNSSRV_TCP_MAX	64 /* TCP clients; beyond, the oldest idle one is closed */
#define PN_DNSSRV_TUNNEL_MS	8000 /* a query through the tunnel */

struct pn_dnssrv;

/* Through the tunnel: ask(user, name, q, n, ctx, &handle) starts the query
 * (0, or an error: SERVFAIL at once) and later calls
 * pn_dnssrv_tunnel_done(ctx, reply, len) exactly once (reply NULL: it
 * failed) — unless cancel(user, handle) came first, after which nothing. */
struct pn_dnssrv_tunnel {
	int (*ask)(void *user, const char *name, const uint8_t *q, size_t n, void *ctx,
		   void **handle);
	void (*cancel)(void *user, void *handle);
	void *user;
};
void pn_dnssrv_tunnel_done(void *ctx, const uint8_t *reply, size_t len);

struct pn_dnssrv_config {
	uv_loop_t *loop;
	const struct sockaddr_storage *listen; /* loopback address and port */
	const struct sockaddr_storage *upstreams;
	unsigned nupstreams;
	const struct pn_dnsr *core; /* borrowed, must outlive */
	const struct pn_dnssrv_tunnel *tunnel; /* borrowed; NULL: no TUNNEL answers */
};

/* 0, PN_E_CONFIG (not loopback, no upstream), -ENOMEM, -errno (bind). */
int pn_dnssrv_new(const struct pn_dnssrv_config *cfg, struct pn_dnssrv **out);

/* Counters: queries, answered locally, forwarded, through the tunnel,
 * failed, dropped.  New reference. */
json_t *pn_dnssrv_status(const struct pn_dnssrv *s);

/* Close everything; cb(arg) from the loop once all handles are released. */
void pn_dnssrv_close(struct pn_dnssrv *s, void (*cb)(void *arg), void *arg);
#endif
