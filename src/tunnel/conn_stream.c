/* QUIC connection core: streams (send buffers kept until acknowledged,
 * credit on consumption, bounded unsent bytes) and the DATAGRAM queue.
 * See conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tunnel/conn_int.h"

/* ---------------------------------------------------- streams by sid -- */

static size_t stab_slot(const struct pn_tconn *c, int64_t sid)
{
	/* stream ids count up in fours: spread them (Fibonacci hashing) */
	uint64_t h = ((uint64_t)sid >> 2) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (c->stab_size - 1);
}

/* Keep at most one stream per bucket on average: 0 or -ENOMEM. */
static int stab_grow(struct pn_tconn *c)
{
	size_t nsz = c->stab_size ? c->stab_size * 2 : 64;
	struct tstream **old = c->stab, **tab = calloc(nsz, sizeof(*tab));
	size_t osz = c->stab_size;

	if (!tab)
		return -ENOMEM;
	c->stab = tab;
	c->stab_size = nsz;
	for (size_t i = 0; i < osz; i++)
		while (old[i]) {
			struct tstream *s = old[i];
			size_t k = stab_slot(c, s->sid);
			old[i] = s->hnext;
			s->hnext = tab[k];
			tab[k] = s;
		}
	free(old);
	return 0;
}

struct tstream *pn_tconn_i_stream_get(struct pn_tconn *c, int64_t sid)
{
	if (!c->stab_size)
		return NULL;
	for (struct tstream *s = c->stab[stab_slot(c, sid)]; s; s = s->hnext)
		if (s->sid == sid)
			return s;
	return NULL;
}

struct tstream *pn_tconn_i_stream_new(struct pn_tconn *c, int64_t sid, void *user)
{
	struct tstream *s;
	size_t k;

	if (c->nstreams >= c->stab_size && stab_grow(c) != 0)
		return NULL;
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	s->sid = sid;
	s->user = user;
	pn_bufq_init(&s->q);
	s->next_all = c->all;
	if (c->all)
		c->all->pprev_all = &s->next_all;
	s->pprev_all = &c->all;
	c->all = s;
	k = stab_slot(c, sid);
	s->hnext = c->stab[k];
	c->stab[k] = s;
	c->nstreams++;
	return s;
}

void pn_tconn_i_queue_remove(struct pn_tconn *c, struct tstream *s)
{
	struct tstream **pp = &c->q_head, *prev = NULL;

	if (!s->in_queue)
		return;
	for (; *pp; prev = *pp, pp = &(*pp)->next_q)
		if (*pp == s) {
			*pp = s->next_q;
			if (c->q_tail == s)
				c->q_tail = prev;
			break;
		}
	s->next_q = NULL;
	s->in_queue = 0;
}

void pn_tconn_i_queue_add(struct pn_tconn *c, struct tstream *s)
{
	if (s->in_queue || s->blocked)
		return;
	s->next_q = NULL;
	if (c->q_tail)
		c->q_tail->next_q = s;
	else
		c->q_head = s;
	c->q_tail = s;
	s->in_queue = 1;
}

static void wait_remove(struct pn_tconn *c, struct tstream *s)
{
	if (!s->in_wait)
		return;
	if (s->prev_wait)
		s->prev_wait->next_wait = s->next_wait;
	else
		c->wait_head = s->next_wait;
	if (s->next_wait)
		s->next_wait->prev_wait = s->prev_wait;
	else
		c->wait_tail = s->prev_wait;
	s->next_wait = s->prev_wait = NULL;
	s->in_wait = 0;
}

static void wait_add(struct pn_tconn *c, struct tstream *s)
{
	if (s->in_wait)
		return;
	s->next_wait = NULL;
	s->prev_wait = c->wait_tail;
	if (c->wait_tail)
		c->wait_tail->next_wait = s;
	else
		c->wait_head = s;
	c->wait_tail = s;
	s->in_wait = 1;
}

/* Its unsent bytes will never go out (reset, or the stream is gone). */
static void drop_unsent(struct pn_tconn *c, struct tstream *s)
{
	c->unsent -= (size_t)(s->written - s->sent);
	s->written = s->sent;
}

void pn_tconn_i_stream_free(struct pn_tconn *c, struct tstream *s)
{
	struct tstream **pp;

	pn_tconn_i_queue_remove(c, s);
	wait_remove(c, s);
	drop_unsent(c, s);
	*s->pprev_all = s->next_all;
	if (s->next_all)
		s->next_all->pprev_all = s->pprev_all;
	for (pp = &c->stab[stab_slot(c, s->sid)]; *pp; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	c->nstreams--;
	pn_bufq_fini(&s->q);
	free(s);
}

int pn_tconn_i_stream_has_work(const struct tstream *s)
{
	return s->sent < s->written || (s->fin_wanted && !s->fin_sent);
}

void pn_tconn_i_sent(struct pn_tconn *c, struct tstream *s, size_t n)
{
	s->sent += n;
	c->unsent -= n;
}

void pn_tconn_i_acked(struct pn_tconn *c, struct tstream *s, uint64_t off)
{
	if (off <= s->acked || off > s->sent)
		return;
	pn_bufq_drop(&s->q, (size_t)(off - s->acked));
	s->acked = off;
	if (s->was_full && s->written - s->acked < s->cap) {
		s->was_full = 0;
		if (c->cfg.cbs->stream_writable)
			c->cfg.cbs->stream_writable(c, s->sid, c->cfg.user, s->user);
	}
}

/* What a write to s may take now; a short answer records why, so that
 * stream_writable follows when there is room again: acknowledgements
 * (its own unacknowledged bytes at cap) or transmission (unsent bytes). */
#define ROOM_BOUNDED 1 /* application data: the unsent bounds apply */
#define ROOM_QUERY 2   /* a question (arm the wakeup only at 0) */

static size_t stream_room(struct pn_tconn *c, struct tstream *s, size_t want, int how)
{
	int query = (how & ROOM_QUERY) != 0;
	size_t unacked = (size_t)(s->written - s->acked), unsent = (size_t)(s->written - s->sent);
	size_t room = s->cap > unacked ? s->cap - unacked : 0, lim;

	if (room < want && (!query || room == 0))
		s->was_full = 1;
	if (how & ROOM_BOUNDED) {
		lim = STREAM_UNSENT_MAX > unsent ? STREAM_UNSENT_MAX - unsent : 0;
		if (CONN_UNSENT_MAX < c->unsent)
			lim = 0;
		else if (CONN_UNSENT_MAX - c->unsent < lim)
			lim = CONN_UNSENT_MAX - c->unsent;
		/* a writer left with bytes, or a reader told to read none */
		if (lim < want && lim < room && (!query || lim == 0))
			wait_add(c, s);
		if (lim < room)
			room = lim;
	}
	return room < want ? room : want;
}

void pn_tconn_i_wake_writers(struct pn_tconn *c)
{
	size_t room;

	/* Once the queue is half empty, as many waiters as the room would
	   take at WAKE_QUANTUM each (woken writers usually write later, from
	   their next read: waking all of them would have most find no room
	   and pause again, a stop/start per socket per transmission). */
	if (c->unsent > CONN_UNSENT_MAX / 2)
		return;
	room = CONN_UNSENT_MAX - c->unsent;
	while (room > 0 && c->wait_head && !c->closed) {
		struct tstream *s = c->wait_head;
		room -= room < WAKE_QUANTUM ? room : WAKE_QUANTUM;
		wait_remove(c, s);
		if (c->cfg.cbs->stream_writable)
			c->cfg.cbs->stream_writable(c, s->sid, c->cfg.user, s->user);
	}
}

/* ------------------------------------------------------------- streams -- */

int pn_tconn_stream_open(struct pn_tconn *c, void *stream_user, int64_t *sid)
{
	struct tstream *s;
	int rv;

	if (c->closed)
		return PN_E_CLOSED;
	rv = ngtcp2_conn_open_bidi_stream(c->q, sid, NULL);
	if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
		return -EAGAIN;
	if (rv != 0)
		return pn_tconn_i_map_liberr(rv);
	if (!(s = pn_tconn_i_stream_new(c, *sid, stream_user))) {
		ngtcp2_conn_shutdown_stream(c->q, *sid, PN_FLOW_APP_ERR_BASE + PN_FLOW_INTERNAL);
		return -ENOMEM;
	}
	ngtcp2_conn_set_stream_user_data(c->q, *sid, s);
	return 0;
}

int pn_tconn_stream_set_sndbuf(struct pn_tconn *c, int64_t sid, size_t cap)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);

	if (!s || s->written || cap == 0)
		return PN_E_INVAL;
	s->cap = cap;
	return 0;
}

void pn_tconn_stream_set_user(struct pn_tconn *c, int64_t sid, void *stream_user)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);

	if (s)
		s->user = stream_user;
}

static ssize_t stream_write(struct pn_tconn *c, int64_t sid, const void *p, size_t n, int how)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);
	size_t take;

	if (c->closed || !s || s->fin_wanted)
		return PN_E_CLOSED;
	if (!s->cap)
		s->cap = c->cfg.stream_sndbuf;
	take = stream_room(c, s, n, how);
	if (take == 0)
		return 0;
	if (pn_bufq_append(&s->q, p, take) != 0)
		return -ENOMEM;
	s->written += take;
	c->unsent += take;
	pn_tconn_i_queue_add(c, s);
	return (ssize_t)take;
}

ssize_t pn_tconn_stream_write(struct pn_tconn *c, int64_t sid, const void *p, size_t n)
{
	return stream_write(c, sid, p, n, 0);
}

ssize_t pn_tconn_stream_write_bounded(struct pn_tconn *c, int64_t sid, const void *p, size_t n)
{
	return stream_write(c, sid, p, n, ROOM_BOUNDED);
}

size_t pn_tconn_stream_room(struct pn_tconn *c, int64_t sid, size_t want)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);

	if (c->closed || !s || s->fin_wanted)
		return 0;
	if (!s->cap)
		s->cap = c->cfg.stream_sndbuf;
	return stream_room(c, s, want, ROOM_BOUNDED | ROOM_QUERY);
}

int pn_tconn_stream_fin(struct pn_tconn *c, int64_t sid)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);

	if (c->closed || !s)
		return PN_E_CLOSED;
	if (!s->fin_wanted) {
		s->fin_wanted = 1;
		pn_tconn_i_queue_add(c, s);
	}
	return 0;
}

size_t pn_tconn_stream_buffered(struct pn_tconn *c, int64_t sid)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);

	return s ? (size_t)(s->written - s->acked) : 0;
}

void pn_tconn_stream_consumed(struct pn_tconn *c, int64_t sid, size_t n)
{
	if (c->closed || n == 0)
		return;
	ngtcp2_conn_extend_max_stream_offset(c->q, sid, n);
	ngtcp2_conn_extend_max_offset(c->q, n);
}

void pn_tconn_conn_consumed(struct pn_tconn *c, uint64_t n)
{
	if (!c->closed && n)
		ngtcp2_conn_extend_max_offset(c->q, n);
}

void pn_tconn_stream_reset(struct pn_tconn *c, int64_t sid, uint64_t app_err)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);

	if (c->closed)
		return;
	if (s) {
		pn_tconn_i_queue_remove(c, s);
		wait_remove(c, s);
		drop_unsent(c, s);
		s->blocked = 1; /* nothing more goes out */
	}
	ngtcp2_conn_shutdown_stream(c->q, sid, app_err);
}

int pn_tconn_datagram(struct pn_tconn *c, const void *p, size_t n)
{
	struct dgram *d;

	if (c->closed)
		return PN_E_CLOSED;
	if (n > sizeof(d->data))
		return PN_E_TOOBIG;
	if (c->dq_count == PN_TCONN_DGRAM_QUEUE) {
		c->dgram_drops++;
		return -EAGAIN;
	}
	d = &c->dq[(c->dq_head + c->dq_count) % PN_TCONN_DGRAM_QUEUE];
	memcpy(d->data, p, n);
	d->len = (uint16_t)n;
	c->dq_count++;
	return 0;
}
