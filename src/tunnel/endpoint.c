/*
 * libuv driver for tunnels: sockets, timers, write batching, demux.
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
#include "tunnel/endpoint.h"
#include "tunnel/session.h"
#include "core/udp.h"

#define PN_TEP_FLUSH_EVERY 32    /* received packets between flushes */
#define PN_TEP_FLUSH_BUDGET 64   /* GSO batches per tunnel per flush */
#define PN_TEP_PATHS 4           /* UDP paths remembered per tunnel */
#define PN_TEP_HASH 1024         /* demux buckets */
#define PN_TEP_PENDING_PER_SRC 8 /* handshaking tunnels per source address */

struct ep_cred {
	gnutls_certificate_credentials_t cred;
	unsigned refs;
};

struct ep_path {
	struct pn_path path;
	struct pn_udp *sock;
	struct ep_tunnel *et;
	uint64_t last_used;
};

/* A path from elsewhere (core/path.h), attached to the endpoint.  Kept
 * until the path is lost AND no tunnel uses it (ngtcp2 may still name it
 * until then); then released to its provider. */
struct ep_xpath {
	struct pn_path *p;
	struct pn_tep *ep;
	int lost;
	struct ep_tunnel *et; /* tunnel using it, if any */
	struct ep_xpath *next;
};

struct ep_tunnel {
	struct pn_tep *ep;
	struct pn_tunnel *t;
	struct ep_cred *cred;
	uv_timer_t timer;
	struct pn_udp *own_sock; /* client: per-tunnel socket */
	struct ep_path paths[PN_TEP_PATHS];
	uint8_t key[PN_TCONN_CID_KEY_LEN], key2[PN_TCONN_CID_KEY_LEN];
	int has_key2, dirty, dead, freeing, blocked;
	/* a GSO batch the socket refused (EAGAIN), resent when writable:
	   packets ngtcp2 already counted as sent are not thrown away */
	uint8_t *held;
	size_t held_len, held_seg;
	struct pn_path *held_path;
	struct pn_path *cur_path; /* last path logged */
	unsigned rx_since_flush;
	struct ep_tunnel *hnext, *hnext2; /* demux chains */
	struct ep_tunnel *dnext;          /* dirty list */
	struct ep_tunnel *next, *prev;    /* all tunnels */
	struct sockaddr_storage src;      /* server: first source (per-source cap) */
};

struct pn_tep {
	struct pn_tep_config cfg;
	char *cert_pem;
	struct ep_cred *cred;
	struct pn_udp *sock;
	uv_prepare_t prep;
	struct ep_tunnel *hash[PN_TEP_HASH], *hash2[PN_TEP_HASH];
	struct ep_tunnel *dirty;
	struct ep_tunnel *all;
	unsigned ntunnels;
	uint8_t *txbuf;
	int closing;
	unsigned pending_closes;
	void (*close_cb)(void *);
	void *close_arg;
	uint64_t drops_unknown, retries;
	struct ep_xpath *xpaths;
	uint8_t retry_secret[PN_TCONN_RETRY_SECRET_LEN]; /* Retry token key, wiped */
};

static uint64_t now_ns(void)
{
	return uv_hrtime();
}

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

static struct ep_tunnel *lookup(struct pn_tep *ep, const uint8_t *key)
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

static void mark_dirty(struct ep_tunnel *et)
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
	mark_dirty(drv);
}

static void drv_dead(struct pn_tunnel *t, void *drv)
{
	struct ep_tunnel *et = drv;

	(void)t;
	et->dead = 1;
	mark_dirty(et);
}

static const struct pn_tunnel_driver ep_drv = {drv_want_write, drv_dead};

static void on_timer(uv_timer_t *h);
static void ep_finish(struct pn_tep *ep);
static void xpaths_drop_tunnel(struct pn_tep *ep, struct ep_tunnel *et);

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

static void et_free(struct ep_tunnel *et)
{
	struct pn_tep *ep = et->ep;

	if (et->freeing)
		return;
	et->freeing = 1;
	hash_remove(ep, et);
	xpaths_drop_tunnel(ep, et);
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
	uint64_t exp = pn_tunnel_expiry(et->t), now = now_ns(), ms;

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

static void flush(struct ep_tunnel *et)
{
	struct pn_tep *ep = et->ep;
	struct pn_tconn_tx tx = {.buf = ep->txbuf};
	uint64_t now = now_ns();

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
			mark_dirty(et); /* more next iteration: let reads in first */
	}
	if (et->dead) {
		et_free(et);
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
			PN_LOG_INFO("tunnel", "path", "peer=%s path=%s%s", id, pn_path_kind_name(p->kind),
				    et->cur_path ? " (migrated)" : "");
			et->cur_path = p;
		}
	}
	arm_timer(et);
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
			flush(et);
	}
	if (!ep->dirty)
		uv_prepare_stop(&ep->prep);
}

static void on_timer(uv_timer_t *h)
{
	struct ep_tunnel *et = h->data;

	pn_tunnel_timeout(et->t, now_ns());
	flush(et);
}

/* ---------------------------------------------------------------- paths -- */

static int udp_path_send(struct pn_path *p, const uint8_t *data, size_t len, size_t seg)
{
	struct ep_path *ps = p->ctx;

	return pn_udp_send(ps->sock, (struct sockaddr *)&p->remote, p->remote_len, data, len, seg);
}

static const struct pn_path_ops udp_path_ops = {.send = udp_path_send};

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return 0;
}

/* The path for (sock, remote) in this tunnel, created if new (replacing
 * the least recently used one when all slots are taken). */
static struct ep_path *get_path(struct ep_tunnel *et, struct pn_udp *sock,
				const struct sockaddr *from, socklen_t fromlen)
{
	struct ep_path *lru = &et->paths[0];

	for (int i = 0; i < PN_TEP_PATHS; i++) {
		struct ep_path *p = &et->paths[i];
		if (p->sock == sock && same_addr(&p->path.remote, from)) {
			p->last_used = now_ns();
			return p;
		}
		if (!p->sock) {
			lru = p;
			break;
		}
		if (p->last_used < lru->last_used)
			lru = p;
	}
	/* Never recycle the path the connection currently uses. */
	if (lru->sock && et->t && pn_tconn_path(pn_tunnel_conn(et->t)) == &lru->path)
		lru = lru == &et->paths[0] ? &et->paths[1] : &et->paths[0];
	if (et->held_path == &lru->path)
		et->held_len = 0; /* its destination is being replaced */
	memset(lru, 0, sizeof(*lru));
	lru->sock = sock;
	lru->et = et;
	lru->last_used = now_ns();
	lru->path.ops = &udp_path_ops;
	lru->path.kind = PN_PATH_DIRECT;
	lru->path.max_segments = PN_PATH_MAX_SEGMENTS;
	lru->path.ctx = lru;
	pn_udp_local(sock, &lru->path.local, &lru->path.local_len);
	memcpy(&lru->path.remote, from, fromlen);
	lru->path.remote_len = fromlen;
	return lru;
}

static const struct pn_path_sink xpath_sink;

static struct ep_xpath *xpath_new(struct pn_tep *ep, struct pn_path *p)
{
	struct ep_xpath *xp = calloc(1, sizeof(*xp));

	if (!xp)
		return NULL;
	xp->ep = ep;
	xp->p = p;
	xp->next = ep->xpaths;
	ep->xpaths = xp;
	pn_path_attach(p, &xpath_sink, xp);
	return xp;
}

static void xpath_unlink_free(struct pn_tep *ep, struct ep_xpath *xp)
{
	for (struct ep_xpath **pp = &ep->xpaths; *pp; pp = &(*pp)->next)
		if (*pp == xp) {
			*pp = xp->next;
			break;
		}
	pn_path_release(xp->p);
	free(xp);
}

/* Undo xpath_new for a path the caller keeps (an error return). */
static void xpath_forget(struct pn_tep *ep, struct ep_xpath *xp)
{
	for (struct ep_xpath **pp = &ep->xpaths; *pp; pp = &(*pp)->next)
		if (*pp == xp) {
			*pp = xp->next;
			break;
		}
	pn_path_attach(xp->p, NULL, NULL);
	free(xp);
}

/* A tunnel is going away: forget it in its paths. */
static void xpaths_drop_tunnel(struct pn_tep *ep, struct ep_tunnel *et)
{
	for (struct ep_xpath *xp = ep->xpaths, *nx; xp; xp = nx) {
		nx = xp->next;
		if (xp->et != et)
			continue;
		xp->et = NULL;
		if (xp->lost)
			xpath_unlink_free(ep, xp);
	}
}

/* ------------------------------------------------------------ receiving -- */

static void tunnel_params(struct pn_tep *ep, struct ep_tunnel *et, struct pn_tunnel_params *p)
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
	memcpy(p->conn.cid_key, et->key, PN_TCONN_CID_KEY_LEN);
	p->drv = &ep_drv;
	p->drv_ctx = et;
	p->max_flows = ep->cfg.max_flows;
	p->path_kind = PN_PATH_DIRECT;
}

static struct ep_tunnel *et_new(struct pn_tep *ep)
{
	struct ep_tunnel *et = calloc(1, sizeof(*et));

	if (!et)
		return NULL;
	et->ep = ep;
	do
		pn_random(et->key, sizeof(et->key));
	while (lookup(ep, et->key));
	uv_timer_init(ep->cfg.loop, &et->timer);
	et->timer.data = et;
	et->cred = ep->cred;
	ep->cred->refs++;
	return et;
}

static void et_link(struct pn_tep *ep, struct ep_tunnel *et)
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
static void et_discard(struct ep_tunnel *et)
{
	cred_unref(et->cred);
	et->cred = NULL;
	uv_close((uv_handle_t *)&et->timer, et_discarded);
}

static unsigned pending_from(struct pn_tep *ep, const struct sockaddr *from)
{
	unsigned n = 0;

	for (struct ep_tunnel *e = ep->all; e; e = e->next)
		if (!pn_tconn_handshake_done(pn_tunnel_conn(e->t)) && same_addr(&e->src, from))
			n++;
	return n;
}

/* Unauthenticated: O(1) checks first, bounded state (global and per
   source caps), nothing created for anything but a valid Initial. */
static int may_accept(struct pn_tep *ep, const struct sockaddr *from, const uint8_t *p, size_t n)
{
	if (ep->cfg.role != PN_TEP_CONNECTOR || ep->closing || pn_tconn_accept_check(p, n) != 0 ||
	    ep->ntunnels >= ep->cfg.max_tunnels ||
	    (from && pending_from(ep, from) >= PN_TEP_PENDING_PER_SRC)) {
		ep->drops_unknown++;
		return 0;
	}
	return 1;
}

/* New server tunnel for an Initial that arrived on `path` (a UDP path of
 * et, or a relay path). */
static void accept_on(struct pn_tep *ep, struct ep_tunnel *et, struct pn_path *path,
		      const uint8_t *p, size_t n, const uint8_t *dkey,
		      const struct pn_tconn_config *retry)
{
	struct pn_tunnel_params tp;

	memcpy(et->key2, dkey, PN_TCONN_CID_KEY_LEN);
	et->has_key2 = 1;
	tunnel_params(ep, et, &tp);
	if (retry) {
		memcpy(tp.conn.retry_odcid, retry->retry_odcid, sizeof(tp.conn.retry_odcid));
		tp.conn.retry_odcid_len = retry->retry_odcid_len;
	}
	tp.server_ops = ep->cfg.server_ops;
	tp.server_user = ep->cfg.user;
	tp.path_kind = path->kind;
	if (pn_tunnel_new_server(&tp, path, p, n, now_ns(), &et->t) != 0) {
		xpaths_drop_tunnel(ep, et);
		et_discard(et);
		return;
	}
	et_link(ep, et);
	pn_tunnel_input(et->t, path, p, n, now_ns());
	mark_dirty(et);
}

static void accept_tunnel(struct pn_tep *ep, struct pn_udp *sock, const struct sockaddr *from,
			  socklen_t fromlen, const uint8_t *p, size_t n, const uint8_t *dkey)
{
	struct ep_tunnel *et;
	struct ep_path *path;
	struct pn_tconn_config rc;
	uint8_t retry[PN_PATH_MAX_UDP_PAYLOAD];
	size_t rlen;
	int r;

	if (!may_accept(ep, from, p, n))
		return;
	/* the source address must be proven (Retry) before any state exists */
	memset(&rc, 0, sizeof(rc));
	r = pn_tconn_retry_check(ep->retry_secret, from, fromlen, p, n, now_ns(), retry,
				 sizeof(retry), &rlen, &rc);
	if (r == 1) {
		ep->retries++;
		pn_udp_send(sock, from, fromlen, retry, rlen, rlen);
		return;
	}
	if (r != 0 || !(et = et_new(ep))) {
		ep->drops_unknown++;
		return;
	}
	memcpy(&et->src, from, fromlen);
	path = get_path(et, sock, from, fromlen);
	accept_on(ep, et, &path->path, p, n, dkey, &rc);
}

static void on_udp_recv(struct pn_udp *sock, const struct sockaddr *from, socklen_t fromlen,
			const uint8_t *p, size_t n, void *user)
{
	struct pn_tep *ep = user;
	uint8_t key[PN_TCONN_CID_KEY_LEN];
	struct ep_tunnel *et;
	struct ep_path *path;
	int is_long;

	if (pn_tconn_dcid_key(p, n, key, &is_long) != 0) {
		ep->drops_unknown++;
		return;
	}
	et = lookup(ep, key);
	if (!et) {
		if (is_long)
			accept_tunnel(ep, sock, from, fromlen, p, n, key);
		else
			ep->drops_unknown++;
		return;
	}
	if (et->dead || et->freeing)
		return;
	path = get_path(et, sock, from, fromlen);
	pn_tunnel_input(et->t, &path->path, p, n, now_ns());
	if (++et->rx_since_flush >= PN_TEP_FLUSH_EVERY) {
		flush(et); /* ACKs and credit out promptly [spike P7] */
		return;
	}
	mark_dirty(et);
}

static void on_udp_writable(struct pn_udp *sock, void *user)
{
	struct pn_tep *ep = user;

	for (struct ep_tunnel *e = ep->all; e; e = e->next)
		if (e->blocked) {
			e->blocked = 0;
			mark_dirty(e);
		}
	(void)sock;
}

static void on_udp_burst(struct pn_udp *sock, void *user)
{
	(void)sock, (void)user; /* dirty tunnels flush in the prepare handle */
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
	return pn_udp_open(ep->cfg.loop, addr, on_udp_recv, on_udp_writable, on_udp_burst, ep,
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

int pn_tunnel_open(struct pn_tep *ep, const struct pn_tunnel_config *cfg,
		   struct pn_tunnel **out)
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
	if (!(et = et_new(ep)))
		return -ENOMEM;
	if (cfg->path) {
		if (!(xp = xpath_new(ep, cfg->path))) {
			et_discard(et);
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
		r = pn_udp_open(ep->cfg.loop, (struct sockaddr *)&any, on_udp_recv, on_udp_writable,
				on_udp_burst, ep, &et->own_sock);
		if (r != 0) {
			et_discard(et);
			return r;
		}
		sock = et->own_sock;
	}
	path = get_path(et, sock, cfg->udp_peer, plen);
	ppath = &path->path;
have_path:
	tunnel_params(ep, et, &tp);
	tp.path_kind = ppath->kind;
	memcpy(tp.conn.pinned_id, cfg->connector_id, PN_ID_LEN);
	tp.ops = cfg->ops;
	tp.user = cfg->user;
	tp.acl = cfg->acl;
	tp.acl_len = cfg->acl_len;
	if ((r = pn_tunnel_new_client(&tp, ppath, now_ns(), &et->t)) != 0) {
		pn_udp_close(et->own_sock);
		if (xp) /* not taken: the caller keeps the path */
			xpath_forget(ep, xp);
		et_discard(et);
		return r;
	}
	et_link(ep, et);
	mark_dirty(et);
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
		r = pn_udp_open(ep->cfg.loop, (struct sockaddr *)&any, on_udp_recv, on_udp_writable,
				on_udp_burst, ep, &et->own_sock);
		if (r != 0)
			return r;
		sock = et->own_sock;
	}
	path = get_path(et, sock, udp_peer, plen);
	r = pn_tconn_migrate(pn_tunnel_conn(t), &path->path, now_ns());
	if (r == 0) {
		pn_tunnel_set_path_kind(t, PN_PATH_DIRECT);
		mark_dirty(et);
	}
	return r;
}

int pn_tunnel_migrate_path(struct pn_tunnel *t, struct pn_path *p)
{
	struct ep_tunnel *et = pn_tunnel_drv_ctx(t);
	struct ep_xpath *xp;
	int r;

	if (pn_tunnel_is_dead(t))
		return PN_E_CLOSED;
	if (!p)
		return PN_E_INVAL;
	if (!(xp = xpath_new(et->ep, p)))
		return -ENOMEM;
	xp->et = et;
	r = pn_tconn_migrate(pn_tunnel_conn(t), p, now_ns());
	if (r != 0) {
		xpath_forget(et->ep, xp); /* not taken */
		return r;
	}
	mark_dirty(et);
	return 0;
}

int pn_tep_accept_path(struct pn_tep *ep, struct pn_path *p)
{
	if (ep->closing)
		return PN_E_CLOSED;
	if (ep->cfg.role != PN_TEP_CONNECTOR || !p)
		return PN_E_INVAL;
	return xpath_new(ep, p) ? 0 : -ENOMEM;
}

static void xpath_recv(struct pn_path *p, const uint8_t *d, size_t n, void *user)
{
	struct ep_xpath *xp = user;
	struct pn_tep *ep = xp->ep;
	uint8_t key[PN_TCONN_CID_KEY_LEN];
	struct ep_tunnel *et;
	int is_long;

	if (ep->closing)
		return;
	if (pn_tconn_dcid_key(d, n, key, &is_long) != 0) {
		ep->drops_unknown++;
		return;
	}
	et = lookup(ep, key);
	if (!et) {
		/* a path from elsewhere (a relay session) was authenticated by
		   its provider; the per-source cap does not apply, the global
		   one does, and no Retry is needed */
		if (is_long && may_accept(ep, NULL, d, n) && (et = et_new(ep))) {
			xp->et = et;
			accept_on(ep, et, p, d, n, key, NULL);
		} else {
			ep->drops_unknown++;
		}
		return;
	}
	if (et->dead || et->freeing)
		return;
	xp->et = et;
	pn_tunnel_input(et->t, p, d, n, now_ns());
	if (++et->rx_since_flush >= PN_TEP_FLUSH_EVERY) {
		flush(et);
		return;
	}
	mark_dirty(et);
}

static void xpath_lost(struct pn_path *p, int err, void *user)
{
	struct ep_xpath *xp = user;
	struct pn_tep *ep = xp->ep;

	(void)err;
	xp->lost = 1;
	if (!xp->et) {
		xpath_unlink_free(ep, xp);
		return;
	}
	/* else released with the tunnel.  A client migrates the tunnel or ends
	   it (its glue decides).  A connector cannot migrate: when this path
	   was the tunnel's, the tunnel ends now (its flows reset) rather than
	   at the idle timeout, since the client has lost it too. */
	if (ep->cfg.role == PN_TEP_CONNECTOR && !xp->et->dead && !xp->et->freeing &&
	    pn_tconn_path(pn_tunnel_conn(xp->et->t)) == p)
		pn_tunnel_path_lost(xp->et->t);
}

static const struct pn_path_sink xpath_sink = {.recv = xpath_recv, .lost = xpath_lost};

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
		xpath_unlink_free(ep, ep->xpaths);
	free(ep->cert_pem);
	free(ep->txbuf);
	pn_wipe(ep->retry_secret, sizeof(ep->retry_secret));
	free(ep);
	if (cb)
		cb(arg);
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
		flush(e); /* frees e (dead) */
	}
	pn_udp_close(ep->sock);
	ep->sock = NULL;
	uv_prepare_stop(&ep->prep);
	ep->pending_closes++;
	uv_close((uv_handle_t *)&ep->prep, prep_closed);
}
