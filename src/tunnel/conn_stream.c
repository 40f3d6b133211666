/* QUIC connection core: streams (send rings kept until acknowledged,
 * credit on consumption) and the DATAGRAM queue.  See conn.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tunnel/conn_int.h"

struct tstream *pn_tconn_i_stream_get(struct pn_tconn *c, int64_t sid)
{
	for (struct tstream *s = c->all; s; s = s->next_all)
		if (s->sid == sid)
			return s;
	return NULL;
}

struct tstream *pn_tconn_i_stream_new(struct pn_tconn *c, int64_t sid, void *user)
{
	struct tstream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->sid = sid;
	s->user = user;
	s->next_all = c->all;
	if (c->all)
		c->all->pprev_all = &s->next_all;
	s->pprev_all = &c->all;
	c->all = s;
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

void pn_tconn_i_stream_free(struct pn_tconn *c, struct tstream *s)
{
	pn_tconn_i_queue_remove(c, s);
	*s->pprev_all = s->next_all;
	if (s->next_all)
		s->next_all->pprev_all = s->pprev_all;
	free(s->ring);
	free(s);
}

int pn_tconn_i_stream_has_work(const struct tstream *s)
{
	return s->sent < s->written || (s->fin_wanted && !s->fin_sent);
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

	if (!s || s->ring || cap == 0)
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

ssize_t pn_tconn_stream_write(struct pn_tconn *c, int64_t sid, const void *p, size_t n)
{
	struct tstream *s = pn_tconn_i_stream_get(c, sid);
	size_t room, take, pos, first;

	if (c->closed || !s || s->fin_wanted)
		return PN_E_CLOSED;
	if (!s->ring) {
		/* allocated on first write: peers' request-only streams cost nothing */
		if (!s->cap)
			s->cap = c->cfg.stream_sndbuf;
		if (!(s->ring = malloc(s->cap)))
			return -ENOMEM;
	}
	room = s->cap - (size_t)(s->written - s->acked);
	take = n < room ? n : room;
	if (take < n)
		s->was_full = 1;
	if (take == 0)
		return 0;
	pos = (size_t)(s->written % s->cap);
	first = take < s->cap - pos ? take : s->cap - pos;
	memcpy(s->ring + pos, p, first);
	if (first < take)
		memcpy(s->ring, (const uint8_t *)p + first, take - first);
	s->written += take;
	pn_tconn_i_queue_add(c, s);
	return (ssize_t)take;
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
