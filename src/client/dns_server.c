/* The client's local DNS responder; see dns_server.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/dns_server.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#define OUT_MAX	   (PN_DNS_EDNS_UDP + 512)
#define UDP_RX_MAX 4096

struct pn_dnssrv {
	uv_loop_t *loop;
	const struct pn_dnsr *core;
	const struct pn_dnssrv_tunnel *tun;
	struct sockaddr_storage up[PN_DNSSRV_MAX_UPSTREAMS];
	unsigned nup;
	uv_udp_t udp;
	uv_tcp_t tcp;
	unsigned handles, pending, ntcs;
	int closing;
	struct fwd *fwds;  /* forwarded queries in flight */
	struct tconn *tcs; /* TCP clients */
	uint64_t queries, local, forwarded, tunneled, failed, dropped;
	uint64_t mismatched; /* upstream replies ignored: wrong source, id or question */
	void (*close_cb)(void *);
	void *close_arg;
};

/* ------------------------------------------------------------ helpers -- */

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
	}
	return 0;
}

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void srv_free_if_done(struct pn_dnssrv *s)
{
	if (!s->closing || s->handles || s->fwds || s->tcs)
		return;
	if (s->close_cb)
		s->close_cb(s->close_arg);
	free(s);
}

/* ---------------------------------------------------- UDP forwarding -- */

/* One forwarded query (UDP or TCP requester). */
struct fwd {
	struct pn_dnssrv *s;
	struct fwd *prev, *next;
	struct tconn *tc; /* TCP requester, or NULL for UDP */
	struct sockaddr_storage from;
	unsigned try_idx;
	uint16_t id;	/* the requester's */
	uint16_t up_id; /* random, of the attempt upstream (in q while it runs) */
	int handles;
	int done;
	uv_udp_t *u; /* UDP upstream of this attempt */
	uv_tcp_t *t; /* TCP upstream of this attempt */
	uv_timer_t timer;
	uint8_t *rbuf; /* TCP upstream reply: 2 + up to 65535 */
	size_t rlen;
	/* through the tunnel: the parsed query, the requester's limit, the
	   query's handle while it runs */
	struct pn_dns_msg *m;
	size_t max;
	void *th;
	size_t qlen;
	uint8_t q[]; /* the query, with a TCP length prefix in q[0..1] */
};

struct tconn {
	struct pn_dnssrv *s;
	struct tconn *prev, *next;
	uv_tcp_t tcp;
	uint8_t buf[2 + PN_DNS_MSG_MAX];
	size_t len;
	int busy; /* a query is being forwarded: not reading */
	int closing;
	unsigned writes;
};

static void tconn_close(struct tconn *tc);
static void tconn_process(struct tconn *tc);
static void fwd_try(struct fwd *f);

static void udp_send_done(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req);
}

/* Reply to a UDP requester (copied). */
static void udp_reply(struct pn_dnssrv *s, const struct sockaddr *to, const uint8_t *p, size_t n)
{
	uv_udp_send_t *req;
	uv_buf_t b;

	if (s->closing || !(req = malloc(sizeof(*req) + n)))
		return;
	memcpy(req + 1, p, n);
	b = uv_buf_init((char *)(req + 1), (unsigned)n);
	if (uv_udp_send(req, &s->udp, &b, 1, to, udp_send_done) != 0)
		free(req);
}

struct twreq {
	uv_write_t w;
	struct tconn *tc;
	uint8_t data[];
};

static void tcp_written(uv_write_t *w, int status)
{
	struct twreq *r = (struct twreq *)w;
	struct tconn *tc = r->tc;

	free(r);
	tc->writes--;
	if (status != 0) {
		tconn_close(tc);
		return;
	}
	if (tc->closing && !tc->writes)
		tconn_close(tc);
}

/* Reply to a TCP requester: length prefix + message. */
static void tcp_reply(struct tconn *tc, const uint8_t *p, size_t n)
{
	struct twreq *r;
	uv_buf_t b;

	if (tc->closing || n > PN_DNS_MSG_MAX || !(r = malloc(sizeof(*r) + 2 + n))) {
		tconn_close(tc);
		return;
	}
	r->tc = tc;
	pn_store_be16(r->data, (uint16_t)n);
	memcpy(r->data + 2, p, n);
	b = uv_buf_init((char *)r->data, (unsigned)(n + 2));
	tc->writes++;
	if (uv_write(&r->w, (uv_stream_t *)&tc->tcp, &b, 1, tcp_written) != 0) {
		tc->writes--;
		free(r);
		tconn_close(tc);
	}
}

static void fwd_handle_closed(uv_handle_t *h)
{
	struct fwd *f = h->data;
	struct pn_dnssrv *s = f->s;

	if (--f->handles > 0)
		return;
	if (f->prev)
		f->prev->next = f->next;
	else
		s->fwds = f->next;
	if (f->next)
		f->next->prev = f->prev;
	s->pending--;
	free(f->rbuf);
	free(f->m);
	free(f);
	srv_free_if_done(s);
}

/* Upstream handles are allocated per attempt: a retry never reuses a
 * handle libuv is still closing. */
static void up_handle_closed(uv_handle_t *h)
{
	struct fwd *f = h->data;
	free(h);
	fwd_handle_closed((uv_handle_t *)&f->timer);
}

static void fwd_close_upstream(struct fwd *f)
{
	if (f->u) {
		uv_close((uv_handle_t *)f->u, up_handle_closed);
		f->u = NULL;
	}
	if (f->t) {
		uv_close((uv_handle_t *)f->t, up_handle_closed);
		f->t = NULL;
	}
}

/* The query is over: answered (reply != NULL), or failed. */
static void fwd_finish(struct fwd *f, const uint8_t *reply, size_t n)
{
	struct pn_dnssrv *s = f->s;
	uint8_t err[PN_DNS_HDR_LEN];
	size_t elen;

	if (f->done)
		return;
	f->done = 1;
	pn_store_be16(f->q + 2, f->id); /* the requester's id again (SERVFAIL below) */
	if (f->th) {
		void *th = f->th;
		f->th = NULL;
		s->tun->cancel(s->tun->user, th);
	}
	if (!reply) {
		s->failed++;
		if (pn_dns_error_reply(f->q + 2, f->qlen, PN_DNS_SERVFAIL, err, sizeof(err),
				       &elen) == 0) {
			reply = err;
			n = elen;
		}
	}
	if (f->tc) {
		struct tconn *tc = f->tc;
		f->tc = NULL;
		tc->busy = 0;
		if (reply)
			tcp_reply(tc, reply, n);
		if (reply && !tc->closing)
			tconn_process(tc);
		else
			tconn_close(tc);
	} else if (reply) {
		udp_reply(s, (struct sockaddr *)&f->from, reply, n);
	}
	uv_timer_stop(&f->timer);
	fwd_close_upstream(f);
	uv_close((uv_handle_t *)&f->timer, fwd_handle_closed);
}

static void up_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static uint8_t scratch[UDP_RX_MAX]; /* loop thread only */
	(void)h;
	(void)hint;
	*buf = uv_buf_init((char *)scratch, sizeof(scratch));
}

static void up_udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
			unsigned flags)
{
	struct fwd *f = u->data;

	(void)flags;
	if (n <= 0 || !from || f->done)
		return;
	/* Only the answer to this attempt: from the resolver asked (the socket
	 * is connected to it, checked again here), with the random id it was
	 * sent and the same question.  Anything else (spoofed, late, another
	 * question) is ignored and the query waits for the real one. */
	if (f->try_idx == 0 || !pn_addr_equal(from, (const struct sockaddr *)&f->s->up[f->try_idx - 1]) ||
	    !pn_dnsr_reply_matches(f->q + 2, f->qlen, f->up_id, (uint8_t *)buf->base, (size_t)n)) {
		f->s->mismatched++;
		return;
	}
	pn_store_be16((uint8_t *)buf->base, f->id);
	fwd_finish(f, (uint8_t *)buf->base, (size_t)n);
}

static void up_tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct fwd *f = h->data;
	(void)hint;
	*buf = uv_buf_init((char *)f->rbuf + f->rlen, (unsigned)(2 + PN_DNS_MSG_MAX - f->rlen));
}

static void up_tcp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct fwd *f = st->data;
	size_t mlen;

	(void)buf;
	if (f->done)
		return;
	if (n < 0) {
		fwd_close_upstream(f);
		fwd_try(f);
		return;
	}
	f->rlen += (size_t)n;
	if (f->rlen < 2)
		return;
	mlen = pn_load_be16(f->rbuf);
	if (f->rlen < 2 + mlen)
		return;
	if (!pn_dnsr_reply_matches(f->q + 2, f->qlen, f->up_id, f->rbuf + 2, mlen)) {
		f->s->mismatched++;
		fwd_close_upstream(f);
		fwd_try(f);
		return;
	}
	pn_store_be16(f->rbuf + 2, f->id);
	fwd_finish(f, f->rbuf + 2, mlen);
}

static void up_tcp_written(uv_write_t *w, int status)
{
	struct fwd *f = w->data;
	free(w);
	if (status != 0 && !f->done) {
		fwd_close_upstream(f);
		fwd_try(f);
	}
}

static void up_tcp_connected(uv_connect_t *c, int status)
{
	struct fwd *f = c->data;
	uv_write_t *w;
	uv_buf_t b;

	free(c);
	if (status == UV_ECANCELED || f->done)
		return;
	if (status != 0 || !(w = malloc(sizeof(*w)))) {
		fwd_close_upstream(f);
		fwd_try(f);
		return;
	}
	w->data = f;
	b = uv_buf_init((char *)f->q, (unsigned)(f->qlen + 2));
	if (uv_write(w, (uv_stream_t *)f->t, &b, 1, up_tcp_written) != 0 ||
	    uv_read_start((uv_stream_t *)f->t, up_tcp_alloc, up_tcp_read) != 0) {
		fwd_close_upstream(f);
		fwd_try(f);
	}
}

static void fwd_timeout(uv_timer_t *t)
{
	struct fwd *f = t->data;
	if (f->m) { /* through the tunnel: no other resolver to try */
		fwd_finish(f, NULL, 0);
		return;
	}
	fwd_close_upstream(f);
	fwd_try(f);
}

void pn_dnssrv_tunnel_done(void *ctx, const uint8_t *reply, size_t len)
{
	struct fwd *f = ctx;
	uint8_t *buf;
	size_t cap = len > 1024 ? len : 1024, n = len;

	f->th = NULL; /* over: nothing to cancel */
	if (f->done)
		return;
	if (!reply || !(buf = malloc(cap))) {
		fwd_finish(f, NULL, 0);
		return;
	}
	memcpy(buf, reply, len);
	if (pn_dnsr_tunnel_reply(f->m, f->q + 2, f->qlen, buf, &n, cap, f->max) != 0)
		fwd_finish(f, NULL, 0);
	else
		fwd_finish(f, buf, n);
	free(buf);
}

/* Ask the next resolver (or fail when all were asked). */
static void fwd_try(struct fwd *f)
{
	struct pn_dnssrv *s = f->s;
	const struct sockaddr *up;
	int r;

	if (f->done)
		return;
	if (f->try_idx >= s->nup || s->closing) {
		fwd_finish(f, NULL, 0);
		return;
	}
	up = (const struct sockaddr *)&s->up[f->try_idx++];
	/* A fresh random id per attempt (the requester's may be guessable);
	 * the source port is the kernel's random ephemeral one, per attempt. */
	if (pn_random(&f->up_id, sizeof(f->up_id)) != 0) {
		fwd_finish(f, NULL, 0);
		return;
	}
	pn_store_be16(f->q + 2, f->up_id);
	uv_timer_start(&f->timer, fwd_timeout, PN_DNSSRV_TRY_MS, 0);
	if (f->tc) {
		if (!f->rbuf && !(f->rbuf = malloc(2 + PN_DNS_MSG_MAX))) {
			fwd_finish(f, NULL, 0);
			return;
		}
		uv_connect_t *c = malloc(sizeof(*c));
		f->rlen = 0;
		if (!c || !(f->t = malloc(sizeof(*f->t)))) {
			free(c);
			fwd_finish(f, NULL, 0);
			return;
		}
		uv_tcp_init(s->loop, f->t);
		f->t->data = f;
		f->handles++;
		c->data = f;
		if ((r = uv_tcp_connect(c, f->t, up, up_tcp_connected)) != 0) {
			free(c);
			fwd_close_upstream(f);
			fwd_try(f);
		}
		return;
	}
	{
		uv_buf_t b = uv_buf_init((char *)f->q + 2, (unsigned)f->qlen);
		if (!(f->u = malloc(sizeof(*f->u)))) {
			fwd_finish(f, NULL, 0);
			return;
		}
		uv_udp_init(s->loop, f->u);
		f->u->data = f;
		f->handles++;
		if ((r = uv_udp_connect(f->u, up)) != 0 ||
		    (r = uv_udp_recv_start(f->u, up_alloc, up_udp_recv)) != 0 ||
		    uv_udp_try_send(f->u, &b, 1, NULL) < 0) {
			fwd_close_upstream(f);
			fwd_try(f);
		}
	}
}

static struct fwd *fwd_new(struct pn_dnssrv *s, struct tconn *tc, const struct sockaddr *from,
			   const uint8_t *q, size_t n)
{
	struct fwd *f;
	uint8_t err[PN_DNS_HDR_LEN];
	size_t elen;

	if (s->pending >= PN_DNSSRV_PENDING_MAX || !(f = calloc(1, sizeof(*f) + 2 + n))) {
		s->failed++;
		if (pn_dns_error_reply(q, n, PN_DNS_SERVFAIL, err, sizeof(err), &elen) == 0) {
			if (tc)
				tcp_reply(tc, err, elen);
			else
				udp_reply(s, from, err, elen);
		}
		return NULL;
	}
	f->s = s;
	f->tc = tc;
	if (from)
		memcpy(&f->from, from,
		       from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in));
	pn_store_be16(f->q, (uint16_t)n);
	memcpy(f->q + 2, q, n);
	f->qlen = n;
	f->id = pn_load_be16(q);
	uv_timer_init(s->loop, &f->timer);
	f->timer.data = f;
	f->handles = 1;
	f->next = s->fwds;
	if (s->fwds)
		s->fwds->prev = f;
	s->fwds = f;
	s->pending++;
	if (tc)
		tc->busy = 1;
	return f;
}

static void forward(struct pn_dnssrv *s, struct tconn *tc, const struct sockaddr *from,
		    const uint8_t *q, size_t n)
{
	struct fwd *f = fwd_new(s, tc, from, q, n);

	if (!f)
		return;
	s->forwarded++;
	fwd_try(f);
}

/* Other records of a protected name: the connector's resolver answers. */
static void tunnel(struct pn_dnssrv *s, struct tconn *tc, const struct sockaddr *from,
		   const uint8_t *q, size_t n, const struct pn_dns_msg *m)
{
	struct fwd *f = fwd_new(s, tc, from, q, n);

	if (!f)
		return;
	s->tunneled++;
	if (!(f->m = malloc(sizeof(*f->m)))) {
		fwd_finish(f, NULL, 0);
		return;
	}
	*f->m = *m;
	f->max = tc ? PN_DNS_MSG_MAX : pn_dns_udp_limit(m);
	uv_timer_start(&f->timer, fwd_timeout, PN_DNSSRV_TUNNEL_MS, 0);
	if (s->tun->ask(s->tun->user, m->qname, q, n, f, &f->th) != 0) {
		f->th = NULL;
		fwd_finish(f, NULL, 0);
	}
}

/* One query from a requester: answer, forward or drop. */
static void handle_query(struct pn_dnssrv *s, struct tconn *tc, const struct sockaddr *from,
			 const uint8_t *q, size_t n)
{
	struct pn_dns_msg m;
	uint8_t out[OUT_MAX];
	size_t olen;

	s->queries++;
	switch (
	    pn_dnsr_decide(s->core, q, n, tc ? PN_DNS_MSG_MAX : 0, &m, out, sizeof(out), &olen)) {
	case PN_DNSR_ANSWER:
		s->local++;
		if (tc)
			tcp_reply(tc, out, olen);
		else
			udp_reply(s, from, out, olen);
		break;
	case PN_DNSR_FORWARD: forward(s, tc, from, q, n); break;
	case PN_DNSR_TUNNEL:
		if (s->tun) {
			tunnel(s, tc, from, q, n, &m);
			break;
		}
		forward(s, tc, from, q, n); /* (a core with `tunnel` needs a tunnel) */
		break;
	default:
		s->dropped++;
		if (tc)
			tconn_close(tc);
		break;
	}
}

/* ---------------------------------------------------------------- UDP -- */

static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static uint8_t rx[UDP_RX_MAX]; /* loop thread only */
	(void)h;
	(void)hint;
	*buf = uv_buf_init((char *)rx, sizeof(rx));
}

static void udp_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		     unsigned flags)
{
	struct pn_dnssrv *s = u->data;

	if (n <= 0 || !from || s->closing || (flags & UV_UDP_PARTIAL))
		return;
	if (!is_loopback(from)) {
		s->dropped++;
		return;
	}
	handle_query(s, NULL, from, (uint8_t *)buf->base, (size_t)n);
}

/* ---------------------------------------------------------------- TCP -- */

static void tconn_closed(uv_handle_t *h)
{
	struct tconn *tc = h->data;
	struct pn_dnssrv *s = tc->s;

	if (tc->prev)
		tc->prev->next = tc->next;
	else
		s->tcs = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	s->ntcs--;
	free(tc);
	srv_free_if_done(s);
}

static void tconn_close(struct tconn *tc)
{
	tc->closing = 1;
	if (tc->busy || tc->writes)
		return; /* after the forwarded query / writes end */
	if (!uv_is_closing((uv_handle_t *)&tc->tcp))
		uv_close((uv_handle_t *)&tc->tcp, tconn_closed);
}

/* Serve complete messages in the buffer, one at a time. */
static void tconn_process(struct tconn *tc)
{
	while (!tc->busy && !tc->closing && tc->len >= 2) {
		size_t mlen = pn_load_be16(tc->buf);
		uint8_t q[PN_DNS_MSG_MAX];
		if (tc->len < 2 + mlen)
			break;
		memcpy(q, tc->buf + 2, mlen);
		memmove(tc->buf, tc->buf + 2 + mlen, tc->len - 2 - mlen);
		tc->len -= 2 + mlen;
		handle_query(tc->s, tc, NULL, q, mlen);
	}
	if (tc->closing)
		tconn_close(tc);
}

static void tconn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct tconn *tc = h->data;
	(void)hint;
	*buf = uv_buf_init((char *)tc->buf + tc->len, (unsigned)(sizeof(tc->buf) - tc->len));
}

static void tconn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct tconn *tc = st->data;

	(void)buf;
	if (n < 0) {
		uv_read_stop(st);
		tconn_close(tc);
		return;
	}
	tc->len += (size_t)n;
	tconn_process(tc);
}

static void on_tcp(uv_stream_t *server, int status)
{
	struct pn_dnssrv *s = server->data;
	struct sockaddr_storage peer;
	int plen = sizeof(peer);
	struct tconn *tc;

	if (status != 0 || s->closing || !(tc = calloc(1, sizeof(*tc))))
		return;
	if (s->ntcs >= PN_DNSSRV_TCP_MAX) {
		/* Room for the new one: the oldest connection not waiting for
		 * an answer goes (local programs cannot pile up buffers). */
		struct tconn *old = NULL;
		for (struct tconn *o = s->tcs; o; o = o->next)
			if (!o->busy && !o->closing)
				old = o;
		if (old)
			tconn_close(old);
	}
	s->ntcs++;
	tc->s = s;
	uv_tcp_init(s->loop, &tc->tcp);
	tc->tcp.data = tc;
	tc->next = s->tcs;
	if (s->tcs)
		s->tcs->prev = tc;
	s->tcs = tc;
	if (uv_accept(server, (uv_stream_t *)&tc->tcp) != 0 ||
	    uv_tcp_getpeername(&tc->tcp, (struct sockaddr *)&peer, &plen) != 0 ||
	    !is_loopback((struct sockaddr *)&peer) ||
	    uv_read_start((uv_stream_t *)&tc->tcp, tconn_alloc, tconn_read) != 0)
		tconn_close(tc);
}

/* ----------------------------------------------------------- lifecycle -- */

int pn_dnssrv_new(const struct pn_dnssrv_config *cfg, struct pn_dnssrv **out)
{
	struct pn_dnssrv *s;
	const struct sockaddr *la = (const struct sockaddr *)cfg->listen;
	char ip[INET6_ADDRSTRLEN] = "?";
	int r;

	*out = NULL;
	if (!is_loopback(la) || cfg->nupstreams == 0 || cfg->nupstreams > PN_DNSSRV_MAX_UPSTREAMS)
		return PN_E_CONFIG;
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->loop = cfg->loop;
	s->core = cfg->core;
	s->tun = cfg->tunnel;
	s->nup = cfg->nupstreams;
	memcpy(s->up, cfg->upstreams, sizeof(*s->up) * s->nup);
	uv_udp_init(s->loop, &s->udp);
	uv_tcp_init(s->loop, &s->tcp);
	s->udp.data = s;
	s->tcp.data = s;
	s->handles = 2;
	if ((r = uv_udp_bind(&s->udp, la, 0)) != 0 ||
	    (r = uv_udp_recv_start(&s->udp, udp_alloc, udp_recv)) != 0 ||
	    (r = uv_tcp_bind(&s->tcp, la, 0)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&s->tcp, 128, on_tcp)) != 0) {
		pn_dnssrv_close(s, NULL, NULL);
		return r;
	}
	if (la->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)la)->sin_addr, ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)la)->sin6_addr, ip, sizeof(ip));
	PN_LOG_INFO("client", "dns_listening", "addr=%s port=%u upstreams=%u", ip,
		    ntohs(((const struct sockaddr_in *)la)->sin_port), s->nup);
	(void)sa_len;
	*out = s;
	return 0;
}

json_t *pn_dnssrv_status(const struct pn_dnssrv *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "queries", (json_int_t)s->queries,
			 "local", (json_int_t)s->local, "forwarded", (json_int_t)s->forwarded,
			 "tunneled", (json_int_t)s->tunneled, "failed",
			 (json_int_t)s->failed, "dropped", (json_int_t)s->dropped, "mismatched",
			 (json_int_t)s->mismatched);
}

static void srv_handle_closed(uv_handle_t *h)
{
	struct pn_dnssrv *s = h->data;
	s->handles--;
	srv_free_if_done(s);
}

void pn_dnssrv_close(struct pn_dnssrv *s, void (*cb)(void *arg), void *arg)
{
	if (!s)
		return;
	s->closing = 1;
	s->close_cb = cb;
	s->close_arg = arg;
	for (struct fwd *f = s->fwds; f; f = f->next)
		if (!f->done) {
			f->try_idx = s->nup;
			fwd_finish(f, NULL, 0);
		}
	for (struct tconn *tc = s->tcs; tc; tc = tc->next)
		if (!uv_is_closing((uv_handle_t *)&tc->tcp)) {
			tc->busy = 0;
			tc->closing = 1;
			uv_close((uv_handle_t *)&tc->tcp, tconn_closed);
		}
	uv_close((uv_handle_t *)&s->udp, srv_handle_closed);
	uv_close((uv_handle_t *)&s->tcp, srv_handle_closed);
}
