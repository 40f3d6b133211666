/* The client's front ends: one accepted connection (SOCKS5 request or
 * port forward) and its flow, both directions with backpressure; see
 * proxy.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/proxy_int.h"
#include "client/socks5.h"
#include "client/tunnels.h"
#include "client/udpassoc.h"
#include "core/accept.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "trust/acl.h"

/* Nothing of ours is left to write: a connection to close once drained
 * closes now. */
static void maybe_close_drained(struct conn *c)
{
	if (c->writes_pending == 0 && !pn_swriter_busy(&c->w) && c->close_when_drained)
		px_conn_close(c, 0);
}

/* A reply's write ended; a failed write means the application went away:
 * reset the flow towards the resource. */
static void on_write(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct conn *c = wr->c;

	free(wr);
	c->writes_pending--;
	if (c->closing)
		return;
	if (status < 0 && status != UV_ECANCELED) {
		px_conn_close(c, 1);
		return;
	}
	maybe_close_drained(c);
}

/* One reply of the proxy's own (SOCKS), copied: written in order with the
 * flow data, which only follows replies. */
static int tcp_send(struct conn *c, const uint8_t *p, size_t n)
{
	struct wreq *wr = malloc(sizeof(*wr) + n);
	uv_buf_t b;
	int r;

	if (!wr)
		return -ENOMEM;
	wr->c = c;
	memcpy(wr->data, p, n);
	b = uv_buf_init((char *)wr->data, (unsigned)n);
	if ((r = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write)) != 0) {
		free(wr);
		return r;
	}
	c->writes_pending++;
	return 0;
}

/* Flow data into the application's connection (core/swriter.h): the first
 * bytes of a burst go out at once, what arrives meanwhile together; the
 * flow's FIN follows every byte.  Nothing comes once the connection is
 * closing (px_conn_close stops the writer). */
static void data_consumed(size_t n, void *user)
{
	struct conn *c = user;

	if (c->flow)
		pn_flow_consumed(c->flow, n);
}

static void data_drained(void *user)
{
	maybe_close_drained(user);
}

static void data_error(int err, void *user)
{
	(void)err;
	px_conn_close(user, 1);
}

const struct pn_swriter_ops px_data_ops = {
    .consumed = data_consumed,
    .drained = data_drained,
    .error = data_error,
    /* a FIN that fails: the application went away, its read says so */
    .fin = NULL,
};

/* Send a buffer's content, then close once written. */
static void send_and_close(struct conn *c, struct pn_buf *out)
{
	if (pn_buf_len(out) == 0 || tcp_send(c, pn_buf_ptr(out), pn_buf_len(out)) != 0) {
		px_conn_close(c, 0);
		return;
	}
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->close_when_drained = 1;
}

static void conn_free_step(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct pn_proxy *px = c->px;

	if (--c->handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pn_swriter_fini(&c->w);
	free(c->rbuf);
	free(c);
	pn_memtrim_count(&px->trim, --px->nconns);
	if (px->closing)
		px_proxy_free_if_done(px);
}

void px_conn_close(struct conn *c, int reset)
{
	if (c->closing)
		return;
	c->closing = 1;
	pn_swriter_stop(&c->w);
	pn_ctuns_cancel(c->px->tuns, &c->req);
	if (c->flow) {
		struct pn_flow *f = c->flow;
		c->flow = NULL;
		pn_flow_close(f, PN_FLOW_RESET);
	}
	if (c->ua) {
		pn_udpassoc_close(c->ua);
		c->ua = NULL;
	}
	uv_timer_stop(&c->retry);
	uv_close((uv_handle_t *)&c->retry, conn_free_step);
	/* An error ends the application's connection with a reset, never a
	 * FIN it could take for a complete transfer. */
	if (reset && uv_tcp_close_reset(&c->tcp, conn_free_step) == 0)
		return;
	if (reset) {
		/* uv_tcp_close_reset refuses while a shutdown is queued (behind
		 * writes the application has not taken yet): reset anyway */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		uv_os_fd_t fd;
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	uv_close((uv_handle_t *)&c->tcp, conn_free_step);
}

/* Reading into the flow (not SOCKS, not before the verdict)? */
static int data_phase(const struct conn *c)
{
	return c->socks_open && c->status_seen && c->flow && !c->ua;
}

void px_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;
	size_t len = RBUF_SIZE;

	(void)hint;
	/* Reading is stopped while pend_len > 0: the shared buffer is free.
	 * In the data phase read no more than the flow takes now; at 0 libuv
	 * reports UV_ENOBUFS and reading pauses until ops.writable (the
	 * bytes wait in the socket, not in memory here). */
	if (data_phase(c) && (len = pn_flow_write_room(c->flow, RBUF_SIZE)) == 0) {
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init((char *)c->px->rbuf, (unsigned)len);
}

/* After a read into the shared buffer: bytes still pending move to a
 * buffer of their own size; otherwise the connection holds none. */
static void rbuf_keep(struct conn *c)
{
	uint8_t *p;

	if (c->rbuf != c->px->rbuf)
		return;
	c->rbuf = NULL;
	if (c->pend_len == 0 || c->closing) {
		c->pend_off = c->pend_len = c->early = 0;
		return;
	}
	if (!(p = malloc(c->pend_len))) {
		c->pend_off = c->pend_len = c->early = 0;
		px_conn_close(c, 1);
		return;
	}
	memcpy(p, c->px->rbuf + c->pend_off, c->pend_len);
	c->rbuf = p;
	c->pend_off = 0;
}

/* Every pending byte was taken: the buffer goes (not the shared one). */
static void rbuf_drained(struct conn *c)
{
	if (c->pend_len == 0 && c->early == 0 && c->rbuf != c->px->rbuf) {
		free(c->rbuf);
		c->rbuf = NULL;
	}
}

/* Push pending bytes into the flow; 1 if all were taken. */
static int push_pending(struct conn *c)
{
	while (c->pend_len > 0) {
		ssize_t n = pn_flow_write(c->flow, c->rbuf + c->pend_off, c->pend_len);
		if (n < 0) {
			px_conn_close(c, 1);
			return 0;
		}
		if (n == 0)
			return 0; /* full: ops.writable resumes */
		c->pend_off += (size_t)n;
		c->pend_len -= (size_t)n;
	}
	c->pend_off = 0;
	rbuf_drained(c);
	return 1;
}

/* Before the verdict: hand the flow what was read so far, right behind
 * its open header (the connector holds it until it has connected), and
 * keep it in rbuf until the OK.  A flow whose stream is not open yet
 * takes nothing: ops.writable comes when it is. */
static void push_early(struct conn *c)
{
	ssize_t n;

	if (!c->flow || c->status_seen || c->early >= c->pend_len)
		return;
	n = pn_flow_write(c->flow, c->rbuf + c->pend_off + c->early, c->pend_len - c->early);
	if (n > 0)
		c->early += (size_t)n;
}

static void socks_input(struct conn *c, const uint8_t *p, size_t n);

static void on_read(struct conn *c, uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

void px_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (c->closing)
		return;
	if (nread == UV_ENOBUFS) {
		/* the flow is full (px_on_alloc): ops.writable resumes */
		uv_read_stop(s);
		return;
	}
	if (nread > 0)
		c->rbuf = c->px->rbuf; /* the bytes are there */
	on_read(c, s, nread, buf);
	rbuf_keep(c);
}

static void on_read(struct conn *c, uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	if (nread == UV_EOF) {
		c->tcp_eof = 1;
		uv_read_stop(s);
		if (c->flow && c->status_seen) {
			pn_flow_shutdown(c->flow);
			return;
		}
		if (c->socks_open && !c->ua && !c->status_seen)
			return; /* before the verdict: the OK sends the FIN */
		px_conn_close(c, 0);
		return;
	}
	if (nread < 0) {
		px_conn_close(c, 1);
		return;
	}
	if (nread == 0)
		return;
	if (!c->socks_open) {
		socks_input(c, (const uint8_t *)buf->base, (size_t)nread);
		return;
	}
	if (c->ua)
		return; /* UDP association: the control connection carries nothing */
	if (!c->status_seen) {
		/* Read before the verdict (a forward reads at once): this one
		 * buffer goes into the flow early and waits for the OK. */
		uv_read_stop(s);
		c->pend_off = 0;
		c->pend_len = (size_t)nread;
		c->early = 0;
		push_early(c);
		return;
	}
	if (!c->flow)
		return;
	c->pend_off = 0;
	c->pend_len = (size_t)nread;
	if (!push_pending(c) && !c->closing)
		uv_read_stop(s);
}

static uint8_t rep_from_flow_code(int code)
{
	switch (code) {
	case PN_FLOW_OK: return PN_SOCKS5_REP_OK;
	case PN_FLOW_DENIED:
	case PN_FLOW_NO_ACL:
	case PN_FLOW_BAD_ACL:
	case PN_FLOW_REVOKED:
	case PN_FLOW_CRED: return PN_SOCKS5_REP_NOT_ALLOWED;
	case PN_FLOW_RESOLVE_FAILED:
	case PN_FLOW_UNREACHABLE:
	case PN_FLOW_TIMEOUT: return PN_SOCKS5_REP_HOST_UNREACHABLE;
	case PN_FLOW_REFUSED: return PN_SOCKS5_REP_REFUSED;
	default: return PN_SOCKS5_REP_GENERAL_FAILURE;
	}
}

/* The flow could not be opened: SOCKS gets the reply code, a forward a reset. */
static void refuse(struct conn *c, uint8_t rep, const char *why)
{
	uint8_t st[PN_SOCKS5_MAX_REPLY];
	struct pn_buf out;

	PN_LOG_WARN("client", "flow_refused", "via=%s src=%s dest=%s:%u reason=%s socks_rep=0x%02x",
		    c->ln->label, c->peer, c->req.host, c->req.port, why, rep);
	c->px->flows_refused++;
	if (!c->ln->socks) {
		px_conn_close(c, 1);
		return;
	}
	pn_buf_init_wr(&out, st, sizeof(st));
	if (pn_socks5_srv_reply(&c->socks, &out, rep, NULL) != 0) {
		px_conn_close(c, 1);
		return;
	}
	send_and_close(c, &out);
}

static void flow_status(struct pn_flow *f, const struct pn_flow_status *st, void *user)
{
	struct conn *c = user;
	char cid[PN_ID_HEX_LEN + 1];

	c->flow = f;
	c->status_seen = 1;
	c->flow_id = pn_flow_id(f);
	pn_id_hex(c->req.connector_id, cid);
	if (st->code != PN_FLOW_OK) {
		char why[200];
		snprintf(why, sizeof(why), "connector:%s", pn_flow_code_name(st->code));
		PN_LOG_WARN("client", "flow_denied", "flow=%016llx connector=%s text=\"%s\"",
			    (unsigned long long)c->flow_id, cid, st->text);
		/* ops.closed follows; the flow is released then. */
		refuse(c, rep_from_flow_code(st->code), why);
		return;
	}
	c->px->flows_ok++;
	PN_LOG_INFO("client", "flow_start", "flow=%016llx via=%s src=%s dest=%s:%u connector=%s",
		    (unsigned long long)c->flow_id, c->ln->label, c->peer, c->req.host, c->req.port,
		    cid);
	if (c->ln->socks) {
		uint8_t buf[PN_SOCKS5_MAX_REPLY];
		struct pn_buf out;

		pn_buf_init_wr(&out, buf, sizeof(buf));
		if (pn_socks5_srv_reply(&c->socks, &out, PN_SOCKS5_REP_OK, NULL) != 0 ||
		    tcp_send(c, pn_buf_ptr(&out), pn_buf_len(&out)) != 0) {
			px_conn_close(c, 1);
			return;
		}
	}
	c->socks_open = 1;
	/* Bytes the application sent ahead of the reply go first; those the
	 * flow took before the verdict are in it already. */
	c->pend_off += c->early;
	c->pend_len -= c->early;
	c->early = 0;
	if (!push_pending(c))
		return;
	if (c->tcp_eof)
		pn_flow_shutdown(c->flow);
	else
		uv_read_start((uv_stream_t *)&c->tcp, px_on_alloc, px_on_read);
}

static void flow_data(struct pn_flow *f, const uint8_t *p, size_t n, void *user)
{
	struct conn *c = user;

	(void)f;
	if (c->closing)
		return;
	/* no window of its own (0): the queue holds at most the flow's
	 * receive window, which the tunnel enforces; only memory can fail */
	if (pn_swriter_append(&c->w, p, n) != 0)
		px_conn_close(c, 1);
}

static void flow_eof(struct pn_flow *f, void *user)
{
	struct conn *c = user;

	(void)f;
	pn_swriter_eof(&c->w);
}

static void flow_writable(struct pn_flow *f, void *user)
{
	struct conn *c = user;

	(void)f;
	if (c->closing)
		return;
	if (!c->status_seen) {
		push_early(c);
		return;
	}
	if (!push_pending(c))
		return;
	if (c->tcp_eof)
		pn_flow_shutdown(c->flow);
	else
		uv_read_start((uv_stream_t *)&c->tcp, px_on_alloc, px_on_read);
}

static void retry_cb(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (!c->closing)
		px_start_flow(c);
}

static void flow_closed(struct pn_flow *f, int code, void *user)
{
	struct conn *c = user;
	uint64_t tx = 0, rx = 0;

	pn_flow_bytes(f, &tx, &rx);
	c->flow = NULL;
	c->early = 0; /* a retry sends them again on its flow */
	if (c->closing)
		return;
	if (!c->status_seen) {
		/* No verdict came (verdicts arrive as a status): the tunnel
		 * died first.  Try again on the next loop turn, when the lost
		 * connector is in backoff and another one gets the flow. */
		if (++c->attempts < MAX_ATTEMPTS) {
			PN_LOG_INFO("client", "flow_retry", "via=%s dest=%s:%u attempt=%u code=%s",
				    c->ln->label, c->req.host, c->req.port, c->attempts + 1,
				    pn_flow_code_name(code));
			uv_timer_start(&c->retry, retry_cb, 0, 0);
			return;
		}
		c->status_seen = 1;
		refuse(c, rep_from_flow_code(code), pn_flow_code_name(code));
		return;
	}
	if (c->close_when_drained)
		return; /* refused: the reply is being flushed */
	if (code == PN_FLOW_OK) {
		PN_LOG_INFO("client", "flow_end", "flow=%016llx bytes_up=%llu bytes_down=%llu",
			    (unsigned long long)c->flow_id, (unsigned long long)tx,
			    (unsigned long long)rx);
		if (c->writes_pending || pn_swriter_busy(&c->w))
			c->close_when_drained = 1;
		else
			px_conn_close(c, 0);
		return;
	}
	c->px->flows_failed++;
	PN_LOG_WARN("client", "flow_error", "flow=%016llx code=%s bytes_up=%llu bytes_down=%llu",
		    (unsigned long long)c->flow_id, pn_flow_code_name(code), (unsigned long long)tx,
		    (unsigned long long)rx);
	px_conn_close(c, 1);
}

static const struct pn_flow_ops conn_flow_ops = {
    .status = flow_status,
    .data = flow_data,
    .eof = flow_eof,
    .writable = flow_writable,
    .closed = flow_closed,
};

static void req_on_flow(struct pn_creq *r, struct pn_flow *f)
{
	struct conn *c = r->user;

	c->flow = f;
	push_early(c);
}

static void req_on_fail(struct pn_creq *r, int err)
{
	struct conn *c = r->user;

	if (!c->closing)
		refuse(c, pn_socks5_rep_from_err(err), pn_errname(err));
}

void px_start_flow(struct conn *c)
{
	struct pn_flow *f = NULL;
	int r;

	c->req.proto = PN_PROTO_TCP;
	c->req.ops = &conn_flow_ops;
	c->req.user = c;
	c->req.on_flow = req_on_flow;
	c->req.on_fail = req_on_fail;
	r = pn_ctuns_request(c->px->tuns, &c->req, &f);
	if (r == 0) {
		c->flow = f;
		push_early(c);
	} else if (r < 0)
		refuse(c, pn_socks5_rep_from_err(r), pn_errname(r));
}

static void udp_associate(struct conn *c)
{
	struct sockaddr_storage local, peer, bound;
	int len = sizeof(local), plen = sizeof(peer);
	struct pn_socks5_addr bnd;
	uint8_t st[PN_SOCKS5_MAX_REPLY];
	struct pn_buf out;
	int r;

	memset(&bnd, 0, sizeof(bnd));
	if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&local, &len) != 0 ||
	    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &plen) != 0) {
		refuse(c, PN_SOCKS5_REP_GENERAL_FAILURE, "getsockname");
		return;
	}
	r = pn_udpassoc_new(c->px->loop, c->px->tuns, (struct sockaddr *)&local,
			    (struct sockaddr *)&peer, c->peer, &c->ua, &bound);
	if (r != 0) {
		refuse(c, PN_SOCKS5_REP_GENERAL_FAILURE, pn_errname(r));
		return;
	}
	if (bound.ss_family == AF_INET) {
		struct sockaddr_in *in = (void *)&bound;
		bnd.atyp = PN_SOCKS5_ATYP_IPV4;
		memcpy(bnd.u.v4, &in->sin_addr, 4);
		bnd.port = ntohs(in->sin_port);
	} else {
		struct sockaddr_in6 *in6 = (void *)&bound;
		bnd.atyp = PN_SOCKS5_ATYP_IPV6;
		memcpy(bnd.u.v6, &in6->sin6_addr, 16);
		bnd.port = ntohs(in6->sin6_port);
	}
	pn_buf_init_wr(&out, st, sizeof(st));
	if (pn_socks5_srv_reply(&c->socks, &out, PN_SOCKS5_REP_OK, &bnd) != 0 ||
	    tcp_send(c, pn_buf_ptr(&out), pn_buf_len(&out)) != 0) {
		px_conn_close(c, 1);
		return;
	}
	c->socks_open = 1;
	PN_LOG_INFO("client", "udp_associate", "via=%s src=%s bound_port=%u", c->ln->label, c->peer,
		    bnd.port);
}

static void socks_input(struct conn *c, const uint8_t *p, size_t n)
{
	uint8_t st[PN_SOCKS5_MAX_REPLY * 2];
	struct pn_buf out;
	struct pn_socks5_request req;
	size_t used = 0;
	int r;

	pn_buf_init_wr(&out, st, sizeof(st));
	r = pn_socks5_srv_feed(&c->socks, p, n, &used, &out, &req);
	if (r < 0) {
		c->px->socks_errors++;
		PN_LOG_WARN("client", "socks_bad_request", "via=%s src=%s err=%s reply_bytes=%zu",
			    c->ln->label, c->peer, pn_errname(r), pn_buf_len(&out));
		send_and_close(c, &out);
		return;
	}
	if (pn_buf_len(&out) && tcp_send(c, pn_buf_ptr(&out), pn_buf_len(&out)) != 0) {
		px_conn_close(c, 1);
		return;
	}
	if (r != PN_SOCKS5_EV_REQUEST)
		return;
	/* Wait for the verdict before reading on; keep what was pipelined. */
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (used < n) {
		/* p is rbuf itself: move the rest to its front. */
		memmove(c->rbuf, p + used, n - used);
		c->pend_off = 0;
		c->pend_len = n - used;
	}
	pn_socks5_addr_host(&req.dst, c->req.host, sizeof(c->req.host));
	c->req.port = req.dst.port;
	if (req.cmd == PN_SOCKS5_CMD_UDP_ASSOCIATE) {
		c->pend_len = 0;
		udp_associate(c);
		if (!c->closing)
			uv_read_start((uv_stream_t *)&c->tcp, px_on_alloc, px_on_read);
		return;
	}
	px_start_flow(c);
}
