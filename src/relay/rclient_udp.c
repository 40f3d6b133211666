/* Relay client: the UDP data socket of each relay (BIND keepalives, DATA,
 * GSO batches once per loop iteration); see relay/rclient.h. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/udp.h"
#include "ctlapi/relays.h"
#include "relay/idmap.h"
#include "relay/resolve.h"
#include "relay/rclient_int.h"
#include "relay/rpath.h"
#include "relay/server.h"
#include "relay/stream.h"
#include "relay/udpmsg.h"
#include "trust/cred.h"
#include "trust/key.h"

/* Send the queued datagrams: equal-size runs go out as one GSO message. */
void rc_udp_flush(struct pn_rrelay *r)
{
	struct mmsghdr mm[TXQ];
	struct iovec iov[TXQ];
	uint8_t ctl[TXQ][PN_UDP_SEG_CTL];
	unsigned nseg[TXQ], nmsg = 0, i = 0, done = 0;

	while (i < r->ntx) {
		struct msghdr *mh = &mm[nmsg].msg_hdr;
		unsigned j = i + 1;
		size_t total = r->txlen[i];

		/* A run: same size as the first, the last may be shorter. */
		while (r->gso && j < r->ntx && r->txlen[j] <= r->txlen[i] &&
		       r->txlen[j - 1] == r->txlen[i] && total + r->txlen[j] <= 65000)
			total += r->txlen[j++];
		memset(mh, 0, sizeof(*mh));
		for (unsigned k = i; k < j; k++)
			iov[k] = (struct iovec){r->txbuf[k], r->txlen[k]};
		mh->msg_iov = &iov[i];
		mh->msg_iovlen = j - i;
		if (j - i > 1)
			pn_udp_msg_segment(mh, ctl[nmsg], r->txlen[i]);
		nseg[nmsg++] = j - i;
		i = j;
	}
	while (done < nmsg) {
		unsigned segs = nseg[done];
		int k = sendmmsg(r->udp_fd, mm + done, 1, MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		/* No GSO after all (old kernel, odd device): per datagram from now on. */
		if (k < 0 && segs > 1 && pn_udp_gso_refused(-errno))
			r->gso = 0;
		if (k < 0)
			r->rc->st.tx_drops += segs;
		done++;
	}
	r->ntx = 0;
}

void rc_on_flush_idle(uv_idle_t *h)
{
	struct pn_rrelay *r = h->data;

	uv_idle_stop(h);
	if (r->ntx)
		rc_udp_flush(r);
}

/* One datagram from the relay's UDP port (a connected socket: only the
 * relay can send here). */
static int udp_dgram(const struct sockaddr *from, socklen_t fromlen, const uint8_t *p, size_t len,
		     void *user)
{
	struct pn_rrelay *r = user;
	struct pn_rclient *rc = r->rc;
	uint64_t now = uv_now(rc->loop);
	struct pn_rsession *s;
	int kind = pn_relay_udp_classify(p, len);

	(void)from, (void)fromlen;
	if (kind != PN_RELAY_KIND_DATA && kind != PN_RELAY_KIND_BIND_OK &&
	    kind != PN_RELAY_KIND_CHALLENGE)
		return rc->closing;
	if (!(s = pn_idmap_get(&r->sessions, pn_relay_udp_sid(p))))
		return rc->closing;
	if (kind == PN_RELAY_KIND_DATA) {
		rc_deliver(s, p + PN_RELAY_DATA_HDR, len - PN_RELAY_DATA_HDR);
	} else if (kind == PN_RELAY_KIND_CHALLENGE) {
		/* Our address is new to the relay: prove we receive here. */
		uint8_t cf[PN_RELAY_CONFIRM_LEN];
		if (pn_relay_challenge_counter(p) != s->bind_counter)
			return rc->closing;
		pn_relay_confirm_encode(cf, s->sid, rc_my_side(rc), s->bind_counter,
					pn_relay_challenge_cookie(p), s->secret);
		(void)send(r->udp_fd, cf, sizeof(cf), MSG_DONTWAIT);
	} else if (pn_relay_bind_ok_counter(p) <= s->bind_counter) {
		/* Connected socket: only the relay can answer; the counter ties
		 * the answer to one of our BINDs. */
		s->last_bind_ok = now;
		s->bind_tries = 0;
		s->udp = 1;
		if (s->next_bind < now + BIND_RETRY_MS)
			s->next_bind = now + PN_RELAY_BIND_REFRESH_MS;
	}
	return rc->closing;
}

static void on_udp(uv_poll_t *h, int status, int events)
{
	struct pn_rrelay *r = h->data;
	struct pn_rclient *rc = r->rc;
	int n, rounds = 0;

	if (status < 0)
		return;
	while (rounds++ < 8) {
		n = pn_udp_rx_read(r->udp_fd, &rc->urx);
		if (n <= 0)
			break;
		for (int i = 0; i < n && !rc->closing; i++)
			(void)pn_udp_rx_split(&rc->urx, (unsigned)i, udp_dgram, r);
		if (n < UDP_BATCH)
			break;
	}
}

static int udp_open(struct pn_rrelay *r)
{
	socklen_t len = r->udp_ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							: sizeof(struct sockaddr_in);
	unsigned caps;
	int fd, e;

	if ((e = pn_udp_socket(r->udp_ss.ss_family, 4 << 20, PN_UDP_OFFLOAD, &fd, &caps)) != 0)
		return e;
	/* Connected: the kernel filters out every source but the relay. */
	if (connect(fd, (struct sockaddr *)&r->udp_ss, len) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	r->gro = !!(caps & PN_UDP_CAP_GRO);
	r->gso = !!(caps & PN_UDP_CAP_GSO);
	r->udp_fd = fd;
	return 0;
}

void rc_udp_start(struct pn_rrelay *r)
{
	struct pn_rclient *rc = r->rc;
	int e;

	if ((e = udp_open(r))) {
		/* No UDP socket: the streams still work. */
		PN_LOG_WARN("relay", "udp_unavailable", "relay=%s err=%s", r->name, pn_errname(e));
		return;
	}
	uv_poll_init(rc->loop, &r->poll, r->udp_fd);
	r->poll.data = r;
	uv_poll_start(&r->poll, UV_READABLE, on_udp);
	uv_idle_init(rc->loop, &r->prep);
	r->prep.data = r;
	rc->handles += 2;
}

void rc_on_udp_resolved(struct pn_resolve *rs, int status, void *arg)
{
	struct pn_rrelay *r = arg;

	if (rc_resolve_done(r))
		return;
	if (status) {
		PN_LOG_WARN("relay", "udp_unavailable", "relay=%s err=%s", r->name,
			    pn_errname(status));
		return;
	}
	r->udp_ss = rs->addr[0];
	rc_udp_start(r);
}
