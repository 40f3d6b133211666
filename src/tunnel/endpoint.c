/*
 * libuv driver for tunnels: lifecycle, timers, write batching (demux and
 * intake: ep_intake.c; paths: ep_path.c).
 *
 * Writes are batched: API calls and received packets only mark a tunnel
 * dirty; a prepare handle flushes every dirty tunnel once per loop
 * iteration (and every PN_TEP_FLUSH_EVERY packets received [spike P7]),
 * each flush emitting GSO batches until ngtcp2 has nothing more to send
 * (congestion window, pacing, flow control) or a budget is used up.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "trust/cred.h"
#include "tunnel/endpoint_int.h"

static uint64_t unix_now(void *u)
{
	(void)u;
	return (uint64_t)time(NULL);
}

/* --------------------------------------------------------- credentials -- */

static int cred_new(const struct pn_key *key, const char *pem, const struct pn_anchor *a,
		    struct ep_cred **out)
{
	struct ep_cred *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	if ((r = pn_cred_tls_credentials(key, pem, a, &c->cred)) != 0) {
		free(c);
		return r;
	}
	c->refs = 1;
	*out = c;
	return 0;
}

static void cred_unref(struct ep_cred *c)
{
	if (c && --c->refs == 0) {
		gnutls_certificate_free_credentials(c->cred);
		free(c);
	}
}

/* --------------------------------------------------------------- demux -- */

static unsigned hkey(const uint8_t *k)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < PN_TCONN_CID_KEY_LEN; i++)
		h = (h ^ k[i]) * 16777619u;
	return h % PN_TEP_HASH;
}

struct ep_tunnel *ep_lookup(struct pn_tep *ep, const uint8_t *key)
{
	struct ep_tunnel *e;

	for (e = ep->hash[hkey(key)]; e; e = e->hnext)
		if (!memcmp(e->key, key, PN_TCONN_CID_KEY_LEN))
			return e;
	for (e = ep->hash2[hkey(key)]; e; e = e->hnext2)
		if (e->has_key2 && !memcmp(e->key2, key, PN_TCONN_CID_KEY_LEN))
			return e;
	return NULL;
}

static void hash_remove(struct pn_tep *ep, struct ep_tunnel *et)
{
	struct ep_tunnel **pp;

	for (pp = &ep->hash[hkey(et->key)]; *pp; pp = &(*pp)->hnext)
		if (*pp == et) {
			*pp = et->hnext;
			break;
		}
	if (et->has_key2)
		for (pp = &ep->hash2[hkey(et->key2)]; *pp; pp = &(*pp)->hnext2)
			if (*pp == et) {
				*pp = et->hnext2;
				break;
			}
}

/* ------------------------------------------------------------- flushing -- */

static void on_prepare(uv_prepare_t *h);

void ep_mark_dirty(struct ep_tunnel *et)
{
	struct pn_tep *ep = et->ep;

	if (et->dirty || et->freeing)
		return;
	et->dirty = 1;
	et->dnext = ep->dirty;
	ep->dirty = et;
	uv_prepare_start(&ep->prep, on_prepare);
}

static void drv_want_write(struct pn_tunnel *t, void *drv)
{
	(void)t;
	ep_mark_dirty(drv);
}

static void drv_dead(struct pn_tunnel *t, void *drv)
{
	struct ep_tunnel *et = drv;

	(void)t;
	et->dead = 1;
	ep_mark_dirty(et);
}

static const struct pn_tunnel_driver ep_drv = {drv_want_write, drv_dead, ep_p2p_ctl};

static void on_timer(uv_timer_t *h);
static void ep_finish(struct pn_tep *ep);

static void et_closed(uv_handle_t *h)
{
	struct ep_tunnel *et = h->data;
	struct pn_tep *ep = et->ep;

	pn_tunnel_free(et->t);
	cred_unref(et->cred);
	free(et->held);
	free(et);
	if (--ep->pending_closes == 0 && ep->closing)
		ep_finish(ep);
}

static void ep_et_free(struct ep_tunnel *et)
{
	struct pn_tep *ep = et->ep;

	if (et->freeing)
		return;
	et->freeing = 1;
	ep_p2p_tunnel_free(et);
	hash_remove(ep, et);
	ep_xpaths_drop_tunnel(ep, et);
	if (et->prev)
		et->prev->next = et->next;
	else
		ep->all = et->next;
	if (et->next)
		et->next->prev = et->prev;
	ep->ntunnels--;
	pn_udp_close(et->own_sock);
	ep->pending_closes++;
	uv_close((uv_handle_t *)&et->timer, et_closed);
}

static void arm_timer(struct ep_tunnel *et)
{
	uint64_t exp = pn_tunnel_expiry(et->t), now = ep_now_ns(), ms;

	if (exp == UINT64_MAX) {
		uv_timer_stop(&et->timer);
		return;
	}
	/* ms resolution: round up, except that a deadline inside the current
	   millisecond (pacing) fires on the next loop iteration */
	ms = exp <= now ? 0 : (exp - now + 999999) / 1000000;
	if (exp > now && exp - now < 1000000)
		ms = 0;
	uv_timer_start(&et->timer, on_timer, ms, 0);
}

/* Once per change of the Path MTU size (a search's result, a black
 * hole), never per packet. */
static void log_pmtu(struct ep_tunnel *et)
{
	struct pn_tconn_pmtu pm;
	struct pn_tunnel_info ti;
	char id[PN_ID_HEX_LEN + 1];

	pn_tconn_pmtu_info(pn_tunnel_conn(et->t), &pm);
	if (pm.searching || !pm.ceiling || pm.max_udp_payload == et->pmtu_logged)
		return;
	et->pmtu_logged = pm.max_udp_payload;
	pn_tunnel_info(et->t, &ti);
	pn_id_hex(ti.peer_id, id);
	PN_LOG_INFO("tunnel", "pmtu",
		    "peer=%s path=%s size=%zu ceiling=%zu searching=%d black_holes=%llu "
		    "probes=%llu probes_lost=%llu",
		    id, pn_path_kind_name(ti.path), pm.max_udp_payload, pm.ceiling, pm.searching,
		    (unsigned long long)pm.black_holes, (unsigned long long)pm.probes,
		    (unsigned long long)pm.probes_lost);
}

void ep_flush(struct ep_tunnel *et)
{
	struct pn_tep *ep = et->ep;
	struct pn_tconn_tx tx = {.buf = ep->txbuf};
	uint64_t now = ep_now_ns();

	et->rx_since_flush = 0;
	if (et->held_len && !et->blocked) {
		if (et->held_path->ops->send(et->held_path, et->held, et->held_len, et->held_seg) ==
		    -EAGAIN)
			et->blocked = 1;
		else
			et->held_len = 0;
	}
	for (int i = 0; i < PN_TEP_FLUSH_BUDGET; i++) {
		int r;
		if (et->blocked)
			break;
		pn_tunnel_output(et->t, now, &tx);
		if (tx.len == 0)
			break;
		r = tx.path->ops->send(tx.path, tx.buf, tx.len, tx.seg);
		if (r == -EMSGSIZE) /* larger than this host can send: Path MTU */
			pn_tconn_tx_toobig(pn_tunnel_conn(et->t), tx.path, tx.seg, now);
		if (r == -EAGAIN) {
			/* keep the batch for when the socket drains (one buffer per
			   tunnel, allocated the first time); without memory it is
			   lost and QUIC repairs it */
			if (et->held || (et->held = malloc(PN_TCONN_TX_BUF))) {
				memcpy(et->held, tx.buf, tx.len);
				et->held_len = tx.len;
				et->held_seg = tx.seg;
				et->held_path = tx.path;
			}
			et->blocked = 1;
			break;
		}
		if (i == PN_TEP_FLUSH_BUDGET - 1)
			ep_mark_dirty(et); /* more next iteration: let reads in first */
	}
	if (et->dead) {
		ep_et_free(et);
		return;
	}
	if (pn_tunnel_conn(et->t) && pn_tconn_handshake_done(pn_tunnel_conn(et->t))) {
		struct pn_path *p = pn_tconn_path(pn_tunnel_conn(et->t));
		if (p != et->cur_path) {
			/* once per path change (migration), never per packet */
			struct pn_tunnel_info ti;
			char id[PN_ID_HEX_LEN + 1];
			pn_tunnel_info(et->t, &ti);
			pn_id_hex(ti.peer_id, id);
			PN_LOG_INFO("tunnel", "path", "peer=%s path=%s%s", id,
				    pn_path_kind_name(p->kind), et->cur_path ? " (migrated)" : "");
			et->cur_path = p;
			ep_p2p_path_seen(et, now);
		}
		log_pmtu(et);
	}
	arm_timer(et);
}

static void on_kick(uv_idle_t *h)
{
	uv_idle_stop(h);
}

static void on_prepare(uv_prepare_t *h)
{
	struct pn_tep *ep = h->data;
	struct ep_tunnel *list = ep->dirty;

	ep->dirty = NULL;
	while (list) {
		struct ep_tunnel *et = list;
		list = et->dnext;
		et->dirty = 0;
		if (!et->freeing)
			ep_flush(et);
	}
	if (!ep->dirty)
		uv_prepare_stop(&ep->prep);
	else
		/* A tunnel spent its budget and has more to send: poll for reads
		 * once without blocking, then flush again.  Without an active idle
		 * handle the poll would wait for the next I/O or timer. */
		uv_idle_start(&ep->kick, on_kick);
}

static void on_timer(uv_timer_t *h)
{
	struct ep_tunnel *et = h->data;

	pn_tunnel_timeout(et->t, ep_now_ns());
	ep_flush(et);
}

void ep_tunnel_params(struct pn_tep *ep, struct ep_tunnel *et, struct pn_tunnel_params *p)
{
	memset(p, 0, sizeof(*p));
	p->conn.cred = et->cred->cred;
	p->conn.anchor = ep->cfg.anchor;
	p->conn.unix_now = unix_now;
	p->conn.clock_skew_s = ep->cfg.clock_skew_s;
	p->conn.stream_sndbuf = ep->cfg.stream_sndbuf;
	p->conn.stream_window = ep->cfg.stream_window;
	p->conn.conn_window = ep->cfg.conn_window;
	p->conn.idle_ms = ep->cfg.idle_ms;
	p->conn.pmtu_max = ep->cfg.pmtu_max;
	memcpy(p->conn.cid_key, et->key, PN_TCONN_CID_KEY_LEN);
	p->drv = &ep_drv;
	p->drv_ctx = et;
	p->max_flows = ep->cfg.max_flows;
	p->path_kind = PN_PATH_DIRECT;
}

struct ep_tunnel *ep_et_new(struct pn_tep *ep)
{
	struct ep_tunnel *et = calloc(1, sizeof(*et));

	if (!et)
		return NULL;
	et->ep = ep;
	do
		pn_random(et->key, sizeof(et->key));
	while (ep_lookup(ep, et->key));
	uv_timer_init(ep->cfg.loop, &et->timer);
	et->timer.data = et;
	et->cred = ep->cred;
	ep->cred->refs++;
	return et;
}

void ep_et_link(struct pn_tep *ep, struct ep_tunnel *et)
{
	unsigned h = hkey(et->key);

	et->hnext = ep->hash[h];
	ep->hash[h] = et;
	if (et->has_key2) {
		h = hkey(et->key2);
		et->hnext2 = ep->hash2[h];
		ep->hash2[h] = et;
	}
	et->next = ep->all;
	if (ep->all)
		ep->all->prev = et;
	ep->all = et;
	ep->ntunnels++;
}

static void et_discarded(uv_handle_t *h)
{
	free(h->data);
}

/* Discard an ep_tunnel that never got a session. */
void ep_et_discard(struct ep_tunnel *et)
{
	cred_unref(et->cred);
	et->cred = NULL;
	uv_close((uv_handle_t *)&et->timer, et_discarded);
}

/* ------------------------------------------------------------- endpoint -- */

int pn_tep_new(const struct pn_tep_config *cfg, struct pn_tep **out)
{
	struct pn_tep *ep;
	int r;

	if (!cfg || !cfg->loop || !cfg->anchor || !cfg->key || !cfg->cert_pem ||
	    (cfg->role != PN_TEP_CLIENT && cfg->role != PN_TEP_CONNECTOR) ||
	    (cfg->role == PN_TEP_CONNECTOR &&
	     (!cfg->server_ops || !cfg->server_ops->acl || !cfg->server_ops->flow_request)))
		return PN_E_INVAL;
	if (!(ep = calloc(1, sizeof(*ep))))
		return -ENOMEM;
	ep->cfg = *cfg;
	if (!ep->cfg.stream_sndbuf)
		ep->cfg.stream_sndbuf = PN_TEP_SNDBUF_DEFAULT;
	if (!ep->cfg.stream_window)
		ep->cfg.stream_window = PN_TEP_WINDOW_DEFAULT;
	if (!ep->cfg.conn_window)
		ep->cfg.conn_window = PN_TEP_CONN_WINDOW_DEFAULT;
	if (!ep->cfg.max_flows)
		ep->cfg.max_flows = PN_TEP_MAX_FLOWS_DEFAULT;
	if (!ep->cfg.max_tunnels)
		ep->cfg.max_tunnels = PN_TEP_MAX_TUNNELS_DEFAULT;
	if (!ep->cfg.idle_ms)
		ep->cfg.idle_ms = PN_TEP_IDLE_MS_DEFAULT;
	if (!ep->cfg.clock_skew_s)
		ep->cfg.clock_skew_s = PN_TRUST_DEFAULT_SKEW;
	if (!(ep->cert_pem = strdup(cfg->cert_pem)) || !(ep->txbuf = malloc(PN_TCONN_TX_BUF))) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = cred_new(cfg->key, cfg->cert_pem, cfg->anchor, &ep->cred)) != 0)
		goto fail;
	if ((r = pn_random(ep->retry_secret, sizeof(ep->retry_secret))) != 0)
		goto fail;
	ep->cfg.cert_pem = ep->cert_pem;
	uv_prepare_init(cfg->loop, &ep->prep);
	ep->prep.data = ep;
	uv_idle_init(cfg->loop, &ep->kick);
	ep->kick.data = ep;
	*out = ep;
	return 0;
fail:
	free(ep->cert_pem);
	free(ep->txbuf);
	free(ep);
	return r;
}

int pn_tep_set_credential(struct pn_tep *ep, const struct pn_key *key, const char *cert_pem)
{
	struct ep_cred *c;
	char *pem;
	int r;

	if (!(pem = strdup(cert_pem)))
		return -ENOMEM;
	if ((r = cred_new(key, cert_pem, ep->cfg.anchor, &c)) != 0) {
		free(pem);
		return r;
	}
	cred_unref(ep->cred);
	ep->cred = c;
	free(ep->cert_pem);
	ep->cert_pem = pem;
	ep->cfg.cert_pem = pem;
	ep->cfg.key = key;
	return 0;
}

int pn_tep_listen_udp(struct pn_tep *ep, const struct sockaddr *addr)
{
	if (ep->sock)
		return -EALREADY;
	return pn_udp_open(ep->cfg.loop, addr, ep_udp_recv, ep_udp_writable, ep_udp_burst, ep,
			   &ep->sock);
}

int pn_tep_udp_addr(const struct pn_tep *ep, struct sockaddr_storage *ss)
{
	socklen_t len;

	if (!ep->sock)
		return PN_E_INVAL;
	pn_udp_local(ep->sock, ss, &len);
	return 0;
}

int pn_tunnel_open(struct pn_tep *ep, const struct pn_tunnel_config *cfg, struct pn_tunnel **out)
{
	struct pn_tunnel_params tp;
	struct ep_tunnel *et;
	struct pn_udp *sock;
	struct ep_path *path;
	struct pn_path *ppath;
	struct ep_xpath *xp = NULL;
	socklen_t plen;
	int r;

	if (!ep || !cfg || ep->cfg.role != PN_TEP_CLIENT || !cfg->acl || !cfg->acl_len)
		return PN_E_INVAL;
	if (ep->closing)
		return PN_E_CLOSED;
	if (!!cfg->path == !!cfg->udp_peer)
		return PN_E_INVAL; /* exactly one initial path */
	if (cfg->udp_peer && cfg->udp_peer->sa_family != AF_INET &&
	    cfg->udp_peer->sa_family != AF_INET6)
		return PN_E_INVAL;
	if (!(et = ep_et_new(ep)))
		return -ENOMEM;
	if (cfg->path) {
		if (!(xp = ep_xpath_new(ep, cfg->path))) {
			ep_et_discard(et);
			return -ENOMEM;
		}
		xp->et = et;
		ppath = cfg->path;
		goto have_path;
	}
	plen = cfg->udp_peer->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						   : sizeof(struct sockaddr_in6);
	sock = ep->sock;
	if (!sock) {
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = cfg->udp_peer->sa_family;
		r = pn_udp_open(ep->cfg.loop, (struct sockaddr *)&any, ep_udp_recv, ep_udp_writable,
				ep_udp_burst, ep, &et->own_sock);
		if (r != 0) {
			ep_et_discard(et);
			return r;
		}
		sock = et->own_sock;
	}
	path = ep_get_path(et, sock, cfg->udp_peer, plen);
	ppath = &path->path;
have_path:
	ep_tunnel_params(ep, et, &tp);
	tp.path_kind = ppath->kind;
	memcpy(tp.conn.pinned_id, cfg->connector_id, PN_ID_LEN);
	tp.ops = cfg->ops;
	tp.user = cfg->user;
	tp.acl = cfg->acl;
	tp.acl_len = cfg->acl_len;
	if ((r = pn_tunnel_new_client(&tp, ppath, ep_now_ns(), &et->t)) != 0) {
		pn_udp_close(et->own_sock);
		if (xp) /* not taken: the caller keeps the path */
			ep_xpath_forget(ep, xp);
		ep_et_discard(et);
		return r;
	}
	ep_et_link(ep, et);
	ep_mark_dirty(et);
	*out = et->t;
	return 0;
}

int pn_tunnel_migrate_udp(struct pn_tunnel *t, const struct sockaddr *udp_peer)
{
	struct ep_tunnel *et = pn_tunnel_drv_ctx(t);
	struct pn_tep *ep = et->ep;
	struct pn_udp *sock = ep->sock ? ep->sock : et->own_sock;
	socklen_t plen = udp_peer->sa_family == AF_INET ? sizeof(struct sockaddr_in)
							: sizeof(struct sockaddr_in6);
	struct ep_path *path;
	int r;

	if (pn_tunnel_is_dead(t))
		return PN_E_CLOSED;
	if (udp_peer->sa_family != AF_INET && udp_peer->sa_family != AF_INET6)
		return PN_E_INVAL;
	if (!sock) {
		/* started on a relay: the direct path needs a socket of its own */
		struct sockaddr_storage any;
		memset(&any, 0, sizeof(any));
		any.ss_family = udp_peer->sa_family;
		r = pn_udp_open(ep->cfg.loop, (struct sockaddr *)&any, ep_udp_recv, ep_udp_writable,
				ep_udp_burst, ep, &et->own_sock);
		if (r != 0)
			return r;
		sock = et->own_sock;
	}
	path = ep_get_path(et, sock, udp_peer, plen);
	r = pn_tconn_migrate(pn_tunnel_conn(t), &path->path, ep_now_ns());
	if (r == 0) {
		pn_tunnel_set_path_kind(t, PN_PATH_DIRECT);
		ep_mark_dirty(et);
	}
	return r;
}

void pn_tep_stats(const struct pn_tep *ep, struct pn_tep_stats *st)
{
	st->tunnels = ep->ntunnels;
	st->retries = ep->retries;
	st->drops_unknown = ep->drops_unknown;
}

static void ep_finish(struct pn_tep *ep)
{
	void (*cb)(void *) = ep->close_cb;
	void *arg = ep->close_arg;

	cred_unref(ep->cred);
	while (ep->xpaths)
		ep_xpath_unlink_free(ep, ep->xpaths);
	free(ep->cert_pem);
	free(ep->txbuf);
	pn_wipe(ep->retry_secret, sizeof(ep->retry_secret));
	free(ep);
	if (cb)
		cb(arg);
}

void ep_close_done(struct pn_tep *ep)
{
	if (--ep->pending_closes == 0 && ep->closing)
		ep_finish(ep);
}

static void prep_closed(uv_handle_t *h)
{
	struct pn_tep *ep = h->data;

	if (--ep->pending_closes == 0)
		ep_finish(ep);
}

void pn_tep_close(struct pn_tep *ep, void (*cb)(void *arg), void *arg)
{
	if (ep->closing)
		return;
	ep->closing = 1;
	ep->close_cb = cb;
	ep->close_arg = arg;
	/* send every CONNECTION_CLOSE now, then release the tunnels */
	while (ep->all) {
		struct ep_tunnel *e = ep->all;
		if (!pn_tunnel_is_dead(e->t))
			pn_tunnel_close(e->t, PN_FLOW_OK);
		e->dead = 1;
		e->blocked = 0;
		ep_flush(e); /* frees e (dead) */
	}
	ep_p2p_close(ep);
	pn_udp_close(ep->sock);
	ep->sock = NULL;
	uv_prepare_stop(&ep->prep);
	uv_idle_stop(&ep->kick);
	ep->pending_closes += 2;
	uv_close((uv_handle_t *)&ep->prep, prep_closed);
	uv_close((uv_handle_t *)&ep->kick, prep_closed);
}
