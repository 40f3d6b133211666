/*
 * The relay's UDP data path: recvmmsg batches (core/udp.h), the forwarding
 * core per datagram, and equal-size datagrams to one address gathered
 * into GSO messages sent with sendmmsg.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/udp.h"
#include "relay/admit.h"
#include "relay/auth.h"
#include "relay/idmap.h"
#include "relay/server_int.h"
#include "relay/stream.h"

static void flush_out(struct worker *w)
{
	unsigned i, n = w->nout, done = 0;
	uint64_t pkts = 0, bytes = 0, drops = 0, gso = 0;

	for (i = 0; i < n; i++) {
		struct out *o = &w->out[i];
		struct msghdr *mh = &w->smsg[i].msg_hdr;

		memset(mh, 0, sizeof(*mh));
		mh->msg_name = &o->to;
		mh->msg_namelen = o->tolen;
		mh->msg_iov = o->iov;
		mh->msg_iovlen = o->niov;
		if (o->nseg > 1) {
			pn_udp_msg_segment(mh, w->sctl[i], o->seg);
			gso++;
		}
	}
	while (done < n) {
		int r = sendmmsg(w->udp_fd, w->smsg + done, n - done, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* Socket buffer full (or an unreachable peer): drop this one, go on. */
			drops += w->out[done].nseg;
			done++;
			continue;
		}
		for (int k = 0; k < r; k++) {
			pkts += w->out[done + k].nseg;
			bytes += w->out[done + k].len;
		}
		done += (unsigned)r;
	}
	w->nout = 0;
	w->nreplies = 0;
	W_ADD(w->tx_pkts, pkts);
	W_ADD(w->tx_bytes, bytes);
	W_ADD(w->tx_drops, drops);
	W_ADD(w->gso_sends, gso);
}

/* Can a datagram of n bytes in `niov` buffers (the first at p) to dst
 * join message o as one more GSO segment? */
static int joins(const struct out *o, const struct pn_relay_addr *dst, const uint8_t *p, size_t n,
		 unsigned niov)
{
	const struct iovec *last;

	if (o->closed || o->nseg >= PN_RELAY_GSO_MAX_SEGS || n > o->seg || o->len + n > 65000)
		return 0;
	if (!pn_relay_addr_eq(&o->dst, dst))
		return 0;
	/* Room for its buffers, less one if it continues the last in memory. */
	last = &o->iov[o->niov - 1];
	return o->niov + niov <= OUT_IOV ||
	       (o->niov + niov - 1 <= OUT_IOV &&
		(const uint8_t *)last->iov_base + last->iov_len == p);
}

/* Queue one datagram made of iov[0..niov) (sent by the next flush_out):
 * equal-size datagrams to one address are batched into GSO messages,
 * looking at the last few messages (flows interleave); order per address
 * holds.  The bytes must stay valid until then. */
static void queue_iov(struct worker *w, const struct pn_relay_addr *to,
		      const struct iovec *iov, unsigned niov)
{
	struct out *o = NULL;
	size_t n = 0;
	unsigned i = 0;

	for (unsigned k = 0; k < niov; k++)
		n += iov[k].iov_len;
	for (unsigned k = 0; w->srv->gso && k < GSO_LOOKBACK && k < w->nout; k++) {
		o = &w->out[w->nout - 1 - k];
		if (joins(o, to, iov[0].iov_base, n, niov))
			break;
		o = NULL;
	}
	if (o) {
		struct iovec *last = &o->iov[o->niov - 1];
		if ((const uint8_t *)last->iov_base + last->iov_len == iov[0].iov_base)
			last->iov_len += iov[i++].iov_len;
		o->nseg++;
		if (n < o->seg)
			o->closed = 1;
	} else {
		if (w->nout == MAX_SEND)
			srv_make_room(w);
		o = &w->out[w->nout++];
		o->dst = *to;
		o->tolen = pn_relay_addr_to_sa(to, &o->to);
		o->niov = 0;
		o->nseg = 1;
		o->len = 0;
		o->seg = n;
		o->closed = 0;
	}
	for (; i < niov; i++)
		o->iov[o->niov++] = iov[i];
	o->len += n;
}

static void queue_udp(struct worker *w, const struct pn_relay_addr *to, const uint8_t *p, size_t n)
{
	struct iovec v = {(void *)p, n};
	queue_iov(w, to, &v, 1);
}

/* A stream's DATA to a UDP side (the core's send_udp): batched like the
 * UDP path's own output, sent when the stream's input chunk ends. */
int srv_queue_udp(struct worker *w, const struct pn_relay_addr *to, const struct iovec *iov,
		  unsigned niov)
{
	size_t n = 0;

	for (unsigned k = 0; k < niov; k++)
		n += iov[k].iov_len;
	if (niov > OUT_IOV || n > 65000)
		return PN_E_INVAL;
	queue_iov(w, to, iov, niov);
	return 0;
}

void srv_udp_flush(struct worker *w)
{
	if (w->nout)
		flush_out(w);
}

static void udp_segment(struct worker *w, const struct pn_relay_addr *from,
			const struct sockaddr *sa, const uint8_t *p, size_t n)
{
	struct pn_relay_server *srv = w->srv;
	struct pn_relay_route rt;
	uint8_t *reply;

	/* Room for this segment's entry and reply, so nothing flushes under it. */
	if (w->nreplies == MAX_SEND || w->nout == MAX_SEND)
		srv_make_room(w);
	reply = w->replies[w->nreplies];
	pn_relay_core_udp(srv->core, from, sa, p, n, w->now_ms, reply, &rt);
	switch (rt.kind) {
	case PN_RELAY_ROUTE_UDP: queue_udp(w, &rt.to, p, n); break;
	case PN_RELAY_ROUTE_STREAM: {
		uint8_t hdr[PN_RELAY_DATA_FRAME_HDR];
		pn_relay_data_frame_hdr(hdr, p + 1, n - PN_RELAY_DATA_HDR);
		if (srv_send_data(w, rt.conn, hdr, sizeof(hdr), p + PN_RELAY_DATA_HDR,
				  n - PN_RELAY_DATA_HDR))
			pn_relay_core_stats_mut(srv->core)->drop_queue++;
		break;
	}
	case PN_RELAY_ROUTE_REPLY:
		w->nreplies++;
		queue_udp(w, from, reply, rt.reply_len);
		w->out[w->nout - 1].closed = 1; /* replies never coalesce */
		break;
	default: break;
	}
}

static int rx_dgram(const struct sockaddr *sa, socklen_t salen, const uint8_t *p, size_t n,
		    void *user)
{
	struct worker *w = user;
	struct pn_relay_addr from;

	pn_relay_addr_from_sa(&from, sa);
	w->rx_batch++;
	udp_segment(w, &from, sa, p, n);
	return 0;
}

void srv_on_udp(uv_poll_t *h, int status, int events)
{
	struct worker *w = h->data;
	int rounds = 0, n;

	if (status < 0)
		return;
	w->now_ms = uv_now(w->loop);
	/* Bounded work per wake-up so streams and timers get their turn. */
	while (rounds++ < 16) {
		n = pn_udp_rx_read(w->udp_fd, &w->rx);
		if (n <= 0)
			break;
		/* One lock (several workers) for the whole batch's routing. */
		w->rx_batch = 0;
		srv_enter(w);
		for (int i = 0; i < n; i++)
			if (pn_udp_rx_split(&w->rx, (unsigned)i, rx_dgram, w) < 0)
				pn_relay_core_stats_mut(w->srv->core)->drop_malformed++;
		/* The receive slots are reused next round: send what points into
		 * them (after the unlock). */
		srv_leave(w);
		W_ADD(w->rx_pkts, w->rx_batch);
		if (n < PN_RELAY_BATCH)
			break;
	}
}

int srv_udp_open(struct pn_relay_server *srv, const struct sockaddr_storage *ss, int reuseport,
		 int *out)
{
	unsigned caps;
	int fd, r, one = 1;
	socklen_t len =
	    ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if ((r = pn_udp_socket(ss->ss_family, 8 << 20, srv->cfg.no_gso ? 0 : PN_UDP_OFFLOAD, &fd,
			       &caps)) != 0)
		return r;
	/* Several workers: one socket each on the same port (the kernel spreads
	 * sources over them by their address and port). */
	if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)ss, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	srv->gro = !!(caps & PN_UDP_CAP_GRO);
	srv->gso = !!(caps & PN_UDP_CAP_GSO);
	*out = fd;
	return 0;
}
