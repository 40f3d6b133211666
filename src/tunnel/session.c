/* The flow layer over one QUIC connection: tunnel lifecycle, control
 * stream, QUIC callbacks.  See session.h and endpoint.h; flows: flow.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "tunnel/session_int.h"

static void tunnel_end(struct pn_tunnel *t, int reason, int send_close, uint64_t app_err,
		       const char *text);
static void close_now(struct pn_tunnel *t);

/* ------------------------------------------------- client: open flows -- */

static void client_send_acl(struct pn_tunnel *t)
{
	uint8_t pre[PN_CTL_PREFIX_LEN];
	int64_t sid;

	if (t->ctl_open || !pn_tconn_handshake_done(t->c))
		return;
	if (pn_tconn_stream_open(t->c, NULL, &sid) != 0)
		return;
	/* The control stream must be stream 0: the server relies on it. */
	if (sid != CTL_SID) {
		tunnel_end(t, PN_E_INTERNAL, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_INTERNAL, "ctl sid");
		return;
	}
	t->ctl_open = 1;
	/* the control ring holds a whole access list and a credential (pages
	   are touched only as far as messages are actually written) */
	pn_tconn_stream_set_sndbuf(t->c, sid,
				   PN_CTL_PREFIX_LEN + PN_CTL_BODY_MAX + PN_CTL_PREFIX_LEN +
					   PN_CTL_CRED_MAX);
	pre[0] = PN_CTL_ACL;
	pn_store_be32(pre + 1, (uint32_t)t->acl_len);
	/* The ring holds the whole list: sndbuf >= PN_CTL_BODY_MAX is required. */
	if (pn_tconn_stream_write(t->c, sid, pre, sizeof(pre)) != (ssize_t)sizeof(pre) ||
	    pn_tconn_stream_write(t->c, sid, t->acl, t->acl_len) != (ssize_t)t->acl_len) {
		tunnel_end(t, PN_E_TOOBIG, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_INTERNAL, "acl");
		return;
	}
	pn_tsess_ctl_push(t, 0);
	/* a credential renewed while the handshake ran (with the old one) */
	pn_tsess_client_write_cred(t);
	pn_tsess_want_write(t);
}

static int server_ctl_data(struct pn_tunnel *t, const uint8_t *p, size_t n)
{
	uint8_t type;
	const uint8_t *body;
	size_t blen;
	int r;

	if (!t->ctl_rx_init) {
		if (pn_buf_init_dyn(&t->ctl_rx, 1024, PN_CTL_PREFIX_LEN + PN_CTL_BODY_MAX) != 0)
			return -ENOMEM;
		t->ctl_rx_init = 1;
	}
	if (pn_buf_put_bytes(&t->ctl_rx, p, n) != 0) {
		tunnel_end(t, PN_E_TOOBIG, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_BAD_ACL,
			   "control message too large");
		return 0;
	}
	pn_tconn_stream_consumed(t->c, CTL_SID, n);
	while ((r = pn_ctl_decode(&t->ctl_rx, &type, &body, &blen)) == 0) {
		char why[PN_FLOW_TEXT_MAX + 1] = "";
		int code;

		if (type == PN_CTL_CRED) {
			pn_tsess_server_cred(t, body, blen);
			if (t->dead)
				return 0;
			continue;
		}
		if (type == PN_CTL_CANDIDATES) {
			if (t->p.drv->ctl)
				t->p.drv->ctl(t, t->p.drv_ctx, type, body, blen);
			if (t->dead)
				return 0;
			continue;
		}
		if (type != PN_CTL_ACL) {
			tunnel_end(t, PN_E_MALFORMED, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_BAD_REQUEST,
				   "unexpected control message");
			return 0;
		}
		code = t->p.server_ops->acl(t, body, blen, why, sizeof(why), t->p.server_user);
		if (t->dead)
			return 0;
		if (code != PN_FLOW_OK) {
			if (!t->acl_ok) {
				tunnel_end(t, PN_E_CONN_ACL, 1, PN_FLOW_APP_ERR_BASE + (uint64_t)code,
					   why[0] ? why : pn_flow_code_name(code));
				return 0;
			}
			uint8_t buf[PN_CTL_PREFIX_LEN + 2 + PN_FLOW_TEXT_MAX];
			struct pn_buf w;
			pn_buf_init_wr(&w, buf, sizeof(buf));
			pn_ctl_error_encode(&w, code, why);
			pn_tconn_stream_write(t->c, CTL_SID, pn_buf_ptr(&w), pn_buf_len(&w));
		} else {
			uint8_t buf[PN_CTL_PREFIX_LEN];
			struct pn_buf w;
			pn_buf_init_wr(&w, buf, sizeof(buf));
			pn_ctl_encode(&w, PN_CTL_ACL_OK, NULL, 0);
			pn_tconn_stream_write(t->c, CTL_SID, pn_buf_ptr(&w), pn_buf_len(&w));
			if (!t->acl_ok) {
				t->acl_ok = 1;
				t->state = PN_TUNNEL_UP;
				/* requests that arrived before the list */
				for (struct pn_flow *f = t->flows, *nx; f; f = nx) {
					nx = f->next;
					if (f->st == F_SV_WAIT_ACL)
						pn_tsess_server_dispatch(f);
					if (t->dead)
						return 0;
				}
			}
		}
		pn_tsess_want_write(t);
	}
	pn_buf_compact(&t->ctl_rx);
	if (r != PN_E_TRUNCATED)
		tunnel_end(t, r, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_BAD_REQUEST,
			   "malformed control message");
	return 0;
}

static int client_ctl_data(struct pn_tunnel *t, const uint8_t *p, size_t n)
{
	uint8_t type;
	const uint8_t *body;
	size_t blen;
	int r;

	if (!t->ctl_rx_init) {
		if (pn_buf_init_dyn(&t->ctl_rx, 256, 4096) != 0)
			return -ENOMEM;
		t->ctl_rx_init = 1;
	}
	if (pn_buf_put_bytes(&t->ctl_rx, p, n) != 0) {
		tunnel_end(t, PN_E_TOOBIG, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_BAD_REQUEST, "ctl");
		return 0;
	}
	pn_tconn_stream_consumed(t->c, CTL_SID, n);
	while ((r = pn_ctl_decode(&t->ctl_rx, &type, &body, &blen)) == 0) {
		int was_cred = 0;

		if (type == PN_CTL_ACL_OK || type == PN_CTL_CRED_OK || type == PN_CTL_ERROR)
			was_cred = pn_tsess_ctl_pop(t);
		if (type == PN_CTL_CRED_OK || (type == PN_CTL_ERROR && was_cred)) {
			int code = PN_FLOW_OK;
			char text[PN_FLOW_TEXT_MAX + 1] = "";
			if (type == PN_CTL_ERROR &&
			    pn_ctl_error_parse(body, blen, &code, text, sizeof(text)) != 0)
				code = PN_FLOW_INTERNAL;
			/* a refused credential changes nothing here: the tunnel
			   ends when the connector's deadline for the old one comes */
			if (t->p.ops && t->p.ops->cred)
				t->p.ops->cred(t, code, text, t->p.user);
			if (t->dead)
				return 0;
		} else if (type == PN_CTL_ACL_OK && t->state != PN_TUNNEL_UP) {
			t->state = PN_TUNNEL_UP;
			if (t->p.ops && t->p.ops->state)
				t->p.ops->state(t, PN_TUNNEL_UP, 0, t->p.user);
			if (t->dead)
				return 0;
		} else if (type == PN_CTL_CANDIDATES) {
			if (t->p.drv->ctl)
				t->p.drv->ctl(t, t->p.drv_ctx, type, body, blen);
			if (t->dead)
				return 0;
		} else if (type == PN_CTL_ERROR) {
			int code = PN_FLOW_INTERNAL;
			char text[PN_FLOW_TEXT_MAX + 1] = "";
			pn_ctl_error_parse(body, blen, &code, text, sizeof(text));
			t->peer_code = code;
			memcpy(t->end_text, text, sizeof(text));
			/* an update was refused: the old list stays in force */
		}
	}
	pn_buf_compact(&t->ctl_rx);
	if (r != PN_E_TRUNCATED)
		tunnel_end(t, r, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_BAD_REQUEST, "ctl");
	return 0;
}

/* --------------------------------------------------- conn callbacks ---- */

static void cb_handshake(struct pn_tconn *c, const struct pn_cred_info *peer, void *user)
{
	struct pn_tunnel *t = user;

	if (t->dead)
		return;
	if (t->p.conn.role == PN_TCONN_CLIENT) {
		t->in_hs_cb = 1;
		client_send_acl(t);
		pn_tsess_client_open_queued(t);
		t->in_hs_cb = 0;
		return;
	}
	t->acl_deadline = t->now + ACL_DEADLINE_NS;
	pn_tsess_cred_start(t, peer);
	if (t->p.server_ops->tunnel_new) {
		char why[PN_FLOW_TEXT_MAX + 1] = "";
		int code;
		t->in_hs_cb = 1;
		code = t->p.server_ops->tunnel_new(t, peer, why, sizeof(why), t->p.server_user);
		t->in_hs_cb = 0;
		/* (the glue may have closed it itself) */
		if (code != PN_FLOW_OK && !t->dead)
			tunnel_end(t, PN_E_TUN_REFUSED, 1, PN_FLOW_APP_ERR_BASE + (uint64_t)code,
				   why[0] ? why : pn_flow_code_name(code));
	}
}

static int cb_stream_open(struct pn_tconn *c, int64_t sid, void *user)
{
	struct pn_tunnel *t = user;
	struct pn_flow *f;

	if (t->dead)
		return 1; /* ended inside this read: nothing more is served */
	if (sid == CTL_SID)
		return 0;
	if (t->nflows >= t->p.max_flows)
		return 1;
	if (!(f = calloc(1, sizeof(*f))))
		return 1;
	f->t = t;
	f->sid = sid;
	f->st = F_SV_HDR;
	pn_tsess_flow_link(t, f);
	pn_tconn_stream_set_user(c, sid, f);
	return 0;
}

static int cb_stream_data(struct pn_tconn *c, int64_t sid, const uint8_t *p, size_t n, int fin,
			  void *user, void *su)
{
	struct pn_tunnel *t = user;
	struct pn_flow *f = su;

	if (t->dead) {
		/* ended earlier in this read: not the glue's any more */
		pn_tconn_stream_consumed(c, sid, n);
		return 0;
	}
	if (sid == CTL_SID)
		return t->p.conn.role == PN_TCONN_SERVER ? server_ctl_data(t, p, n)
							 : client_ctl_data(t, p, n);
	if (!f) {
		pn_tconn_stream_consumed(c, sid, n);
		return 0;
	}
	return t->p.conn.role == PN_TCONN_SERVER ? pn_tsess_server_flow_data(f, p, n, fin)
						 : pn_tsess_client_flow_data(f, p, n, fin);
}

static void cb_stream_reset(struct pn_tconn *c, int64_t sid, uint64_t app_err, void *user,
			    void *su)
{
	struct pn_flow *f = su;

	if (sid == CTL_SID) {
		tunnel_end(user, PN_E_TUN_QUIC, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_BAD_REQUEST,
			   "control stream reset");
		return;
	}
	/* Tear down both directions; closed is reported at stream close. */
	if (f && !f->glue_gone) {
		pn_tsess_flow_notify_closed(f, pn_tsess_app_code(app_err));
		f->st = F_DONE;
	}
	pn_tconn_stream_reset(c, sid, app_err);
	pn_tsess_want_write(user);
}

static void cb_stream_close(struct pn_tconn *c, int64_t sid, int has_err, uint64_t app_err,
			    void *user, void *su)
{
	struct pn_flow *f = su;

	if (!f)
		return;
	pn_tsess_flow_notify_closed(f, has_err ? pn_tsess_app_code(app_err) : PN_FLOW_OK);
	f->sid = -1;
	pn_tsess_flow_release(f);
}

static void cb_stream_writable(struct pn_tconn *c, int64_t sid, void *user, void *su)
{
	struct pn_flow *f = su;

	if (f && !f->glue_gone && f->want_writable && f->ops && f->ops->writable) {
		f->want_writable = 0;
		f->ops->writable(f, f->user);
	}
}

static void cb_datagram(struct pn_tconn *c, const uint8_t *p, size_t n, void *user)
{
	struct pn_tunnel *t = user;
	const uint8_t *pl;
	size_t pn;
	uint64_t id;
	struct pn_flow *f;

	if (t->dead)
		return;
	if (pn_flow_dgram_decode(p, n, &id, &pl, &pn) != 0 || !(f = pn_tsess_flow_by_id(t, id)) ||
	    (f->hdr.kind != PN_FLOW_UDP && f->hdr.kind != PN_FLOW_ICMP) || f->st != F_OPEN ||
	    f->glue_gone) {
		t->dgram_unknown++; /* unknown or unauthorized flow: dropped */
		return;
	}
	f->rx += pn;
	if (f->ops->datagram)
		f->ops->datagram(f, pl, pn, f->user);
}

static void cb_streams_available(struct pn_tconn *c, void *user)
{
	struct pn_tunnel *t = user;

	if (!t->dead && pn_tconn_handshake_done(c)) {
		client_send_acl(t);
		pn_tsess_client_open_queued(t);
	}
}

static const struct pn_tconn_cbs conn_cbs = {
	.handshake_done = cb_handshake,
	.stream_open = cb_stream_open,
	.stream_data = cb_stream_data,
	.stream_reset = cb_stream_reset,
	.stream_close = cb_stream_close,
	.stream_writable = cb_stream_writable,
	.datagram = cb_datagram,
	.streams_available = cb_streams_available,
};

/* ------------------------------------------------------------ tunnel ---- */

static int tunnel_alloc(const struct pn_tunnel_params *p, struct pn_tunnel **out)
{
	struct pn_tunnel *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->p = *p;
	t->p.conn.cbs = &conn_cbs;
	t->p.conn.user = t;
	if (!t->p.max_flows)
		t->p.max_flows = PN_TEP_MAX_FLOWS_DEFAULT;
	if (!t->p.conn.max_streams)
		t->p.conn.max_streams = t->p.max_flows + 1;
	if (!t->p.conn.stream_window)
		t->p.conn.stream_window = PN_TEP_WINDOW_DEFAULT;
	if (!t->p.conn.stream_sndbuf)
		t->p.conn.stream_sndbuf = PN_TEP_SNDBUF_DEFAULT;
	t->state = PN_TUNNEL_CONNECTING;
	t->peer_code = -1;
	t->path_kind = p->path_kind;
	{
		static const uint8_t zero[PN_TCONN_CID_KEY_LEN];
		/* the driver may pick the key (it demuxes by it) */
		if (!memcmp(t->p.conn.cid_key, zero, sizeof(zero)))
			pn_random(t->p.conn.cid_key, sizeof(t->p.conn.cid_key));
	}
	*out = t;
	return 0;
}

int pn_tunnel_new_client(const struct pn_tunnel_params *p, struct pn_path *path, uint64_t now,
			 struct pn_tunnel **out)
{
	struct pn_tunnel *t = NULL;
	int r;

	if (!p->acl || p->acl_len == 0 || p->acl_len > PN_CTL_BODY_MAX)
		return PN_E_INVAL;
	if ((r = tunnel_alloc(p, &t)) != 0)
		return r;
	t->p.conn.role = PN_TCONN_CLIENT;
	if (!(t->acl = malloc(p->acl_len))) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(t->acl, p->acl, p->acl_len);
	t->acl_len = p->acl_len;
	t->now = now;
	if ((r = pn_tconn_client_new(&t->p.conn, path, now, &t->c)) != 0)
		goto out;
	*out = t;
	t = NULL; /* transferred */
out:
	pn_tunnel_free(t);
	return r;
}

int pn_tunnel_new_server(const struct pn_tunnel_params *p, struct pn_path *path,
			 const uint8_t *pkt, size_t len, uint64_t now, struct pn_tunnel **out)
{
	struct pn_tunnel *t = NULL;
	int r;

	if (!p->server_ops || !p->server_ops->acl || !p->server_ops->flow_request)
		return PN_E_INVAL;
	if ((r = tunnel_alloc(p, &t)) != 0)
		return r;
	t->p.conn.role = PN_TCONN_SERVER;
	t->now = now;
	if ((r = pn_tconn_server_new(&t->p.conn, path, pkt, len, now, &t->c)) != 0)
		goto out;
	*out = t;
	t = NULL; /* transferred */
out:
	pn_tunnel_free(t);
	return r;
}

void pn_tunnel_free(struct pn_tunnel *t)
{
	if (!t)
		return;
	while (t->flows) {
		struct pn_flow *f = t->flows;
		f->sid = -1;
		pn_tsess_flow_release(f);
	}
	pn_tconn_free(t->c);
	if (t->ctl_rx_init)
		pn_buf_fini(&t->ctl_rx);
	if (t->acl) {
		pn_wipe(t->acl, t->acl_len);
		free(t->acl);
	}
	pn_tsess_cred_free(t);
	free(t);
}

/* Write the CONNECTION_CLOSE noted by tunnel_end (never from inside a
 * pn_tconn call: see in_conn). */
static void close_now(struct pn_tunnel *t)
{
	if (!t->close_deferred)
		return;
	t->close_deferred = 0;
	t->close_tx.buf = t->close_pkt;
	pn_tconn_close(t->c, t->close_app_err, t->close_text[0] ? t->close_text : NULL, t->now,
		       &t->close_tx);
	t->close_pending = t->close_tx.len > 0;
}

/* End the tunnel: close the QUIC connection (if still open), tell every
 * flow and the glue, and ask the driver to reap it.  Safe from any
 * callback: inside a pn_tconn call the close itself waits for its return. */
static void tunnel_end(struct pn_tunnel *t, int reason, int send_close, uint64_t app_err,
		       const char *text)
{
	int fcode;

	if (t->dead)
		return;
	t->dead = 1;
	t->end_reason = reason ? reason : PN_E_CLOSED;
	if (text && !t->end_text[0]) {
		size_t n = strnlen(text, PN_FLOW_TEXT_MAX);
		memcpy(t->end_text, text, n);
		t->end_text[n] = '\0';
	}
	if (send_close && t->c) {
		if (text) {
			size_t n = strnlen(text, PN_FLOW_TEXT_MAX);
			memcpy(t->close_text, text, n);
			t->close_text[n] = '\0';
		}
		t->close_app_err = app_err;
		t->close_deferred = 1;
		if (!t->in_conn)
			close_now(t);
	}
	t->state = PN_TUNNEL_CLOSED;
	if (t->glue_closed)
		fcode = pn_tsess_app_code(app_err);
	else
		fcode = t->peer_code >= 0 ? t->peer_code : pn_tsess_app_code(app_err);
	if (fcode == PN_FLOW_OK)
		fcode = PN_FLOW_RESET;
	for (struct pn_flow *f = t->flows; f; f = f->next)
		pn_tsess_flow_notify_closed(f, fcode);
	if (t->glue_closed) {
		/* the glue closed it: no tunnel callback */
	} else if (t->p.conn.role == PN_TCONN_CLIENT) {
		if (t->p.ops && t->p.ops->state)
			t->p.ops->state(t, PN_TUNNEL_CLOSED, t->end_reason, t->p.user);
	} else if (t->p.server_ops->tunnel_closed) {
		t->p.server_ops->tunnel_closed(t, t->end_reason, t->p.server_user);
	}
	if (t->p.drv && t->p.drv->dead)
		t->p.drv->dead(t, t->p.drv_ctx);
}

/* The connection died inside ngtcp2: learn why and end. */
static void conn_died(struct pn_tunnel *t)
{
	uint64_t app = 0;
	int r = pn_tconn_close_reason(t->c, &app);

	if (app >= PN_FLOW_APP_ERR_BASE) {
		t->peer_code = pn_tsess_app_code(app);
		r = t->peer_code == PN_FLOW_OK ? PN_E_TUN_PEER_CLOSED : PN_E_TUN_REFUSED;
	}
	if (r == PN_E_TUN_PEER_CLOSED || r == PN_E_TUN_REFUSED || r == PN_E_TUN_HANDSHAKE ||
	    r == PN_E_TUN_CRED_REFUSED)
		pn_tconn_peer_reason(t->c, t->end_text, sizeof(t->end_text));
	else
		pn_tconn_local_reason(t->c, t->end_text, sizeof(t->end_text));
	tunnel_end(t, r, !pn_tconn_is_closed(t->c), PN_FLOW_APP_ERR_BASE + PN_FLOW_INTERNAL,
		   NULL);
}

int pn_tunnel_input(struct pn_tunnel *t, struct pn_path *path, const uint8_t *pkt, size_t len,
		    uint64_t now)
{
	int r;

	t->now = now;
	if (t->dead)
		return PN_E_CLOSED;
	t->in_conn++;
	r = pn_tconn_read(t->c, path, pkt, len, now);
	t->in_conn--;
	if (t->dead)
		close_now(t); /* ended by a callback inside that read */
	else if (r != 0)
		conn_died(t);
	return r;
}

int pn_tunnel_output(struct pn_tunnel *t, uint64_t now, struct pn_tconn_tx *tx)
{
	int r;

	t->now = now;
	/* Re-entered from a callback inside a pn_tconn call (e.g. glue that
	 * closed the tunnel and flushes its endpoint at once): the close can
	 * be written now, except during handshake completion, where ngtcp2
	 * cannot write one (the peer then times out). */
	if (t->close_deferred && !t->in_hs_cb)
		close_now(t);
	if (t->close_pending) {
		memcpy(tx->buf, t->close_pkt, t->close_tx.len);
		tx->len = tx->seg = t->close_tx.len;
		tx->npkts = 1;
		tx->path = t->close_tx.path;
		t->close_pending = 0;
		return 0;
	}
	if (t->dead) {
		tx->len = tx->npkts = 0;
		return PN_E_CLOSED;
	}
	t->in_conn++;
	r = pn_tconn_write(t->c, now, tx);
	t->in_conn--;
	if (t->dead) {
		close_now(t); /* ended by a callback inside that write */
		if (tx->len == 0)
			return pn_tunnel_output(t, now, tx);
		return 0;
	}
	if (r != 0) {
		conn_died(t);
		return pn_tunnel_output(t, now, tx);
	}
	return r;
}

uint64_t pn_tunnel_expiry(const struct pn_tunnel *t)
{
	uint64_t e;

	if (t->dead)
		return UINT64_MAX;
	e = pn_tconn_expiry(t->c);
	if (t->acl_deadline && !t->acl_ok && t->acl_deadline < e)
		e = t->acl_deadline;
	if (t->cred_check_at && t->cred_check_at < e)
		e = t->cred_check_at;
	return e;
}

void pn_tunnel_timeout(struct pn_tunnel *t, uint64_t now)
{
	int r;

	t->now = now;
	if (t->dead)
		return;
	if (t->acl_deadline && !t->acl_ok && now >= t->acl_deadline) {
		/* authenticated but silent: no list, no tunnel */
		tunnel_end(t, PN_E_TIMEOUT, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_NO_ACL,
			   "no access list");
		return;
	}
	if (pn_tsess_cred_due(t, now)) {
		/* the client credential the tunnel holds is past not_after +
		 * skew and no renewal was re-presented: every flow would be
		 * denied, so the tunnel ends (the client reconnects) */
		tunnel_end(t, PN_E_EXPIRED, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_CRED, "cred_expired");
		return;
	}
	t->in_conn++;
	r = pn_tconn_handle_expiry(t->c, now);
	t->in_conn--;
	if (t->dead)
		close_now(t);
	else if (r != 0)
		conn_died(t);
}

struct pn_tconn *pn_tunnel_conn(const struct pn_tunnel *t)
{
	return t->c;
}

int pn_tunnel_is_dead(const struct pn_tunnel *t)
{
	return t->dead;
}

int pn_tunnel_end_reason(const struct pn_tunnel *t, int *peer_code, const char **text)
{
	if (peer_code)
		*peer_code = t->peer_code;
	if (text)
		*text = t->end_text;
	return t->dead ? t->end_reason : 0;
}

void pn_tunnel_set_now(struct pn_tunnel *t, uint64_t now)
{
	t->now = now;
}

void pn_tunnel_set_path_kind(struct pn_tunnel *t, enum pn_path_kind k)
{
	t->path_kind = k;
}

void *pn_tunnel_drv_ctx(const struct pn_tunnel *t)
{
	return t->p.drv_ctx;
}

/* --------------------------------------------- endpoint.h: tunnels ----- */

int pn_tunnel_update_acl(struct pn_tunnel *t, const uint8_t *acl, size_t len)
{
	uint8_t pre[PN_CTL_PREFIX_LEN];
	uint8_t *copy;

	if (t->dead || t->p.conn.role != PN_TCONN_CLIENT)
		return PN_E_CLOSED;
	if (len == 0 || len > PN_CTL_BODY_MAX)
		return PN_E_TOOBIG;
	if (!(copy = malloc(len)))
		return -ENOMEM;
	memcpy(copy, acl, len);
	pn_wipe(t->acl, t->acl_len);
	free(t->acl);
	t->acl = copy;
	t->acl_len = len;
	if (!t->ctl_open)
		return 0; /* sent when the control stream opens */
	if (pn_tconn_stream_buffered(t->c, CTL_SID) + sizeof(pre) + len >
	    PN_CTL_PREFIX_LEN + PN_CTL_BODY_MAX)
		return -EAGAIN;
	if (pn_tsess_ctl_push(t, 0) != 0)
		return -EAGAIN;
	pre[0] = PN_CTL_ACL;
	pn_store_be32(pre + 1, (uint32_t)len);
	pn_tconn_stream_write(t->c, CTL_SID, pre, sizeof(pre));
	pn_tconn_stream_write(t->c, CTL_SID, acl, len);
	pn_tsess_want_write(t);
	return 0;
}

int pn_tunnel_send_ctl(struct pn_tunnel *t, uint8_t type, const uint8_t *body, size_t len)
{
	uint8_t pre[PN_CTL_PREFIX_LEN];

	if (t->dead)
		return PN_E_CLOSED;
	if (t->state != PN_TUNNEL_UP || len > PN_CTL_BODY_MAX ||
	    (t->p.conn.role == PN_TCONN_CLIENT && !t->ctl_open))
		return PN_E_INVAL;
	if (pn_tconn_stream_buffered(t->c, CTL_SID) + sizeof(pre) + len >
	    PN_CTL_PREFIX_LEN + PN_CTL_BODY_MAX)
		return -EAGAIN;
	pre[0] = type;
	pn_store_be32(pre + 1, (uint32_t)len);
	if (pn_tconn_stream_write(t->c, CTL_SID, pre, sizeof(pre)) != (ssize_t)sizeof(pre) ||
	    pn_tconn_stream_write(t->c, CTL_SID, body, len) != (ssize_t)len)
		return -EAGAIN;
	pn_tsess_want_write(t);
	return 0;
}

void pn_tunnel_close(struct pn_tunnel *t, int code)
{
	if (t->dead)
		return;
	t->glue_closed = 1;
	tunnel_end(t, PN_E_CLOSED, 1, PN_FLOW_APP_ERR_BASE + (uint64_t)code,
		   pn_flow_code_name(code));
}

void pn_tunnel_path_lost(struct pn_tunnel *t)
{
	if (t->dead)
		return;
	/* the CONNECTION_CLOSE is sent on the current path, likely lost too */
	tunnel_end(t, PN_E_TUN_NO_PATH, 1, PN_FLOW_APP_ERR_BASE + PN_FLOW_RESET, "path lost");
}

void pn_tunnel_info(const struct pn_tunnel *t, struct pn_tunnel_info *info)
{
	struct pn_tconn_stats st;
	struct pn_tconn_pmtu pm;

	memset(info, 0, sizeof(*info));
	info->state = t->state;
	info->path = t->c && pn_tconn_path(t->c) ? pn_tconn_path(t->c)->kind : t->path_kind;
	info->flows = t->nflows;
	info->max_flows = pn_tsess_max_flows(t);
	if (t->p.conn.role == PN_TCONN_CLIENT)
		memcpy(info->peer_id, t->p.conn.pinned_id, PN_ID_LEN);
	else if (pn_tconn_peer(t->c))
		memcpy(info->peer_id, pn_tconn_peer(t->c)->id, PN_ID_LEN);
	pn_tconn_stats(t->c, &st);
	info->rtt_us = st.rtt_us;
	info->cwnd = st.cwnd;
	info->bytes_tx = st.bytes_tx;
	info->bytes_rx = st.bytes_rx;
	info->dgram_drops = st.dgram_drops + t->dgram_unknown;
	pn_tconn_pmtu_info(t->c, &pm);
	info->max_udp_payload = pm.max_udp_payload;
	info->pmtu_ceiling = pm.ceiling;
	info->pmtu_searching = pm.searching;
	info->pmtu_probes = pm.probes;
	info->pmtu_probes_lost = pm.probes_lost;
	info->pmtu_black_holes = pm.black_holes;
	info->pmtu_searches = pm.searches;
}

const struct pn_cred_info *pn_tunnel_peer(const struct pn_tunnel *t)
{
	if (t->p.conn.role == PN_TCONN_SERVER && t->cred_check_at)
		return &t->cred; /* the handshake's, or the last one adopted */
	return pn_tconn_peer(t->c);
}

void *pn_tunnel_user(const struct pn_tunnel *t)
{
	return t->p.conn.role == PN_TCONN_CLIENT ? t->p.user : t->tuser;
}

void pn_tunnel_set_user(struct pn_tunnel *t, void *user)
{
	if (t->p.conn.role == PN_TCONN_CLIENT)
		t->p.user = user;
	else
		t->tuser = user;
}

int pn_tunnel_refusal(const struct pn_tunnel *t, const struct pn_cred_info **cred,
		      uint64_t *now)
{
	return pn_tconn_refusal(t->c, cred, now);
}
