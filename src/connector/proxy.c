/*
 * Per-flow I/O at the connector: asynchronous DNS, then a TCP connection or
 * UDP socket to the resource, proxied with backpressure both ways.
 *
 *   client -> resource: flow data goes into a ring (at most the flow's
 *     receive window, since credit is only returned via pn_flow_consumed
 *     once bytes reach the socket) and out with one uv_write at a time, so
 *     writes batch everything that arrived while the previous one ran.
 *   resource -> client: uv_read into a per-flow buffer; when the flow's send
 *     ring is full, reading stops until ops.writable.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "connector/connector_int.h"
#include "core/err.h"
#include "core/log.h"

static int map_uv_err(int e)
{
	switch (e) {
	case UV_ECONNREFUSED:
		return PN_FLOW_REFUSED;
	case UV_ETIMEDOUT:
	case UV_ECANCELED:
		return PN_FLOW_TIMEOUT;
	case UV_ENETUNREACH:
	case UV_EHOSTUNREACH:
	case UV_EADDRNOTAVAIL:
		return PN_FLOW_UNREACHABLE;
	default:
		return PN_FLOW_UNREACHABLE;
	}
}

/* ------------------------------------------------------------ lifetime -- */

static void maybe_free(struct cflow *cf)
{
	if (cf->released && cf->pending == 0) {
		if (cf->ai)
			uv_freeaddrinfo(cf->ai);
		free(cf->rbuf);
		free(cf->wbuf);
		free(cf);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct cflow *cf = h->data;

	cf->pending--;
	maybe_free(cf);
}

static void close_io(struct cflow *cf)
{
	if (cf->io_init) {
		cf->io_init = 0;
		cf->pending++;
		uv_close(&cf->io.h, on_handle_closed);
	}
	if (cf->ctimer_init) {
		cf->ctimer_init = 0;
		cf->pending++;
		uv_close((uv_handle_t *)&cf->ctimer, on_handle_closed);
	}
}

/* The flow is over for us: stop I/O, unlink, free when callbacks drain. */
void pn_cflow_release(struct cflow *cf)
{
	if (cf->released)
		return;
	cf->released = 1;
	cf->st = CF_DONE;
	pn_cflow_unlink(cf);
	if (cf->gai_active)
		uv_cancel((uv_req_t *)&cf->gai);
	close_io(cf);
	maybe_free(cf);
}

/* Answer the request with a failure, log it, release. */
static void fail_flow(struct cflow *cf, int code, const char *why)
{
	struct pn_flow_status st;

	if (cf->f) {
		pn_flow_status_set(&st, 0, code, why);
		pn_flow_respond(cf->f, &st, NULL, NULL);
		cf->f = NULL;
	}
	snprintf(cf->end_reason, sizeof(cf->end_reason), "%s", pn_flow_code_name(code));
	pn_connector_flow_event(cf, "deny", "deny", why);
	pn_cflow_release(cf);
}

/* Abort an open flow (resource error): reset towards the client. */
static void abort_flow(struct cflow *cf, int code, const char *why)
{
	snprintf(cf->end_reason, sizeof(cf->end_reason), "%s", why);
	if (cf->f) {
		struct pn_flow *f = cf->f;
		cf->f = NULL;
		pn_flow_close(f, code);
		pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	}
	pn_cflow_release(cf);
}

/* ------------------------------------------------- resource -> client -- */

static void tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct cflow *cf = h->data;

	(void)hint;
	b->base = (char *)cf->rbuf;
	b->len = CF_RBUF;
}

static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct cflow *cf = s->data;
	ssize_t w;

	if (cf->released || !cf->f)
		return;
	if (n == UV_EOF) {
		uv_read_stop(s);
		cf->reading = 0;
		pn_flow_shutdown(cf->f);
		return;
	}
	if (n < 0) {
		abort_flow(cf, PN_FLOW_RESET, "resource_error");
		return;
	}
	if (n == 0)
		return;
	w = pn_flow_write(cf->f, b->base, (size_t)n);
	if (w < 0) {
		abort_flow(cf, PN_FLOW_RESET, "tunnel_write");
		return;
	}
	cf->down += (uint64_t)w;
	if (w < n) {
		/* the flow's send ring is full: hold the rest, stop reading */
		cf->roff = (size_t)w;
		cf->rlen = (size_t)n;
		uv_read_stop(s);
		cf->reading = 0;
	}
}

static void start_reading(struct cflow *cf)
{
	if (!cf->reading && cf->io_init && cf->proto == PN_PROTO_TCP) {
		cf->reading = 1;
		uv_read_start((uv_stream_t *)&cf->io.tcp, tcp_alloc, tcp_read);
	}
}

static void ops_writable(struct pn_flow *f, void *u)
{
	struct cflow *cf = u;
	ssize_t w;

	if (cf->released)
		return;
	if (cf->rlen > cf->roff) {
		w = pn_flow_write(f, cf->rbuf + cf->roff, cf->rlen - cf->roff);
		if (w < 0)
			return;
		cf->down += (uint64_t)w;
		cf->roff += (size_t)w;
		if (cf->roff < cf->rlen)
			return;
		cf->roff = cf->rlen = 0;
	}
	start_reading(cf);
}

/* ------------------------------------------------- client -> resource -- */

static void kick_write(struct cflow *cf);

static void on_shutdown(uv_shutdown_t *r, int status)
{
	struct cflow *cf = r->data;

	(void)status;
	cf->pending--;
	maybe_free(cf);
}

static void maybe_shutdown(struct cflow *cf)
{
	if (cf->c_eof && !cf->shut_sent && cf->wlen == 0 && !cf->writing && cf->io_init) {
		cf->shut_sent = 1;
		cf->sreq.data = cf;
		if (uv_shutdown(&cf->sreq, (uv_stream_t *)&cf->io.tcp, on_shutdown) == 0)
			cf->pending++;
	}
}

static void on_write(uv_write_t *r, int status)
{
	struct cflow *cf = r->data;
	size_t n = cf->writing;

	cf->pending--;
	cf->writing = 0;
	if (cf->released) {
		maybe_free(cf);
		return;
	}
	if (status < 0) {
		abort_flow(cf, PN_FLOW_RESET, "resource_write");
		return;
	}
	cf->whead = (cf->whead + n) % cf->wcap;
	cf->wlen -= n;
	if (cf->f)
		pn_flow_consumed(cf->f, n);
	kick_write(cf);
	maybe_shutdown(cf);
}

static void kick_write(struct cflow *cf)
{
	uv_buf_t b;
	size_t n;

	if (cf->writing || cf->wlen == 0 || !cf->io_init)
		return;
	n = cf->wlen < cf->wcap - cf->whead ? cf->wlen : cf->wcap - cf->whead;
	b = uv_buf_init((char *)cf->wbuf + cf->whead, (unsigned)n);
	cf->wreq.data = cf;
	if (uv_write(&cf->wreq, (uv_stream_t *)&cf->io.tcp, &b, 1, on_write) != 0) {
		abort_flow(cf, PN_FLOW_RESET, "resource_write");
		return;
	}
	cf->writing = n;
	cf->pending++;
}

static void ops_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct cflow *cf = u;
	size_t pos;

	if (cf->released)
		return;
	cf->up += n;
	/* No write per QUIC packet: bytes gather in the ring while one write
	   is in flight, so each write(2) carries everything that arrived
	   meanwhile (one per loop iteration under load). */
	if (!cf->wbuf) {
		/* the flow's receive window bounds what can be outstanding */
		cf->wcap = cf->c->cfg.tunables.stream_window ? cf->c->cfg.tunables.stream_window
							      : PN_TEP_WINDOW_DEFAULT;
		if (!(cf->wbuf = malloc(cf->wcap))) {
			abort_flow(cf, PN_FLOW_INTERNAL, "out_of_memory");
			return;
		}
	}
	if (n > cf->wcap - cf->wlen) {
		/* cannot happen while the peer respects flow control */
		abort_flow(cf, PN_FLOW_INTERNAL, "flow_control_violation");
		return;
	}
	pos = (cf->whead + cf->wlen) % cf->wcap;
	{
		size_t first = n < cf->wcap - pos ? n : cf->wcap - pos;
		memcpy(cf->wbuf + pos, p, first);
		memcpy(cf->wbuf, p + first, n - first);
	}
	cf->wlen += n;
	kick_write(cf);
}

static void ops_eof(struct pn_flow *f, void *u)
{
	struct cflow *cf = u;

	(void)f;
	cf->c_eof = 1;
	maybe_shutdown(cf);
}

/* ------------------------------------------------------------------ UDP -- */

static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	tcp_alloc(h, hint, b);
}

static void udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
		     unsigned flags)
{
	struct cflow *cf = h->data;

	(void)from, (void)flags;
	if (n <= 0 || cf->released || !cf->f)
		return;
	cf->last_io = uv_now(h->loop);
	if (pn_flow_send_datagram(cf->f, b->base, (size_t)n) == 0)
		cf->down += (uint64_t)n;
}

static void ops_datagram(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct cflow *cf = u;
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);

	(void)f;
	if (cf->released || !cf->io_init)
		return;
	cf->last_io = uv_now(cf->io.udp.loop);
	if (uv_udp_try_send(&cf->io.udp, &b, 1, NULL) >= 0)
		cf->up += n;
}

/* ------------------------------------------------------------- closing -- */

static void ops_closed(struct pn_flow *f, int code, void *u)
{
	struct cflow *cf = u;

	(void)f;
	cf->f = NULL;
	if (!cf->end_reason[0])
		snprintf(cf->end_reason, sizeof(cf->end_reason), "%s", pn_flow_code_name(code));
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	pn_cflow_release(cf);
}

const struct pn_flow_ops pn_cflow_ops = {
	.data = ops_data,
	.eof = ops_eof,
	.writable = ops_writable,
	.datagram = ops_datagram,
	.closed = ops_closed,
};

/* --------------------------------------------------------------- start -- */

/* UDP has no end: a flow quiet for PN_CONNECTOR_UDP_IDLE_MS is closed. */
static void on_udp_idle(uv_timer_t *t)
{
	struct cflow *cf = t->data;

	if (!cf->released && uv_now(t->loop) - cf->last_io >= PN_CONNECTOR_UDP_IDLE_MS)
		abort_flow(cf, PN_FLOW_RESET, "udp_idle");
}

static void go_open(struct cflow *cf)
{
	struct pn_flow_status st;

	cf->st = CF_OPEN;
	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	if (pn_flow_respond(cf->f, &st, &pn_cflow_ops, cf) != 0) {
		cf->f = NULL;
		pn_cflow_release(cf);
		return;
	}
	pn_connector_flow_event(cf, "start", "allow", "");
	if (cf->released)
		return;
	if (cf->proto == PN_PROTO_TCP) {
		start_reading(cf);
		return;
	}
	uv_udp_recv_start(&cf->io.udp, udp_alloc, udp_recv);
	cf->last_io = uv_now(cf->c->cfg.loop);
	if (!cf->ctimer_init) {
		uv_timer_init(cf->c->cfg.loop, &cf->ctimer);
		cf->ctimer.data = cf;
		cf->ctimer_init = 1;
	}
	uv_timer_start(&cf->ctimer, on_udp_idle, PN_CONNECTOR_UDP_IDLE_MS / 4,
		       PN_CONNECTOR_UDP_IDLE_MS / 4);
}

static void try_connect(struct cflow *cf);


static void on_ctimer(uv_timer_t *t)
{
	struct cflow *cf = t->data;

	/* connect timed out: closing the socket cancels the request */
	if (cf->st == CF_CONNECTING)
		fail_flow(cf, PN_FLOW_TIMEOUT, "connect timed out");
}

static void on_connect(uv_connect_t *r, int status)
{
	struct cflow *cf = r->data;

	cf->pending--;
	if (cf->released) {
		maybe_free(cf);
		return;
	}
	uv_timer_stop(&cf->ctimer);
	if (status < 0) {
		/* next address, if any */
		if (cf->ai_next) {
			close_io(cf);
			try_connect(cf);
			return;
		}
		fail_flow(cf, map_uv_err(status), uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&cf->io.tcp, 1);
	go_open(cf);
}

static void try_connect(struct cflow *cf)
{
	struct addrinfo *ai = cf->ai_next;
	int r;

	cf->ai_next = ai->ai_next;
	cf->st = CF_CONNECTING;
	if (cf->proto == PN_PROTO_TCP) {
		uv_tcp_init(cf->c->cfg.loop, &cf->io.tcp);
		cf->io.tcp.data = cf;
		cf->io_init = 1;
		cf->creq.data = cf;
		r = uv_tcp_connect(&cf->creq, &cf->io.tcp, ai->ai_addr, on_connect);
		if (r != 0) {
			fail_flow(cf, map_uv_err(r), uv_strerror(r));
			return;
		}
		cf->pending++;
		if (!cf->ctimer_init) {
			uv_timer_init(cf->c->cfg.loop, &cf->ctimer);
			cf->ctimer.data = cf;
			cf->ctimer_init = 1;
		}
		uv_timer_start(&cf->ctimer, on_ctimer, PN_CONNECTOR_CONNECT_MS, 0);
		return;
	}
	uv_udp_init(cf->c->cfg.loop, &cf->io.udp);
	cf->io.udp.data = cf;
	cf->io_init = 1;
	r = uv_udp_connect(&cf->io.udp, ai->ai_addr);
	if (r != 0) {
		fail_flow(cf, map_uv_err(r), uv_strerror(r));
		return;
	}
	go_open(cf);
}

static void answer_dns(struct cflow *cf)
{
	struct pn_flow_status st;

	pn_flow_status_set(&st, 0, PN_FLOW_OK, "ok");
	st.ttl = 30;
	for (struct addrinfo *ai = cf->ai; ai && st.naddr < PN_FLOW_DNS_ADDRS_MAX; ai = ai->ai_next) {
		struct pn_flow_addr *a = &st.addr[st.naddr];
		int dup = 0;
		if (ai->ai_family == AF_INET && cf->hdr.qtype != PN_FLOW_QTYPE_AAAA) {
			a->family = 4;
			memcpy(a->a, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6 && cf->hdr.qtype != PN_FLOW_QTYPE_A) {
			a->family = 6;
			memcpy(a->a, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		for (unsigned i = 0; i < st.naddr; i++)
			dup |= st.addr[i].family == a->family && !memcmp(st.addr[i].a, a->a, 16);
		if (!dup)
			st.naddr++;
	}
	pn_connector_flow_event(cf, "start", "allow", "dns");
	if (cf->f)
		pn_flow_respond(cf->f, &st, NULL, NULL);
	cf->f = NULL;
	snprintf(cf->end_reason, sizeof(cf->end_reason), "dns_answered");
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	pn_cflow_release(cf);
}

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res)
{
	struct cflow *cf = r->data;

	cf->gai_active = 0;
	cf->pending--;
	cf->ai = res;
	if (cf->released) {
		maybe_free(cf);
		return;
	}
	if (status < 0 || !res) {
		fail_flow(cf, PN_FLOW_RESOLVE_FAILED, uv_strerror(status));
		return;
	}
	if (cf->hdr.kind == PN_FLOW_DNS) {
		answer_dns(cf);
		return;
	}
	cf->ai_next = res;
	try_connect(cf);
}

void pn_cflow_start(struct cflow *cf)
{
	struct addrinfo hints;
	char port[8];
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = cf->proto == PN_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	/* addresses are not resolved, only converted */
	if (cf->hdr.dest.type != PN_FLOW_ADDR_NAME)
		hints.ai_flags = AI_NUMERICHOST;
	snprintf(port, sizeof(port), "%u", cf->hdr.port);
	cf->st = CF_RESOLVING;
	cf->gai.data = cf;
	r = uv_getaddrinfo(cf->c->cfg.loop, &cf->gai, on_resolved, cf->dest,
			   cf->hdr.kind == PN_FLOW_DNS ? NULL : port, &hints);
	if (r != 0) {
		fail_flow(cf, PN_FLOW_RESOLVE_FAILED, uv_strerror(r));
		return;
	}
	cf->gai_active = 1;
	cf->pending++;
}
