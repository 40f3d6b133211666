#ifndef PN_TUNNEL_UDP_H
#define PN_TUNNEL_UDP_H
/*
 * A UDP socket on a libuv loop for QUIC: recvmmsg with UDP GRO on receive
 * (one call returns many coalesced datagrams; the segment size comes in the
 * UDP_GRO cmsg), sendmsg with UDP_SEGMENT (GSO) on send, large socket
 * buffers, DF set.  Falls back to one datagram per sendmsg where the kernel
 * or device lacks GSO.  Receive buffers are allocated once per socket: no
 * per-packet allocation.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define PN_UDP_RX_BATCH 8       /* recvmmsg messages per call */
#define PN_UDP_RX_BUF 65536     /* per message (a GRO super-datagram) */
#define PN_UDP_RX_ROUNDS 8      /* recvmmsg calls per readable event */
#define PN_UDP_SOCKBUF (8 << 20)

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
