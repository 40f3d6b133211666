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
#include "relay/auth.h"
#include "relay/idmap.h"
#include "relay/server.h"
#include "relay/stream.h"

#define SWEEP_MS   2000
#define SLOT_SMALL 2048 /* receive slot without GRO */
#define MAX_SEND   (PN_RELAY_BATCH * 4)

struct ipcount {
	uint8_t ip[16];
	uint32_t n;
};

struct conn {
	struct pn_relay_server *srv;
	struct pn_rstream *s;
	struct pn_relay_peer *peer; /* after authentication */
	struct ipcount *ipc;	    /* while pending */
	struct conn *next, *prev;
	struct conn *pnext, *pprev; /* pending list, while unauthenticated */
	struct pn_cred_info info;
};

/* One outgoing UDP message: several equal segments to one address with GSO. */
/*
 * One outgoing UDP message: equal-size datagrams to one address, sent as
 * one GSO message (segments gathered from several receive slots).
 */
#define OUT_IOV 16 /* distinct buffers per message; contiguous ones share one */
struct out {
	struct pn_relay_addr dst;
	struct sockaddr_storage to;
	socklen_t tolen;
	struct iovec iov[OUT_IOV];
	unsigned niov, nseg;
	size_t len, seg;
	int closed; /* a short segment (or a reply) ended it */
};
#define GSO_LOOKBACK 8

struct pn_relay_server {
	uv_loop_t *loop;
	struct pn_relay_server_config cfg;
	struct pn_relay_core *core;
	gnutls_certificate_credentials_t cred;
	uv_tcp_t tcp;
	uv_poll_t poll;
	int udp_fd, gro, gso, handles;
	uv_timer_t sweep, stats;
	uv_signal_t sigusr1;
	struct conn *conns;
	struct conn *pend_new, *pend_old; /* pending connections, newest .. oldest */
	uint32_t npending, nconns;
	struct pn_idmap ipmap;
	uint8_t rxbuf[PN_RSTREAM_RXBUF], plainbuf[PN_RSTREAM_RXBUF];
	struct pn_rstream_config scfg;
	uint64_t now_ms;
	/* UDP batch state */
	struct pn_udp_rx rx;
	struct out out[MAX_SEND];
	unsigned nout;
	uint8_t replies[MAX_SEND][PN_RELAY_REPLY_MAX];
	unsigned nreplies;
	struct mmsghdr smsg[MAX_SEND];
	uint8_t sctl[MAX_SEND][PN_UDP_SEG_CTL];
	/* glue counters */
	uint64_t tx_pkts, tx_bytes, tx_drops, refused_pending, refused_auth, gso_sends;
	void (*close_cb)(void *);
	void *close_arg;
	int closing;
	/* Credentials replaced by a renewal: live TLS sessions still use them. */
	struct retired {
		struct retired *next;
		gnutls_certificate_credentials_t cred;
	} * retired;
};

int pn_relay_parse_addr(const char *str, struct sockaddr_storage *ss)
{
	char host[64];
	const char *colon;
	size_t hl;
	long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (!str)
		return PN_E_CONFIG;
	if (str[0] == '[') {
		const char *rb = strchr(str, ']');
		if (!rb || rb[1] != ':')
			return PN_E_CONFIG;
		hl = (size_t)(rb - str - 1);
		if (hl >= sizeof(host))
			return PN_E_CONFIG;
		memcpy(host, str + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(str, ':');
		if (!colon)
			return PN_E_CONFIG;
		hl = (size_t)(colon - str);
		if (hl >= sizeof(host))
			return PN_E_CONFIG;
		memcpy(host, str, hl);
	}
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || end == colon + 1)
		return PN_E_CONFIG;
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return PN_E_CONFIG;
}

void pn_relay_server_config_default(struct pn_relay_server_config *c)
{
	memset(c, 0, sizeof(*c));
	pn_relay_limits_default(&c->limits);
	c->max_pending = PN_RELAY_MAX_PENDING;
	c->max_pending_per_ip = PN_RELAY_MAX_PENDING_PER_IP;
	c->max_conns = PN_RELAY_MAX_CONNS;
	c->stats_ms = PN_RELAY_STATS_MS;
}

/* ---- core ops ---- */

static int op_send_frame(void *c, const uint8_t *p, size_t n, void *user)
{
	struct conn *cn = c;
	return pn_rstream_send(cn->s, p, n, 0);
}

static int op_send_data(void *c, const uint8_t *hdr, size_t hn, const uint8_t *p, size_t n,
			void *user)
{
	struct conn *cn = c;
	return pn_rstream_send2(cn->s, hdr, hn, p, n, 1);
}

static int op_send_udp(const struct pn_relay_addr *to, const struct iovec *iov, int iovcnt,
		       void *user)
{
	struct pn_relay_server *srv = user;
	struct sockaddr_storage ss;
	struct msghdr mh = {0};
	ssize_t r;

	mh.msg_name = &ss;
	mh.msg_namelen = pn_relay_addr_to_sa(to, &ss);
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = (size_t)iovcnt;
	r = sendmsg(srv->udp_fd, &mh, MSG_DONTWAIT);
	if (r < 0) {
		srv->tx_drops++;
		return -errno;
	}
	srv->tx_pkts++;
	srv->tx_bytes += (uint64_t)r;
	return 0;
}

static void op_kick(void *c, int err, void *user)
{
	struct conn *cn = c;
	pn_rstream_close(cn->s, err, 1);
}

static int op_authorize(void *c, const uint8_t cid[PN_RELAY_ID_LEN], const uint8_t *acl, size_t len,
			uint64_t now, void *user)
{
	struct conn *cn = c;
	uint64_t now_s = (uint64_t)pn_wall_s();
	int r = pn_relay_auth_open(cn->srv->cfg.anchor, &cn->info, cid, acl, len, now_s);

	/* a clock problem: say so with both clocks (other refusals are
	   reported to the peer and counted by the core) */
	if (r == PN_E_EXPIRED)
		PN_LOG_INFO("relay", "open_refused",
			    "err=%s not_after=%" PRIu64 " now=%" PRIu64 " skew_s=%d", pn_errname(r),
			    cn->info.not_after, now_s, PN_TRUST_DEFAULT_SKEW);
	else if (r == PN_E_ACL_NOT_YET_VALID || r == PN_E_ACL_EXPIRED)
		PN_LOG_INFO("relay", "open_refused", "err=%s now=%" PRIu64 " skew_s=%d",
			    pn_errname(r), now_s, PN_TRUST_DEFAULT_SKEW);
	return r;
}

/* RENEW: the renewed credential of the same holder and the same key (the
 * one the TLS handshake proved), from our CA; it replaces the connection's
 * credential, so its expiry governs what the connection may do next. */
static int op_renew(void *c, const uint8_t *cert, size_t len, uint64_t *not_after, void *user)
{
	struct conn *cn = c;
	struct pn_cred_info ni;
	char hex[PN_ID_HEX_LEN + 1];
	int r;

	r = pn_relay_auth_renew(cn->srv->cfg.anchor, &cn->info, cert, len, (uint64_t)pn_wall_s(),
				&ni);
	pn_id_hex(cn->info.id, hex);
	if (r) {
		PN_LOG_WARN("relay", "peer_renew_refused", "role=%s id=%s err=%s",
			    pn_cred_type_name(cn->info.type), hex, pn_errname(r));
		return r;
	}
	PN_LOG_INFO("relay", "peer_renewed", "role=%s id=%s not_after=%llu",
		    pn_cred_type_name(cn->info.type), hex, (unsigned long long)ni.not_after);
	cn->info = ni;
	*not_after = ni.not_after;
	return 0;
}

static int op_connector_valid(void *c, void *user)
{
	struct conn *cn = c;

	return (uint64_t)pn_wall_s() > cn->info.not_after + PN_TRUST_DEFAULT_SKEW ? PN_E_EXPIRED : 0;
}

static const struct pn_relay_core_ops core_ops = {
    .send_frame = op_send_frame,
    .send_data = op_send_data,
    .send_udp = op_send_udp,
    .kick = op_kick,
    .authorize = op_authorize,
    .renew = op_renew,
    .connector_valid = op_connector_valid,
};

/* ---- UDP data path ---- */

static void flush_out(struct pn_relay_server *srv)
{
	unsigned i, n = srv->nout, done = 0;

	for (i = 0; i < n; i++) {
		struct out *o = &srv->out[i];
		struct msghdr *mh = &srv->smsg[i].msg_hdr;

		memset(mh, 0, sizeof(*mh));
		mh->msg_name = &o->to;
		mh->msg_namelen = o->tolen;
		mh->msg_iov = o->iov;
		mh->msg_iovlen = o->niov;
		if (o->nseg > 1) {
			pn_udp_msg_segment(mh, srv->sctl[i], o->seg);
			srv->gso_sends++;
		}
	}
	while (done < n) {
		int r = sendmmsg(srv->udp_fd, srv->smsg + done, n - done, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* Socket buffer full (or an unreachable peer): drop this one, go on. */
			srv->tx_drops += srv->out[done].nseg;
			done++;
			continue;
		}
		for (int k = 0; k < r; k++) {
			srv->tx_pkts += srv->out[done + k].nseg;
			srv->tx_bytes += srv->out[done + k].len;
		}
		done += (unsigned)r;
	}
	srv->nout = 0;
	srv->nreplies = 0;
}

/* Can datagram (p, n) to dst join message o as one more GSO segment? */
static int joins(const struct out *o, const struct pn_relay_addr *dst, const uint8_t *p, size_t n)
{
	if (o->closed || o->nseg >= PN_RELAY_GSO_MAX_SEGS || n > o->seg || o->len + n > 65000)
		return 0;
	if (!pn_relay_addr_eq(&o->dst, dst))
		return 0;
	/* Room for another buffer, unless it continues the last one in memory. */
	return o->niov < OUT_IOV ||
	       (const uint8_t *)o->iov[o->niov - 1].iov_base + o->iov[o->niov - 1].iov_len == p;
}

static void queue_udp(struct pn_relay_server *srv, const struct pn_relay_addr *to, const uint8_t *p,
		      size_t n)
{
	struct out *o;

	/* Batch equal-size datagrams to one address into GSO messages: look at
	 * the last few messages (flows interleave); order per address holds. */
	if (srv->gso) {
		for (unsigned k = 0; k < GSO_LOOKBACK && k < srv->nout; k++) {
			o = &srv->out[srv->nout - 1 - k];
			if (!joins(o, to, p, n))
				continue;
			struct iovec *last = &o->iov[o->niov - 1];
			if ((const uint8_t *)last->iov_base + last->iov_len == p)
				last->iov_len += n;
			else
				o->iov[o->niov++] = (struct iovec){(void *)p, n};
			o->len += n;
			o->nseg++;
			if (n < o->seg)
				o->closed = 1;
			return;
		}
	}
	if (srv->nout == MAX_SEND)
		flush_out(srv);
	o = &srv->out[srv->nout++];
	o->dst = *to;
	o->tolen = pn_relay_addr_to_sa(to, &o->to);
	o->iov[0] = (struct iovec){(void *)p, n};
	o->niov = 1;
	o->len = o->seg = n;
	o->nseg = 1;
	o->closed = 0;
}

static void udp_segment(struct pn_relay_server *srv, const struct pn_relay_addr *from,
			const struct sockaddr *sa, const uint8_t *p, size_t n)
{
	struct pn_relay_route rt;
	uint8_t *reply;

	/* Room for this segment's entry and reply, so nothing flushes under it. */
	if (srv->nreplies == MAX_SEND || srv->nout == MAX_SEND)
		flush_out(srv);
	reply = srv->replies[srv->nreplies];
	pn_relay_core_udp(srv->core, from, sa, p, n, srv->now_ms, reply, &rt);
	switch (rt.kind) {
	case PN_RELAY_ROUTE_UDP: queue_udp(srv, &rt.to, p, n); break;
	case PN_RELAY_ROUTE_STREAM: {
		uint8_t hdr[PN_RELAY_DATA_FRAME_HDR];
		pn_relay_data_frame_hdr(hdr, p + 1, n - PN_RELAY_DATA_HDR);
		if (op_send_data(rt.conn, hdr, sizeof(hdr), p + PN_RELAY_DATA_HDR,
				 n - PN_RELAY_DATA_HDR, srv))
			pn_relay_core_stats_mut(srv->core)->drop_queue++;
		break;
	}
	case PN_RELAY_ROUTE_REPLY:
		srv->nreplies++;
		queue_udp(srv, from, reply, rt.reply_len);
		srv->out[srv->nout - 1].closed = 1; /* replies never coalesce */
		break;
	default: break;
	}
}

static int rx_dgram(const struct sockaddr *sa, socklen_t salen, const uint8_t *p, size_t n,
		    void *user)
{
	struct pn_relay_server *srv = user;
	struct pn_relay_addr from;

	pn_relay_addr_from_sa(&from, sa);
	udp_segment(srv, &from, sa, p, n);
	return 0;
}

static void on_udp(uv_poll_t *h, int status, int events)
{
	struct pn_relay_server *srv = h->data;
	int rounds = 0, n;

	if (status < 0)
		return;
	srv->now_ms = uv_now(srv->loop);
	/* Bounded work per wake-up so streams and timers get their turn. */
	while (rounds++ < 16) {
		n = pn_udp_rx_read(srv->udp_fd, &srv->rx);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			if (pn_udp_rx_split(&srv->rx, (unsigned)i, rx_dgram, srv) < 0)
				pn_relay_core_stats_mut(srv->core)->drop_malformed++;
		/* The receive slots are reused next round: send what points into them. */
		flush_out(srv);
		if (n < PN_RELAY_BATCH)
			break;
	}
}

static int udp_open(struct pn_relay_server *srv, const struct sockaddr_storage *ss)
{
	unsigned caps;
	int fd, r;
	socklen_t len =
	    ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

	if ((r = pn_udp_socket(ss->ss_family, 8 << 20, srv->cfg.no_gso ? 0 : PN_UDP_OFFLOAD, &fd,
			       &caps)) != 0)
		return r;
	if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	srv->gro = !!(caps & PN_UDP_CAP_GRO);
	srv->gso = !!(caps & PN_UDP_CAP_GSO);
	if (pn_udp_rx_init(&srv->rx, PN_RELAY_BATCH, srv->gro ? PN_RELAY_GRO_BUF : SLOT_SMALL)) {
		close(fd);
		return -ENOMEM;
	}
	srv->udp_fd = fd;
	return 0;
}

/* ---- streams ---- */

static void conn_unlink(struct pn_relay_server *srv, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static void release_pending(struct pn_relay_server *srv, struct conn *c)
{
	if (!c->ipc)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		srv->pend_new = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	else
		srv->pend_old = c->pprev;
	c->pnext = c->pprev = NULL;
	srv->npending--;
	if (--c->ipc->n == 0) {
		pn_idmap_del(&srv->ipmap, c->ipc);
		free(c->ipc);
	}
	c->ipc = NULL;
}

static int s_on_ready(struct pn_rstream *s, void *user)
{
	struct conn *c = user;
	struct pn_relay_server *srv = c->srv;
	char hex[PN_ID_HEX_LEN + 1];
	int r;

	struct pn_cred_info seen;
	uint64_t now_s = (uint64_t)pn_wall_s();

	r = pn_cred_verify_session_seen(srv->cfg.anchor, pn_rstream_tls(s), PN_CRED_ANY, now_s,
					PN_TRUST_DEFAULT_SKEW, &c->info, &seen);
	if (r == 0 && c->info.type != PN_CRED_CLIENT && c->info.type != PN_CRED_CONNECTOR)
		r = PN_E_WRONG_TYPE;
	release_pending(srv, c);
	if (r == 0 && srv->nconns >= srv->cfg.max_conns)
		r = PN_E_RELAY_LIMIT;
	if (r) {
		/* Say why (the peer's TLS finished before we checked it), then close. */
		struct pn_relay_msg m = {.type = PN_RELAY_F_ERROR, .code = r};
		uint8_t tmp[32];
		struct pn_buf b;
		srv->refused_auth++;
		if (r == PN_E_EXPIRED || r == PN_E_NOT_YET_VALID) {
			char hx[PN_ID_HEX_LEN + 1];
			pn_id_hex(seen.id, hx);
			PN_LOG_INFO("relay", "peer_refused",
				    "err=%s id=%s not_before=%" PRIu64 " not_after=%" PRIu64
				    " now=%" PRIu64 " skew_s=%d",
				    pn_errname(r), hx, seen.not_before, seen.not_after, now_s,
				    PN_TRUST_DEFAULT_SKEW);
		} else {
			PN_LOG_INFO("relay", "peer_refused", "err=%s", pn_errname(r));
		}
		pn_buf_init_wr(&b, tmp, sizeof(tmp));
		if (pn_relay_msg_encode(&m, &b) == 0)
			pn_rstream_send(s, tmp, pn_buf_len(&b), 0);
		pn_rstream_close(s, r, 1);
		return 0;
	}
	c->peer = pn_relay_core_attach(srv->core, c,
				       c->info.type == PN_CRED_CLIENT ? PN_RELAY_ROLE_CLIENT
								      : PN_RELAY_ROLE_CONNECTOR,
				       c->info.id);
	if (!c->peer)
		return -ENOMEM;
	srv->nconns++;
	pn_id_hex(c->info.id, hex);
	PN_LOG_INFO("relay", "peer_up", "role=%s id=%s ws=%d", pn_cred_type_name(c->info.type), hex,
		    pn_rstream_is_ws(s));
	return 0;
}

static int s_on_frame(struct pn_rstream *s, const struct pn_relay_frame *f, void *user)
{
	struct conn *c = user;

	if (!c->peer) /* refused, closing */
		return PN_E_CLOSED;
	return pn_relay_core_frame(c->srv->core, c->peer, f, uv_now(c->srv->loop));
}

static void maybe_finish_close(struct pn_relay_server *srv);

static void s_on_close(struct pn_rstream *s, int err, void *user)
{
	struct conn *c = user;
	struct pn_relay_server *srv = c->srv;

	release_pending(srv, c);
	if (!c->peer)
		PN_LOG_DEBUG("relay", "conn_refused", "err=%s", pn_errname(err));
	if (c->peer) {
		char hex[PN_ID_HEX_LEN + 1];
		pn_id_hex(c->info.id, hex);
		PN_LOG_INFO("relay", "peer_down", "role=%s id=%s err=%s",
			    pn_cred_type_name(c->info.type), hex, pn_errname(err));
		pn_relay_core_detach(srv->core, c->peer);
		srv->nconns--;
	}
	conn_unlink(srv, c);
	free(c);
	maybe_finish_close(srv);
}

static const struct pn_rstream_ops stream_ops = {
    .on_ready = s_on_ready,
    .on_frame = s_on_frame,
    .on_close = s_on_close,
};

static void refused_closed(uv_handle_t *h)
{
	free(h);
}

static void refuse(uv_stream_t *server)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	if (!t)
		return;
	uv_tcp_init(server->loop, t);
	if (uv_accept(server, (uv_stream_t *)t) == 0) {
		/* RST instead of FIN: no TIME_WAIT state for refused floods. */
		uv_tcp_close_reset(t, refused_closed);
		return;
	}
	uv_close((uv_handle_t *)t, refused_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct pn_relay_server *srv = server->data;
	struct sockaddr_storage ss;
	struct pn_relay_addr a;
	struct ipcount *ipc;
	struct conn *c;
	int len = sizeof(ss);

	if (status < 0 || srv->closing)
		return;
	if (srv->npending >= srv->cfg.max_pending) {
		/* Full: drop the oldest unfinished handshake, not the newcomer.  A
		 * legitimate handshake takes milliseconds, so under a flood it
		 * still completes unless the attacker refills the whole table
		 * faster than that. */
		struct conn *old = srv->pend_old;
		srv->refused_pending++;
		if (!old) {
			refuse(server);
			return;
		}
		release_pending(srv, old);
		pn_rstream_close(old->s, PN_E_RELAY_LIMIT, 0);
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		refuse(server);
		return;
	}
	c->srv = srv;
	if (pn_rstream_accept(server, &srv->scfg, &stream_ops, c, &c->s)) {
		free(c);
		return;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	/* Per-source cap on unauthenticated connections (IPv4 as v4-mapped). */
	memcpy(&ss, pn_rstream_peer_addr(c->s), sizeof(ss));
	(void)len;
	pn_relay_addr_from_sa(&a, (struct sockaddr *)&ss);
	ipc = pn_idmap_get(&srv->ipmap, a.ip);
	if (ipc && ipc->n >= srv->cfg.max_pending_per_ip) {
		srv->refused_pending++;
		pn_rstream_close(c->s, PN_E_RELAY_LIMIT, 0);
		return;
	}
	if (!ipc) {
		if (!(ipc = calloc(1, sizeof(*ipc))) ||
		    (memcpy(ipc->ip, a.ip, 16), pn_idmap_put(&srv->ipmap, ipc))) {
			free(ipc);
			pn_rstream_close(c->s, -ENOMEM, 0);
			return;
		}
	}
	ipc->n++;
	c->ipc = ipc;
	srv->npending++;
	c->pnext = srv->pend_new;
	if (srv->pend_new)
		srv->pend_new->pprev = c;
	else
		srv->pend_old = c;
	srv->pend_new = c;
}

/* ---- timers, stats ---- */

void pn_relay_server_stats_line(const struct pn_relay_server *srv, char *buf, size_t n)
{
	const struct pn_relay_stats *st = pn_relay_core_stats(srv->core);

	snprintf(buf, n,
		 "sessions=%llu peers=%llu connectors=%llu pending=%u opened=%llu closed=%llu "
		 "denied=%llu "
		 "udp_rx_pkts=%llu udp_rx_bytes=%llu fwd_pkts=%llu fwd_bytes=%llu tx_pkts=%llu "
		 "tx_bytes=%llu "
		 "gso_sends=%llu stun=%llu binds_ok=%llu binds_bad=%llu binds_challenged=%llu "
		 "drop_malformed=%llu "
		 "drop_no_session=%llu "
		 "drop_addr=%llu drop_queue=%llu drop_amplification=%llu tx_drops=%llu "
		 "refused_pending=%llu "
		 "refused_auth=%llu gro=%d gso=%d",
		 (unsigned long long)st->sessions, (unsigned long long)st->peers,
		 (unsigned long long)st->connectors, srv->npending,
		 (unsigned long long)st->sessions_opened, (unsigned long long)st->sessions_closed,
		 (unsigned long long)st->opens_denied, (unsigned long long)st->udp_rx_pkts,
		 (unsigned long long)st->udp_rx_bytes, (unsigned long long)st->fwd_pkts,
		 (unsigned long long)st->fwd_bytes, (unsigned long long)srv->tx_pkts,
		 (unsigned long long)srv->tx_bytes, (unsigned long long)srv->gso_sends,
		 (unsigned long long)st->stun, (unsigned long long)st->binds_ok,
		 (unsigned long long)st->binds_bad, (unsigned long long)st->binds_challenged,
		 (unsigned long long)st->drop_malformed, (unsigned long long)st->drop_no_session,
		 (unsigned long long)st->drop_addr, (unsigned long long)st->drop_queue,
		 (unsigned long long)st->drop_amplification, (unsigned long long)srv->tx_drops,
		 (unsigned long long)srv->refused_pending, (unsigned long long)srv->refused_auth,
		 srv->gro, srv->gso);
}

static void log_stats(struct pn_relay_server *srv)
{
	char line[1024];
	pn_relay_server_stats_line(srv, line, sizeof(line));
	PN_LOG_INFO("relay", "stats", "%s", line);
}

static void on_stats(uv_timer_t *t)
{
	log_stats(t->data);
}

static void on_sigusr1(uv_signal_t *h, int sig)
{
	log_stats(h->data);
}

static void on_sweep(uv_timer_t *t)
{
	struct pn_relay_server *srv = t->data;
	uint64_t now = uv_now(srv->loop);

	pn_relay_core_tick(srv->core, now);
	/* Authenticated streams must show life (PING) within the idle limit. */
	for (struct conn *c = srv->conns; c; c = c->next)
		if (c->peer && now - pn_rstream_last_rx(c->s) > PN_RELAY_CONN_IDLE_MS)
			pn_rstream_close(c->s, PN_E_TIMEOUT, 0);
}

/* ---- lifecycle ---- */

int pn_relay_server_udp_port(const struct pn_relay_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (srv->udp_fd < 0 || getsockname(srv->udp_fd, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

int pn_relay_server_tls_port(const struct pn_relay_server *srv)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (!srv->cfg.tls_addr || uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&ss, &len))
		return -1;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void free_server(struct pn_relay_server *srv)
{
	struct ipcount *ipc;
	size_t pos = 0;

	while ((ipc = pn_idmap_next(&srv->ipmap, &pos)))
		free(ipc);
	pn_idmap_fini(&srv->ipmap);
	pn_relay_core_free(srv->core);
	if (srv->cred)
		gnutls_certificate_free_credentials(srv->cred);
	while (srv->retired) {
		struct retired *r = srv->retired;
		srv->retired = r->next;
		gnutls_certificate_free_credentials(r->cred);
		free(r);
	}
	if (srv->udp_fd >= 0)
		close(srv->udp_fd);
	pn_udp_rx_fini(&srv->rx);
	free(srv);
}

int pn_relay_server_new(uv_loop_t *loop, const struct pn_relay_server_config *cfg,
			struct pn_relay_server **out)
{
	struct pn_relay_server *srv;
	struct sockaddr_storage ss;
	struct pn_cred_info self;
	int r;

	if (!cfg->anchor || !cfg->key || !cfg->cert_pem || (!cfg->udp_addr && !cfg->tls_addr))
		return PN_E_CONFIG;
	/* Refuse to serve with anything but a relay credential of the pinned CA. */
	if ((r = pn_cred_verify(cfg->anchor, cfg->cert_pem, strlen(cfg->cert_pem), PN_CRED_RELAY,
				(uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &self)))
		return r;
	if (!(srv = calloc(1, sizeof(*srv))))
		return -ENOMEM;
	srv->loop = loop;
	srv->cfg = *cfg;
	srv->udp_fd = -1;
	if ((r = pn_relay_core_new(&cfg->limits, &core_ops, srv, &srv->core)))
		goto out;
	if ((r = pn_idmap_init(&srv->ipmap, offsetof(struct ipcount, ip), 16, 64)))
		goto out;
	if ((r = pn_cred_tls_credentials(cfg->key, cfg->cert_pem, cfg->anchor, &srv->cred)))
		goto out;
	srv->scfg.server = 1;
	srv->scfg.cred = srv->cred;
	srv->scfg.rxbuf = srv->rxbuf;
	srv->scfg.plainbuf = srv->plainbuf;
	srv->scfg.ws_path = cfg->ws_path;
	if (cfg->udp_addr) {
		if ((r = pn_relay_parse_addr(cfg->udp_addr, &ss)) || (r = udp_open(srv, &ss)))
			goto out;
	}
	if (cfg->tls_addr && (r = pn_relay_parse_addr(cfg->tls_addr, &ss)))
		goto out;

	/* From here on handles exist: failures go through close. */
	uv_tcp_init(loop, &srv->tcp);
	srv->tcp.data = srv;
	uv_timer_init(loop, &srv->sweep);
	uv_timer_init(loop, &srv->stats);
	uv_signal_init(loop, &srv->sigusr1);
	srv->sweep.data = srv->stats.data = srv->sigusr1.data = srv;
	srv->handles = 4;
	if (srv->udp_fd >= 0) {
		uv_poll_init(loop, &srv->poll, srv->udp_fd);
		srv->poll.data = srv;
		srv->handles++;
		uv_poll_start(&srv->poll, UV_READABLE, on_udp);
	}
	if (cfg->tls_addr) {
		if ((r = uv_tcp_bind(&srv->tcp, (struct sockaddr *)&ss, 0)) ||
		    (r = uv_listen((uv_stream_t *)&srv->tcp, 1024, on_connection))) {
			pn_relay_server_close(srv, NULL, NULL);
			return r;
		}
	}
	uv_timer_start(&srv->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	if (cfg->stats_ms)
		uv_timer_start(&srv->stats, on_stats, cfg->stats_ms, cfg->stats_ms);
	uv_signal_start(&srv->sigusr1, on_sigusr1, SIGUSR1);
	PN_LOG_INFO("relay", "listening", "udp=%s tls=%s ws_path=%s gro=%d gso=%d",
		    cfg->udp_addr ? cfg->udp_addr : "-", cfg->tls_addr ? cfg->tls_addr : "-",
		    cfg->ws_path ? cfg->ws_path : "-", srv->gro, srv->gso);
	*out = srv;
	return 0;
out:
	free_server(srv);
	return r;
}

int pn_relay_server_set_credential(struct pn_relay_server *srv, const struct pn_key *key,
				   const char *cert_pem)
{
	gnutls_certificate_credentials_t cred;
	struct pn_cred_info self;
	struct retired *old;
	int r;

	if ((r = pn_cred_verify(srv->cfg.anchor, cert_pem, strlen(cert_pem), PN_CRED_RELAY,
				(uint64_t)pn_wall_s(), PN_TRUST_DEFAULT_SKEW, &self)))
		return r;
	if (!(old = calloc(1, sizeof(*old))))
		return -ENOMEM;
	if ((r = pn_cred_tls_credentials(key, cert_pem, srv->cfg.anchor, &cred))) {
		free(old);
		return r;
	}
	old->cred = srv->cred;
	old->next = srv->retired;
	srv->retired = old;
	srv->cred = cred;
	srv->scfg.cred = cred; /* new connections from now on */
	srv->cfg.key = NULL;   /* the borrowed originals are no longer used */
	srv->cfg.cert_pem = NULL;
	PN_LOG_INFO("relay", "credential_renewed", "not_after=%llu",
		    (unsigned long long)self.not_after);
	return 0;
}

static void maybe_finish_close(struct pn_relay_server *srv)
{
	if (!srv->closing || srv->handles || srv->conns)
		return;
	void (*cb)(void *) = srv->close_cb;
	void *arg = srv->close_arg;
	free_server(srv);
	if (cb)
		cb(arg);
}

static void handle_closed(uv_handle_t *h)
{
	struct pn_relay_server *srv = h->data;
	srv->handles--;
	maybe_finish_close(srv);
}

void pn_relay_server_close(struct pn_relay_server *srv, void (*cb)(void *arg), void *arg)
{
	if (srv->closing)
		return;
	srv->closing = 1;
	srv->close_cb = cb;
	srv->close_arg = arg;
	for (struct conn *c = srv->conns; c; c = c->next)
		pn_rstream_close(c->s, PN_E_CLOSED, 0);
	uv_close((uv_handle_t *)&srv->tcp, handle_closed);
	uv_close((uv_handle_t *)&srv->sweep, handle_closed);
	uv_close((uv_handle_t *)&srv->stats, handle_closed);
	uv_close((uv_handle_t *)&srv->sigusr1, handle_closed);
	if (srv->udp_fd >= 0)
		uv_close((uv_handle_t *)&srv->poll, handle_closed);
}
