#ifndef PN_CORE_PATH_H
#define PN_CORE_PATH_H
/*
 * A path: something that carries datagrams between two ends.  The one
 * seam between the tunnel (which runs QUIC over paths) and whatever
 * provides them (its own UDP sockets, relay sessions, in-memory pairs in
 * tests).  The tunnel never includes a provider's headers and no provider
 * includes the tunnel's: both meet here.
 *
 * A provider fills in ops, kind, max_segments and the addresses, and
 * hands the path to a user (the tunnel endpoint).  The user:
 *   - sends with p->ops->send(p, data, len, seg);
 *   - takes delivery by pn_path_attach(p, sink, user): from then on the
 *     provider calls sink->recv for every datagram that arrives and
 *     sink->lost once when the path goes away (the peer, the relay or the
 *     provider closed it; sends fail with -EPIPE from then on);
 *   - gives the path back with pn_path_release(p) when it no longer names
 *     it anywhere.  Until then the provider keeps the struct valid, even
 *     after `lost` (a QUIC stack may still hold the pointer); after it the
 *     user must not touch p.
 *
 * For QUIC each path has a distinct (local, remote) address pair, which is
 * how ngtcp2 tells paths apart and validates a migration.  A direct UDP
 * path uses the real socket addresses; paths without addresses of their
 * own (relay sessions, in-memory pairs) get synthetic ones from
 * pn_path_synth_addrs(): IPv6 addresses in the discard prefix 100::/64
 * (RFC 6666), never used for I/O.
 *
 * Providers: direct UDP (tunnel/endpoint.c over core/udp.h), relay
 * sessions (relay/rpath.h), in-memory pairs (tunnel/path.h, tests).
 * Everything runs on the loop thread.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PN_PATH_MAX_SEGMENTS 44      /* GSO: 44 x 1452 < 64 KiB */
#define PN_PATH_MAX_UDP_PAYLOAD 1452 /* 1500 - IPv6 (40) - UDP (8) */
#define PN_PATH_ETH_MTU 1500	     /* the link MTU paths are sized for */
#define PN_PATH_IPV6_UDP_HDR 48	     /* IPv6 (40) + UDP (8): the larger of v4/v6 */

enum pn_path_kind {
	PN_PATH_NONE = 0,
	PN_PATH_DIRECT = 1,    /* direct UDP socket */
	PN_PATH_RELAY_UDP = 2, /* relay session over UDP */
	PN_PATH_RELAY_TLS = 3, /* relay session over TCP/TLS */
	PN_PATH_RELAY_WS = 4,  /* relay session over WebSocket */
	PN_PATH_MEMORY = 5,    /* in-memory (tests) */
};
/* "direct", "relay-udp", "relay-tls", "relay-ws", "memory", "none". */
const char *pn_path_kind_name(enum pn_path_kind k);

struct pn_path;

struct pn_path_ops {
	/*
	 * Send `len` bytes as ceil(len / seg) datagrams of `seg` bytes (the last
	 * may be shorter).  seg == len: one datagram.  Returns 0 when handed
	 * to the transport or dropped as UDP would (loss recovery repairs
	 * it), -EAGAIN when nothing was taken and the provider will make the
	 * user retry (direct UDP only), negative for a dead path.
	 */
	int (*send)(struct pn_path *p, const uint8_t *data, size_t len, size_t seg);
	/* Optional: the user gave the path back (pn_path_release). */
	void (*release)(struct pn_path *p);
};

/* The user's side: set with pn_path_attach. */
struct pn_path_sink {
	/* One datagram from the peer (valid during the call). */
	void (*recv)(struct pn_path *p, const uint8_t *data, size_t n, void *user);
	/* The path is gone (err: why, e.g. PN_E_CLOSED).  Once. */
	void (*lost)(struct pn_path *p, int err, void *user);
};

struct pn_path {
	const struct pn_path_ops *ops;
	enum pn_path_kind kind; /* may change (a relay session's transport) */
	unsigned max_segments;  /* 1..PN_PATH_MAX_SEGMENTS: datagrams per send */
	/* The largest datagram the provider can carry on this path without
	   fragmenting it anywhere it knows of (its own framing and headers
	   subtracted); 0: PN_PATH_MAX_UDP_PAYLOAD.  The user's Path MTU
	   discovery searches up to it (docs/tunnel.md, Path MTU). */
	unsigned max_udp_payload;
	struct sockaddr_storage local, remote;
	socklen_t local_len, remote_len;
	void *ctx; /* the provider's */
	/* the user's, set by pn_path_attach */
	const struct pn_path_sink *sink;
	void *sink_user;
};

/* Fill p->local/remote with a fresh synthetic pair (distinct per call). */
void pn_path_synth_addrs(struct pn_path *p);

/* User: take delivery of p's datagrams and loss. */
void pn_path_attach(struct pn_path *p, const struct pn_path_sink *sink, void *user);
/* User: done with p (NULL-safe).  p may be freed during the call. */
void pn_path_release(struct pn_path *p);

/* Provider: hand a datagram / the loss to the user, if one is attached. */
void pn_path_input(struct pn_path *p, const uint8_t *data, size_t n);
void pn_path_lost(struct pn_path *p, int err);
#endif
