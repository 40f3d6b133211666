/*
 * The relay's stream connections (relay/server_int.h): accept and
 * admission, authentication, frames into the core, close.  A connection
 * belongs to the worker whose listener accepted it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "relay/admit.h"
#include "relay/server_int.h"
#include "relay/stream.h"

static void conn_unlink(struct worker *w, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static int s_on_ready(struct pn_rstream *s, void *user)
{
	struct conn *c = user;
	struct worker *w = c->w;
	struct pn_relay_server *srv = c->srv;
	char hex[PN_ID_HEX_LEN + 1];
	struct pn_cred_info seen;
	uint64_t now_s = (uint64_t)pn_wall_s();
	int r;

	r = pn_cred_verify_session_seen(srv->cfg.anchor, pn_rstream_tls(s), PN_CRED_ANY, now_s,
					PN_TRUST_DEFAULT_SKEW, &c->info, &seen);
	if (r == 0 && c->info.type != PN_CRED_CLIENT && c->info.type != PN_CRED_CONNECTOR)
		r = PN_E_WRONG_TYPE;
	srv_enter(w);
	pn_admit_release(&srv->adm, &c->adm);
	if (r == 0)
		r = pn_admit_peer(&srv->adm);
	if (r == 0) {
		c->peer = pn_relay_core_attach(srv->core, c,
					       c->info.type == PN_CRED_CLIENT ? PN_RELAY_ROLE_CLIENT
									      : PN_RELAY_ROLE_CONNECTOR,
					       c->info.id);
		if (!c->peer) {
			pn_admit_peer_gone(&srv->adm);
			srv_leave(w);
			return -ENOMEM;
		}
	} else {
		srv->refused_auth++;
	}
	srv_leave(w);
	if (r) {
		/* Say why (the peer's TLS finished before we checked it), then close. */
		struct pn_relay_msg m = {.type = PN_RELAY_F_ERROR, .code = r};
		uint8_t tmp[32];
		struct pn_buf b;
		if (r == PN_E_EXPIRED || r == PN_E_NOT_YET_VALID) {
			char hx[PN_ID_HEX_LEN + 1];
			pn_id_hex(seen.id, hx);
			PN_LOG_INFO("relay", "peer_refused",
				    "err=%s id=%s not_before=%" PRIu64 " not_after=%" PRIu64
				    " now=%" PRIu64 " skew_s=%d",
				    pn_errname(r), hx, seen.not_before, seen.not_after, now_s,
				    PN_TRUST_DEFAULT_SKEW);
		} else {
			PN_LOG_INFO("relay", "peer_refused", "err=%s", pn_errname(r));
		}
		pn_buf_init_wr(&b, tmp, sizeof(tmp));
		if (pn_relay_msg_encode(&m, &b) == 0)
			pn_rstream_send(s, tmp, pn_buf_len(&b), 0);
		pn_rstream_close(s, r, 1);
		return 0;
	}
	pn_id_hex(c->info.id, hex);
	PN_LOG_INFO("relay", "peer_up", "role=%s id=%s ws=%d worker=%u",
		    pn_cred_type_name(c->info.type), hex, pn_rstream_is_ws(s), w->idx);
	return 0;
}

/* Frames of one decrypted chunk go into the core under one lock, taken
 * at the first and released by s_on_input_end. */
static int s_on_frame(struct pn_rstream *s, const struct pn_relay_frame *f, void *user)
{
	struct conn *c = user;

	if (!c->peer) /* refused, closing */
		return PN_E_CLOSED;
	srv_enter(c->w);
	return pn_relay_core_frame(c->srv->core, c->peer, f, uv_now(c->w->loop));
}

static void s_on_close(struct pn_rstream *s, int err, void *user)
{
	struct conn *c = user;
	struct worker *w = c->w;
	struct pn_relay_server *srv = c->srv;

	srv_enter(w);
	pn_admit_release(&srv->adm, &c->adm);
	if (c->peer) {
		pn_relay_core_detach(srv->core, c->peer);
		pn_admit_peer_gone(&srv->adm);
	}
	srv_leave(w);
	if (!c->peer) {
		PN_LOG_DEBUG("relay", "conn_refused", "err=%s", pn_errname(err));
	} else {
		char hex[PN_ID_HEX_LEN + 1];
		pn_id_hex(c->info.id, hex);
		PN_LOG_INFO("relay", "peer_down", "role=%s id=%s err=%s",
			    pn_cred_type_name(c->info.type), hex, pn_errname(err));
	}
	conn_unlink(w, c);
	srv_conn_del(w, c);
	free(c);
	if (w->idx == 0)
		srv_maybe_finish(srv);
}

static void s_on_input_end(struct pn_rstream *s, void *user)
{
	struct conn *c = user;
	srv_leave(c->w);
}

static const struct pn_rstream_ops stream_ops = {
    .on_ready = s_on_ready,
    .on_frame = s_on_frame,
    .on_close = s_on_close,
    .on_input_end = s_on_input_end,
};

static void refused_closed(uv_handle_t *h)
{
	free(h);
}

static void refuse(uv_stream_t *server)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	if (!t)
		return;
	uv_tcp_init(server->loop, t);
	if (uv_accept(server, (uv_stream_t *)t) == 0) {
		/* RST instead of FIN: no TIME_WAIT state for refused floods. */
		uv_tcp_close_reset(t, refused_closed);
		return;
	}
	uv_close((uv_handle_t *)t, refused_closed);
}

void srv_on_connection(uv_stream_t *server, int status)
{
	struct worker *w = server->data;
	struct pn_relay_server *srv = w->srv;
	struct pn_relay_addr a;
	struct pn_admit_entry *old;
	struct conn *c;
	int r, full = 0;

	if (status < 0 || w->stopping)
		return;
	srv_enter(w);
	if ((old = pn_admit_make_room(&srv->adm))) /* full: the oldest goes */
		srv_kick(w, CONN_OF(old), PN_E_RELAY_LIMIT, 0);
	else if (srv->adm.npending >= srv->adm.max_pending)
		full = 1;
	w->scfg.cred = srv->cred; /* renewals replace it (under the lock) */
	srv_leave(w);
	if (full || !(c = calloc(1, sizeof(*c)))) {
		refuse(server);
		return;
	}
	c->srv = srv;
	c->w = w;
	if (srv_conn_add(w, c)) {
		free(c);
		refuse(server);
		return;
	}
	if (pn_rstream_accept(server, &w->scfg, &stream_ops, c, &c->s)) {
		srv_conn_del(w, c);
		free(c);
		return;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	W_ADD(w->streams, 1);
	/* Per-source cap on unauthenticated connections (IPv4 as v4-mapped). */
	pn_relay_addr_from_sa(&a, (const struct sockaddr *)pn_rstream_peer_addr(c->s));
	srv_enter(w);
	r = pn_admit_pending(&srv->adm, &c->adm, a.ip);
	srv_leave(w);
	if (r)
		pn_rstream_close(c->s, r, 0);
}

void srv_sweep_conns(struct worker *w, uint64_t now)
{
	/* Authenticated streams must show life (PING) within the idle limit. */
	for (struct conn *c = w->conns; c; c = c->next)
		if (c->peer && now - pn_rstream_last_rx(c->s) > PN_RELAY_CONN_IDLE_MS)
			pn_rstream_close(c->s, PN_E_TIMEOUT, 0);
}

void srv_close_conns(struct worker *w)
{
	for (struct conn *c = w->conns; c; c = c->next)
		pn_rstream_close(c->s, PN_E_CLOSED, 0);
}
