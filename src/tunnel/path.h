#ifndef PN_TUNNEL_PATH_H
#define PN_TUNNEL_PATH_H
/*
 * A path under a QUIC connection: something that carries datagrams between
 * the two ends.  The connection core never touches I/O; it names the path
 * a batch of packets must go out on, and whoever drives it calls
 * path->ops->send().  Received datagrams enter the core as
 * pn_tconn_read(conn, path, bytes, now).
 *
 * For QUIC each path has a distinct (local, remote) address pair, which is
 * how ngtcp2 tells paths apart and validates a migration.  A direct UDP
 * path uses the real socket addresses; paths without addresses of their
 * own (relay sessions, in-memory pairs) get synthetic ones from
 * pn_path_synth_addrs(): IPv6 addresses in the discard prefix 100::/64
 * (RFC 6666), never used for I/O.
 *
 * Implementations:
 *   - in-memory pairs (below; unit tests, with loss/reorder/duplication),
 *   - direct UDP sockets (tunnel/udp.h, libuv, GSO/GRO),
 *   - relay sessions (tunnel/endpoint.c, relay/rclient.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunnel/endpoint.h" /* enum pn_path_kind */

#define PN_PATH_MAX_SEGMENTS 44     /* GSO: 44 x 1452 < 64 KiB */
#define PN_PATH_MAX_UDP_PAYLOAD 1452 /* 1500 - IPv6 (40) - UDP (8) */

struct pn_path;

struct pn_path_ops {
	/*
	 * Send `len` bytes as ceil(len / seg) datagrams of `seg` bytes (the last
	 * may be shorter).  seg == len: one datagram.  Returns 0 when handed
	 * to the transport or dropped as UDP would (-EAGAIN is not an error
	 * for QUIC: loss recovery repairs it); negative for a dead path.
	 */
	int (*send)(struct pn_path *p, const uint8_t *data, size_t len, size_t seg);
};

struct pn_path {
	const struct pn_path_ops *ops;
	enum pn_path_kind kind;
	unsigned max_segments; /* 1..PN_PATH_MAX_SEGMENTS: GSO batch size */
	struct sockaddr_storage local, remote;
	socklen_t local_len, remote_len;
	void *ctx; /* the implementation's */
};

/* Fill p->local/remote with a fresh synthetic pair (distinct per call). */
void pn_path_synth_addrs(struct pn_path *p);

/* ---- in-memory pair, for tests: a packet sent on one end is queued on
 * the other, with seeded pseudo-random loss, reordering and duplication. */

struct pn_mempath;

struct pn_mempath_faults {
	unsigned loss_pct;    /* 0..100: packets dropped */
	unsigned reorder_pct; /* packets delivered after a later one */
	unsigned dup_pct;     /* packets delivered twice */
	uint64_t seed;
};

#define PN_MEMPATH_QUEUE 4096 /* packets queued per direction, then drops */

/* A connected pair (a, b).  0 or -ENOMEM. */
int pn_mempath_pair(const struct pn_mempath_faults *f, struct pn_mempath **a,
		    struct pn_mempath **b);
void pn_mempath_free(struct pn_mempath *m); /* one end; NULL-safe */
struct pn_path *pn_mempath_path(struct pn_mempath *m);
/*
 * Take the next packet queued for this end: copies it into out[cap] and
 * returns its length, or 0 if none is queued.
 */
size_t pn_mempath_recv(struct pn_mempath *m, uint8_t *out, size_t cap);
/* Packets sent / dropped by fault injection on this end. */
void pn_mempath_stats(const struct pn_mempath *m, uint64_t *sent, uint64_t *dropped);
/* Change the fault profile of packets sent from this end. */
void pn_mempath_set_faults(struct pn_mempath *m, const struct pn_mempath_faults *f);
/* Simulate a dead path: everything sent from either end is dropped. */
void pn_mempath_set_down(struct pn_mempath *m, int down);
#endif
