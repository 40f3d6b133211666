#ifndef PN_CORE_UDP_H
#define PN_CORE_UDP_H
/*
 * UDP sockets for datagram transports (the tunnel's QUIC, the relay).
 *
 * Building blocks, for sockets with their own batching (the relay server
 * gathers segments across receive slots, the relay client queues per
 * relay): socket setup (large buffers, UDP GRO on, UDP GSO probed, DF),
 * a recvmmsg receive batch split at the GRO segment size, and the GSO
 * control message for sendmsg/sendmmsg with the errors that mean "no GSO
 * here" (fall back to one datagram per send).
 *
 * pn_udp: a socket on a libuv loop built from them: recvmmsg with GRO on
 * receive, sendmsg with UDP_SEGMENT on send (falls back to one datagram per
 * sendmsg where the kernel or device lacks GSO), buffers allocated once per
 * socket: no per-packet allocation.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* ---------------------------------------------------------- building blocks */

#define PN_UDP_SOCKBUF (8 << 20)

enum pn_udp_caps {
	PN_UDP_CAP_GRO = 1, /* UDP_GRO is on: receive slots may hold many datagrams */
	PN_UDP_CAP_GSO = 2, /* the kernel knows UDP_SEGMENT */
};

enum pn_udp_opts {
	PN_UDP_OFFLOAD = 1,   /* turn GRO on and probe GSO */
	PN_UDP_DF = 2,        /* never fragment (QUIC) */
	PN_UDP_FORCE_BUF = 4, /* buffers beyond [rw]mem_max when privileged;
				 else the system caps them (less queueing
				 delay on a forwarding hop such as the relay) */
};

/*
 * A non-blocking, close-on-exec datagram socket of `family` with send and
 * receive buffers of `bufsize` bytes and `opts`.  The caller binds or connects it.  0 with *fd and *caps
 * (pn_udp_caps in effect), or -errno.
 */
int pn_udp_socket(int family, int bufsize, unsigned opts, int *fd, unsigned *caps);

/* A receive batch: n slots of `slot` bytes (a GRO slot: up to 64 KiB). */
struct pn_udp_rx {
	unsigned n;
	size_t slot;
	uint8_t *buf;
	struct mmsghdr *mm;
	struct iovec *iov;
	struct sockaddr_storage *from;
	uint8_t *ctl;
};

/* 0 or -ENOMEM.  pn_udp_rx_fini frees (safe on a zeroed or failed rx). */
int pn_udp_rx_init(struct pn_udp_rx *rx, unsigned n, size_t slot);
void pn_udp_rx_fini(struct pn_udp_rx *rx);

/* One recvmmsg into the slots: the number of messages (0: none waiting). */
int pn_udp_rx_read(int fd, struct pn_udp_rx *rx);

/* One datagram; return nonzero to stop (e.g. the socket is closing). */
typedef int (*pn_udp_dgram_fn)(const struct sockaddr *from, socklen_t fromlen, const uint8_t *p,
			       size_t n, void *user);

/*
 * The datagrams of message i of the last read, split at its GRO segment
 * size, each passed to fn.  0, 1 if fn stopped, or -EMSGSIZE for a
 * message truncated to the slot (fn not called).
 */
int pn_udp_rx_split(const struct pn_udp_rx *rx, unsigned i, pn_udp_dgram_fn fn, void *user);

/* Control space for pn_udp_msg_segment. */
#define PN_UDP_SEG_CTL CMSG_SPACE(sizeof(uint16_t))

/* Make m send its iov as datagrams of `seg` bytes (UDP GSO; the last may
 * be shorter), with ctl[PN_UDP_SEG_CTL] as its control buffer. */
void pn_udp_msg_segment(struct msghdr *m, uint8_t *ctl, size_t seg);

/* 1 if a GSO send failed with err (-errno) because the path cannot
 * segment: send one datagram per call from then on. */
int pn_udp_gso_refused(int err);

/* -------------------------------------------------------- libuv socket -- */

#define PN_UDP_RX_BATCH 8       /* recvmmsg messages per call */
#define PN_UDP_RX_BUF 65536     /* per message (a GRO super-datagram) */
#define PN_UDP_RX_ROUNDS 8      /* recvmmsg calls per readable event */

struct pn_udp;

/* One datagram (GRO batches are split before this is called). */
typedef void (*pn_udp_recv_fn)(struct pn_udp *u, const struct sockaddr *from, socklen_t fromlen,
			       const uint8_t *p, size_t n, void *user);
/* The socket became writable again after pn_udp_send returned -EAGAIN. */
typedef void (*pn_udp_writable_fn)(struct pn_udp *u, void *user);
/* Called after each receive burst (e.g. to flush writes [spike P7]). */
typedef void (*pn_udp_burst_fn)(struct pn_udp *u, void *user);

/* Open and bind (port 0: ephemeral).  0 or -errno. */
int pn_udp_open(uv_loop_t *loop, const struct sockaddr *bind_addr, pn_udp_recv_fn recv,
		pn_udp_writable_fn writable, pn_udp_burst_fn burst, void *user,
		struct pn_udp **out);
/*
 * Send len bytes as datagrams of seg bytes (the last may be shorter) to
 * `to`.  0, -EAGAIN (nothing sent: wait for the writable callback), or
 * -errno (dropped).
 */
int pn_udp_send(struct pn_udp *u, const struct sockaddr *to, socklen_t tolen, const uint8_t *p,
		size_t len, size_t seg);
/* The bound address. */
void pn_udp_local(const struct pn_udp *u, struct sockaddr_storage *ss, socklen_t *len);
/* 1 while GSO is in use. */
int pn_udp_gso(const struct pn_udp *u);
/* Stop and free (asynchronously, via uv_close).  NULL-safe. */
void pn_udp_close(struct pn_udp *u);
#endif
