/*
 * Relay workers (relay/server_int.h): sockets bound with SO_REUSEPORT,
 * threads with their own loops, the shared lock, and the hand-off of
 * stream sends to the worker that owns the stream.
 */
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "relay/server_int.h"

/* ---- the shared state ---- */

void srv_enter(struct worker *w)
{
	struct pn_relay_server *srv = w->srv;

	if (srv->mt && !w->locked) {
		uv_mutex_lock(&srv->mu);
		w->locked = 1;
	}
	srv->cur = w;
}

static void pend_flush(struct worker *w)
{
	unsigned i, n = w->npend;

	w->npend = 0;
	for (i = 0; i < n; i++) {
		struct pend *q = &w->pend[i];
		if (pn_rstream_send2(q->c->s, q->hdr, sizeof(q->hdr), q->p, q->n, 1))
			W_ADD(w->drop_queue, 1);
	}
}

/* ---- hand-off: messages to streams of other workers ---- */

enum { XQ_DATA = 1, XQ_FRAME, XQ_KICK, XQ_KICK_NOW };
struct xmsg {
	uint64_t serial;
	int32_t err;
	uint32_t len;
	uint32_t type;
	uint32_t pad;
};
#define XALIGN(n) (((n) + 7) & ~(size_t)7)

static void xq_push_all(struct worker *w)
{
	struct pn_relay_server *srv = w->srv;

	for (unsigned d = 0; d < srv->nworkers; d++) {
		struct xbatch *b = w->xout[d], *next;
		struct worker *t = srv->w[d];
		size_t bytes = 0;
		uint64_t nmsg = 0;

		if (!b)
			continue;
		w->xout[d] = NULL;
		for (struct xbatch *x = b; x; x = x->next)
			bytes += x->len, nmsg += x->nmsg;
		uv_mutex_lock(&t->inbox_mu);
		if (!t->dead && t->in_bytes + bytes <= XQ_MAX_BYTES) {
			struct xbatch *last = b;
			while (last->next)
				last = last->next;
			if (t->in_tail)
				t->in_tail->next = b;
			else
				t->in_head = b;
			t->in_tail = last;
			t->in_bytes += bytes;
			uv_async_send(&t->async);
			b = NULL;
		}
		uv_mutex_unlock(&t->inbox_mu);
		if (b) { /* the owner is gone or far behind: dropped like a full egress */
			W_ADD(w->xq_drops, nmsg);
			for (; b; b = next) {
				next = b->next;
				free(b);
			}
		} else {
			W_ADD(w->xq_sent, nmsg);
		}
	}
}

/*
 * A message for c's worker: into the block being filled for it, the
 * first of w->xout[d] (blocks are prepended, newest first; xq_order
 * reverses the list before the push).
 */
static int xq_put(struct worker *w, struct conn *c, uint32_t type, int err, const uint8_t *a,
		  size_t an, const uint8_t *b, size_t bn)
{
	struct xbatch **head = &w->xout[c->w->idx], *x = *head;
	size_t need = XALIGN(sizeof(struct xmsg) + an + bn);
	struct xmsg m = {.serial = c->serial, .err = err, .len = (uint32_t)(an + bn), .type = type};

	if (!x || x->len + need > XQ_BATCH) {
		if (!(x = malloc(sizeof(*x) + (need > XQ_BATCH ? need : XQ_BATCH))))
			return -ENOMEM;
		x->len = 0;
		x->nmsg = 0;
		x->next = *head;
		*head = x;
	}
	memcpy(x->data + x->len, &m, sizeof(m));
	if (an)
		memcpy(x->data + x->len + sizeof(m), a, an);
	if (bn)
		memcpy(x->data + x->len + sizeof(m) + an, b, bn);
	x->len += need;
	x->nmsg++;
	return 0;
}

/* Newest-first lists become oldest-first before they are pushed. */
static void xq_order(struct worker *w)
{
	for (unsigned d = 0; d < w->srv->nworkers; d++) {
		struct xbatch *x = w->xout[d], *prev = NULL, *next;
		for (; x; x = next) {
			next = x->next;
			x->next = prev;
			prev = x;
		}
		w->xout[d] = prev;
	}
}

static void xq_deliver(struct worker *w, const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off + sizeof(struct xmsg) <= len) {
		struct xmsg m;
		struct conn *c;

		memcpy(&m, p + off, sizeof(m));
		c = pn_idmap_get(&w->byserial, (const uint8_t *)&m.serial);
		if (c) {
			const uint8_t *d = p + off + sizeof(m);
			switch (m.type) {
			case XQ_DATA:
				if (pn_rstream_send(c->s, d, m.len, 1))
					W_ADD(w->drop_queue, 1);
				break;
			case XQ_FRAME:
				if (pn_rstream_send(c->s, d, m.len, 0))
					pn_rstream_close(c->s, PN_E_CLOSED, 1);
				break;
			case XQ_KICK: pn_rstream_close(c->s, m.err, 1); break;
			case XQ_KICK_NOW: pn_rstream_close(c->s, m.err, 0); break;
			}
		}
		off += XALIGN(sizeof(m) + m.len);
	}
}

static void worker_stop(struct worker *w);

static void on_async(uv_async_t *h)
{
	struct worker *w = h->data;
	struct xbatch *x, *next;
	int stop;

	uv_mutex_lock(&w->inbox_mu);
	x = w->in_head;
	w->in_head = w->in_tail = NULL;
	w->in_bytes = 0;
	stop = w->stop;
	uv_mutex_unlock(&w->inbox_mu);
	for (; x; x = next) {
		next = x->next;
		if (!w->stopping)
			xq_deliver(w, x->data, x->len);
		free(x);
	}
	if (stop)
		worker_stop(w);
}

void srv_leave(struct worker *w)
{
	if (w->locked) {
		w->locked = 0;
		uv_mutex_unlock(&w->srv->mu);
	}
	if (w->npend)
		pend_flush(w);
	srv_udp_flush(w);
	if (w->srv->mt) {
		xq_order(w);
		xq_push_all(w);
	}
}

void srv_make_room(struct worker *w)
{
	int locked = w->locked;

	if (locked) {
		w->locked = 0;
		uv_mutex_unlock(&w->srv->mu);
	}
	if (w->npend)
		pend_flush(w);
	srv_udp_flush(w);
	if (locked)
		srv_enter(w);
}

int srv_send_data(struct worker *w, struct conn *c, const uint8_t *hdr, size_t hn,
		  const uint8_t *p, size_t n)
{
	if (c->w != w)
		return xq_put(w, c, XQ_DATA, 0, hdr, hn, p, n);
	if (!w->srv->mt)
		return pn_rstream_send2(c->s, hdr, hn, p, n, 1);
	/* Locked: queued, written after the unlock (the payload stays valid
	 * until the batch ends). */
	if (w->npend == MAX_PEND)
		srv_make_room(w);
	struct pend *q = &w->pend[w->npend++];
	q->c = c;
	q->p = p;
	q->n = n;
	memcpy(q->hdr, hdr, sizeof(q->hdr));
	return 0;
}

int srv_send_frame(struct worker *w, struct conn *c, const uint8_t *p, size_t n)
{
	if (c->w != w)
		return xq_put(w, c, XQ_FRAME, 0, p, n, NULL, 0);
	return pn_rstream_send(c->s, p, n, 0);
}

void srv_kick(struct worker *w, struct conn *c, int err, int graceful)
{
	if (c->w != w)
		xq_put(w, c, graceful ? XQ_KICK : XQ_KICK_NOW, err, NULL, 0, NULL, 0);
	else
		pn_rstream_close(c->s, err, graceful);
}

int srv_conn_add(struct worker *w, struct conn *c)
{
	c->serial = ++w->nserial;
	return pn_idmap_put(&w->byserial, c);
}

void srv_conn_del(struct worker *w, struct conn *c)
{
	pn_idmap_del(&w->byserial, c);
}

/* ---- sockets ---- */

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* The port an unspecified (0) port became, so every worker binds the same. */
static void sa_set_port_of(struct sockaddr_storage *ss, int fd)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);

	if (getsockname(fd, (struct sockaddr *)&got, &len))
		return;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = ((struct sockaddr_in6 *)&got)->sin6_port;
	else
		((struct sockaddr_in *)ss)->sin_port = ((struct sockaddr_in *)&got)->sin_port;
}

/* A bound, listening TCP socket.  0 or -errno. */
static int tcp_listen_fd(const struct sockaddr_storage *ss, int reuseport, int *out)
{
	int one = 1, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)ss, sa_len(ss)) || listen(fd, 1024)) {
		r = -errno;
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

/*
 * Several workers: first a plain bind (no SO_REUSEPORT) of the address,
 * so a port another process holds — even one in a reuseport group of its
 * own — is refused as with one worker, and port 0 becomes one port for
 * all; then every worker binds it with SO_REUSEPORT.
 */
static int probe_port(struct sockaddr_storage *ss, int type)
{
	int fd = socket(ss->ss_family, type | SOCK_CLOEXEC, 0), r = 0, one = 1;

	if (fd < 0)
		return -errno;
	/* TCP: past connections in TIME_WAIT do not hold the port (as with
	 * one worker); a listener does.  UDP: no option, any holder counts. */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sa_len(ss)))
		r = -errno;
	else
		sa_set_port_of(ss, fd);
	close(fd);
	return r;
}

static void worker_free(struct worker *w)
{
	struct xbatch *x, *next;

	if (w->udp_fd >= 0)
		close(w->udp_fd);
	if (w->tcp_fd >= 0)
		close(w->tcp_fd);
	for (x = w->in_head; x; x = next) {
		next = x->next;
		free(x);
	}
	for (unsigned d = 0; w->xout && d < w->srv->nworkers; d++)
		for (x = w->xout[d]; x; x = next) {
			next = x->next;
			free(x);
		}
	free(w->xout);
	pn_idmap_fini(&w->byserial);
	pn_udp_rx_fini(&w->rx);
	uv_mutex_destroy(&w->inbox_mu);
	free(w);
}

void srv_workers_free(struct pn_relay_server *srv)
{
	for (unsigned i = 0; srv->w && i < srv->nworkers; i++)
		if (srv->w[i])
			worker_free(srv->w[i]);
	free(srv->w);
	srv->w = NULL;
}

/*
 * Steering: a classic BPF program on the UDP reuseport group picks the
 * socket (index = bind order = worker) of a relay message (DATA, BIND,
 * CHALLENGE/CONFIRM: type 0xd0..0xd4, 9 bytes or more) by sid[7] %
 * nworkers, which the core made the lane of the session's stream side
 * (core.h, ops->lane).  The program sees the UDP payload at offset 0.
 * Anything else returns an index past the group: the kernel's hash.
 */
static int steer_attach(struct pn_relay_server *srv, int fd)
{
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
	    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, PN_RELAY_DATA_HDR, 0, 6),
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
	    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, PN_RELAY_UDP_DATA, 0, 4),
	    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, PN_RELAY_UDP_CONFIRM, 3, 0),
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, PN_RELAY_SID_LEN),
	    BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, srv->nworkers),
	    BPF_STMT(BPF_RET | BPF_A, 0),
	    BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)))
		return -errno;
	return 0;
}

int srv_workers_open(struct pn_relay_server *srv, const struct sockaddr_storage *udp,
		     const struct sockaddr_storage *tcp)
{
	struct sockaddr_storage u, t;
	int r;

	if (!(srv->w = calloc(srv->nworkers, sizeof(*srv->w))))
		return -ENOMEM;
	if (udp)
		u = *udp;
	if (tcp)
		t = *tcp;
	if (srv->mt && ((udp && (r = probe_port(&u, SOCK_DGRAM))) ||
			(tcp && (r = probe_port(&t, SOCK_STREAM)))))
		return r;
	for (unsigned i = 0; i < srv->nworkers; i++) {
		struct worker *w = calloc(1, sizeof(*w));

		if (!w)
			return -ENOMEM;
		srv->w[i] = w;
		w->srv = srv;
		w->idx = i;
		w->udp_fd = w->tcp_fd = -1;
		uv_mutex_init(&w->inbox_mu);
		if (!(w->xout = calloc(srv->nworkers, sizeof(*w->xout))))
			return -ENOMEM;
		if ((r = pn_idmap_init(&w->byserial, offsetof(struct conn, serial), 8, 16)))
			return r;
		if (udp) {
			if ((r = srv_udp_open(srv, &u, srv->mt, &w->udp_fd)))
				return r;
			if (pn_udp_rx_init(&w->rx, PN_RELAY_BATCH, srv->gro ? PN_RELAY_GRO_BUF : SLOT_SMALL))
				return -ENOMEM;
		}
		if (tcp && (r = tcp_listen_fd(&t, srv->mt, &w->tcp_fd)))
			return r;
	}
	/* Without it (an old kernel) the kernel's hash spreads datagrams and
	 * the hand-off carries what lands on another worker. */
	if (srv->mt && udp && srv->nworkers <= 256) {
		if ((r = steer_attach(srv, srv->w[0]->udp_fd)))
			PN_LOG_WARN("relay", "steer_failed", "err=%d", r);
		else
			srv->steer = 1;
	}
	return 0;
}

/* ---- handles and threads ---- */

static void w_handle_closed(uv_handle_t *h)
{
	struct worker *w = h->data;

	w->handles--;
	if (w->idx == 0)
		srv_maybe_finish(w->srv);
}

static void on_sweep(uv_timer_t *t)
{
	struct worker *w = t->data;
	struct pn_relay_server *srv = w->srv;
	uint64_t now = uv_now(w->loop);

	if (w->idx == 0) {
		srv_enter(w);
		pn_relay_core_tick(srv->core, now);
		srv_leave(w);
		/* Own addresses change (DHCP, new interfaces): re-read them now
		 * and then, outside the lock (only worker 0 writes the filter). */
		if (++srv->sweeps % OWN_REFRESH_SWEEPS == 0) {
			struct pn_relay_peerfilter f = srv->filter;
			pn_relay_peerfilter_load_own(&f);
			srv_enter(w);
			srv->filter = f;
			srv_leave(w);
		}
	}
	srv_sweep_conns(w, now);
}

static int worker_handles(struct worker *w)
{
	struct pn_relay_server *srv = w->srv;
	int r;

	w->scfg.server = 1;
	w->scfg.rxbuf = w->rxbuf;
	w->scfg.plainbuf = w->plainbuf;
	w->scfg.ws_path = srv->cfg.ws_path;
	w->scfg.stats = &w->sst;
	uv_timer_init(w->loop, &w->sweep);
	w->sweep.data = w;
	w->handles++;
	uv_timer_start(&w->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	if (srv->mt) {
		uv_async_init(w->loop, &w->async, on_async);
		w->async.data = w;
		w->handles++;
	}
	if (w->udp_fd >= 0) {
		if ((r = uv_poll_init(w->loop, &w->poll, w->udp_fd)))
			return r;
		w->poll.data = w;
		w->handles++;
		uv_poll_start(&w->poll, UV_READABLE, srv_on_udp);
	}
	if (w->tcp_fd >= 0) {
		uv_tcp_init(w->loop, &w->tcp);
		w->tcp.data = w;
		w->handles++;
		if ((r = uv_tcp_open(&w->tcp, w->tcp_fd)))
			return r;
		w->tcp_fd = -1; /* the handle's now */
		if ((r = uv_listen((uv_stream_t *)&w->tcp, 1024, srv_on_connection)))
			return r;
	}
	return 0;
}

static void worker_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	srv_close_conns(w);
	uv_close((uv_handle_t *)&w->sweep, w_handle_closed);
	if (w->poll.data)
		uv_close((uv_handle_t *)&w->poll, w_handle_closed);
	if (w->tcp.data)
		uv_close((uv_handle_t *)&w->tcp, w_handle_closed);
	if (w->srv->mt) {
		uv_mutex_lock(&w->inbox_mu);
		w->dead = 1;
		uv_mutex_unlock(&w->inbox_mu);
		uv_close((uv_handle_t *)&w->async, w_handle_closed);
	}
}

struct start {
	struct worker *w;
	uv_sem_t sem;
	int r;
};

static void thread_main(void *arg)
{
	struct start *st = arg;
	struct worker *w = st->w;
	struct pn_relay_server *srv = w->srv;

	w->loop = &w->own_loop;
	if ((st->r = uv_loop_init(w->loop)) != 0) {
		w->loop = NULL;
		uv_mutex_lock(&srv->mu);
		w->finished = 1;
		uv_mutex_unlock(&srv->mu);
		uv_sem_post(&st->sem);
		return;
	}
	if ((st->r = worker_handles(w)) != 0)
		worker_stop(w);
	uv_sem_post(&st->sem); /* st is gone after this */
	uv_run(w->loop, UV_RUN_DEFAULT);
	uv_loop_close(w->loop);
	uv_mutex_lock(&srv->mu);
	w->finished = 1;
	uv_async_send(&srv->done);
	uv_mutex_unlock(&srv->mu);
}

static void on_done(uv_async_t *h)
{
	struct pn_relay_server *srv = h->data;

	srv_maybe_finish(srv);
}

int srv_workers_start(struct pn_relay_server *srv)
{
	struct worker *w0 = srv->w[0];
	int r;

	w0->loop = srv->loop;
	if (srv->mt) {
		uv_async_init(srv->loop, &srv->done, on_done);
		srv->done.data = srv;
		srv->handles++;
	}
	if ((r = worker_handles(w0)))
		return r;
	for (unsigned i = 1; i < srv->nworkers; i++) {
		struct start st = {.w = srv->w[i]};
		if (uv_sem_init(&st.sem, 0))
			return -ENOMEM;
		if ((r = uv_thread_create(&st.w->thread, thread_main, &st))) {
			uv_sem_destroy(&st.sem);
			return r;
		}
		st.w->started = 1;
		uv_sem_wait(&st.sem);
		uv_sem_destroy(&st.sem);
		if (st.r)
			return st.r;
	}
	return 0;
}

/* From worker 0's thread: every worker closes its streams and handles. */
void srv_workers_stop(struct pn_relay_server *srv)
{
	for (unsigned i = 1; i < srv->nworkers; i++) {
		struct worker *w = srv->w[i];
		if (!w->started)
			continue;
		uv_mutex_lock(&w->inbox_mu);
		w->stop = 1;
		if (!w->dead)
			uv_async_send(&w->async);
		uv_mutex_unlock(&w->inbox_mu);
	}
	if (srv->w[0]->loop)
		worker_stop(srv->w[0]);
}
