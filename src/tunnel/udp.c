/* UDP socket glue for QUIC (libuv poll + recvmmsg/GRO + sendmsg/GSO). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunnel/udp.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

struct pn_udp {
	uv_poll_t poll;
	int fd, gso, want_write, closing;
	pn_udp_recv_fn recv;
	pn_udp_writable_fn writable;
	pn_udp_burst_fn burst;
	void *user;
	struct sockaddr_storage local;
	socklen_t local_len;
	uint8_t *rxbuf; /* PN_UDP_RX_BATCH * PN_UDP_RX_BUF */
};

static void on_poll(uv_poll_t *h, int status, int events);

static void update_poll(struct pn_udp *u)
{
	if (!u->closing)
		uv_poll_start(&u->poll, UV_READABLE | (u->want_write ? UV_WRITABLE : 0), on_poll);
}

static void read_burst(struct pn_udp *u)
{
	struct mmsghdr mm[PN_UDP_RX_BATCH];
	struct iovec iov[PN_UDP_RX_BATCH];
	struct sockaddr_storage from[PN_UDP_RX_BATCH];
	char cbuf[PN_UDP_RX_BATCH][CMSG_SPACE(sizeof(int))];

	for (int round = 0; round < PN_UDP_RX_ROUNDS && !u->closing; round++) {
		int k;
		for (int i = 0; i < PN_UDP_RX_BATCH; i++) {
			iov[i].iov_base = u->rxbuf + (size_t)i * PN_UDP_RX_BUF;
			iov[i].iov_len = PN_UDP_RX_BUF;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = cbuf[i];
			mm[i].msg_hdr.msg_controllen = sizeof(cbuf[i]);
		}
		k = recvmmsg(u->fd, mm, PN_UDP_RX_BATCH, MSG_DONTWAIT, NULL);
		if (k <= 0)
			break;
		for (int i = 0; i < k && !u->closing; i++) {
			size_t len = mm[i].msg_len, seg = len;
			struct msghdr *m = &mm[i].msg_hdr;
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm))
				if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
					int g;
					memcpy(&g, CMSG_DATA(cm), sizeof(g));
					if (g > 0)
						seg = (size_t)g;
				}
			for (size_t off = 0; off < len && !u->closing; off += seg)
				u->recv(u, (struct sockaddr *)&from[i], m->msg_namelen,
					(const uint8_t *)iov[i].iov_base + off,
					len - off < seg ? len - off : seg, u->user);
		}
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
	int one = 1, buf = PN_UDP_SOCKBUF, pmtu = IP_PMTUDISC_DO, r;
	socklen_t blen = bind_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							  : sizeof(struct sockaddr_in);

	if (!(u = calloc(1, sizeof(*u))))
		return -ENOMEM;
	u->fd = -1;
	if (!(u->rxbuf = malloc((size_t)PN_UDP_RX_BATCH * PN_UDP_RX_BUF))) {
		r = -ENOMEM;
		goto fail;
	}
	u->fd = socket(bind_addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (setsockopt(u->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(u->fd, SOL_UDP, UDP_GRO, &one, sizeof(one));
	/* QUIC packets must not be fragmented */
	if (bind_addr->sa_family == AF_INET) {
		setsockopt(u->fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
	} else {
		int v6 = IPV6_PMTUDISC_DO;
		setsockopt(u->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof(v6));
	}
	if (bind(u->fd, bind_addr, blen) != 0) {
		r = -errno;
		goto fail;
	}
	u->local_len = sizeof(u->local);
	getsockname(u->fd, (struct sockaddr *)&u->local, &u->local_len);
	u->gso = 1;
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
	free(u->rxbuf);
	free(u);
	return r;
}

static int send_one(struct pn_udp *u, const struct sockaddr *to, socklen_t tolen,
		    const uint8_t *p, size_t len, size_t seg)
{
	struct iovec iov = {(void *)p, len};
	struct msghdr m = {.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov,
			   .msg_iovlen = 1};
	char cbuf[CMSG_SPACE(sizeof(uint16_t))];
	ssize_t r;

	if (seg < len) {
		uint16_t s = (uint16_t)seg;
		struct cmsghdr *cm;
		memset(cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(cm), &s, sizeof(s));
	}
	do
		r = sendmsg(u->fd, &m, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int pn_udp_send(struct pn_udp *u, const struct sockaddr *to, socklen_t tolen, const uint8_t *p,
		size_t len, size_t seg)
{
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
		if (seg == len || (r != -EIO && r != -EINVAL && r != -EOPNOTSUPP))
			return r;
		u->gso = 0; /* no GSO on this path: one datagram per call from now */
	}
	for (size_t off = 0; off < len; off += seg) {
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
	free(u->rxbuf);
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
