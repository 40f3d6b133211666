/* UDP sockets for datagram transports: building blocks (socket options,
 * recvmmsg + GRO, GSO cmsg) and the libuv socket built from them. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/udp.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define RX_CTL CMSG_SPACE(sizeof(int)) /* the UDP_GRO cmsg */

/* ---------------------------------------------------------- building blocks */

int pn_udp_socket(int family, int bufsize, unsigned opts, int *fd, unsigned *caps)
{
	int s, one = 1, zero = 0;

	*caps = 0;
	s = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (!(opts & PN_UDP_FORCE_BUF) ||
	    setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof(bufsize)))
		setsockopt(s, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	if (!(opts & PN_UDP_FORCE_BUF) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof(bufsize)))
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
	if (opts & PN_UDP_OFFLOAD) {
		if (setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0)
			*caps |= PN_UDP_CAP_GRO;
		/* GSO is per send (cmsg); probe that the kernel knows the option */
		if (setsockopt(s, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0)
			*caps |= PN_UDP_CAP_GSO;
	}
	if (opts & PN_UDP_DF) {
		/* DF, and sizes are the sender's business (its Path MTU
		   discovery, RFC 8899): PROBE, not DO, so the kernel neither
		   fragments nor refuses a datagram because of a path MTU it
		   learned from ICMP (forgeable, and stale once the path heals);
		   only datagrams above the interface MTU fail (EMSGSIZE). */
		if (family == AF_INET) {
			int v = IP_PMTUDISC_PROBE;
			setsockopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
		} else {
			int v = IPV6_PMTUDISC_PROBE;
			setsockopt(s, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v));
		}
	}
	*fd = s;
	return 0;
}

int pn_udp_rx_init(struct pn_udp_rx *rx, unsigned n, size_t slot)
{
	memset(rx, 0, sizeof(*rx));
	rx->n = n;
	rx->slot = slot;
	rx->buf = malloc((size_t)n * slot);
	rx->mm = calloc(n, sizeof(*rx->mm));
	rx->iov = calloc(n, sizeof(*rx->iov));
	rx->from = calloc(n, sizeof(*rx->from));
	rx->ctl = calloc(n, RX_CTL);
	if (!rx->buf || !rx->mm || !rx->iov || !rx->from || !rx->ctl) {
		pn_udp_rx_fini(rx);
		return -ENOMEM;
	}
	return 0;
}

void pn_udp_rx_fini(struct pn_udp_rx *rx)
{
	free(rx->buf);
	free(rx->mm);
	free(rx->iov);
	free(rx->from);
	free(rx->ctl);
	memset(rx, 0, sizeof(*rx));
}

int pn_udp_rx_read(int fd, struct pn_udp_rx *rx)
{
	int k;

	for (unsigned i = 0; i < rx->n; i++) {
		struct msghdr *m = &rx->mm[i].msg_hdr;
		rx->iov[i].iov_base = rx->buf + (size_t)i * rx->slot;
		rx->iov[i].iov_len = rx->slot;
		memset(m, 0, sizeof(*m));
		m->msg_name = &rx->from[i];
		m->msg_namelen = sizeof(rx->from[i]);
		m->msg_iov = &rx->iov[i];
		m->msg_iovlen = 1;
		m->msg_control = rx->ctl + (size_t)i * RX_CTL;
		m->msg_controllen = RX_CTL;
	}
	do
		k = recvmmsg(fd, rx->mm, rx->n, MSG_DONTWAIT, NULL);
	while (k < 0 && errno == EINTR);
	return k < 0 ? 0 : k;
}

int pn_udp_rx_split(const struct pn_udp_rx *rx, unsigned i, pn_udp_dgram_fn fn, void *user)
{
	const struct msghdr *m = &rx->mm[i].msg_hdr;
	const uint8_t *p = rx->iov[i].iov_base;
	size_t len = rx->mm[i].msg_len, seg = len;

	if (m->msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	/* with UDP GRO one slot holds equal-size datagrams back to back */
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR((struct msghdr *)m, cm))
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			int g;
			memcpy(&g, CMSG_DATA(cm), sizeof(g));
			if (g > 0 && (size_t)g < len)
				seg = (size_t)g;
		}
	for (size_t off = 0; off < len; off += seg)
		if (fn((const struct sockaddr *)m->msg_name, m->msg_namelen, p + off,
		       len - off < seg ? len - off : seg, user))
			return 1;
	return 0;
}

void pn_udp_msg_segment(struct msghdr *m, uint8_t *ctl, size_t seg)
{
	uint16_t s = (uint16_t)seg;
	struct cmsghdr *cm;

	memset(ctl, 0, PN_UDP_SEG_CTL);
	m->msg_control = ctl;
	m->msg_controllen = PN_UDP_SEG_CTL;
	cm = CMSG_FIRSTHDR(m);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(cm), &s, sizeof(s));
}

int pn_udp_gso_refused(int err)
{
	return err == -EIO || err == -EINVAL || err == -EOPNOTSUPP;
}

/* -------------------------------------------------------- libuv socket -- */

struct pn_udp {
	uv_poll_t poll;
	int fd, gso, want_write, closing;
	pn_udp_recv_fn recv;
	pn_udp_writable_fn writable;
	pn_udp_burst_fn burst;
	void *user;
	struct sockaddr_storage local;
	socklen_t local_len;
	struct pn_udp_rx rx;
};

static void on_poll(uv_poll_t *h, int status, int events);

static void update_poll(struct pn_udp *u)
{
	if (!u->closing)
		uv_poll_start(&u->poll, UV_READABLE | (u->want_write ? UV_WRITABLE : 0), on_poll);
}

static int rx_dgram(const struct sockaddr *from, socklen_t fromlen, const uint8_t *p, size_t n,
		    void *user)
{
	struct pn_udp *u = user;

	u->recv(u, from, fromlen, p, n, u->user);
	return u->closing;
}

static void read_burst(struct pn_udp *u)
{
	for (int round = 0; round < PN_UDP_RX_ROUNDS && !u->closing; round++) {
		int k = pn_udp_rx_read(u->fd, &u->rx);
		for (int i = 0; i < k && !u->closing; i++)
			(void)pn_udp_rx_split(&u->rx, (unsigned)i, rx_dgram, u);
		if (k < PN_UDP_RX_BATCH)
			break;
	}
	if (u->burst && !u->closing)
		u->burst(u, u->user);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct pn_udp *u = h->data;

	if (status < 0)
		return;
	if (events & UV_WRITABLE) {
		u->want_write = 0;
		update_poll(u);
		if (u->writable)
			u->writable(u, u->user);
	}
	if (events & UV_READABLE)
		read_burst(u);
}

int pn_udp_open(uv_loop_t *loop, const struct sockaddr *bind_addr, pn_udp_recv_fn recv,
		pn_udp_writable_fn writable, pn_udp_burst_fn burst, void *user,
		struct pn_udp **out)
{
	struct pn_udp *u;
	unsigned caps;
	int r;
	socklen_t blen = bind_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							  : sizeof(struct sockaddr_in);

	if (!(u = calloc(1, sizeof(*u))))
		return -ENOMEM;
	u->fd = -1;
	if ((r = pn_udp_rx_init(&u->rx, PN_UDP_RX_BATCH, PN_UDP_RX_BUF)) != 0)
		goto fail;
	/* QUIC packets must not be fragmented */
	if ((r = pn_udp_socket(bind_addr->sa_family, PN_UDP_SOCKBUF, PN_UDP_OFFLOAD | PN_UDP_DF | PN_UDP_FORCE_BUF,
			       &u->fd, &caps)) != 0)
		goto fail;
	if (bind(u->fd, bind_addr, blen) != 0) {
		r = -errno;
		goto fail;
	}
	u->local_len = sizeof(u->local);
	getsockname(u->fd, (struct sockaddr *)&u->local, &u->local_len);
	u->gso = !!(caps & PN_UDP_CAP_GSO);
	u->recv = recv;
	u->writable = writable;
	u->burst = burst;
	u->user = user;
	if ((r = uv_poll_init(loop, &u->poll, u->fd)) != 0)
		goto fail;
	u->poll.data = u;
	update_poll(u);
	*out = u;
	return 0;
fail:
	if (u->fd >= 0)
		close(u->fd);
	pn_udp_rx_fini(&u->rx);
	free(u);
	return r;
}

static int send_one(struct pn_udp *u, const struct sockaddr *to, socklen_t tolen,
		    const uint8_t *p, size_t len, size_t seg)
{
	struct iovec iov = {(void *)p, len};
	struct msghdr m = {.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov,
			   .msg_iovlen = 1};
	uint8_t cbuf[PN_UDP_SEG_CTL];
	ssize_t r;

	if (seg < len)
		pn_udp_msg_segment(&m, cbuf, seg);
	do
		r = sendmsg(u->fd, &m, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int pn_udp_send(struct pn_udp *u, const struct sockaddr *to, socklen_t tolen, const uint8_t *p,
		size_t len, size_t seg)
{
	size_t start = 0;
	int r;

	if (u->closing)
		return -EPIPE;
	if (seg == 0 || seg > len)
		seg = len;
	if (u->gso || seg == len) {
		r = send_one(u, to, tolen, p, len, seg);
		if (r == 0)
			return 0;
		if (r == -EAGAIN || r == -ENOBUFS) {
			u->want_write = 1;
			update_poll(u);
			return -EAGAIN;
		}
		if (seg == len || !pn_udp_gso_refused(r))
			return r;
		/* a segment larger than the interface MTU fails a GSO send with
		   EINVAL too: that is no reason to give GSO up */
		r = send_one(u, to, tolen, p, seg, seg);
		if (r == -EMSGSIZE)
			return -EMSGSIZE;
		if (r == 0)
			start = seg; /* the first one went out alone */
		u->gso = 0; /* no GSO on this path: one datagram per call from now */
	}
	for (size_t off = start; off < len; off += seg) {
		size_t n = len - off < seg ? len - off : seg;
		r = send_one(u, to, tolen, p + off, n, n);
		if (r == -EAGAIN || r == -ENOBUFS) {
			/* the rest is lost as on a congested link; QUIC repairs it */
			u->want_write = 1;
			update_poll(u);
			return off ? 0 : -EAGAIN;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

void pn_udp_local(const struct pn_udp *u, struct sockaddr_storage *ss, socklen_t *len)
{
	*ss = u->local;
	*len = u->local_len;
}

int pn_udp_gso(const struct pn_udp *u)
{
	return u->gso;
}

static void on_closed(uv_handle_t *h)
{
	struct pn_udp *u = h->data;

	close(u->fd);
	pn_udp_rx_fini(&u->rx);
	free(u);
}

void pn_udp_close(struct pn_udp *u)
{
	if (!u || u->closing)
		return;
	u->closing = 1;
	uv_poll_stop(&u->poll);
	uv_close((uv_handle_t *)&u->poll, on_closed);
}
