#ifndef PN_RELAY_CORE_H
#define PN_RELAY_CORE_H
/*
 * The relay's protocol core, sans-I/O: registrations, sessions, the
 * forwarding table, and the decisions for every UDP datagram and stream
 * frame.  The glue (server.c) owns sockets, TLS and timers; it tells the
 * core about authenticated stream connections ("peers"), hands it frames
 * and datagrams with the current time, and carries out what the core
 * returns or asks through pn_relay_core_ops.
 *
 * The core never learns anything but random ids: a peer's role and id come
 * from its verified certificate (the glue), a session id is random, and
 * the relay forwards only to addresses that proved a session secret.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "relay/frame.h"
#include "relay/wire.h"

/* A compact socket address (20 bytes) for the per-session state. */
struct pn_relay_addr {
	uint16_t family; /* 0: none, AF_INET, AF_INET6 */
	uint16_t port;	 /* network order */
	uint8_t ip[16];	 /* IPv4 in the first 4 bytes */
};
void pn_relay_addr_from_sa(struct pn_relay_addr *a, const struct sockaddr *sa);
socklen_t pn_relay_addr_to_sa(const struct pn_relay_addr *a, struct sockaddr_storage *ss);
static inline int pn_relay_addr_eq(const struct pn_relay_addr *a, const struct pn_relay_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       !__builtin_memcmp(a->ip, b->ip, a->family == AF_INET ? 4 : 16);
}

struct pn_relay_core;
struct pn_relay_peer;

enum pn_relay_role {
	PN_RELAY_ROLE_CLIENT = 1,
	PN_RELAY_ROLE_CONNECTOR = 2,
};

struct pn_relay_core_ops {
	/* Queue a control frame (complete, header included) on conn's stream.
	 * 0, or an error (the core then gives up on that peer: the glue
	 * should close it). */
	int (*send_frame)(void *conn, const uint8_t *p, size_t n, void *user);
	/* Queue DATA for conn's stream: the frame is hdr (11 bytes) + payload.
	 * 0, or -EAGAIN if the stream's egress is full (dropped). */
	int (*send_data)(void *conn, const uint8_t *hdr, size_t hdr_len, const uint8_t *p, size_t n,
			 void *user);
	/* Send one datagram to a UDP address (iov of 2: type byte, rest).  The
	 * bytes stay valid until the frame's stream input ends (see
	 * pn_rstream_ops.on_input_end), so the glue may queue them and send a
	 * whole input's datagrams in one batch. */
	int (*send_udp)(const struct pn_relay_addr *to, const struct iovec *iov, int iovcnt,
			void *user);
	/* Ask the glue to close conn (replaced registration, broken stream).
	 * Must not call back into the core synchronously: defer the detach. */
	void (*kick)(void *conn, int err, void *user);
	/*
	 * Verify a client's OPEN: `acl` must be CA-signed, unexpired, bound to
	 * the key of the certificate conn presented, and name connector_id.
	 * 0, or the reason (returned to the client in ERROR).
	 */
	int (*authorize)(void *conn, const uint8_t connector_id[PN_RELAY_ID_LEN],
			 const uint8_t *acl, size_t acl_len, uint64_t now_ms, void *user);
	/*
	 * Optional.  RENEW: conn re-presents a credential (cert[0..len), DER).
	 * It must verify under the pinned CA and be the same type, id and
	 * key as conn's TLS peer; then the glue uses it from now on.  0 and
	 * *not_after, or the reason (the core answers ERROR and kicks conn).
	 * Without this op RENEW is refused (PN_E_RELAY_PROTOCOL).
	 */
	int (*renew)(void *conn, const uint8_t *cert, size_t len, uint64_t *not_after, void *user);
	/*
	 * Optional.  Is the registered connector on conn still usable for a
	 * new session (its credential unexpired)?  0, or the reason; the
	 * client's OPEN is then refused with PN_E_RELAY_NO_CONNECTOR.
	 */
	int (*connector_valid)(void *conn, void *user);
	/*
	 * Optional.  Steering (docs/relay.md, Workers): the lane of conn (the
	 * glue's worker owning its stream) in *lane, out of *nlanes.  A new
	 * session's id then has sid[7] % nlanes == the lane of the side whose
	 * stream most likely carries its DATA (the connector's if it has sent
	 * DATA on its stream and never bound UDP, else the client's), so the
	 * glue can deliver the session's UDP to that worker.  0, or nonzero
	 * for no steering.
	 */
	int (*lane)(void *conn, unsigned *lane, unsigned *nlanes, void *user);
};

struct pn_relay_limits {
	uint32_t max_sessions;
	uint32_t max_sessions_per_conn;
	uint32_t session_idle_ms;
	uint32_t max_open_per_sec;
	uint32_t keepalive_ms;
	/* A client's OPEN naming a connector that is not registered is held
	 * this long (0: refused at once) and served the moment that connector
	 * registers: a connector and client started together meet without the
	 * client's retry backoff.  Expired by pn_relay_core_tick, so answered
	 * PN_E_RELAY_NO_CONNECTOR between open_hold_ms and open_hold_ms + the
	 * tick interval after it arrived. */
	uint32_t open_hold_ms;
};
/* The wire.h defaults. */
void pn_relay_limits_default(struct pn_relay_limits *l);

struct pn_relay_stats {
	uint64_t sessions, peers, connectors;
	uint64_t sessions_opened, sessions_closed, opens_denied;
	uint64_t opens_held; /* OPENs that waited for their connector to register */
	uint64_t udp_rx_pkts, udp_rx_bytes;
	uint64_t fwd_pkts, fwd_bytes; /* forwarded, any carrier */
	uint64_t stun;
	uint64_t binds_ok, binds_bad, binds_challenged;
	uint64_t drop_malformed, drop_no_session, drop_addr, drop_queue, drop_amplification;
	uint64_t drop_denied; /* from a denied address (relay/peerfilter.h): never answered */
};

/* 0, -ENOMEM, PN_E_CRYPTO, PN_E_INVAL. */
int pn_relay_core_new(const struct pn_relay_limits *lim, const struct pn_relay_core_ops *ops,
		      void *user, struct pn_relay_core **out);
/* New limits from now on (SIGHUP): sessions already open stay, even above
 * a lowered cap.  0 or PN_E_INVAL (as pn_relay_core_new). */
int pn_relay_core_set_limits(struct pn_relay_core *c, const struct pn_relay_limits *lim);
/* Frees everything (no notifications).  NULL-safe. */
void pn_relay_core_free(struct pn_relay_core *c);

/*
 * A stream connection finished authentication as `role` with id `id`.
 * Returns the peer (owned by the core until detach), or NULL (-ENOMEM).
 */
struct pn_relay_peer *pn_relay_core_attach(struct pn_relay_core *c, void *conn,
					   enum pn_relay_role role,
					   const uint8_t id[PN_RELAY_ID_LEN]);
/* The connection is gone: closes its sessions (telling the other sides),
 * drops its registration, frees the peer.  NULL-safe. */
void pn_relay_core_detach(struct pn_relay_core *c, struct pn_relay_peer *p);

/*
 * A frame from peer p.  0, or an error meaning the stream broke the
 * protocol (the glue closes it): PN_E_RELAY_PROTOCOL, PN_E_MALFORMED,
 * PN_E_TOOBIG, PN_E_TRUNCATED.  Refusals of requests (OPEN denied, ...)
 * are answered with ERROR frames and return 0.
 */
int pn_relay_core_frame(struct pn_relay_core *c, struct pn_relay_peer *p,
			const struct pn_relay_frame *f, uint64_t now_ms);

/* What to do with one UDP datagram. */
enum pn_relay_route_kind {
	PN_RELAY_ROUTE_DROP = 0,
	PN_RELAY_ROUTE_UDP,    /* send the datagram unchanged to `to` */
	PN_RELAY_ROUTE_STREAM, /* send payload (p + 9) as DATA on `conn` */
	PN_RELAY_ROUTE_REPLY,  /* send reply[0..reply_len) back to the source */
};
struct pn_relay_route {
	enum pn_relay_route_kind kind;
	struct pn_relay_addr to;
	void *conn;
	size_t reply_len;
};

/*
 * Route one datagram from `from` (sans-I/O; the glue batches the results).
 * `reply` must hold PN_RELAY_REPLY_MAX bytes; a reply is never longer than
 * the datagram it answers.  Counts drops in the stats.
 */
#define PN_RELAY_REPLY_MAX 64
void pn_relay_core_udp(struct pn_relay_core *c, const struct pn_relay_addr *from,
		       const struct sockaddr *from_sa, const uint8_t *p, size_t n, uint64_t now_ms,
		       uint8_t reply[PN_RELAY_REPLY_MAX], struct pn_relay_route *rt);

/*
 * Denied peer addresses (relay/peerfilter.h, borrowed; NULL: none denied):
 * a STUN request, BIND or CONFIRM whose source is denied is dropped
 * (counted as drop_denied) before anything is answered or bound, so no
 * session side is ever bound to such an address and DATA, which goes only
 * to bound addresses, never goes there either.
 */
struct pn_relay_peerfilter;
void pn_relay_core_set_peerfilter(struct pn_relay_core *c, const struct pn_relay_peerfilter *f);

/*
 * Expire idle sessions (telling both sides) and held OPENs past their hold
 * (answered PN_E_RELAY_NO_CONNECTOR).  Returns the number of sessions
 * closed.  Call every few seconds.
 */
size_t pn_relay_core_tick(struct pn_relay_core *c, uint64_t now_ms);

const struct pn_relay_stats *pn_relay_core_stats(const struct pn_relay_core *c);
/* For the glue's own counters (egress drops). */
struct pn_relay_stats *pn_relay_core_stats_mut(struct pn_relay_core *c);

/* Bytes of one session object (for the memory budget in docs/bench). */
size_t pn_relay_core_session_size(void);
#endif
