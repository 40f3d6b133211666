/* QUIC connection core: transmit scheduling: GSO batches for one path,
 * round-robin over streams with data, DATAGRAMs, timers (tunnel/conn.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "core/err.h"
#include "core/secret.h"
#include "tunnel/conn_int.h"
#include "tunnel/flowproto.h"

/* Stream data vectors per write call: a packet spans at most four of the
 * send buffer's smallest chunks (PN_BUFQ_CHUNK_MIN). */
#define TX_VECS 8

/* Append one packet of n bytes (already at tx->buf + tx->len) to the batch,
 * or park it when it cannot join (other path, bigger than the segment). */
static int batch_add(struct pn_tconn *c, struct pn_tconn_tx *tx, struct pn_path *p, size_t n)
{
	if (tx->npkts > 0 && (p != tx->path || n > tx->seg)) {
		memcpy(c->pending, tx->buf + tx->len, n);
		c->pending_len = n;
		c->pending_path = p;
		return 1; /* batch complete */
	}
	if (tx->npkts == 0) {
		tx->path = p;
		tx->seg = n;
	}
	tx->len += n;
	tx->npkts++;
	c->pkts_tx++;
	c->bytes_tx += n;
	/* A short packet ends a GSO batch [P10]. */
	return n < tx->seg || tx->npkts >= (p->max_segments ? p->max_segments : 1);
}

/* Pick the next stream with something to send (round robin). */
static struct tstream *next_stream(struct pn_tconn *c)
{
	while (c->q_head && !pn_tconn_i_stream_has_work(c->q_head)) {
		struct tstream *s = c->q_head;
		pn_tconn_i_queue_remove(c, s);
	}
	return c->q_head;
}

static void rotate(struct pn_tconn *c, struct tstream *s)
{
	pn_tconn_i_queue_remove(c, s);
	if (pn_tconn_i_stream_has_work(s))
		pn_tconn_i_queue_add(c, s);
}

int pn_tconn_write(struct pn_tconn *c, uint64_t now, struct pn_tconn_tx *tx)
{
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	size_t maxudp;
	int r = 0;

	tx->len = tx->seg = tx->npkts = 0;
	tx->path = NULL;
	if (c->closed)
		return PN_E_CLOSED;
	if (c->pending_len) {
		memcpy(tx->buf, c->pending, c->pending_len);
		size_t n = c->pending_len;
		c->pending_len = 0;
		batch_add(c, tx, c->pending_path, n);
	}
	c->now = now;
	/* the current path's size (PLPMTUD, conn_pmtu.c) */
	maxudp = pn_tconn_i_pmtu_begin(c, now);
	if (maxudp > PN_PATH_MAX_UDP_PAYLOAD)
		maxudp = PN_PATH_MAX_UDP_PAYLOAD;
	ngtcp2_path_storage_zero(&ps);
	/* open: the last call returned NGTCP2_ERR_WRITE_MORE, so ngtcp2 holds a
	   packet under construction.  It must be finished before we return:
	   the next pass may find pacing closed, and ngtcp2 asserts that no
	   packet is pending then (the connector aborted at 5,000 concurrent
	   flows, when the round robin over many streams hit the guard). */
	int open = 0;
	for (int guard = 0; guard < MAX_PKTS_PER_WRITE * 4; guard++) {
		uint8_t *dst = tx->buf + tx->len;
		ngtcp2_ssize nw, nd = -1;
		struct tstream *s;

		if (tx->len + PN_PATH_MAX_UDP_PAYLOAD > PN_TCONN_TX_BUF)
			break;
		if (!open) {
			/* a Path MTU probe when one is due (never inside an open packet) */
			nw = pn_tconn_i_pmtu_probe(c, &ps.path, dst, now);
			if (nw < 0) {
				r = pn_tconn_i_fail(c, (int)nw);
				goto out;
			}
			if (nw > 0) {
				if (batch_add(c, tx, ps.path.user_data, (size_t)nw))
					break;
				continue;
			}
		}
		if (c->dq_count > 0) {
			struct dgram *d = &c->dq[c->dq_head];
			ngtcp2_vec v = {d->data, d->len};
			int accepted = 0;
			nw = ngtcp2_conn_writev_datagram(c->q, &ps.path, &pi, dst, maxudp, &accepted,
							 NGTCP2_WRITE_DATAGRAM_FLAG_NONE, 0, &v, 1,
							 now);
			open = 0;
			if (nw < 0) {
				r = pn_tconn_i_fail(c, (int)nw);
				goto out;
			}
			if (nw == 0)
				break; /* congestion / pacing limited */
			if (!accepted)
				c->dgram_drops++; /* does not fit any packet: drop */
			c->dq_head = (c->dq_head + 1) % PN_TCONN_DGRAM_QUEUE;
			c->dq_count--;
			if (batch_add(c, tx, ps.path.user_data, (size_t)nw))
				break;
			continue;
		}
		s = next_stream(c);
		if (s) {
			struct iovec iv[TX_VECS];
			ngtcp2_vec v[TX_VECS];
			size_t vcnt = 0, left = (size_t)(s->written - s->sent);
			uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
			if (left) {
				/* the unsent bytes (buffer offset sent - acked), at most
				   a packet's worth of them */
				size_t nv = pn_bufq_peek(&s->q, (size_t)(s->sent - s->acked), iv,
							 TX_VECS);
				for (size_t i = 0; i < nv && left; i++, vcnt++) {
					size_t l = iv[i].iov_len < left ? iv[i].iov_len : left;
					v[vcnt] = (ngtcp2_vec){iv[i].iov_base, l};
					left -= l;
				}
			}
			if (s->fin_wanted)
				flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
			nw = ngtcp2_conn_writev_stream(c->q, &ps.path, &pi, dst, maxudp, &nd, flags,
						       s->sid, v, vcnt, now);
			if (nw == NGTCP2_ERR_WRITE_MORE)
				open = 1;
			else if (nw >= 0)
				open = 0; /* (a blocked stream leaves the packet open) */
			if (nd >= 0) {
				pn_tconn_i_sent(c, s, (size_t)nd);
				if (s->fin_wanted && s->sent == s->written)
					s->fin_sent = 1;
			}
			if (nw == NGTCP2_ERR_WRITE_MORE) {
				rotate(c, s);
				continue;
			}
			if (nw == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
				s->blocked = 1;
				pn_tconn_i_queue_remove(c, s);
				continue;
			}
			if (nw == NGTCP2_ERR_STREAM_SHUT_WR || nw == NGTCP2_ERR_STREAM_NOT_FOUND) {
				pn_tconn_i_sent(c, s, (size_t)(s->written - s->sent));
				s->fin_sent = 1;
				pn_tconn_i_queue_remove(c, s);
				continue;
			}
			if (nd >= 0)
				rotate(c, s);
		} else {
			nw = ngtcp2_conn_write_pkt(c->q, &ps.path, &pi, dst, maxudp, now);
			open = 0;
		}
		if (nw < 0) {
			r = pn_tconn_i_fail(c, (int)nw);
			goto out;
		}
		if (nw == 0)
			break;
		if (batch_add(c, tx, ps.path.user_data, (size_t)nw))
			break;
	}
	if (open) {
		/* Stopped by the guard: close the packet (room for it is still
		   at tx->buf + tx->len, nothing was appended since it began). */
		ngtcp2_ssize nw = ngtcp2_conn_write_pkt(c->q, &ps.path, &pi, tx->buf + tx->len,
							maxudp, now);
		if (nw < 0) {
			r = pn_tconn_i_fail(c, (int)nw);
			goto out;
		}
		if (nw > 0)
			batch_add(c, tx, ps.path.user_data, (size_t)nw);
	}
	/* [P6] pace only once the handshake is done */
	if (tx->npkts && c->hs_done)
		ngtcp2_conn_update_pkt_tx_time(c->q, now);
	/* bytes went out: writers held back for queue room may go on */
	pn_tconn_i_wake_writers(c);
out:
	return r;
}

uint64_t pn_tconn_expiry(const struct pn_tconn *c)
{
	uint64_t e, p;

	if (c->closed)
		return UINT64_MAX;
	e = ngtcp2_conn_get_expiry(c->q);
	p = pn_tconn_i_pmtu_expiry(c);
	return p < e ? p : e;
}

int pn_tconn_handle_expiry(struct pn_tconn *c, uint64_t now)
{
	int rv;

	if (c->closed)
		return PN_E_CLOSED;
	c->now = now;
	pn_tconn_i_pmtu_timeout(c, now);
	/* [P9] the expiry includes the pacing deadline: act once it is due,
	   or as soon as ngtcp2 would send anyway (up to 1 ms early): then
	   handle_expiry drops that deadline.  Everything else it does only
	   acts on what is due.  Waiting for the deadline itself, the timer
	   (ms) fired at once each loop turn and nothing went out (the window
	   full, or nothing to send): 270,000 empty passes a second at a
	   connector sending a download, a core taken from the processes
	   whose ACKs would open the window. */
	if (ngtcp2_conn_get_expiry(c->q) > now + PACING_EARLY_NS)
		return 0;
	rv = ngtcp2_conn_handle_expiry(c->q, now);
	if (rv == 0)
		return 0;
	if (rv == NGTCP2_ERR_IDLE_CLOSE) {
		c->closed = 1;
		c->close_reason = PN_E_TUN_IDLE;
		return PN_E_TUN_IDLE;
	}
	return pn_tconn_i_fail(c, rv);
}
