/* Flows: client opening, server requests, the pn_flow_* calls.  See
 * endpoint.h for the contract and session.h for the driver side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "tunnel/session_int.h"

/* ------------------------------------------------------------ flows ---- */

void pn_tsess_flow_link(struct pn_tunnel *t, struct pn_flow *f)
{
	f->next = t->flows;
	if (t->flows)
		t->flows->pprev = &f->next;
	f->pprev = &t->flows;
	t->flows = f;
	t->nflows++;
}

void pn_tsess_flow_release(struct pn_flow *f)
{
	struct pn_tunnel *t = f->t;

	if (f->pprev) {
		*f->pprev = f->next;
		if (f->next)
			f->next->pprev = f->pprev;
		t->nflows--;
	}
	/* Bytes delivered but never consumed (or held early and never
	   delivered) still hold connection-level credit: give it back. */
	if (t->c && !pn_tconn_is_closed(t->c))
		pn_tconn_conn_consumed(t->c, f->rx_unconsumed +
						     (f->early_init ? pn_buf_len(&f->early) : 0));
	if (f->early_init)
		pn_buf_fini(&f->early);
	free(f->raw_hdr);
	free(f);
}

struct pn_flow *pn_tsess_flow_by_id(struct pn_tunnel *t, uint64_t id)
{
	for (struct pn_flow *f = t->flows; f; f = f->next)
		if (f->hdr.flow_id == id)
			return f;
	return NULL;
}

size_t pn_tunnel_flow_ids(const struct pn_tunnel *t, uint64_t *ids, size_t max)
{
	size_t n = 0;

	for (const struct pn_flow *f = t->flows; f; f = f->next, n++)
		if (n < max)
			ids[n] = f->hdr.flow_id;
	return n;
}

void pn_tsess_want_write(struct pn_tunnel *t)
{
	if (t->p.drv && t->p.drv->want_write)
		t->p.drv->want_write(t, t->p.drv_ctx);
}

int pn_tsess_app_code(uint64_t app_err)
{
	if (app_err >= PN_FLOW_APP_ERR_BASE && app_err <= PN_FLOW_APP_ERR_BASE + PN_FLOW_CODE_MAX)
		return (int)(app_err - PN_FLOW_APP_ERR_BASE);
	return PN_FLOW_RESET;
}

/* Tell the glue the flow is over (once). */
void pn_tsess_flow_notify_closed(struct pn_flow *f, int code)
{
	struct pn_tunnel *t = f->t;

	if (f->glue_gone)
		return;
	f->glue_gone = 1;
	if (t->p.conn.role == PN_TCONN_SERVER && f->st != F_OPEN && f->st != F_DONE) {
		/* never answered: the glue may hold it in a pending request */
		int requested = f->st == F_SV_REQUESTED;
		f->st = F_DONE; /* a late pn_flow_respond is refused */
		if (requested && t->p.server_ops->flow_cancelled)
			t->p.server_ops->flow_cancelled(f, t->p.server_user);
		return;
	}
	if (f->ops && f->ops->closed)
		f->ops->closed(f, code, f->user);
}

static void flow_give_credit(struct pn_flow *f, size_t n)
{
	if (n == 0 || f->sid < 0)
		return;
	pn_tconn_stream_consumed(f->t->c, f->sid, n);
}

static void deliver(struct pn_flow *f, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	f->rx += n;
	if (f->glue_gone || !f->ops || !f->ops->data) {
		flow_give_credit(f, n);
		return;
	}
	f->rx_unconsumed += n;
	f->ops->data(f, p, n, f->user);
}

/* Stream bytes (and the peer's FIN) to the glue, once each. */
static void deliver_fin(struct pn_flow *f, const uint8_t *p, size_t n, int fin)
{
	deliver(f, p, n);
	if (fin && !f->fin_rx) {
		f->fin_rx = 1;
		if (!f->glue_gone && f->ops->eof)
			f->ops->eof(f, f->user);
	}
}

void pn_tsess_client_open_queued(struct pn_tunnel *t)
{
	if (!t->ctl_open || t->dead)
		return;
	while (t->q_head) {
		struct pn_flow *f = t->q_head;
		uint8_t buf[PN_FLOW_HDR_MAX];
		struct pn_buf w;
		int r;

		r = pn_tconn_stream_open(t->c, f, &f->sid);
		if (r == -EAGAIN) {
			/* More flows were queued before the handshake than the
			   connector allows at once: the excess would wait for
			   others to close.  Hand it back (no status: the glue
			   may retry on another tunnel). */
			if (t->nflows <= pn_tsess_max_flows(t))
				break;
			t->q_head = f->next_q;
			if (!t->q_head)
				t->q_tail = NULL;
			f->sid = -1;
			pn_tsess_flow_notify_closed(f, PN_FLOW_LIMIT);
			pn_tsess_flow_release(f);
			if (t->dead)
				return;
			continue;
		}
		t->q_head = f->next_q;
		if (!t->q_head)
			t->q_tail = NULL;
		if (r != 0) {
			f->sid = -1;
			pn_tsess_flow_notify_closed(f, PN_FLOW_INTERNAL);
			pn_tsess_flow_release(f);
			continue;
		}
		pn_buf_init_wr(&w, buf, sizeof(buf));
		if (f->raw) {
			pn_tconn_stream_write(t->c, f->sid, f->raw_hdr, f->raw_len);
		} else {
			pn_flow_hdr_encode(&w, &f->hdr); /* validated at open */
			pn_tconn_stream_write(t->c, f->sid, pn_buf_ptr(&w), pn_buf_len(&w));
		}
		f->st = F_CL_STATUS;
		if (f->hdr.kind == PN_FLOW_DNS || f->shut_wr)
			pn_tconn_stream_fin(t->c, f->sid);
		if (f->ops && f->ops->writable &&
		    (f->hdr.kind == PN_FLOW_TCP || f->hdr.kind == PN_FLOW_DNS_MSG) && f->want_writable) {
			f->want_writable = 0;
			f->ops->writable(f, f->user);
		}
	}
	pn_tsess_want_write(t);
}

unsigned pn_tsess_max_flows(const struct pn_tunnel *t)
{
	uint64_t peer;

	if (t->p.conn.role != PN_TCONN_CLIENT || !t->c)
		return t->p.max_flows;
	/* The connector's grant counts the control stream too. */
	peer = pn_tconn_peer_max_streams(t->c);
	if (peer >= 1 && peer - 1 < t->p.max_flows)
		return (unsigned)(peer - 1);
	return t->p.max_flows;
}

int pn_flow_open(struct pn_tunnel *t, const struct pn_flow_req *req,
		 const struct pn_flow_ops *ops, void *user, struct pn_flow **out)
{
	uint8_t tmp[PN_FLOW_HDR_MAX];
	struct pn_buf w;
	struct pn_flow *f;

	if (!t || !req || !ops)
		return PN_E_INVAL;
	if (t->dead)
		return PN_E_CLOSED;
	if (t->p.conn.role != PN_TCONN_CLIENT)
		return PN_E_INVAL;
	if (t->nflows >= pn_tsess_max_flows(t))
		return PN_E_TUN_LIMIT;
	if (!(f = calloc(1, sizeof(*f))))
		return -ENOMEM;
	f->t = t;
	f->sid = -1;
	f->hdr = req->hdr;
	while (f->hdr.flow_id == 0)
		pn_random(&f->hdr.flow_id, sizeof(f->hdr.flow_id));
	pn_buf_init_wr(&w, tmp, sizeof(tmp));
	if (pn_flow_hdr_encode(&w, &f->hdr) != 0) {
		free(f);
		return PN_E_INVAL;
	}
	f->ops = ops;
	f->user = user;
	f->st = F_CL_QUEUED;
	pn_tsess_flow_link(t, f);
	if (t->q_tail)
		t->q_tail->next_q = f;
	else
		t->q_head = f;
	t->q_tail = f;
	*out = f;
	pn_tsess_client_open_queued(t);
	return 0;
}

int pn_flow_open_raw(struct pn_tunnel *t, const uint8_t *hdr, size_t len, uint64_t flow_id,
		     const struct pn_flow_ops *ops, void *user, struct pn_flow **out)
{
	struct pn_flow_req req;
	struct pn_flow *f;
	int r;

	memset(&req, 0, sizeof(req));
	req.hdr.kind = PN_FLOW_TCP;
	req.hdr.flow_id = flow_id;
	req.hdr.dest.type = PN_FLOW_ADDR_IPV4;
	req.hdr.port = 1;
	if ((r = pn_flow_open(t, &req, ops, user, &f)) != 0)
		return r;
	if (f->sid >= 0) /* already sent encoded: only while queued */
		return PN_E_INVAL;
	if (!(f->raw_hdr = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(f->raw_hdr, hdr, len);
	f->raw_len = len;
	f->raw = 1;
	*out = f;
	return 0;
}

/* Client: bytes on a flow stream (status first, then payload). */
int pn_tsess_client_flow_data(struct pn_flow *f, const uint8_t *p, size_t n, int fin)
{
	struct pn_tunnel *t = f->t;

	if (f->st == F_CL_STATUS) {
		struct pn_flow_status s;
		struct pn_buf b;
		size_t take = n < sizeof(f->msg) - f->msg_len ? n : sizeof(f->msg) - f->msg_len;
		int r;

		memcpy(f->msg + f->msg_len, p, take);
		f->msg_len += take;
		pn_buf_init_ro(&b, f->msg, f->msg_len);
		r = pn_flow_status_decode(&b, &s);
		if (r == PN_E_TRUNCATED && !fin && f->msg_len < sizeof(f->msg)) {
			flow_give_credit(f, n);
			return 0;
		}
		/* a refusal of a header the server could not parse carries id 0 */
		if (r == 0 && s.flow_id == 0 && s.code != PN_FLOW_OK && f->raw)
			s.flow_id = f->hdr.flow_id;
		if (r != 0 || s.flow_id != f->hdr.flow_id) {
			pn_flow_status_set(&s, f->hdr.flow_id, PN_FLOW_BAD_REQUEST,
					   "malformed status from connector");
		}
		/* consumed: the status bytes of this chunk (all of it if bad) */
		size_t used = r == 0 ? (size_t)(f->msg_len - pn_buf_len(&b)) - (f->msg_len - take) : n;
		flow_give_credit(f, used);
		/* open before the glue hears of it: it may send at once */
		if (s.code == PN_FLOW_OK && f->hdr.kind != PN_FLOW_DNS)
			f->st = F_OPEN;
		if (!f->glue_gone && f->ops->status)
			f->ops->status(f, &s, f->user);
		if (f->glue_gone)
			return 0;
		if (s.code != PN_FLOW_OK || f->hdr.kind == PN_FLOW_DNS) {
			int code = s.code;
			f->st = F_DONE;
			pn_tsess_flow_notify_closed(f, code);
			pn_tconn_stream_reset(t->c, f->sid, PN_FLOW_APP_ERR_BASE + PN_FLOW_OK);
			return 0;
		}
		f->st = F_OPEN;
		/* leftover bytes after the status are payload */
		p += used;
		n -= used;
	}
	deliver_fin(f, p, n, fin);
	return 0;
}

/* ------------------------------------------------- server: requests ---- */

static void server_reply(struct pn_flow *f, const struct pn_flow_status *st)
{
	uint8_t buf[PN_FLOW_STATUS_MAX];
	struct pn_buf w;

	pn_buf_init_wr(&w, buf, sizeof(buf));
	if (pn_flow_status_encode(&w, st) == 0)
		pn_tconn_stream_write(f->t->c, f->sid, pn_buf_ptr(&w), pn_buf_len(&w));
}

static void server_refuse(struct pn_flow *f, int code, const char *text)
{
	struct pn_flow_status s;

	pn_flow_status_set(&s, f->hdr.flow_id, code, text);
	server_reply(f, &s);
	pn_tconn_stream_fin(f->t->c, f->sid);
	f->st = F_DONE;
	f->glue_gone = 1;
	pn_tsess_want_write(f->t);
}

void pn_tsess_server_dispatch(struct pn_flow *f)
{
	struct pn_tunnel *t = f->t;

	f->st = F_SV_REQUESTED;
	t->p.server_ops->flow_request(t, f, &f->hdr, t->p.server_user);
}

static void server_early(struct pn_flow *f, const uint8_t *p, size_t n, int fin)
{
	if (n) {
		if (!f->early_init) {
			/* bounded by the stream window: no credit is given back */
			if (pn_buf_init_dyn(&f->early, n, f->t->p.conn.stream_window + 1) != 0)
				return;
			f->early_init = 1;
		}
		if (pn_buf_put_bytes(&f->early, p, n) != 0)
			return; /* cannot happen within the window */
		f->rx += n;
	}
	if (fin)
		f->early_fin = 1;
}

int pn_tsess_server_flow_data(struct pn_flow *f, const uint8_t *p, size_t n, int fin)
{
	struct pn_tunnel *t = f->t;

	if (f->st == F_SV_HDR) {
		size_t take = n < sizeof(f->msg) - f->msg_len ? n : sizeof(f->msg) - f->msg_len;
		struct pn_buf b;
		int r;

		memcpy(f->msg + f->msg_len, p, take);
		f->msg_len += take;
		pn_buf_init_ro(&b, f->msg, f->msg_len);
		r = pn_flow_hdr_decode(&b, &f->hdr);
		if (r == PN_E_TRUNCATED && !fin && f->msg_len < sizeof(f->msg)) {
			flow_give_credit(f, n);
			return 0;
		}
		if (r == 0 && pn_tsess_flow_by_id(t, f->hdr.flow_id) != f) {
			r = PN_E_INVAL; /* flow id reused within this tunnel */
		}
		if (r != 0) {
			server_refuse(f, r == PN_E_UNSUPPORTED ? PN_FLOW_BAD_VERSION : PN_FLOW_BAD_REQUEST,
				      r == PN_E_UNSUPPORTED ? "unsupported flow header version"
				      : r == PN_E_INVAL ? "flow id already in use"
				      : r == PN_E_BAD_NAME ? "invalid destination name"
							: "malformed flow header");
			flow_give_credit(f, n);
			return 0;
		}
		size_t used = (size_t)(f->msg_len - pn_buf_len(&b)) - (f->msg_len - take);
		flow_give_credit(f, used);
		p += used;
		n -= used;
		f->st = t->acl_ok ? F_SV_REQUESTED : F_SV_WAIT_ACL;
		server_early(f, p, n, fin);
		if (t->acl_ok)
			pn_tsess_server_dispatch(f);
		return 0;
	}
	if (f->st == F_SV_WAIT_ACL || f->st == F_SV_REQUESTED) {
		server_early(f, p, n, fin);
		return 0;
	}
	if (f->st == F_DONE || f->glue_gone) {
		flow_give_credit(f, n);
		return 0;
	}
	deliver_fin(f, p, n, fin);
	return 0;
}

int pn_flow_respond(struct pn_flow *f, const struct pn_flow_status *st,
		    const struct pn_flow_ops *ops, void *user)
{
	struct pn_tunnel *t;
	struct pn_flow_status s;

	if (!f || !st || f->st != F_SV_REQUESTED)
		return PN_E_INVAL;
	t = f->t;
	if (t->dead)
		return PN_E_CLOSED;
	s = *st;
	s.flow_id = f->hdr.flow_id;
	if (s.code != PN_FLOW_OK || f->hdr.kind == PN_FLOW_DNS || !ops) {
		uint8_t buf[PN_FLOW_STATUS_MAX];
		struct pn_buf w;
		pn_buf_init_wr(&w, buf, sizeof(buf));
		if (pn_flow_status_encode(&w, &s) != 0)
			return PN_E_INVAL;
		pn_tconn_stream_write(t->c, f->sid, pn_buf_ptr(&w), pn_buf_len(&w));
		pn_tconn_stream_fin(t->c, f->sid);
		f->st = F_DONE;
		f->glue_gone = 1;
		pn_tsess_want_write(t);
		return 0;
	}
	server_reply(f, &s);
	f->st = F_OPEN;
	f->ops = ops;
	f->user = user;
	pn_tsess_want_write(t);
	if (f->early_init && pn_buf_len(&f->early)) {
		size_t n = pn_buf_len(&f->early);
		/* rx was counted when buffered */
		f->rx -= n;
		deliver(f, pn_buf_ptr(&f->early), n);
		pn_buf_fini(&f->early);
		f->early_init = 0;
	}
	if (f->early_fin && !f->glue_gone) {
		f->fin_rx = 1;
		if (f->ops->eof)
			f->ops->eof(f, f->user);
	}
	if (!f->glue_gone && f->want_writable && f->ops->writable) {
		f->want_writable = 0;
		f->ops->writable(f, f->user);
	}
	return 0;
}

/* Control stream at the server: ACL messages. */
/* ----------------------------------------------- endpoint.h: flows ----- */

ssize_t pn_flow_write(struct pn_flow *f, const void *p, size_t n)
{
	ssize_t r;

	if (f->hdr.kind != PN_FLOW_TCP && f->hdr.kind != PN_FLOW_DNS_MSG)
		return PN_E_INVAL;
	if (f->t->dead || f->shut_wr || f->st == F_DONE)
		return PN_E_CLOSED;
	if (f->sid < 0 || f->st == F_SV_REQUESTED) {
		f->want_writable = 1;
		return 0;
	}
	r = pn_tconn_stream_write_bounded(f->t->c, f->sid, p, n);
	if (r >= 0) {
		f->tx += (uint64_t)r;
		if ((size_t)r < n)
			f->want_writable = 1;
		if (r > 0)
			pn_tsess_want_write(f->t);
	}
	return r;
}

size_t pn_flow_write_room(struct pn_flow *f, size_t want)
{
	size_t room;

	if ((f->hdr.kind != PN_FLOW_TCP && f->hdr.kind != PN_FLOW_DNS_MSG) || f->t->dead ||
	    f->shut_wr || f->st == F_DONE)
		return 0;
	if (f->sid < 0 || f->st == F_SV_REQUESTED)
		room = 0; /* the stream opens (or the verdict comes) first */
	else
		room = pn_tconn_stream_room(f->t->c, f->sid, want);
	if (room == 0 && want)
		f->want_writable = 1;
	return room;
}

int pn_flow_shutdown(struct pn_flow *f)
{
	if (f->t->dead || f->st == F_DONE)
		return PN_E_CLOSED;
	if (f->sid < 0) {
		f->shut_wr = 1; /* FIN right after the header */
		return 0;
	}
	f->shut_wr = 1;
	pn_tsess_want_write(f->t);
	return pn_tconn_stream_fin(f->t->c, f->sid);
}

void pn_flow_consumed(struct pn_flow *f, size_t n)
{
	if (n > f->rx_unconsumed)
		n = (size_t)f->rx_unconsumed;
	f->rx_unconsumed -= n;
	if (!f->t->dead && f->sid >= 0) {
		flow_give_credit(f, n);
		pn_tsess_want_write(f->t);
	}
}

int pn_flow_send_datagram(struct pn_flow *f, const void *p, size_t n)
{
	uint8_t buf[PN_FLOW_DGRAM_HDR_LEN + PN_FLOW_DGRAM_PAYLOAD_MAX];
	size_t len;
	int r;

	if (f->t->dead)
		return PN_E_CLOSED;
	if ((f->hdr.kind != PN_FLOW_UDP && f->hdr.kind != PN_FLOW_ICMP) || f->st != F_OPEN)
		return PN_E_INVAL;
	if ((r = pn_flow_dgram_encode(buf, sizeof(buf), f->hdr.flow_id, p, n, &len)) != 0)
		return r;
	if ((r = pn_tconn_datagram(f->t->c, buf, len)) == 0) {
		f->tx += n;
		pn_tsess_want_write(f->t);
	}
	return r;
}

void pn_flow_close(struct pn_flow *f, int code)
{
	struct pn_tunnel *t = f->t;

	f->glue_gone = 1;
	f->st = F_DONE;
	if (f->sid < 0) {
		/* still queued for a stream (client) */
		struct pn_flow **pp = &t->q_head, *prev = NULL;
		for (; *pp; prev = *pp, pp = &(*pp)->next_q)
			if (*pp == f) {
				*pp = f->next_q;
				if (t->q_tail == f)
					t->q_tail = prev;
				break;
			}
		pn_tsess_flow_release(f);
		return;
	}
	if (!t->dead) {
		if (f->rx_unconsumed) {
			flow_give_credit(f, (size_t)f->rx_unconsumed);
			f->rx_unconsumed = 0;
		}
		pn_tconn_stream_reset(t->c, f->sid, PN_FLOW_APP_ERR_BASE + (uint64_t)code);
		pn_tsess_want_write(t);
	}
	/* freed when the stream closes (or with the tunnel) */
}

uint64_t pn_flow_id(const struct pn_flow *f)
{
	return f->hdr.flow_id;
}

const struct pn_flow_hdr *pn_flow_hdr(const struct pn_flow *f)
{
	return &f->hdr;
}

struct pn_tunnel *pn_flow_tunnel(const struct pn_flow *f)
{
	return f->t;
}

void *pn_flow_user(const struct pn_flow *f)
{
	return f->user;
}

void pn_flow_set_user(struct pn_flow *f, void *user)
{
	f->user = user;
}

void pn_flow_bytes(const struct pn_flow *f, uint64_t *tx, uint64_t *rx)
{
	*tx = f->tx;
	*rx = f->rx;
}
