/*
 * Per-flow I/O at the connector, once dial.c has a socket to the resource,
 * proxied with backpressure both ways.
 *
 *   client -> resource: flow data goes into a queue of chunks (at most the
 *     flow's receive window, since credit is only returned via
 *     pn_flow_consumed once bytes reach the socket; memory only for what
 *     is queued) and out with one uv_write at a time, so writes batch
 *     everything that arrived while the previous one ran.
 *   resource -> client: uv_read into the connector's one read buffer, no
 *     more than the flow takes now (pn_flow_write_room); when it takes
 *     nothing, reading stops until ops.writable.
 *
 * How a TCP flow ends toward the resource is part of the contract: an
 * orderly end (FIN) only follows the client's orderly end (stream FIN),
 * after every byte; anything else (reset or revoked flow, tunnel lost,
 * connector stopping or killed) resets the connection, so the resource
 * can tell a cut-off transfer from a complete one.  Resource sockets get
 * SO_LINGER {1, 0} when created (dial.c), so a plain close — also the
 * kernel's at process death — is a reset; the FIN is an explicit
 * shutdown(SHUT_WR) and the linger is cleared for the final close of a
 * flow that ended cleanly.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "connector/connector_int.h"
#include "core/err.h"
#include "core/log.h"

/* ------------------------------------------------------------ lifetime -- */

void pn_cflow_maybe_free(struct cflow *cf)
{
	if (cf->released && cf->pending == 0) {
		struct pn_connector *c = cf->c;

		if (cf->ai)
			uv_freeaddrinfo(cf->ai);
		pn_cdnsmsg_free(cf);
		free(cf->rbuf);
		pn_swriter_fini(&cf->w);
		free(cf);
		pn_memtrim_count(&c->trim, --c->nflows_mem);
		pn_connector_i_free_if_done(c); /* closing, and this was the last */
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct cflow *cf = h->data;

	cf->pending--;
	pn_cflow_maybe_free(cf);
}

static void on_sock_closed(uv_handle_t *h)
{
	struct csock *s = (struct csock *)h; /* u is the first member */
	struct cflow *cf = s->cf;

	free(s);
	cf->pending--;
	pn_cflow_maybe_free(cf);
}

void pn_csock_linger0(struct csock *s, int on)
{
	struct linger lg = {.l_onoff = on, .l_linger = 0};
	uv_os_fd_t fd;

	if (uv_fileno(&s->u.h, &fd) == 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Close a resource socket: reset (abort) or orderly (TCP only matters). */
void pn_csock_close(struct csock *s, int reset)
{
	if (s->u.h.type == UV_TCP)
		pn_csock_linger0(s, reset); /* set at creation already; cleared for a clean end */
	s->cf->pending++;
	uv_close(&s->u.h, on_sock_closed);
}

static void close_io(struct cflow *cf, int reset)
{
	if (cf->io) {
		struct csock *s = cf->io;
		cf->io = NULL;
		cf->reading = 0;
		/* a write or shutdown in flight completes (cancelled) before
		   the socket's close callback: cf is still there */
		pn_swriter_stop(&cf->w);
		pn_csock_close(s, reset);
	}
	pn_cflow_dial_stop(cf);
	if (cf->ctimer_init) {
		cf->ctimer_init = 0;
		cf->pending++;
		uv_close((uv_handle_t *)&cf->ctimer, on_handle_closed);
	}
}

static void release(struct cflow *cf, int reset)
{
	if (cf->released)
		return;
	if (cf->draining && !cf->ended) {
		/* cut before its last bytes reached the resource */
		if (!cf->end_reason[0])
			snprintf(cf->end_reason, sizeof(cf->end_reason), "aborted_while_draining");
		pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	}
	cf->released = 1;
	cf->st = CF_DONE;
	pn_cflow_unlink(cf);
	if (cf->gai_active)
		uv_cancel((uv_req_t *)&cf->gai);
	pn_cdnsmsg_stop(cf);
	close_io(cf, reset);
	pn_cflow_maybe_free(cf);
}

/* The flow is over for us: stop I/O (resetting the resource's connection),
 * unlink, free when callbacks drain. */
void pn_cflow_release(struct cflow *cf)
{
	release(cf, 1);
}

/* Answer the request with a failure, log it, release. */
void pn_cflow_fail(struct cflow *cf, int code, const char *why)
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

/* The client ended cleanly and everything reached the resource, FIN last. */
static void finish_clean(struct cflow *cf)
{
	cf->draining = 0;
	if (!cf->end_reason[0])
		snprintf(cf->end_reason, sizeof(cf->end_reason), "%s", pn_flow_code_name(PN_FLOW_OK));
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	release(cf, 0);
}

/* ------------------------------------------------- resource -> client -- */

static void tcp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct cflow *cf = h->data;
	size_t len = cf->f ? pn_flow_write_room(cf->f, CF_RBUF) : CF_RBUF;

	(void)hint;
	/* no more than the flow takes now; at 0 libuv reports UV_ENOBUFS and
	   reading pauses until ops.writable: the bytes wait in the socket */
	*b = uv_buf_init(len ? (char *)cf->c->rbuf : NULL, (unsigned)len);
}

static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct cflow *cf = s->data;
	ssize_t w;

	if (cf->released || !cf->f)
		return;
	if (n == UV_ENOBUFS) {
		uv_read_stop(s);
		cf->reading = 0;
		return;
	}
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
		/* the flow took less than it said it would: hold the rest (out
		   of the shared buffer), stop reading */
		cf->rlen = (size_t)(n - w);
		cf->roff = 0;
		if (!(cf->rbuf = malloc(cf->rlen))) {
			abort_flow(cf, PN_FLOW_EXHAUSTED, "out_of_memory");
			return;
		}
		memcpy(cf->rbuf, b->base + w, cf->rlen);
		uv_read_stop(s);
		cf->reading = 0;
	}
}

static void start_reading(struct cflow *cf)
{
	if (!cf->reading && cf->io && cf->proto == PN_PROTO_TCP) {
		cf->reading = 1;
		uv_read_start((uv_stream_t *)&cf->io->u.tcp, tcp_alloc, tcp_read);
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
		free(cf->rbuf);
		cf->rbuf = NULL;
	}
	start_reading(cf);
}

/* ------------------------------------------------- client -> resource -- */

/* Written into the resource's socket by core/swriter.h, one write at a
 * time (each write(2) carries everything that arrived meanwhile); the
 * client's orderly end reaches the resource as a FIN after every byte:
 * the only way a FIN is ever sent to a resource.  Nothing comes once the
 * flow is released (close_io stops the writer). */
static void w_consumed(size_t n, void *u)
{
	struct cflow *cf = u;

	if (cf->f)
		pn_flow_consumed(cf->f, n);
}

static void w_error(int err, void *u)
{
	(void)err;
	abort_flow(u, PN_FLOW_RESET, "resource_write");
}

static void w_fin(int status, void *u)
{
	struct cflow *cf = u;

	if (status < 0) {
		abort_flow(cf, PN_FLOW_RESET, "resource_shutdown");
		return;
	}
	cf->shut_done = 1; /* the FIN is on its way, after every byte */
	if (cf->draining)
		finish_clean(cf);
}

const struct pn_swriter_ops pn_cflow_wops = {
    .consumed = w_consumed,
    .error = w_error,
    .fin = w_fin,
};

static void ops_data(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct cflow *cf = u;
	int r;

	(void)f;
	if (cf->released)
		return;
	cf->up += n;
	/* No write per QUIC packet: bytes gather in the queue while one write
	   is in flight, so each write(2) carries everything that arrived
	   meanwhile (one per loop iteration under load). */
	if ((r = pn_swriter_append(&cf->w, p, n)) == PN_E_TOOBIG) {
		/* past the window: cannot happen while the peer respects
		   flow control */
		abort_flow(cf, PN_FLOW_INTERNAL, "flow_control_violation");
		return;
	}
	if (r != 0) {
		pn_connector_exhausted(cf->c, UV_ENOMEM, "buffer");
		abort_flow(cf, PN_FLOW_EXHAUSTED, "out_of_memory");
	}
}

static void ops_eof(struct pn_flow *f, void *u)
{
	struct cflow *cf = u;

	(void)f;
	pn_swriter_eof(&cf->w);
}

/* ------------------------------------------------------------------ UDP -- */

static void udp_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct cflow *cf = h->data;

	(void)hint;
	*b = uv_buf_init((char *)cf->c->rbuf, CF_RBUF);
}

static void udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
		     unsigned flags)
{
	struct cflow *cf = h->data;

	(void)from, (void)flags;
	if (n <= 0 || cf->released || !cf->f)
		return;
	cf->last_io = uv_now(h->loop);
	if (cf->proto == PN_PROTO_ICMP)
		pn_cicmp_from_resource(cf, (const uint8_t *)b->base, (size_t)n);
	else if (pn_flow_send_datagram(cf->f, b->base, (size_t)n) == 0)
		cf->down += (uint64_t)n;
}

static void ops_datagram(struct pn_flow *f, const uint8_t *p, size_t n, void *u)
{
	struct cflow *cf = u;
	uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);

	(void)f;
	if (cf->released || !cf->io)
		return;
	cf->last_io = uv_now(cf->io->u.udp.loop);
	if (cf->proto == PN_PROTO_ICMP) {
		pn_cicmp_to_resource(cf, p, n);
		return;
	}
	if (uv_udp_try_send(&cf->io->u.udp, &b, 1, NULL) >= 0)
		cf->up += n;
}

/* ------------------------------------------------------------- closing -- */

static void ops_closed(struct pn_flow *f, int code, void *u)
{
	struct cflow *cf = u;

	(void)f;
	cf->f = NULL;
	if (code == PN_FLOW_OK && cf->proto == PN_PROTO_TCP) {
		/* Both sides finished: the client's FIN has come (ops.eof), the
		   resource's went to it.  The FIN toward the resource follows
		   the last byte still in the ring. */
		if (cf->shut_done) {
			finish_clean(cf);
			return;
		}
		cf->draining = 1; /* w_fin finishes */
		return;
	}
	if (!cf->end_reason[0])
		snprintf(cf->end_reason, sizeof(cf->end_reason), "%s", pn_flow_code_name(code));
	pn_connector_flow_event(cf, "end", "allow", cf->end_reason);
	/* reset, revoked, tunnel lost...: the resource sees a reset */
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

/* dial.c has a socket (connected TCP, or UDP): answer OK, start I/O. */
void pn_cflow_connected(struct cflow *cf, struct csock *sk)
{
	struct pn_flow_status st;

	cf->io = sk;
	cf->st = CF_OPEN;
	if (cf->proto == PN_PROTO_TCP)
		pn_swriter_start(&cf->w, (uv_stream_t *)&sk->u.tcp);
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
	uv_udp_recv_start(&cf->io->u.udp, udp_alloc, udp_recv);
	cf->last_io = uv_now(cf->c->cfg.loop);
	if (!cf->ctimer_init) {
		uv_timer_init(cf->c->cfg.loop, &cf->ctimer);
		cf->ctimer.data = cf;
		cf->ctimer_init = 1;
	}
	uv_timer_start(&cf->ctimer, on_udp_idle, PN_CONNECTOR_UDP_IDLE_MS / 4,
		       PN_CONNECTOR_UDP_IDLE_MS / 4);
}
